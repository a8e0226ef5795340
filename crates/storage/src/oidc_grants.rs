//! Authorization codes and access tokens of the OpenID Connect provider.

use vestibule_domain::{TenantId, Timestamp};

use sqlx::{Connection, FromRow, Row};

use crate::store::{with_pool, Pool};
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub code_hash: String,
    pub tenant: TenantId,
    pub client_id: String,
    pub redirect_uri: String,
    pub grant_json: String,
    /// The member's `sub`, so everything a member holds can be revoked at once.
    pub subject: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub token_hash: String,
    pub tenant: TenantId,
    pub client_id: String,
    /// The code it was issued for, if any.
    pub code_hash: Option<String>,
    pub grant_json: String,
    /// The member's `sub`, so everything a member holds can be revoked at once.
    pub subject: String,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

type CodeRow = (
    String,
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

fn code(row: CodeRow) -> CodeRecord {
    let (code_hash, tenant, client_id, redirect_uri, grant_json, subject, expires_at, used_at) =
        row;
    CodeRecord {
        code_hash,
        tenant: TenantId(tenant),
        client_id,
        redirect_uri,
        grant_json,
        subject,
        expires_at: Timestamp(expires_at),
        used_at: used_at.map(Timestamp),
    }
}

type TokenRow = (
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
);

fn token(row: TokenRow) -> AccessTokenRecord {
    let (token_hash, tenant, client_id, code_hash, grant_json, subject, expires_at, revoked_at) =
        row;
    AccessTokenRecord {
        token_hash,
        tenant: TenantId(tenant),
        client_id,
        code_hash,
        grant_json,
        subject,
        expires_at: Timestamp(expires_at),
        revoked_at: revoked_at.map(Timestamp),
    }
}

const CODE_COLUMNS: &str =
    "code_hash, tenant_id, client_id, redirect_uri, grant_json, subject, expires_at, used_at";
const TOKEN_COLUMNS: &str =
    "token_hash, tenant_id, client_id, code_hash, grant_json, subject, expires_at, revoked_at";

/// The access token a redemption of a code issues, if the database's checks pass.
#[derive(Debug, Clone, Copy)]
pub struct CodeRedemption<'a> {
    /// The client redeeming it, which must be the one it was issued to.
    pub client_id: &'a str,
    /// The redirect URI sent with the redemption, which must be the authorization request's.
    pub redirect_uri: &'a str,
    pub token_hash: &'a str,
    pub token_expires_at: Timestamp,
}

/// What redeeming a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// First redemption, checks passed: the access token is recorded.
    Issued(CodeRecord),
    /// First redemption (the code is now used), but by another client, with another redirect
    /// URI, or after it expired: no token was recorded.
    Refused(CodeRecord),
    /// The code was redeemed before: a replay.
    Replayed(CodeRecord),
}

impl Store {
    pub async fn insert_code(&self, record: &CodeRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO oidc_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&record.code_hash)
            .bind(record.tenant.0)
            .bind(&record.client_id)
            .bind(&record.redirect_uri)
            .bind(&record.grant_json)
            .bind(&record.subject)
            .bind(record.expires_at.0)
            .bind(record.used_at.map(|t| t.0))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes codes a day after they expired (until then a replay is still recognised and
    /// revokes what the code gave) and access tokens a week after. Run now and then, not on
    /// every issue, so issuing stays one statement.
    pub async fn delete_expired_grants(&self, now: Timestamp) -> Result<u64> {
        let deleted = with_pool!(self, pool => {
            let codes = sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
                .bind(now.0 - 24 * 3600)
                .execute(pool)
                .await?
                .rows_affected();
            let tokens = sqlx::query("DELETE FROM oidc_access_tokens WHERE expires_at < $1")
                .bind(now.0 - 7 * 24 * 3600)
                .execute(pool)
                .await?
                .rows_affected();
            codes + tokens
        });
        Ok(deleted)
    }

    /// Redeems the tenant's code in one round trip to the database: marks it used and, when
    /// this is its first redemption, by the client it was issued to, with the same redirect URI,
    /// before it expired, records the access token for it, carrying the code's grant. The one
    /// statement that sets `used_at` decides which redemption is first, also across nodes.
    /// `None` when the tenant has no such code.
    pub async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        redemption: &CodeRedemption<'_>,
        now: Timestamp,
    ) -> Result<Option<Redeemed>> {
        // $1 now, $2 code, $3 tenant, $4 token hash, $5 token expiry, $6 client, $7 redirect URI.
        // The token is inserted only after the update marked the code used: PostgreSQL reads
        // the updated row from the update itself; SQLite runs both statements in one call to
        // its worker thread, and `changes()` is what the update just did on this connection.
        let update = format!(
            "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND tenant_id = $3 \
             AND used_at IS NULL RETURNING {CODE_COLUMNS}"
        );
        let insert = "INSERT INTO oidc_access_tokens \
             (token_hash, tenant_id, client_id, code_hash, grant_json, subject, expires_at, \
             revoked_at) SELECT $4, tenant_id, client_id, code_hash, grant_json, subject, $5, NULL";
        let good = "client_id = $6 AND redirect_uri = $7 AND expires_at > $1";
        // The same seven parameters for either database's statement.
        macro_rules! bind_redemption {
            ($sql:expr) => {
                sqlx::query($sql)
                    .bind(now.0)
                    .bind(code_hash)
                    .bind(tenant.0)
                    .bind(redemption.token_hash)
                    .bind(redemption.token_expires_at.0)
                    .bind(redemption.client_id)
                    .bind(redemption.redirect_uri)
            };
        }
        let first: Option<(CodeRow, bool)> = match &self.pool {
            Pool::Sqlite(pool) => {
                let rows = bind_redemption!(&format!(
                    "{update}; {insert} FROM oidc_codes WHERE changes() = 1 \
                     AND code_hash = $2 AND tenant_id = $3 AND {good} RETURNING token_hash"
                ))
                // All rows: a driver that stops at the first would skip the insert.
                .fetch_all(pool)
                .await?;
                match rows.first() {
                    Some(row) => Some((CodeRow::from_row(row)?, rows.len() == 2)),
                    None => None,
                }
            }
            Pool::Postgres(pool) => {
                let row = bind_redemption!(&format!(
                    "WITH used AS ({update}), \
                     issued AS ({insert} FROM used WHERE {good} RETURNING token_hash) \
                     SELECT {CODE_COLUMNS}, (SELECT COUNT(*) FROM issued) AS issued FROM used"
                ))
                .fetch_optional(pool)
                .await?;
                match row {
                    Some(row) => Some((
                        CodeRow::from_row(&row)?,
                        row.try_get::<i64, _>("issued")? == 1,
                    )),
                    None => None,
                }
            }
        };
        if let Some((row, issued)) = first {
            let record = code(row);
            return Ok(Some(if issued {
                Redeemed::Issued(record)
            } else {
                Redeemed::Refused(record)
            }));
        }
        let again: Option<CodeRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {CODE_COLUMNS} FROM oidc_codes WHERE code_hash = $1 AND tenant_id = $2"
            ))
            .bind(code_hash)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(again.map(|row| Redeemed::Replayed(code(row))))
    }

    /// Deletes an access token that was recorded but must not be handed out (a redemption
    /// that failed a check made after the database's).
    pub async fn delete_access_token(&self, tenant: TenantId, token_hash: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM oidc_access_tokens WHERE token_hash = $1 AND tenant_id = $2")
                .bind(token_hash)
                .bind(tenant.0)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends what a member holds with every application of the tenant at once: access tokens
    /// are revoked, codes not yet redeemed can no longer be, and their sessions end. For a
    /// member removed, or whose password an admin reset.
    pub async fn revoke_member_grants(
        &self,
        tenant: TenantId,
        subject: &str,
        now: Timestamp,
    ) -> Result<()> {
        // One transaction: a member is never left half revoked.
        with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            sqlx::query(
                "UPDATE oidc_access_tokens SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND subject = $2 AND revoked_at IS NULL",
            )
            .bind(tenant.0)
            .bind(subject)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE oidc_codes SET used_at = $3 \
                 WHERE tenant_id = $1 AND subject = $2 AND used_at IS NULL",
            )
            .bind(tenant.0)
            .bind(subject)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM member_sessions WHERE tenant_id = $1 AND subject = $2")
                .bind(tenant.0)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn insert_access_token(&self, record: &AccessTokenRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO oidc_access_tokens ({TOKEN_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&record.token_hash)
            .bind(record.tenant.0)
            .bind(&record.client_id)
            .bind(&record.code_hash)
            .bind(&record.grant_json)
            .bind(&record.subject)
            .bind(record.expires_at.0)
            .bind(record.revoked_at.map(|t| t.0))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The tenant's access token with this hash, revoked or not.
    pub async fn access_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> Result<Option<AccessTokenRecord>> {
        let row: Option<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM oidc_access_tokens \
                 WHERE token_hash = $1 AND tenant_id = $2"
            ))
            .bind(token_hash)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(token))
    }

    /// Revokes every access token issued for a code (the code was replayed).
    pub async fn revoke_tokens_of_code(&self, code_hash: &str, now: Timestamp) -> Result<u64> {
        let revoked = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE oidc_access_tokens SET revoked_at = $1 \
                 WHERE code_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now.0)
            .bind(code_hash)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(revoked)
    }

    /// Revokes one of a client's access tokens; false when the tenant's client has no such
    /// token (RFC 7009 answers the same either way).
    pub async fn revoke_access_token(
        &self,
        tenant: TenantId,
        client_id: &str,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let revoked = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE oidc_access_tokens SET revoked_at = $1 WHERE token_hash = $2 \
                 AND tenant_id = $3 AND client_id = $4 AND revoked_at IS NULL",
            )
            .bind(now.0)
            .bind(token_hash)
            .bind(tenant.0)
            .bind(client_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(revoked == 1)
    }
}

impl Store {
    /// Records (or renews) a member's consent for a client application.
    pub async fn put_consent(
        &self,
        tenant: TenantId,
        client_id: &str,
        subject: &str,
        scopes: &str,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oidc_consents (tenant_id, client_id, subject, scopes, granted_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, client_id, subject) \
                 DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
            )
            .bind(tenant.0)
            .bind(client_id)
            .bind(subject)
            .bind(scopes)
            .bind(now.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The scopes a member consented to for a client application, and when.
    pub async fn consent(
        &self,
        tenant: TenantId,
        client_id: &str,
        subject: &str,
    ) -> Result<Option<(String, Timestamp)>> {
        let row: Option<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT scopes, granted_at FROM oidc_consents \
                 WHERE tenant_id = $1 AND client_id = $2 AND subject = $3",
            )
            .bind(tenant.0)
            .bind(client_id)
            .bind(subject)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(scopes, at)| (scopes, Timestamp(at))))
    }
}
