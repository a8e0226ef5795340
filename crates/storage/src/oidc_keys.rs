//! Tenant keys that sign ID tokens.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// One signing key as stored: the private key sealed, the public parts in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub tenant: TenantId,
    /// `RS256` or `RS512`.
    pub algorithm: String,
    pub private_key_sealed: String,
    /// Big-endian RSA modulus and public exponent.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    pub active_from: Timestamp,
    pub active_until: Timestamp,
    pub published_until: Timestamp,
    pub created_at: Timestamp,
}

type KeyRow = (
    String,
    i64,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
);

fn key(row: KeyRow) -> SigningKeyRecord {
    let (kid, tenant, algorithm, sealed, modulus, exponent, from, until, published, created) = row;
    SigningKeyRecord {
        kid,
        tenant: TenantId(tenant),
        algorithm,
        private_key_sealed: sealed,
        modulus,
        exponent,
        active_from: Timestamp(from),
        active_until: Timestamp(until),
        published_until: Timestamp(published),
        created_at: Timestamp(created),
    }
}

impl Store {
    /// Stores a key unless the tenant already has one for this algorithm starting at the same
    /// instant (another node got there first); says whether this one was stored.
    pub async fn insert_signing_key(&self, record: &SigningKeyRecord) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oidc_signing_keys (kid, tenant_id, algorithm, private_key_sealed, \
                 modulus, exponent, active_from, active_until, published_until, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (tenant_id, algorithm, active_from) DO NOTHING",
            )
            .bind(&record.kid)
            .bind(record.tenant.0)
            .bind(&record.algorithm)
            .bind(&record.private_key_sealed)
            .bind(&record.modulus)
            .bind(&record.exponent)
            .bind(record.active_from.0)
            .bind(record.active_until.0)
            .bind(record.published_until.0)
            .bind(record.created_at.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// The tenant's keys still published at `now`, oldest first; all algorithms when
    /// `algorithm` is `None`.
    pub async fn signing_keys(
        &self,
        tenant: TenantId,
        algorithm: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<SigningKeyRecord>> {
        let rows: Vec<KeyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT kid, tenant_id, algorithm, private_key_sealed, modulus, exponent, \
                 active_from, active_until, published_until, created_at FROM oidc_signing_keys \
                 WHERE tenant_id = $1 AND published_until > $2 \
                 AND ($3 IS NULL OR algorithm = $3) ORDER BY active_from, kid",
            )
            .bind(tenant.0)
            .bind(now.0)
            .bind(algorithm)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(key).collect())
    }

    /// Deletes keys no longer published anywhere; returns how many.
    pub async fn delete_unpublished_signing_keys(&self, now: Timestamp) -> Result<u64> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM oidc_signing_keys WHERE published_until <= $1")
                .bind(now.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted)
    }
}
