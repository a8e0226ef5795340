-- When a SAML signing key starts to sign. NULL: from its creation (every first key). A next
-- key is made ahead with a later time: the IdP metadata publishes it beside the current one
-- for that overlap, so service providers can take it before it signs; the admin may roll over
-- at once or postpone. Keep in step with migrations/sqlite/0024_saml_key_rollover.sql.
ALTER TABLE saml_signing_keys ADD COLUMN signs_from BIGINT;
