-- What tenant admins and operators changed: who, when, which tenant, what, and the values
-- before and after (JSON, secrets redacted before they get here). Kept in step with
-- migrations/postgres/0012_audit_log.sql.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER REFERENCES tenants (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL DEFAULT '',
    before    TEXT,
    after     TEXT
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, id);
