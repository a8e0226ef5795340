-- Passkeys (WebAuthn) as a second factor for dashboard staff. Times are Unix seconds. Keep in
-- step with migrations/postgres/0021_staff_passkeys.sql.

-- `credential_id` is the authenticator's credential id in base64url, unique across the
-- installation (one authenticator credential belongs to one account). `passkey` is the
-- relying-party record webauthn-rs keeps for it (public key, signature counter, backup
-- state) as JSON: public material, nothing that signs in by itself.
CREATE TABLE staff_passkeys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id      INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    credential_id TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    CONSTRAINT staff_passkeys_credential_key UNIQUE (credential_id)
);
CREATE INDEX staff_passkeys_staff_idx ON staff_passkeys (staff_id);
