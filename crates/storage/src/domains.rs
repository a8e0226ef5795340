use vestibule_domain::{DomainState, ProvisioningPhase, TenantId, Timestamp};

use sqlx::Connection;

use crate::store::with_pool;
use crate::{Result, StorageError, Store};

/// A tenant's SSO domain and the provisioning or renewal job it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub id: i64,
    pub tenant: TenantId,
    /// ASCII (IDNA) form, lower case, no trailing dot.
    pub name: String,
    pub state: DomainState,
    pub phase: ProvisioningPhase,
    /// The last problem or progress note, in words staff can act on.
    pub message: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub checked_at: Option<Timestamp>,
    pub check_message: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The tenant's main domain: the one its dashboard links and Login Redirect URLs name.
    pub is_primary: bool,
}

/// How many SSO domains one Cloud ID may hold (a live one, a test one, a new one moving in).
pub const MAX_DOMAINS_PER_TENANT: i64 = 5;

/// A certificate as stored; the private key stays sealed until the edge loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub domain_id: i64,
    pub domain: String,
    pub chain_pem: String,
    pub key_sealed: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub issued_at: Timestamp,
}

/// How many provisioning and renewal jobs wait and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobQueue {
    /// Due and not leased by any node.
    pub waiting: i64,
    /// Leased by a node now.
    pub running: i64,
}

/// Where a job stands after one run, written back when its lease is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub state: DomainState,
    pub phase: ProvisioningPhase,
    pub message: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
}

const DOMAIN_FIELDS: &str = "id, tenant_id, name, state, phase, message, attempts, \
     next_attempt_at, checked_at, check_message, created_at, updated_at, is_primary";

type DomainRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
    i64,
    bool,
);

fn domain_from_row(row: DomainRow) -> Result<DomainRecord> {
    let (
        id,
        tenant,
        name,
        state,
        phase,
        message,
        attempts,
        next,
        checked,
        check,
        created,
        updated,
        is_primary,
    ) = row;
    Ok(DomainRecord {
        id,
        tenant: TenantId(tenant),
        state: DomainState::parse(&state)
            .ok_or_else(|| StorageError::Corrupt(format!("domain {name} has state {state:?}")))?,
        phase: ProvisioningPhase::parse(&phase)
            .ok_or_else(|| StorageError::Corrupt(format!("domain {name} has phase {phase:?}")))?,
        name,
        message,
        attempts,
        next_attempt_at: Timestamp(next),
        checked_at: checked.map(Timestamp),
        check_message: check,
        created_at: Timestamp(created),
        updated_at: Timestamp(updated),
        is_primary,
    })
}

type CertificateRow = (i64, String, String, String, i64, i64, i64);

fn certificate_from_row(row: CertificateRow) -> CertificateRecord {
    let (domain_id, domain, chain_pem, key_sealed, not_before, not_after, issued_at) = row;
    CertificateRecord {
        domain_id,
        domain,
        chain_pem,
        key_sealed,
        not_before: Timestamp(not_before),
        not_after: Timestamp(not_after),
        issued_at: Timestamp(issued_at),
    }
}

const CERTIFICATE_COLUMNS: &str = "c.domain_id, d.name, c.chain_pem, c.key_sealed, \
     c.not_before, c.not_after, c.issued_at FROM certificates c JOIN domains d ON d.id = c.domain_id";

impl Store {
    /// Claims `name` for `tenant` and queues its provisioning job; the tenant's first domain is
    /// its primary. Failed attempts hold no name: the tenant's earlier ones, and another tenant's
    /// failed attempt at this name, give way. A domain another tenant holds gives
    /// [`crate::Conflict::DomainName`], and a tenant that already holds
    /// [`MAX_DOMAINS_PER_TENANT`] gives [`crate::Conflict::TenantDomain`].
    pub async fn claim_domain(
        &self,
        tenant: TenantId,
        name: &str,
        now: Timestamp,
    ) -> Result<DomainRecord> {
        // One transaction: when the new name is refused, the failed attempt (and its message)
        // stays as it was.
        let row: DomainRow = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut transaction = connection.begin().await?;
            sqlx::query(
                "DELETE FROM domains WHERE state = 'failed' AND (tenant_id = $1 OR name = $2)",
            )
            .bind(tenant.0)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
            let (held, has_primary): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COUNT(CASE WHEN is_primary THEN 1 END) FROM domains \
                 WHERE tenant_id = $1",
            )
            .bind(tenant.0)
            .fetch_one(&mut *transaction)
            .await?;
            if held >= MAX_DOMAINS_PER_TENANT {
                return Err(StorageError::Conflict(crate::Conflict::TenantDomain));
            }
            let row = sqlx::query_as(&format!(
                "INSERT INTO domains (tenant_id, name, state, phase, next_attempt_at, created_at, \
                 updated_at, is_primary) VALUES ($1, $2, 'provisioning', 'dns_check', $3, $3, $3, \
                 $4) RETURNING {DOMAIN_FIELDS}"
            ))
            .bind(tenant.0)
            .bind(name)
            .bind(now.0)
            .bind(has_primary == 0)
            .fetch_one(&mut *transaction)
            .await?;
            transaction.commit().await?;
            row
        });
        domain_from_row(row)
    }

    /// The tenant's domains, the primary first, then in the order they were claimed.
    pub async fn domains_for_tenant(&self, tenant: TenantId) -> Result<Vec<DomainRecord>> {
        let rows: Vec<DomainRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DOMAIN_FIELDS} FROM domains WHERE tenant_id = $1 \
                 ORDER BY is_primary DESC, id"
            ))
            .bind(tenant.0)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(domain_from_row).collect()
    }

    /// Whether `name` is one of the tenant's domains (in any state): what an app may be bound
    /// to.
    pub async fn tenant_has_domain(&self, tenant: TenantId, name: &str) -> Result<bool> {
        let found: Option<(i64,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id FROM domains WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.0)
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// Makes the tenant's domain `name` its primary; `false` when it holds no such domain.
    pub async fn make_primary_domain(&self, tenant: TenantId, name: &str) -> Result<bool> {
        let moved = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut transaction = connection.begin().await?;
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM domains WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant.0)
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some(id) = held {
                sqlx::query("UPDATE domains SET is_primary = $2 WHERE tenant_id = $1")
                    .bind(tenant.0)
                    .bind(false)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query("UPDATE domains SET is_primary = $2 WHERE id = $1")
                    .bind(id)
                    .bind(true)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
            }
            held.is_some()
        });
        Ok(moved)
    }

    pub async fn domain_for_tenant(&self, tenant: TenantId) -> Result<Option<DomainRecord>> {
        let row: Option<DomainRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DOMAIN_FIELDS} FROM domains WHERE tenant_id = $1 \
                 ORDER BY is_primary DESC, id LIMIT 1"
            ))
                .bind(tenant.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(domain_from_row).transpose()
    }

    pub async fn domain_by_name(&self, name: &str) -> Result<Option<DomainRecord>> {
        let row: Option<DomainRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {DOMAIN_FIELDS} FROM domains WHERE name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.map(domain_from_row).transpose()
    }

    /// Domains that have been provisioned (online or offline), for monitoring.
    pub async fn provisioned_domains(&self) -> Result<Vec<DomainRecord>> {
        let rows: Vec<DomainRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DOMAIN_FIELDS} FROM domains WHERE state IN ('online', 'offline') ORDER BY id"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(domain_from_row).collect()
    }

    /// Takes the lease on one job that is due: a provisioning attempt or a renewal. Several
    /// nodes may call this at once; the conditional update lets exactly one of them win.
    pub async fn lease_due_job(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<DomainRecord>> {
        let candidates: Vec<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM domains WHERE state <> 'failed' AND next_attempt_at <= $1 \
                 AND lease_until < $1 ORDER BY next_attempt_at LIMIT 5",
            )
            .bind(now.0)
            .fetch_all(pool)
            .await?
        });
        for id in candidates {
            let taken = with_pool!(self, pool => {
                sqlx::query(
                    "UPDATE domains SET lease_owner = $1, lease_until = $2 \
                     WHERE id = $3 AND lease_until < $4 AND next_attempt_at <= $4",
                )
                .bind(owner)
                .bind(lease_until.0)
                .bind(id)
                .bind(now.0)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if taken == 1 {
                let row: Option<DomainRow> = with_pool!(self, pool => {
                    sqlx::query_as(&format!("SELECT {DOMAIN_FIELDS} FROM domains WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(pool)
                        .await?
                });
                return row.map(domain_from_row).transpose();
            }
        }
        Ok(None)
    }

    /// Records progress of a leased job and extends its lease. False when the lease was lost
    /// (the domain was released, or another node took over after the lease ran out).
    pub async fn report_job_progress(
        &self,
        id: i64,
        owner: &str,
        phase: ProvisioningPhase,
        message: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE domains SET phase = $1, message = $2, updated_at = $3, lease_until = $4 \
                 WHERE id = $5 AND lease_owner = $6",
            )
            .bind(phase.as_str())
            .bind(message)
            .bind(now.0)
            .bind(lease_until.0)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Extends a leased job's lease while its node works on it. False when the lease was lost
    /// (the domain was released, or another node took over after the lease ran out).
    pub async fn renew_lease(&self, id: i64, owner: &str, lease_until: Timestamp) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("UPDATE domains SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
                .bind(lease_until.0)
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Claims this round's monitoring check of a domain: true for exactly one of the nodes that
    /// ask, when the last check is older than `checked_before`.
    pub async fn claim_domain_check(
        &self,
        id: i64,
        now: Timestamp,
        checked_before: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE domains SET checked_at = $1 \
                 WHERE id = $2 AND (checked_at IS NULL OR checked_at < $3)",
            )
            .bind(now.0)
            .bind(id)
            .bind(checked_before.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Writes a job's outcome and gives up its lease. False when the lease was lost.
    pub async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE domains SET state = $1, phase = $2, message = $3, attempts = $4, \
                 next_attempt_at = $5, updated_at = $6, lease_owner = '', lease_until = 0 \
                 WHERE id = $7 AND lease_owner = $8",
            )
            .bind(outcome.state.as_str())
            .bind(outcome.phase.as_str())
            .bind(&outcome.message)
            .bind(outcome.attempts)
            .bind(outcome.next_attempt_at.0)
            .bind(now.0)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Records a monitoring check. Only provisioned domains move between online and offline;
    /// a domain that is being provisioned or was released is left alone.
    pub async fn record_domain_check(
        &self,
        id: i64,
        state: DomainState,
        message: &str,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE domains SET state = $1, checked_at = $2, check_message = $3 \
                 WHERE id = $4 AND state IN ('online', 'offline')",
            )
            .bind(state.as_str())
            .bind(now.0)
            .bind(message)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Releases a tenant's domain (`name`, or its primary): the domain row, its certificate and
    /// challenges go. When the primary goes, the tenant's oldest other domain becomes primary.
    pub async fn release_domain(
        &self,
        tenant: TenantId,
        name: Option<&str>,
    ) -> Result<Option<String>> {
        let name: Option<String> = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut transaction = connection.begin().await?;
            let released: Option<String> = sqlx::query_scalar(
                "DELETE FROM domains WHERE id = (SELECT id FROM domains WHERE tenant_id = $1 \
                 AND (name = $2 OR ($2 IS NULL AND is_primary))) RETURNING name",
            )
            .bind(tenant.0)
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await?;
            sqlx::query(
                "UPDATE domains SET is_primary = $2 WHERE id = (SELECT MIN(id) FROM domains \
                 WHERE tenant_id = $1) AND NOT EXISTS (SELECT 1 FROM domains \
                 WHERE tenant_id = $1 AND is_primary)",
            )
            .bind(tenant.0)
            .bind(true)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            released
        });
        if name.is_some() {
            self.announce_certificate_change().await?;
        }
        Ok(name)
    }

    /// Stores the certificate a domain serves, replacing the one before.
    pub async fn put_certificate(&self, certificate: &CertificateRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO certificates (domain_id, chain_pem, key_sealed, not_before, \
                 not_after, issued_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (domain_id) DO UPDATE SET chain_pem = excluded.chain_pem, \
                 key_sealed = excluded.key_sealed, not_before = excluded.not_before, \
                 not_after = excluded.not_after, issued_at = excluded.issued_at",
            )
            .bind(certificate.domain_id)
            .bind(&certificate.chain_pem)
            .bind(&certificate.key_sealed)
            .bind(certificate.not_before.0)
            .bind(certificate.not_after.0)
            .bind(certificate.issued_at.0)
            .execute(pool)
            .await?;
        });
        self.announce_certificate_change().await
    }

    pub async fn certificate_for_domain(
        &self,
        domain_id: i64,
    ) -> Result<Option<CertificateRecord>> {
        let row: Option<CertificateRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {CERTIFICATE_COLUMNS} WHERE c.domain_id = $1"))
                .bind(domain_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(certificate_from_row))
    }

    /// Every stored certificate, for the TLS edge to load.
    pub async fn all_certificates(&self) -> Result<Vec<CertificateRecord>> {
        let rows: Vec<CertificateRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {CERTIFICATE_COLUMNS} ORDER BY c.domain_id"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(certificate_from_row).collect())
    }

    /// Each certificate's domain and expiry, for monitoring: no key material is read.
    pub async fn certificate_expiries(&self) -> Result<Vec<(String, Timestamp)>> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT d.name, c.not_after FROM certificates c \
                 JOIN domains d ON d.id = c.domain_id ORDER BY d.name",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(name, not_after)| (name, Timestamp(not_after)))
            .collect())
    }

    /// The provisioning and renewal queue at `now`: jobs due and not leased, and jobs a node is
    /// working on.
    pub async fn job_queue(&self, now: Timestamp) -> Result<JobQueue> {
        let (waiting, running): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT \
                 COALESCE(SUM(CASE WHEN next_attempt_at <= $1 AND lease_until < $1 THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN lease_until >= $1 THEN 1 ELSE 0 END), 0) \
                 FROM domains WHERE state <> 'failed'",
            )
            .bind(now.0)
            .fetch_one(pool)
            .await?
        });
        Ok(JobQueue { waiting, running })
    }

    pub async fn put_challenge(
        &self,
        token: &str,
        key_authorization: &str,
        domain_id: i64,
        expires_at: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO acme_challenges (token, key_authorization, domain_id, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (token) DO UPDATE SET \
                 key_authorization = excluded.key_authorization, expires_at = excluded.expires_at",
            )
            .bind(token)
            .bind(key_authorization)
            .bind(domain_id)
            .bind(expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The key authorization for an HTTP-01 token, if one is live.
    pub async fn challenge_answer(&self, token: &str, now: Timestamp) -> Result<Option<String>> {
        let answer: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT key_authorization FROM acme_challenges WHERE token = $1 AND expires_at > $2",
            )
            .bind(token)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(answer)
    }

    pub async fn delete_challenges(&self, domain_id: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM acme_challenges WHERE domain_id = $1")
                .bind(domain_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn acme_account(&self, directory_url: &str) -> Result<Option<String>> {
        let sealed: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT credentials_sealed FROM acme_accounts WHERE directory_url = $1",
            )
            .bind(directory_url)
            .fetch_optional(pool)
            .await?
        });
        Ok(sealed)
    }

    /// Stores the account for a directory unless one is there already, and returns the one that
    /// is stored: when two nodes create an account at once, both go on with the same one.
    pub async fn put_acme_account(
        &self,
        directory_url: &str,
        credentials_sealed: &str,
        now: Timestamp,
    ) -> Result<String> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO acme_accounts (directory_url, credentials_sealed, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (directory_url) DO NOTHING",
            )
            .bind(directory_url)
            .bind(credentials_sealed)
            .bind(now.0)
            .execute(pool)
            .await?;
        });
        self.acme_account(directory_url)
            .await?
            .ok_or_else(|| StorageError::Corrupt("the ACME account vanished".to_string()))
    }
}
