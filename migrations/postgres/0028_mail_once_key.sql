-- A warning that repeats while a problem lasts goes out once per period, even when several
-- nodes decide to send it at the same moment: the message carries a key naming its period
-- (kind, Cloud ID, recipient, period number), and a second message with the same key is not
-- queued. Messages that may be sent any number of times have none. Keep in step with the other
-- database's 0028_mail_once_key.sql.
ALTER TABLE mail_outbox ADD COLUMN once_key TEXT;
CREATE UNIQUE INDEX mail_outbox_once_key_idx ON mail_outbox (once_key);
