//! OpenID Connect client applications and their secrets.

use vestibule_domain::{TenantId, Timestamp};

use sqlx::Connection;

use crate::store::with_pool;
use crate::{Failures, Result, Store};

/// A client application as stored; `settings` is the engine's JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClientRecord {
    pub id: i64,
    pub tenant: TenantId,
    pub client_id: String,
    pub name: String,
    pub settings: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One client secret, as its SHA-256 (and sealed, for an HS512 application, which signs with
/// it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    pub id: i64,
    pub secret_hash: String,
    pub secret_sealed: Option<String>,
    pub created_at: Timestamp,
    /// Set when a rotation retires it: it keeps working until then.
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// What the token endpoint learns about its caller in one query: see [`Store::oidc_caller`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcCaller {
    pub failures: Failures,
    pub client: Option<(OidcClientRecord, Vec<ClientSecretRecord>)>,
}

type ClientRow = (i64, i64, String, String, String, i64, i64);
type SecretRow = (i64, String, Option<String>, i64, Option<i64>, Option<i64>);

/// A new client secret as stored: its SHA-256, and the secret sealed when the application
/// signs HS512 ID tokens with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewClientSecret<'a> {
    pub hash: &'a str,
    pub sealed: Option<&'a str>,
}

/// What saving an application's settings does to its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSecretChange<'a> {
    Keep,
    /// The application switched to HS512: a new secret replaces every current one, which
    /// cannot sign (only their hashes were kept).
    ReplaceAll(NewClientSecret<'a>),
    /// The application left HS512: the sealed copies are no longer needed.
    ForgetSealed,
}

fn client(row: ClientRow) -> OidcClientRecord {
    let (id, tenant, client_id, name, settings, created_at, updated_at) = row;
    OidcClientRecord {
        id,
        tenant: TenantId(tenant),
        client_id,
        name,
        settings,
        created_at: Timestamp(created_at),
        updated_at: Timestamp(updated_at),
    }
}

const CLIENT_COLUMNS: &str =
    "id, tenant_id, client_id, name, settings, created_at, updated_at FROM oidc_clients";

impl Store {
    /// Stores a new client application with its first secret (if it is confidential).
    pub async fn insert_oidc_client(
        &self,
        record: &OidcClientRecord,
        secret: Option<NewClientSecret<'_>>,
    ) -> Result<OidcClientRecord> {
        let id: i64 = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO oidc_clients (tenant_id, client_id, name, settings, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(record.tenant.0)
            .bind(&record.client_id)
            .bind(&record.name)
            .bind(&record.settings)
            .bind(record.created_at.0)
            .bind(record.updated_at.0)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(secret) = secret {
                sqlx::query(
                    "INSERT INTO oidc_client_secrets (client, secret_hash, secret_sealed, \
                     created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(secret.hash)
                .bind(secret.sealed)
                .bind(record.created_at.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            id
        });
        Ok(OidcClientRecord {
            id,
            ..record.clone()
        })
    }

    /// The tenant's client applications, by name.
    pub async fn oidc_clients(&self, tenant: TenantId) -> Result<Vec<OidcClientRecord>> {
        let rows: Vec<ClientRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS} WHERE tenant_id = $1 ORDER BY name, id"
            ))
            .bind(tenant.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(client).collect())
    }

    /// The tenant's client application with this client id; another tenant's is not found.
    pub async fn oidc_client(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> Result<Option<OidcClientRecord>> {
        let row: Option<ClientRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS} WHERE tenant_id = $1 AND client_id = $2"
            ))
            .bind(tenant.0)
            .bind(client_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(client))
    }

    /// The tenant's client application with its secrets in use at `now`, newest first, in one
    /// query.
    pub async fn oidc_client_with_secrets(
        &self,
        tenant: TenantId,
        client_id: &str,
        now: Timestamp,
    ) -> Result<Option<(OidcClientRecord, Vec<ClientSecretRecord>)>> {
        Ok(self.oidc_caller(tenant, client_id, None, now).await?.client)
    }

    /// Everything authenticating a caller of the token endpoint needs, in one query: the
    /// client application with its secrets in use at `now` (newest first), and the failures
    /// recorded against `failures.0` since `failures.1` (none counted when `failures` is None).
    pub async fn oidc_caller(
        &self,
        tenant: TenantId,
        client_id: &str,
        failures: Option<(&str, Timestamp)>,
        now: Timestamp,
    ) -> Result<OidcCaller> {
        type JoinedRow = (
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        // The failure count is a one-row subquery the client is joined to, so an unknown
        // client still answers with the count. A NULL bucket matches no row.
        let (bucket, since) = failures.unzip();
        let rows: Vec<JoinedRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT f.failures, f.oldest, c.id, c.tenant_id, c.client_id, c.name, \
                 c.settings, c.created_at, c.updated_at, \
                 s.id, s.secret_hash, s.secret_sealed, s.created_at, s.expires_at, \
                 s.last_used_at \
                 FROM (SELECT COUNT(*) AS failures, MIN(at) AS oldest FROM sign_in_failures \
                       WHERE bucket = $4 AND at >= $5) f \
                 LEFT JOIN oidc_clients c ON c.tenant_id = $1 AND c.client_id = $2 \
                 LEFT JOIN oidc_client_secrets s ON s.client = c.id \
                 AND (s.expires_at IS NULL OR s.expires_at > $3) \
                 ORDER BY s.created_at DESC, s.id DESC",
            )
            .bind(tenant.0)
            .bind(client_id)
            .bind(now.0)
            .bind(bucket)
            .bind(since.map(|at| at.0))
            .fetch_all(pool)
            .await?
        });
        let failures = Failures {
            count: rows.first().map_or(0, |row| row.0),
            oldest: rows.first().and_then(|row| row.1).map(Timestamp),
        };
        let Some((
            _,
            _,
            Some(id),
            Some(tenant),
            Some(client_id),
            Some(name),
            Some(settings),
            Some(created_at),
            Some(updated_at),
            ..,
        )) = rows.first().cloned()
        else {
            return Ok(OidcCaller {
                failures,
                client: None,
            });
        };
        let record = client((
            id, tenant, client_id, name, settings, created_at, updated_at,
        ));
        let secrets = rows
            .into_iter()
            .filter_map(|row| {
                Some(ClientSecretRecord {
                    id: row.9?,
                    secret_hash: row.10?,
                    secret_sealed: row.11,
                    created_at: Timestamp(row.12?),
                    expires_at: row.13.map(Timestamp),
                    last_used_at: row.14.map(Timestamp),
                })
            })
            .collect();
        Ok(OidcCaller {
            failures,
            client: Some((record, secrets)),
        })
    }

    /// Replaces a client application's name and settings, and changes its secrets as
    /// `secrets` says, in one transaction; false when the tenant has no such application.
    pub async fn update_oidc_client(
        &self,
        tenant: TenantId,
        client_id: &str,
        name: &str,
        settings: &str,
        secrets: ClientSecretChange<'_>,
        now: Timestamp,
    ) -> Result<bool> {
        let updated = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE oidc_clients SET name = $1, settings = $2, updated_at = $3 \
                 WHERE tenant_id = $4 AND client_id = $5 RETURNING id",
            )
            .bind(name)
            .bind(settings)
            .bind(now.0)
            .bind(tenant.0)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = id {
                match secrets {
                    ClientSecretChange::Keep => {}
                    ClientSecretChange::ForgetSealed => {
                        sqlx::query(
                            "UPDATE oidc_client_secrets SET secret_sealed = NULL \
                             WHERE client = $1",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    ClientSecretChange::ReplaceAll(secret) => {
                        sqlx::query("DELETE FROM oidc_client_secrets WHERE client = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "INSERT INTO oidc_client_secrets (client, secret_hash, \
                             secret_sealed, created_at) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(id)
                        .bind(secret.hash)
                        .bind(secret.sealed)
                        .bind(now.0)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            tx.commit().await?;
            id.is_some()
        });
        Ok(updated)
    }

    /// Deletes a client application and its secrets; false when the tenant has no such one.
    pub async fn delete_oidc_client(&self, tenant: TenantId, client_id: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("DELETE FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2")
                .bind(tenant.0)
                .bind(client_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// A client application's secrets that still work at `now`, newest first.
    pub async fn client_secrets(
        &self,
        client: i64,
        now: Timestamp,
    ) -> Result<Vec<ClientSecretRecord>> {
        let rows: Vec<SecretRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, secret_hash, secret_sealed, created_at, expires_at, last_used_at \
                 FROM oidc_client_secrets WHERE client = $1 \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id DESC",
            )
            .bind(client)
            .bind(now.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, secret_hash, secret_sealed, created_at, expires_at, last_used_at)| {
                    ClientSecretRecord {
                        id,
                        secret_hash,
                        secret_sealed,
                        created_at: Timestamp(created_at),
                        expires_at: expires_at.map(Timestamp),
                        last_used_at: last_used_at.map(Timestamp),
                    }
                },
            )
            .collect())
    }

    /// Adds a new secret and lets every current one work until `old_until` (at the latest),
    /// in one transaction; expired secrets are deleted.
    pub async fn rotate_client_secret(
        &self,
        client: i64,
        secret: NewClientSecret<'_>,
        now: Timestamp,
        old_until: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            sqlx::query(
                "UPDATE oidc_client_secrets SET expires_at = $1 WHERE client = $2 \
                 AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(old_until.0)
            .bind(client)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM oidc_client_secrets WHERE client = $1 AND expires_at <= $2")
                .bind(client)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO oidc_client_secrets (client, secret_hash, secret_sealed, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(client)
            .bind(secret.hash)
            .bind(secret.sealed)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Notes that a secret was just used, for the dashboard's "last used".
    pub async fn touch_client_secret(&self, id: i64, now: Timestamp) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE oidc_client_secrets SET last_used_at = $1 WHERE id = $2")
                .bind(now.0)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
