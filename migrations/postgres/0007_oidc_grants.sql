-- Authorization codes and access tokens of the OpenID Connect provider, stored as SHA-256.
-- `grant` is what the member granted (subject, profile, scopes, nonce, PKCE challenge, auth
-- time) as JSON. A code is used once: `used_at` is set by the redemption that wins, and a
-- second redemption revokes the tokens the first one got (RFC 6749 §4.1.2).
-- Keep in step with migrations/sqlite/0007_oidc_grants.sql.

CREATE TABLE oidc_codes (
    code_hash    TEXT    PRIMARY KEY,
    tenant_id    BIGINT  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id    TEXT    NOT NULL,
    redirect_uri TEXT    NOT NULL,
    grant_json   TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL,
    used_at      BIGINT
);
CREATE INDEX oidc_codes_expiry_idx ON oidc_codes (expires_at);

CREATE TABLE oidc_access_tokens (
    token_hash TEXT    PRIMARY KEY,
    tenant_id  BIGINT  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    code_hash  TEXT,
    grant_json TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oidc_access_tokens_code_idx ON oidc_access_tokens (code_hash);
CREATE INDEX oidc_access_tokens_expiry_idx ON oidc_access_tokens (expires_at);
