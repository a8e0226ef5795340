//! The audit log: one row per change an admin or operator made.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::{like_literal, with_pool};
use crate::{Result, Store};

/// One change, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEventRecord {
    pub id: i64,
    /// `None` for changes outside any tenant (an operator creating a tenant).
    pub tenant: Option<TenantId>,
    pub at: Timestamp,
    /// Who: a staff e-mail address.
    pub actor: String,
    /// What, as `thing.verb`: `saml_app.update`, `settings.save`, …
    pub action: String,
    /// Which one: an app's name and id, a domain, an e-mail address.
    pub target: String,
    /// JSON, secrets redacted; `None` for creations.
    pub before: Option<String>,
    /// JSON, secrets redacted; `None` for deletions.
    pub after: Option<String>,
}

/// Which events to list: all of a tenant's, narrowed by what is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Actions starting with this (`saml_app` finds every SAML app change).
    pub action: Option<String>,
    /// Actors containing this.
    pub actor: Option<String>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    /// Events written before the one with this id: the next page of a listing.
    pub older_than: Option<i64>,
}

type AuditRow = (
    i64,
    Option<i64>,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn from_row(row: AuditRow) -> AuditEventRecord {
    let (id, tenant, at, actor, action, target, before, after) = row;
    AuditEventRecord {
        id,
        tenant: tenant.map(TenantId),
        at: Timestamp(at),
        actor,
        action,
        target,
        before,
        after,
    }
}

impl Store {
    pub async fn record_audit_event(&self, event: &AuditEventRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO audit_events (tenant_id, at, actor, action, target, before, after) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(event.tenant.map(|t| t.0))
            .bind(event.at.0)
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(&event.before)
            .bind(&event.after)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A tenant's events matching `filter`, newest first, at most `limit`.
    pub async fn audit_events(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEventRecord>> {
        let action = filter
            .action
            .as_deref()
            .map(|a| format!("{}%", like_literal(a)));
        let actor = filter
            .actor
            .as_deref()
            .map(|a| format!("%{}%", like_literal(&a.to_lowercase())));
        let rows: Vec<AuditRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, tenant_id, at, actor, action, target, before, after \
                 FROM audit_events WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR action LIKE $2 ESCAPE '\\') \
                 AND ($3 IS NULL OR LOWER(actor) LIKE $3 ESCAPE '\\') \
                 AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
                 AND ($6 IS NULL OR id < $6) \
                 ORDER BY id DESC LIMIT $7",
            )
            .bind(tenant.0)
            .bind(action)
            .bind(actor)
            .bind(filter.since.map(|t| t.0))
            .bind(filter.until.map(|t| t.0))
            .bind(filter.older_than)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(from_row).collect())
    }
}
