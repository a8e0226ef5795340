//! The flight recorder's rows: each app's latest protocol exchanges, newest first.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// One protocol exchange, as stored. `detail` is sealed by the recorder; storage never reads
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRecord {
    pub id: i64,
    pub tenant: TenantId,
    /// `oidc` or `saml`.
    pub protocol: String,
    /// The OIDC client id or the SAML app id.
    pub app: String,
    pub at: Timestamp,
    /// `authorization`, `token`, `authn_request`, `response`, …
    pub kind: String,
    /// The member's username; empty when nobody is known.
    pub member: String,
    /// `answered` or `refused`.
    pub outcome: String,
    /// Why it was refused, for the admin; empty when answered.
    pub reason: String,
    /// What was signed and what was checked, in words.
    pub signature: String,
    /// JSON, redacted.
    pub summary: String,
    /// Sealed full detail; `None` once `detail_until` has passed (or never kept).
    pub detail: Option<String>,
    pub detail_until: Option<Timestamp>,
}

/// Which app's exchanges: protocol and app id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeApp<'a> {
    pub protocol: &'a str,
    pub app: &'a str,
}

type ExchangeRow = (
    i64,
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str = "id, tenant_id, protocol, app, at, kind, member, outcome, reason, \
                       signature, summary, detail, detail_until";

fn from_row(row: ExchangeRow) -> ExchangeRecord {
    let (
        id,
        tenant,
        protocol,
        app,
        at,
        kind,
        member,
        outcome,
        reason,
        signature,
        summary,
        detail,
        detail_until,
    ) = row;
    ExchangeRecord {
        id,
        tenant: TenantId(tenant),
        protocol,
        app,
        at: Timestamp(at),
        kind,
        member,
        outcome,
        reason,
        signature,
        summary,
        detail,
        detail_until: detail_until.map(Timestamp),
    }
}

impl Store {
    /// Writes `exchange` down and forgets the app's exchanges with the same outcome beyond the
    /// latest `keep`: answered and refused exchanges are kept apart, so a flood of refused
    /// requests cannot push the answered ones out. Returns the new row's id.
    pub async fn record_exchange(&self, exchange: &ExchangeRecord, keep: i64) -> Result<i64> {
        let id = with_pool!(self, pool => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO protocol_exchanges (tenant_id, protocol, app, at, kind, member, \
                 outcome, reason, signature, summary, detail, detail_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(exchange.tenant.0)
            .bind(&exchange.protocol)
            .bind(&exchange.app)
            .bind(exchange.at.0)
            .bind(&exchange.kind)
            .bind(&exchange.member)
            .bind(&exchange.outcome)
            .bind(&exchange.reason)
            .bind(&exchange.signature)
            .bind(&exchange.summary)
            .bind(&exchange.detail)
            .bind(exchange.detail_until.map(|t| t.0))
            .fetch_one(pool)
            .await?;
            // The `keep`-th newest row's id and everything older goes: one range delete.
            // Two writers trimming at once delete the same rows.
            sqlx::query(
                "DELETE FROM protocol_exchanges \
                 WHERE tenant_id = $1 AND protocol = $2 AND app = $3 AND outcome = $4 \
                 AND id <= ( \
                   SELECT id FROM protocol_exchanges \
                   WHERE tenant_id = $1 AND protocol = $2 AND app = $3 AND outcome = $4 \
                   ORDER BY id DESC LIMIT 1 OFFSET $5)",
            )
            .bind(exchange.tenant.0)
            .bind(&exchange.protocol)
            .bind(&exchange.app)
            .bind(&exchange.outcome)
            .bind(keep)
            .execute(pool)
            .await?;
            id
        });
        Ok(id)
    }

    /// The app's exchanges, newest first, at most `limit`.
    pub async fn exchanges(
        &self,
        tenant: TenantId,
        app: ExchangeApp<'_>,
        limit: i64,
    ) -> Result<Vec<ExchangeRecord>> {
        let rows: Vec<ExchangeRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM protocol_exchanges \
                 WHERE tenant_id = $1 AND protocol = $2 AND app = $3 \
                 ORDER BY id DESC LIMIT $4"
            ))
            .bind(tenant.0)
            .bind(app.protocol)
            .bind(app.app)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// One of the app's exchanges; `None` when it is not this app's (or was trimmed).
    pub async fn exchange(
        &self,
        tenant: TenantId,
        app: ExchangeApp<'_>,
        id: i64,
    ) -> Result<Option<ExchangeRecord>> {
        let row: Option<ExchangeRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM protocol_exchanges \
                 WHERE tenant_id = $1 AND protocol = $2 AND app = $3 AND id = $4"
            ))
            .bind(tenant.0)
            .bind(app.protocol)
            .bind(app.app)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(from_row))
    }

    /// Empties every detail whose time is up; returns how many.
    pub async fn forget_exchange_details(&self, now: Timestamp) -> Result<u64> {
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE protocol_exchanges SET detail = NULL, detail_until = NULL \
                 WHERE detail IS NOT NULL AND detail_until <= $1",
            )
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Forgets an app's exchanges (the app was deleted).
    pub async fn delete_exchanges(&self, tenant: TenantId, app: ExchangeApp<'_>) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM protocol_exchanges \
                 WHERE tenant_id = $1 AND protocol = $2 AND app = $3",
            )
            .bind(tenant.0)
            .bind(app.protocol)
            .bind(app.app)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
