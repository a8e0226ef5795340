//! The e-mail outbox, and directory members' password-reset links.
//!
//! A message is written here in the same request that decides to send it, and a worker on any
//! node sends it later under a lease: nothing is lost when SMTP is down or a node restarts, and
//! two nodes never send one message twice.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// A message to queue. `body` arrives sealed: the outbox never holds a link in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMailRecord {
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub recipient: String,
    pub from_name: String,
    pub reply_to: String,
    pub subject: String,
    pub sealed_body: String,
    /// At most one message is ever queued with a given key (`None`: no such limit).
    pub once_key: Option<String>,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub id: i64,
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub recipient: String,
    pub from_name: String,
    pub reply_to: String,
    pub subject: String,
    /// Empty once the message was sent or given up on.
    pub sealed_body: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// How the outbox stands, for operators' metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    /// Pending messages that have failed at least once and wait for another attempt.
    pub retrying: i64,
    pub failed: i64,
    pub sent: i64,
}

/// A directory member's reset link, as stored: the token only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberResetRecord {
    pub token_hash: String,
    pub tenant: TenantId,
    pub member_id: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

const MAIL_FIELDS: &str = "id, tenant_id, kind, recipient, from_name, reply_to, subject, body, \
     state, attempts, last_error, created_at, next_attempt_at, finished_at";

type MailRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
);

fn mail_from_row(row: MailRow) -> MailRecord {
    let (
        id,
        tenant,
        kind,
        recipient,
        from_name,
        reply_to,
        subject,
        sealed_body,
        state,
        attempts,
        last_error,
        created_at,
        next_attempt_at,
        finished_at,
    ) = row;
    MailRecord {
        id,
        tenant: tenant.map(TenantId),
        kind,
        recipient,
        from_name,
        reply_to,
        subject,
        sealed_body,
        state,
        attempts,
        last_error,
        created_at: Timestamp(created_at),
        next_attempt_at: Timestamp(next_attempt_at),
        finished_at: finished_at.map(Timestamp),
    }
}

impl Store {
    /// Queues a message, due at once.
    /// Queues a message; `None` when one with its `once_key` was queued before (by this node
    /// or another, at any time).
    pub async fn enqueue_mail(&self, mail: &NewMailRecord, now: Timestamp) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO mail_outbox (tenant_id, kind, recipient, from_name, reply_to, \
                 subject, body, created_at, next_attempt_at, once_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
                 ON CONFLICT (once_key) DO NOTHING RETURNING id",
            )
            .bind(mail.tenant.map(|t| t.0))
            .bind(&mail.kind)
            .bind(&mail.recipient)
            .bind(&mail.from_name)
            .bind(&mail.reply_to)
            .bind(&mail.subject)
            .bind(&mail.sealed_body)
            .bind(now.0)
            .bind(&mail.once_key)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// How many messages of `kind` went into the outbox for `recipient` since `since`: the
    /// limit on how often anyone can make us write to one address.
    pub async fn recent_mail_count(
        &self,
        recipient: &str,
        kind: &str,
        since: Timestamp,
    ) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM mail_outbox \
                 WHERE recipient = $1 AND kind = $2 AND created_at >= $3",
            )
            .bind(recipient)
            .bind(kind)
            .bind(since.0)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Takes the lease on up to `limit` messages that are due and not leased by another node.
    /// Several nodes may call this at once; the conditional update lets one of them win each.
    pub async fn lease_due_mail(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<MailRecord>> {
        let candidates: Vec<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
                 AND lease_until < $1 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(now.0)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        let mut leased = Vec::new();
        for id in candidates {
            let row: Option<MailRow> = with_pool!(self, pool => {
                sqlx::query_as(&format!(
                    "UPDATE mail_outbox SET lease_owner = $1, lease_until = $2 \
                     WHERE id = $3 AND state = 'pending' AND lease_until < $4 \
                     RETURNING {MAIL_FIELDS}"
                ))
                .bind(owner)
                .bind(lease_until.0)
                .bind(id)
                .bind(now.0)
                .fetch_optional(pool)
                .await?
            });
            leased.extend(row.map(mail_from_row));
        }
        Ok(leased)
    }

    /// Marks a leased message sent and forgets its body. False when the lease was lost.
    pub async fn mail_sent(&self, id: i64, owner: &str, now: Timestamp) -> Result<bool> {
        let updated = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE mail_outbox SET state = 'sent', body = '', attempts = attempts + 1, \
                 last_error = '', finished_at = $1, lease_owner = '', lease_until = 0 \
                 WHERE id = $2 AND lease_owner = $3 AND state = 'pending'",
            )
            .bind(now.0)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Records a failed attempt on a leased message: tried again at `retry_at`, or given up on
    /// (its body forgotten) when that is `None`. False when the lease was lost.
    pub async fn mail_attempt_failed(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool> {
        let updated = with_pool!(self, pool => {
            match retry_at {
                Some(retry_at) => sqlx::query(
                    "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, \
                     next_attempt_at = $2, lease_owner = '', lease_until = 0 \
                     WHERE id = $3 AND lease_owner = $4 AND state = 'pending'",
                )
                .bind(error)
                .bind(retry_at.0)
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected(),
                None => sqlx::query(
                    "UPDATE mail_outbox SET state = 'failed', body = '', attempts = attempts + 1, \
                     last_error = $1, finished_at = $2, lease_owner = '', lease_until = 0 \
                     WHERE id = $3 AND lease_owner = $4 AND state = 'pending'",
                )
                .bind(error)
                .bind(now.0)
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected(),
            }
        });
        Ok(updated == 1)
    }

    /// The newest messages first, up to `limit`: what operators see of the outbox.
    pub async fn recent_mail(&self, limit: i64) -> Result<Vec<MailRecord>> {
        let rows: Vec<MailRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {MAIL_FIELDS} FROM mail_outbox ORDER BY id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(mail_from_row).collect())
    }

    /// Messages by state, for the operators' metrics.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows: Vec<(String, bool, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT state, attempts > 0, COUNT(*) FROM mail_outbox \
                 GROUP BY state, attempts > 0",
            )
            .fetch_all(pool)
            .await?
        });
        let mut counts = OutboxCounts::default();
        for (state, tried, count) in rows {
            match state.as_str() {
                "pending" => {
                    counts.pending += count;
                    if tried {
                        counts.retrying += count;
                    }
                }
                "sent" => counts.sent += count,
                _ => counts.failed += count,
            }
        }
        Ok(counts)
    }

    /// Forgets sent and failed messages finished before `before`; returns how many went.
    pub async fn delete_finished_mail(&self, before: Timestamp) -> Result<u64> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM mail_outbox WHERE state <> 'pending' AND finished_at < $1")
                .bind(before.0)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    // --- directory members' reset links --------------------------------------------------------

    /// Stores a new reset link for a member, replacing the ones sent before.
    pub async fn replace_member_reset_token(&self, record: &MemberResetRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM member_reset_tokens WHERE member_id = $1")
                .bind(record.member_id)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO member_reset_tokens \
                 (token_hash, tenant_id, member_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&record.token_hash)
            .bind(record.tenant.0)
            .bind(record.member_id)
            .bind(record.created_at.0)
            .bind(record.expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The member a live reset link of `tenant` is for, without using it up.
    pub async fn member_reset_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT member_id FROM member_reset_tokens \
                 WHERE token_hash = $1 AND tenant_id = $2 AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(tenant.0)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Uses a reset link up: the member it was for, once; `None` when it was unknown, expired,
    /// of another tenant or already used (two requests racing get one member between them).
    pub async fn take_member_reset_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "DELETE FROM member_reset_tokens \
                 WHERE token_hash = $1 AND tenant_id = $2 AND expires_at > $3 \
                 RETURNING member_id",
            )
            .bind(token_hash)
            .bind(tenant.0)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        }))
    }
}
