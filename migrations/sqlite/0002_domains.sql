-- Tenant SSO domains, the provisioning job each one carries, certificates, ACME state.
-- Times are Unix seconds. Keep in step with migrations/postgres/0002_domains.sql.

-- One row per claimed domain; it is also the durable provisioning and renewal job, so a restart
-- or another node picks the work up from here. `name` is the ASCII (IDNA) form.
CREATE TABLE domains (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    message         TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    checked_at      INTEGER,
    check_message   TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CONSTRAINT domains_tenant_key UNIQUE (tenant_id),
    CONSTRAINT domains_name_key UNIQUE (name),
    CONSTRAINT domains_state CHECK (state IN ('provisioning', 'online', 'offline', 'failed'))
);

-- The certificate a domain serves. Private keys are sealed with the server's secret key.
CREATE TABLE certificates (
    domain_id  INTEGER PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    chain_pem  TEXT    NOT NULL,
    key_sealed TEXT    NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL
);

-- HTTP-01 answers, readable by every node's plain-HTTP listener.
CREATE TABLE acme_challenges (
    token             TEXT    PRIMARY KEY,
    key_authorization TEXT    NOT NULL,
    domain_id         INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    expires_at        INTEGER NOT NULL
);

-- One ACME account per directory, created once; credentials are sealed.
CREATE TABLE acme_accounts (
    directory_url      TEXT    PRIMARY KEY,
    credentials_sealed TEXT    NOT NULL,
    created_at         INTEGER NOT NULL
);
