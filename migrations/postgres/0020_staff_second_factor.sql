-- A second factor for dashboard staff: an authenticator app (TOTP, RFC 6238) with single-use
-- recovery codes, the half-finished sign-ins waiting for a code, and a Cloud ID's rule that
-- its staff must have one. Times are Unix seconds; codes and tokens are stored only as
-- SHA-256 hashes. Keep in step with migrations/sqlite/0020_staff_second_factor.sql.

-- `sealed_secret` is sealed with the installation's key. Unconfirmed (`confirmed_at` NULL)
-- while the staff member is setting the app up; only a confirmed one is asked for at sign-in.
-- `last_step` is the newest 30-second step a code was accepted for: no code works twice.
CREATE TABLE staff_totp (
    staff_id      BIGINT  PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    sealed_secret TEXT    NOT NULL,
    last_step     BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    confirmed_at  BIGINT
);

CREATE TABLE staff_recovery_codes (
    staff_id  BIGINT  NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    PRIMARY KEY (staff_id, code_hash)
);

-- A sign-in whose password was right, waiting minutes for the second factor.
CREATE TABLE staff_sign_in_challenges (
    token_hash TEXT    PRIMARY KEY,
    staff_id   BIGINT  NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX staff_sign_in_challenges_expiry_idx ON staff_sign_in_challenges (expires_at);

-- Set by the Cloud ID's admins: every admin of it must use a second factor.
ALTER TABLE tenants ADD COLUMN require_second_factor BOOLEAN NOT NULL DEFAULT FALSE;
