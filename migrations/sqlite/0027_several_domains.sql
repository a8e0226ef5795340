-- A Cloud ID may hold several SSO domains (sso.org.org and sso-test.org.org), each with its
-- own certificate and status; one is primary: the one the dashboard's links and Login Redirect
-- URLs name. Keep in step with migrations/postgres/0027_several_domains.sql.
--
-- SQLite cannot drop the one-domain-per-tenant constraint, so the table is rebuilt. Migrations
-- run in a transaction, where foreign keys cannot be turned off, and dropping a table that
-- certificates and challenges point at would delete them (ON DELETE CASCADE). So those two are
-- rebuilt first, pointing at the new table, and the old one is dropped with nothing pointing at
-- it; renaming the new table to `domains` carries their references along.
CREATE TABLE domains_several (
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
    is_primary      INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT domains_name_key UNIQUE (name),
    CONSTRAINT domains_state CHECK (state IN ('provisioning', 'online', 'offline', 'failed'))
);
INSERT INTO domains_several (id, tenant_id, name, state, phase, message, attempts,
    next_attempt_at, lease_owner, lease_until, checked_at, check_message, created_at, updated_at,
    is_primary)
SELECT id, tenant_id, name, state, phase, message, attempts, next_attempt_at, lease_owner,
    lease_until, checked_at, check_message, created_at, updated_at, 1
FROM domains;

CREATE TABLE certificates_several (
    domain_id  INTEGER PRIMARY KEY REFERENCES domains_several (id) ON DELETE CASCADE,
    chain_pem  TEXT    NOT NULL,
    key_sealed TEXT    NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL
);
INSERT INTO certificates_several SELECT domain_id, chain_pem, key_sealed, not_before, not_after,
    issued_at FROM certificates;
DROP TABLE certificates;

CREATE TABLE acme_challenges_several (
    token             TEXT    PRIMARY KEY,
    key_authorization TEXT    NOT NULL,
    domain_id         INTEGER NOT NULL REFERENCES domains_several (id) ON DELETE CASCADE,
    expires_at        INTEGER NOT NULL
);
INSERT INTO acme_challenges_several SELECT token, key_authorization, domain_id, expires_at
FROM acme_challenges;
DROP TABLE acme_challenges;

DROP TABLE domains;
ALTER TABLE domains_several RENAME TO domains;
ALTER TABLE certificates_several RENAME TO certificates;
ALTER TABLE acme_challenges_several RENAME TO acme_challenges;
CREATE UNIQUE INDEX domains_one_primary ON domains (tenant_id) WHERE is_primary = 1;
CREATE INDEX domains_tenant ON domains (tenant_id);
