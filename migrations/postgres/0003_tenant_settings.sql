-- A tenant's Settings page: the iMIS connection and branding. Secrets are sealed with the
-- deployment's secret key; an empty string means "not set".
-- Keep in step with migrations/sqlite/0003_tenant_settings.sql.

CREATE TABLE tenant_settings (
    tenant_id                 BIGINT  PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    imis_base_url             TEXT    NOT NULL DEFAULT '',
    oidc_client_id            TEXT    NOT NULL DEFAULT '',
    oidc_client_secret_sealed TEXT    NOT NULL DEFAULT '',
    oidc_sso_page             TEXT    NOT NULL DEFAULT '',
    saml_client_id            TEXT    NOT NULL DEFAULT '',
    saml_client_secret_sealed TEXT    NOT NULL DEFAULT '',
    saml_sso_page             TEXT    NOT NULL DEFAULT '',
    api_username              TEXT    NOT NULL DEFAULT '',
    api_password_sealed       TEXT    NOT NULL DEFAULT '',
    profile_iqa               TEXT    NOT NULL DEFAULT '',
    brand_name                TEXT    NOT NULL DEFAULT '',
    brand_colour              TEXT    NOT NULL DEFAULT '',
    sign_in_text              TEXT    NOT NULL DEFAULT '',
    support_contact           TEXT    NOT NULL DEFAULT '',
    updated_at                BIGINT  NOT NULL
);
