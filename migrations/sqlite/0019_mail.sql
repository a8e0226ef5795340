-- E-mail: the durable outbox every message goes through, and the single-use links a directory
-- member resets a forgotten password with. Times are Unix seconds; tokens are stored only as
-- SHA-256 hashes. Keep in step with migrations/postgres/0019_mail.sql.

-- One message to one recipient. `body` is sealed with the installation's secret key (it holds
-- setup and reset links) and emptied once the message is sent. `state` is 'pending' (waiting
-- or retrying at `next_attempt_at`), 'sent' or 'failed' (gave up after the last attempt).
-- A node sending a message holds its lease (`lease_owner` until `lease_until`), so several
-- nodes never send one message twice.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    from_name       TEXT    NOT NULL,
    reply_to        TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    finished_at     INTEGER
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_recipient_idx ON mail_outbox (recipient, kind, created_at);

-- A directory member's password-reset link: single use, an hour long, for one member.
CREATE TABLE member_reset_tokens (
    token_hash TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES directory_members (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX member_reset_tokens_member_idx ON member_reset_tokens (member_id);
