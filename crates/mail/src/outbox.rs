//! The durable outbox: messages are rows first and SMTP conversations later, on whichever node
//! leases them.

use std::sync::Arc;

use tokio::sync::Notify;
use vestibule_domain::{Email, Seconds, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_storage::{MailRecord, NewMailRecord, OutboxCounts, Store};

use crate::{Mail, MailError, MailKind, SmtpSender};

/// Retries, leases and limits.
#[derive(Debug, Clone)]
pub struct OutboxPolicy {
    /// Attempts before a message is given up on (marked failed).
    pub max_attempts: i64,
    /// Wait after the first failure; doubled after each further one, up to `max_backoff`.
    pub first_backoff: Seconds,
    pub max_backoff: Seconds,
    /// How long a node may hold a message it is sending before another may take it.
    pub lease: Seconds,
    /// Messages of one kind one address may be sent per hour: nobody can make us flood an
    /// inbox by pressing "Forgot password" in a loop.
    pub per_recipient_per_hour: i64,
    /// How long sent and failed messages stay visible to operators.
    pub keep_finished: Seconds,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            // 1, 2, 4, … 60 minutes: about eight hours of a relay being down before giving up.
            max_attempts: 12,
            first_backoff: Seconds::minutes(1),
            max_backoff: Seconds::hours(1),
            lease: Seconds::minutes(2),
            per_recipient_per_hour: 5,
            keep_finished: Seconds::hours(24 * 30),
        }
    }
}

impl OutboxPolicy {
    /// When to try again after `attempts` failed attempts, or `None` to give up.
    fn retry_at(&self, attempts: i64, now: Timestamp) -> Option<Timestamp> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
        let wait = self
            .first_backoff
            .0
            .saturating_mul(1_i64 << doublings)
            .min(self.max_backoff.0);
        Some(now + Seconds(wait))
    }
}

/// What one pass over the due messages did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    /// Failed this time, to be tried again.
    pub retrying: usize,
    /// Given up on: refused for good, or out of attempts.
    pub failed: usize,
}

/// Queues messages and sends them.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    key: SecretKey,
    sender: SmtpSender,
    node: String,
    policy: OutboxPolicy,
    /// Wakes this node's worker when a message is queued, so mail leaves in seconds.
    wake: Arc<Notify>,
}

const SEAL_CONTEXT: &str = "mail-body";

fn seal_context(recipient: &str) -> String {
    format!("{SEAL_CONTEXT}:{recipient}")
}

impl Outbox {
    /// `node` names this server among several (leases carry it).
    pub fn new(
        store: Store,
        key: SecretKey,
        sender: SmtpSender,
        node: String,
        policy: OutboxPolicy,
    ) -> Self {
        Self {
            store,
            key,
            sender,
            node,
            policy,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn policy(&self) -> &OutboxPolicy {
        &self.policy
    }

    /// Queues `mail`. `Ok(None)` when its recipient already had this hour's share of this kind
    /// of message: nothing is queued, and the caller says nothing different to the person who
    /// asked (they may not own the address).
    pub async fn enqueue(&self, mail: &Mail, now: Timestamp) -> Result<Option<i64>, MailError> {
        self.queue(mail, None, now).await
    }

    /// Queues `mail` unless the same kind of message, for the same tenant and recipient, was
    /// queued in this `period` (counted from the Unix epoch) by any node: a warning that
    /// several nodes decide to send at once goes out once. `Ok(None)` when it was, or when the
    /// recipient had this hour's share.
    pub async fn enqueue_once(
        &self,
        mail: &Mail,
        period: Seconds,
        now: Timestamp,
    ) -> Result<Option<i64>, MailError> {
        let tenant = mail.tenant.map_or(0, |tenant| tenant.0);
        let key = format!(
            "{}:{tenant}:{}:{}",
            mail.kind.as_str(),
            mail.to,
            now.0.div_euclid(period.0.max(1))
        );
        self.queue(mail, Some(key), now).await
    }

    async fn queue(
        &self,
        mail: &Mail,
        once_key: Option<String>,
        now: Timestamp,
    ) -> Result<Option<i64>, MailError> {
        let recipient = mail.to.to_string();
        if !self.has_room(&mail.to, mail.kind, now).await? {
            tracing::warn!(
                kind = mail.kind.as_str(),
                "mail not queued: recipient's hourly limit"
            );
            return Ok(None);
        }
        let sealed_body = self
            .key
            .seal(&seal_context(&recipient), mail.body.as_bytes())
            .map_err(|e| MailError::Sealed(e.to_string()))?;
        let id = self
            .store
            .enqueue_mail(
                &NewMailRecord {
                    tenant: mail.tenant,
                    kind: mail.kind.as_str().to_string(),
                    recipient,
                    from_name: mail.from_name.clone(),
                    reply_to: mail
                        .reply_to
                        .as_ref()
                        .map(Email::to_string)
                        .unwrap_or_default(),
                    subject: mail.subject.clone(),
                    sealed_body,
                    once_key,
                },
                now,
            )
            .await?;
        let Some(id) = id else {
            tracing::info!(
                kind = mail.kind.as_str(),
                "mail not queued: already sent this period"
            );
            return Ok(None);
        };
        tracing::info!(id, kind = mail.kind.as_str(), "mail queued");
        self.wake.notify_one();
        Ok(Some(id))
    }

    /// Whether `recipient` may be sent another message of `kind` this hour. A caller whose
    /// message replaces something (a reset link replaces the one mailed before) asks first, so
    /// that past the limit the last message sent stays good.
    pub async fn has_room(
        &self,
        recipient: &Email,
        kind: MailKind,
        now: Timestamp,
    ) -> Result<bool, MailError> {
        let recent = self
            .store
            .recent_mail_count(recipient.as_str(), kind.as_str(), now - Seconds::hours(1))
            .await?;
        Ok(recent < self.policy.per_recipient_per_hour)
    }

    /// Whether `recipient` was sent (or has queued) a message of `kind` within `window` before
    /// `now`: warnings that repeat while a problem lasts go out once per window.
    pub async fn sent_within(
        &self,
        recipient: &Email,
        kind: MailKind,
        window: Seconds,
        now: Timestamp,
    ) -> Result<bool, MailError> {
        let recent = self
            .store
            .recent_mail_count(recipient.as_str(), kind.as_str(), now - window)
            .await?;
        Ok(recent > 0)
    }

    /// Sends every message that is due and not leased by another node.
    pub async fn deliver_due(&self, now: Timestamp) -> Result<Delivered, MailError> {
        let mut delivered = Delivered::default();
        loop {
            let batch = self
                .store
                .lease_due_mail(&self.node, now, now + self.policy.lease, 10)
                .await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            for record in batch {
                let outcome = match self.open(&record) {
                    Ok(mail) => self.sender.send(&mail, &message_key(&record)).await,
                    Err(error) => Err(error),
                };
                let attempts = record.attempts + 1;
                match outcome {
                    Ok(()) => {
                        self.store.mail_sent(record.id, &self.node, now).await?;
                        tracing::info!(id = record.id, kind = %record.kind, "mail sent");
                        delivered.sent += 1;
                    }
                    Err(error) => {
                        // A refusal for good, or a body that no longer opens, is not retried.
                        let retry_at = match error {
                            MailError::Unavailable(_) => self.policy.retry_at(attempts, now),
                            _ => None,
                        };
                        self.store
                            .mail_attempt_failed(
                                record.id,
                                &self.node,
                                &error.to_string(),
                                retry_at,
                                now,
                            )
                            .await?;
                        if retry_at.is_some() {
                            tracing::warn!(id = record.id, attempts, %error, "mail not sent yet; will retry");
                            delivered.retrying += 1;
                        } else {
                            tracing::error!(id = record.id, attempts, %error, "mail given up");
                            delivered.failed += 1;
                        }
                    }
                }
            }
        }
    }

    /// The worker: delivers due messages when woken by a new one, and every `interval`
    /// otherwise (retries, and messages other nodes queued).
    pub async fn run(&self, interval: std::time::Duration) {
        let mut last_sweep = Timestamp(0);
        loop {
            let now = Timestamp::now();
            if let Err(error) = self.deliver_due(now).await {
                tracing::error!(%error, "mail delivery pass failed");
            }
            if now.0 - last_sweep.0 >= 3600 {
                last_sweep = now;
                match self
                    .store
                    .delete_finished_mail(now - self.policy.keep_finished)
                    .await
                {
                    Ok(removed) if removed > 0 => tracing::info!(removed, "old mail forgotten"),
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "forgetting old mail failed"),
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// The newest messages, for operators (bodies are never shown).
    pub async fn recent(&self, limit: i64) -> Result<Vec<MailRecord>, MailError> {
        Ok(self.store.recent_mail(limit).await?)
    }

    pub async fn counts(&self) -> Result<OutboxCounts, MailError> {
        Ok(self.store.outbox_counts().await?)
    }

    fn open(&self, record: &MailRecord) -> Result<Mail, MailError> {
        let body = self
            .key
            .open(&seal_context(&record.recipient), &record.sealed_body)
            .map_err(|e| MailError::Sealed(e.to_string()))?;
        let body = String::from_utf8(body).map_err(|e| MailError::Sealed(e.to_string()))?;
        let to = Email::parse(&record.recipient).map_err(|e| MailError::Message(e.to_string()))?;
        Ok(Mail {
            tenant: record.tenant,
            kind: MailKind::parse(&record.kind)
                .ok_or_else(|| MailError::Message(format!("unknown kind {}", record.kind)))?,
            to,
            from_name: record.from_name.clone(),
            reply_to: Email::parse(&record.reply_to).ok(),
            subject: record.subject.clone(),
            body,
        })
    }
}

/// The left part of a message's Message-ID: the outbox row and when it was queued, so a retry
/// carries the same id and receivers can drop a duplicate.
fn message_key(record: &MailRecord) -> String {
    format!("vestibule.{}.{}", record.id, record.created_at.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_then_gives_up() {
        let policy = OutboxPolicy::default();
        let now = Timestamp(1_000_000);
        let waits: Vec<Option<i64>> = (1..=12)
            .map(|attempts| policy.retry_at(attempts, now).map(|at| at.0 - now.0))
            .collect();
        assert_eq!(waits[0], Some(60));
        assert_eq!(waits[1], Some(120));
        assert_eq!(waits[5], Some(1920));
        assert_eq!(waits[6], Some(3600));
        assert_eq!(waits[10], Some(3600));
        assert_eq!(waits[11], None);
    }
}
