-- What members consented to share with each client application, and when; asked again after
-- the application's grace period. Keep in step with migrations/postgres/0008_oidc_consents.sql.

CREATE TABLE oidc_consents (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    subject    TEXT    NOT NULL,
    -- Space-separated scope values.
    scopes     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, client_id, subject)
);
