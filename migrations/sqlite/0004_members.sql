-- Members: how they sign in (identity source), the built-in member directory, sign-ins in
-- progress, member sessions, what tenant admins see of sign-in failures, and the logo shown on
-- the hosted pages. Times are Unix seconds; tokens are stored only as SHA-256 hashes.
-- Keep in step with migrations/postgres/0004_members.sql.

-- 'imis' (the tenant's iMIS through its SSO page) or 'directory' (the member directory below).
ALTER TABLE tenant_settings ADD COLUMN identity_source TEXT NOT NULL DEFAULT 'imis';

CREATE TABLE directory_members (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Lower-cased: usernames are matched without regard to case.
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    given_name    TEXT    NOT NULL DEFAULT '',
    family_name   TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CONSTRAINT directory_members_username_key UNIQUE (tenant_id, username)
);

-- A sign-in waiting for iMIS to send the member back: single use, minutes long. `resume` is
-- the protocol request (OpenID Connect or SAML) to answer once the member is known.
CREATE TABLE pending_sign_ins (
    token_hash TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    return_to  TEXT    NOT NULL,
    resume     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_sign_ins_expiry_idx ON pending_sign_ins (expires_at);

-- A member signed in on a tenant's domain. `member` is the profile (JSON) the protocols turn
-- into claims and attributes.
CREATE TABLE member_sessions (
    token_hash   TEXT    PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject      TEXT    NOT NULL,
    member       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX member_sessions_tenant_idx ON member_sessions (tenant_id, subject);
CREATE INDEX member_sessions_expiry_idx ON member_sessions (expires_at);

-- Member sign-ins and why they failed, for the tenant's admins. Never holds secrets or tokens.
CREATE TABLE member_sign_in_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    source    TEXT    NOT NULL,
    member    TEXT    NOT NULL DEFAULT '',
    outcome   TEXT    NOT NULL,
    detail    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX member_sign_in_events_tenant_idx ON member_sign_in_events (tenant_id, at);

CREATE TABLE tenant_logos (
    tenant_id    INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);
