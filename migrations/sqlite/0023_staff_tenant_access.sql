-- What a member of a Cloud ID's team may do there: `admin` (change everything in it) or
-- `read_only` (see it, change nothing). Operators are always `admin` here: their role says the
-- rest. Keep in step with migrations/postgres/0023_staff_tenant_access.sql.
ALTER TABLE staff ADD COLUMN access TEXT NOT NULL DEFAULT 'admin'
    CONSTRAINT staff_access_scope CHECK (
        access = 'admin' OR (access = 'read_only' AND role = 'tenant_admin')
    );
