-- Each tenant's SAML IdP signing key and its self-signed certificate, which the IdP metadata
-- publishes and service providers pin. Generation 1 is made on first use; a rotation adds the
-- next generation, and metadata lists every certificate not yet expired so service providers
-- can take the new one before it signs. Private keys are sealed with the deployment's secret key.
-- Keep in step with migrations/postgres/0009_saml_signing_keys.sql.

CREATE TABLE saml_signing_keys (
    kid                TEXT    PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    generation         INTEGER NOT NULL,
    private_key_sealed TEXT    NOT NULL,
    certificate_der    BLOB   NOT NULL,
    not_after          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    -- Two nodes making a tenant's first key at once store one, not two.
    CONSTRAINT saml_signing_keys_generation_key UNIQUE (tenant_id, generation)
);
