-- Tenants ("Cloud IDs"), dashboard staff, their sessions, setup links and sign-in failures.
-- Times are Unix seconds. Keep in step with migrations/postgres/0001_tenants_and_staff.sql.

CREATE TABLE tenants (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    cloud_id     TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    CONSTRAINT tenants_cloud_id_key UNIQUE (cloud_id)
);

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    tenant_id     INTEGER REFERENCES tenants (id) ON DELETE CASCADE,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    CONSTRAINT staff_email_key UNIQUE (email),
    CONSTRAINT staff_role_scope CHECK (
        (role = 'operator' AND tenant_id IS NULL) OR (role = 'tenant_admin' AND tenant_id IS NOT NULL)
    )
);
CREATE INDEX staff_tenant_idx ON staff (tenant_id);

CREATE TABLE staff_sessions (
    token_hash   TEXT    PRIMARY KEY,
    staff_id     INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX staff_sessions_staff_idx ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_expiry_idx ON staff_sessions (expires_at);

-- A setup link lets one person choose a password: the first operator (staff_id NULL) or an
-- invited staff member.
CREATE TABLE setup_tokens (
    token_hash TEXT    PRIMARY KEY,
    staff_id   INTEGER REFERENCES staff (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE sign_in_failures (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_bucket_idx ON sign_in_failures (bucket, at);
