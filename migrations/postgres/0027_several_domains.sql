-- A Cloud ID may hold several SSO domains (sso.org.org and sso-test.org.org), each with its
-- own certificate and status; one is primary: the one the dashboard's links and Login Redirect
-- URLs name. Keep in step with migrations/sqlite/0027_several_domains.sql.
ALTER TABLE domains DROP CONSTRAINT domains_tenant_key;
ALTER TABLE domains ADD COLUMN is_primary BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE domains SET is_primary = TRUE;
CREATE UNIQUE INDEX domains_one_primary ON domains (tenant_id) WHERE is_primary;
CREATE INDEX domains_tenant ON domains (tenant_id);
