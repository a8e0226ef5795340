-- OpenID Connect client applications ("OIDC Client Apps") and their secrets.
-- Keep in step with migrations/postgres/0006_oidc_clients.sql.

CREATE TABLE oidc_clients (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                 INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Generated; what the vendor enters as client_id.
    client_id                 TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    -- The whole application as the engine sees it (redirect URIs, flows, algorithm, lifetimes,
    -- consent, claim mapping), JSON; the HS512 key inside is sealed.
    settings                  TEXT    NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    CONSTRAINT oidc_clients_client_id_key UNIQUE (client_id)
);
CREATE INDEX oidc_clients_tenant_idx ON oidc_clients (tenant_id);

-- Client secrets, stored as SHA-256 (they are 256-bit random values, shown once). During a
-- rotation the old secret keeps working until expires_at.
CREATE TABLE oidc_client_secrets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client       INTEGER NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    secret_hash  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX oidc_client_secrets_client_idx ON oidc_client_secrets (client);
