-- SAML service providers ("SAML Client Apps"). The entity id is what the service provider
-- calls itself in its requests; app_id is ours, short and stable, for the IdP-initiated
-- sign-in link. Keep in step with migrations/postgres/0010_saml_apps.sql.

CREATE TABLE saml_apps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    entity_id  TEXT    NOT NULL,
    -- The whole app as the engine sees it (ACS endpoints, SLO, NameID, attributes, signing,
    -- lifetimes, the SP's certificate), JSON.
    settings   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT saml_apps_app_id_key UNIQUE (app_id),
    -- One registration per service provider and tenant: requests are matched by entity id.
    CONSTRAINT saml_apps_entity_id_key UNIQUE (tenant_id, entity_id)
);
