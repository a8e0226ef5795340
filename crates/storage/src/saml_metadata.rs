//! SAML apps' subscriptions to their service providers' metadata addresses.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// A subscription as stored, with the app it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSubscriptionRecord {
    pub tenant: TenantId,
    pub app_id: String,
    pub url: String,
    /// Whether certificate changes are applied without waiting for the admin.
    pub apply_certificates: bool,
    pub next_check_at: Timestamp,
    pub checked_at: Option<Timestamp>,
    /// Why the last read failed, in words; `None` after a good read.
    pub failure: Option<String>,
    /// The changes waiting for the admin (the engine's JSON); `None` when there are none.
    pub pending: Option<String>,
}

type SubscriptionRow = (
    i64,
    String,
    String,
    bool,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn subscription(row: SubscriptionRow) -> MetadataSubscriptionRecord {
    let (tenant, app_id, url, apply_certificates, next_check_at, checked_at, failure, pending) =
        row;
    MetadataSubscriptionRecord {
        tenant: TenantId(tenant),
        app_id,
        url,
        apply_certificates,
        next_check_at: Timestamp(next_check_at),
        checked_at: checked_at.map(Timestamp),
        failure,
        pending,
    }
}

const SUBSCRIPTION_COLUMNS: &str = "a.tenant_id, a.app_id, s.url, s.apply_certificates, \
     s.next_check_at, s.checked_at, s.failure, s.pending \
     FROM saml_metadata_subscriptions s JOIN saml_apps a ON a.id = s.app_ref";

impl Store {
    /// Subscribes the app to `url` (or changes its subscription), first read at
    /// `next_check_at`; what an earlier address said is forgotten. `false`: no such app.
    pub async fn subscribe_saml_metadata(
        &self,
        tenant: TenantId,
        app_id: &str,
        url: &str,
        apply_certificates: bool,
        next_check_at: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO saml_metadata_subscriptions (app_ref, url, apply_certificates, \
                 next_check_at) SELECT id, $3, $4, $5 FROM saml_apps \
                 WHERE tenant_id = $1 AND app_id = $2 \
                 ON CONFLICT (app_ref) DO UPDATE SET url = excluded.url, \
                 apply_certificates = excluded.apply_certificates, \
                 next_check_at = excluded.next_check_at, checked_at = NULL, failure = NULL, \
                 pending = NULL",
            )
            .bind(tenant.0)
            .bind(app_id)
            .bind(url)
            .bind(apply_certificates)
            .bind(next_check_at.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Ends the app's subscription; `false` when it had none.
    pub async fn unsubscribe_saml_metadata(&self, tenant: TenantId, app_id: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM saml_metadata_subscriptions WHERE app_ref IN \
                 (SELECT id FROM saml_apps WHERE tenant_id = $1 AND app_id = $2)",
            )
            .bind(tenant.0)
            .bind(app_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    pub async fn saml_metadata_subscription(
        &self,
        tenant: TenantId,
        app_id: &str,
    ) -> Result<Option<MetadataSubscriptionRecord>> {
        let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} WHERE a.tenant_id = $1 AND a.app_id = $2");
        let row: Option<SubscriptionRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).bind(app_id).fetch_optional(pool).await?
        });
        Ok(row.map(subscription))
    }

    /// The tenant's subscriptions, for its app list.
    pub async fn saml_metadata_subscriptions(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<MetadataSubscriptionRecord>> {
        let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} WHERE a.tenant_id = $1 ORDER BY a.id");
        let rows: Vec<SubscriptionRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(subscription).collect())
    }

    /// Every tenant's subscriptions, with the tenant's Cloud ID: what the operator's metrics read.
    pub async fn every_saml_metadata_subscription(
        &self,
    ) -> Result<Vec<(String, MetadataSubscriptionRecord)>> {
        let sql = format!(
            "SELECT t.cloud_id, {SUBSCRIPTION_COLUMNS} JOIN tenants t ON t.id = a.tenant_id \
             ORDER BY a.tenant_id, a.id"
        );
        type Row = (
            String,
            i64,
            String,
            String,
            bool,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(cloud_id, t, app, url, apply, next, checked, failure, pending)| {
                    let record =
                        subscription((t, app, url, apply, next, checked, failure, pending));
                    (cloud_id, record)
                },
            )
            .collect())
    }

    /// Up to `limit` subscriptions due at `now`, each claimed by moving its next read to
    /// `claimed_until`: with several nodes, a subscription another node claimed first (its
    /// next read moved meanwhile) is left to that node.
    pub async fn claim_due_saml_metadata(
        &self,
        now: Timestamp,
        claimed_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<MetadataSubscriptionRecord>> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} WHERE s.next_check_at <= $1 \
             ORDER BY s.next_check_at LIMIT $2"
        );
        let due: Vec<SubscriptionRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now.0).bind(limit).fetch_all(pool).await?
        });
        let mut claimed = Vec::new();
        for record in due.into_iter().map(subscription) {
            let affected = with_pool!(self, pool => {
                sqlx::query(
                    "UPDATE saml_metadata_subscriptions SET next_check_at = $3 \
                     WHERE next_check_at = $4 AND app_ref IN \
                     (SELECT id FROM saml_apps WHERE tenant_id = $1 AND app_id = $2)",
                )
                .bind(record.tenant.0)
                .bind(&record.app_id)
                .bind(claimed_until.0)
                .bind(record.next_check_at.0)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if affected == 1 {
                claimed.push(MetadataSubscriptionRecord {
                    next_check_at: claimed_until,
                    ..record
                });
            }
        }
        Ok(claimed)
    }

    /// Writes down a read: `checked` is the claimed subscription with its outcome (failure or
    /// changes waiting for the admin) and when to read again. Nothing happens when the
    /// subscription meanwhile moved to another address (what was read no longer describes it)
    /// or ended.
    pub async fn record_saml_metadata_check(
        &self,
        checked: &MetadataSubscriptionRecord,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE saml_metadata_subscriptions SET checked_at = $4, failure = $5, \
                 pending = $6, next_check_at = $7 WHERE url = $3 AND app_ref IN \
                 (SELECT id FROM saml_apps WHERE tenant_id = $1 AND app_id = $2)",
            )
            .bind(checked.tenant.0)
            .bind(&checked.app_id)
            .bind(&checked.url)
            .bind(checked.checked_at.map(|at| at.0))
            .bind(checked.failure.as_deref())
            .bind(checked.pending.as_deref())
            .bind(checked.next_check_at.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }
}
