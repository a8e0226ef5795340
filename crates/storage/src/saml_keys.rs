//! Tenant keys and certificates that sign SAML responses.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// One SAML signing key as stored: the private key sealed, the certificate in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlKeyRecord {
    pub kid: String,
    pub tenant: TenantId,
    /// 1 for the tenant's first key; each rotation adds one.
    pub generation: i64,
    pub private_key_sealed: String,
    pub certificate_der: Vec<u8>,
    pub not_after: Timestamp,
    pub created_at: Timestamp,
    /// When it starts to sign; `None`: from its creation.
    pub signs_from: Option<Timestamp>,
}

type SamlKeyRow = (String, i64, i64, String, Vec<u8>, i64, i64, Option<i64>);

fn saml_key(row: SamlKeyRow) -> SamlKeyRecord {
    let (kid, tenant, generation, sealed, certificate_der, not_after, created_at, signs_from) = row;
    SamlKeyRecord {
        kid,
        tenant: TenantId(tenant),
        generation,
        private_key_sealed: sealed,
        certificate_der,
        not_after: Timestamp(not_after),
        created_at: Timestamp(created_at),
        signs_from: signs_from.map(Timestamp),
    }
}

impl Store {
    /// Stores a key unless the tenant already has this generation (another node got there
    /// first); says whether this one was stored.
    pub async fn insert_saml_key(&self, record: &SamlKeyRecord) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO saml_signing_keys (kid, tenant_id, generation, private_key_sealed, \
                 certificate_der, not_after, created_at, signs_from) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (tenant_id, generation) DO NOTHING",
            )
            .bind(&record.kid)
            .bind(record.tenant.0)
            .bind(record.generation)
            .bind(&record.private_key_sealed)
            .bind(&record.certificate_der)
            .bind(record.not_after.0)
            .bind(record.created_at.0)
            .bind(record.signs_from.map(|at| at.0))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// The tenant's keys whose certificates have not expired at `now`, oldest generation first.
    pub async fn saml_keys(&self, tenant: TenantId, now: Timestamp) -> Result<Vec<SamlKeyRecord>> {
        let rows: Vec<SamlKeyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT kid, tenant_id, generation, private_key_sealed, certificate_der, \
                 not_after, created_at, signs_from FROM saml_signing_keys \
                 WHERE tenant_id = $1 AND not_after > $2 ORDER BY generation",
            )
            .bind(tenant.0)
            .bind(now.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(saml_key).collect())
    }

    /// Moves when a key that does not sign yet starts to (`signs_from` after `now`): rolling
    /// over now, or postponing. False when the key is unknown or already signs.
    pub async fn reschedule_saml_key(
        &self,
        tenant: TenantId,
        kid: &str,
        signs_from: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE saml_signing_keys SET signs_from = $3 \
                 WHERE tenant_id = $1 AND kid = $2 AND signs_from > $4",
            )
            .bind(tenant.0)
            .bind(kid)
            .bind(signs_from.0)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }
}
