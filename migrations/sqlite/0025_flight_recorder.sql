-- The flight recorder: each app's latest protocol exchanges (authorization and token requests,
-- AuthnRequests, responses, logout messages) for the tenant's admins to see what happened.
-- The recorder keeps 200 per app, trimming older ones as it writes. `summary` is JSON with
-- secrets, tokens and assertion contents redacted; `detail` is the full decoded exchange
-- (credentials themselves are never kept), sealed with the installation's secret key, and
-- emptied at `detail_until` (24 hours after the exchange). Times are Unix seconds.
-- Keep in step with migrations/postgres/0025_flight_recorder.sql.
CREATE TABLE protocol_exchanges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    protocol        TEXT    NOT NULL CHECK (protocol IN ('oidc', 'saml')),
    -- The OIDC client id or the SAML app id.
    app             TEXT    NOT NULL,
    at              INTEGER  NOT NULL,
    kind            TEXT    NOT NULL,
    member          TEXT    NOT NULL DEFAULT '',
    outcome         TEXT    NOT NULL CHECK (outcome IN ('answered', 'refused')),
    reason          TEXT    NOT NULL DEFAULT '',
    signature       TEXT    NOT NULL DEFAULT '',
    summary         TEXT    NOT NULL,
    detail          TEXT,
    detail_until    INTEGER
);
CREATE INDEX protocol_exchanges_by_app ON protocol_exchanges (tenant_id, protocol, app, id);
CREATE INDEX protocol_exchanges_details ON protocol_exchanges (detail_until)
    WHERE detail IS NOT NULL;
