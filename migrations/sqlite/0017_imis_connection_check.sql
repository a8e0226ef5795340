-- The outcome of the last Test connection on Settings, so the getting-started checklist and the
-- operators' tenant list can tell a tested iMIS connection from one merely typed in. Saving a
-- changed connection clears it (NULL: not tested since).
-- Keep in step with migrations/postgres/0017_imis_connection_check.sql.

ALTER TABLE tenant_settings ADD COLUMN imis_checked_at INTEGER;
ALTER TABLE tenant_settings ADD COLUMN imis_check_passed INTEGER NOT NULL DEFAULT 0;
