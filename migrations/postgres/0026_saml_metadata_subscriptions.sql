-- A SAML app's subscription to its service provider's metadata address: re-read on a schedule
-- (next_check_at) and on demand, changes compared with the app. Certificate changes are applied
-- at once when the admin allowed it (apply_certificates); any other change waits in `pending`
-- (JSON, the changes in words) for the admin; a failed read is kept in `failure` and shown on
-- the app. Keep in step with migrations/sqlite/0026_saml_metadata_subscriptions.sql.
CREATE TABLE saml_metadata_subscriptions (
    app_ref            BIGINT  PRIMARY KEY REFERENCES saml_apps (id) ON DELETE CASCADE,
    url                TEXT    NOT NULL,
    apply_certificates BOOLEAN NOT NULL DEFAULT FALSE,
    next_check_at      BIGINT  NOT NULL,
    checked_at         BIGINT,
    failure            TEXT,
    pending            TEXT
);
CREATE INDEX saml_metadata_subscriptions_due ON saml_metadata_subscriptions (next_check_at);
