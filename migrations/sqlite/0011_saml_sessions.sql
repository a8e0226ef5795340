-- What the SAML IdP remembers between a service provider's request and its answer, and about
-- whom it has told which service provider. Keep in step with
-- migrations/postgres/0011_saml_sessions.sql.

-- AuthnRequest IDs seen, per service provider, until their IssueInstant is too old to be
-- accepted anyway: a second request with the same ID is a replay.
CREATE TABLE saml_seen_requests (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer     TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, issuer, request_id)
);
CREATE INDEX saml_seen_requests_expiry_idx ON saml_seen_requests (expires_at);

-- A checked sign-in request waiting for the member to sign in; the browser holds only a random
-- token whose hash is the key. Single use. `request` is the engine's JSON.
CREATE TABLE saml_pending_requests (
    token_hash TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    request    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX saml_pending_requests_expiry_idx ON saml_pending_requests (expires_at);

-- Persistent NameIDs: opaque, stable, and different for each service provider.
CREATE TABLE saml_persistent_ids (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    name_id    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, app_id, subject)
);

-- The service providers a member session has signed in to, with the NameID and SessionIndex
-- each was given: what single logout matches LogoutRequests against and notifies.
-- `session_hash` is the member session's key (a hash of its cookie).
CREATE TABLE saml_session_participants (
    session_hash   TEXT    NOT NULL,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id         TEXT    NOT NULL,
    name_id        TEXT    NOT NULL,
    name_id_format TEXT    NOT NULL,
    session_index  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    PRIMARY KEY (session_hash, app_id),
    CONSTRAINT saml_session_participants_index_key UNIQUE (tenant_id, session_index)
);
CREATE INDEX saml_session_participants_expiry_idx ON saml_session_participants (expires_at);
