-- Each code and access token names the member it was issued for (their `sub`), so removing a
-- member or resetting their password revokes everything they hold at once. Existing rows take
-- the subject from their grant.
-- Keep in step with migrations/postgres/0013_grant_subjects.sql.

ALTER TABLE oidc_codes ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_access_tokens ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE oidc_codes SET subject = COALESCE(json_extract(grant_json, '$.subject.sub'), '');
UPDATE oidc_access_tokens SET subject = COALESCE(json_extract(grant_json, '$.subject.sub'), '');
CREATE INDEX oidc_access_tokens_subject_idx ON oidc_access_tokens (tenant_id, subject);
