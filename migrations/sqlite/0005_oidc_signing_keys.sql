-- Tenant RSA keys that sign ID tokens, one series per algorithm (RS256: 2048 bits, RS512: 4096).
-- A key signs from active_from to active_until and is published in the JWKS until
-- published_until: from its creation (ahead of signing, so relying parties cache it first) until
-- the tokens it signed have expired. Private keys are sealed with the deployment's secret key.
-- Keep in step with migrations/postgres/0005_oidc_signing_keys.sql.

CREATE TABLE oidc_signing_keys (
    kid                TEXT    PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    algorithm          TEXT    NOT NULL,
    private_key_sealed TEXT    NOT NULL,
    modulus            BLOB    NOT NULL,
    exponent           BLOB    NOT NULL,
    active_from        INTEGER NOT NULL,
    active_until       INTEGER NOT NULL,
    published_until    INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    -- Two nodes rotating at once make one key per slot, not two.
    CONSTRAINT oidc_signing_keys_slot_key UNIQUE (tenant_id, algorithm, active_from),
    CONSTRAINT oidc_signing_keys_algorithm CHECK (algorithm IN ('RS256', 'RS512'))
);
CREATE INDEX oidc_signing_keys_tenant_idx ON oidc_signing_keys (tenant_id, published_until);
