//! What the SAML IdP remembers between requests: AuthnRequest IDs already seen, sign-in
//! requests waiting for the member, persistent NameIDs, and which service providers each member
//! session has signed in to.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// A checked sign-in request waiting for the member to sign in. `request` is the engine's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlPendingRecord {
    pub token_hash: String,
    pub tenant: TenantId,
    pub request: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A service provider a member session has signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlParticipantRecord {
    pub session_hash: String,
    pub tenant: TenantId,
    pub app_id: String,
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

type ParticipantRow = (String, i64, String, String, String, String, i64, i64);

fn participant(row: ParticipantRow) -> SamlParticipantRecord {
    let (session_hash, tenant, app_id, name_id, name_id_format, session_index, created, expires) =
        row;
    SamlParticipantRecord {
        session_hash,
        tenant: TenantId(tenant),
        app_id,
        name_id,
        name_id_format,
        session_index,
        created_at: Timestamp(created),
        expires_at: Timestamp(expires),
    }
}

const PARTICIPANT_COLUMNS: &str = "session_hash, tenant_id, app_id, name_id, name_id_format, \
                                   session_index, created_at, expires_at";

impl Store {
    /// Remembers an AuthnRequest ID from `issuer` until `expires_at`; `false` when it was
    /// already seen (a replay). Forgotten IDs past their time are cleared on the way.
    pub async fn remember_saml_request_id(
        &self,
        tenant: TenantId,
        issuer: &str,
        request_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("DELETE FROM saml_seen_requests WHERE expires_at <= $1")
                .bind(now.0)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO saml_seen_requests (tenant_id, issuer, request_id, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, issuer, request_id) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(issuer)
            .bind(request_id)
            .bind(expires_at.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    pub async fn insert_saml_pending(&self, record: &SamlPendingRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM saml_pending_requests WHERE expires_at <= $1")
                .bind(record.created_at.0)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO saml_pending_requests \
                 (token_hash, tenant_id, request, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&record.token_hash)
            .bind(record.tenant.0)
            .bind(&record.request)
            .bind(record.created_at.0)
            .bind(record.expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The pending request, if it is the tenant's and not expired; it stays until taken.
    pub async fn saml_pending(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SamlPendingRecord>> {
        let row: Option<(String, i64, String, i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT token_hash, tenant_id, request, created_at, expires_at \
                 FROM saml_pending_requests WHERE token_hash = $1 AND tenant_id = $2 \
                 AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(tenant.0)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(token_hash, tenant, request, created, expires)| SamlPendingRecord {
                token_hash,
                tenant: TenantId(tenant),
                request,
                created_at: Timestamp(created),
                expires_at: Timestamp(expires),
            },
        ))
    }

    /// Replaces a pending request's saved state (what the engine learned after receiving it).
    pub async fn update_saml_pending(
        &self,
        tenant: TenantId,
        token_hash: &str,
        request: &str,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE saml_pending_requests SET request = $1 \
                 WHERE token_hash = $2 AND tenant_id = $3",
            )
            .bind(request)
            .bind(token_hash)
            .bind(tenant.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Ends a pending request; `true` for the one caller that ended it (single use).
    pub async fn take_saml_pending(&self, tenant: TenantId, token_hash: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("DELETE FROM saml_pending_requests WHERE token_hash = $1 AND tenant_id = $2")
                .bind(token_hash)
                .bind(tenant.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// The member's persistent NameID for an app: `candidate` becomes it the first time,
    /// whatever was stored first (by any node) is returned ever after.
    pub async fn saml_persistent_id(
        &self,
        tenant: TenantId,
        app_id: &str,
        subject: &str,
        candidate: &str,
        now: Timestamp,
    ) -> Result<String> {
        let (name_id,): (String,) = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO saml_persistent_ids (tenant_id, app_id, subject, name_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, app_id, subject) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(app_id)
            .bind(subject)
            .bind(candidate)
            .bind(now.0)
            .execute(pool)
            .await?;
            sqlx::query_as(
                "SELECT name_id FROM saml_persistent_ids \
                 WHERE tenant_id = $1 AND app_id = $2 AND subject = $3",
            )
            .bind(tenant.0)
            .bind(app_id)
            .bind(subject)
            .fetch_one(pool)
            .await?
        });
        Ok(name_id)
    }

    /// Stores a participant unless the session already has one for the app in the same NameID
    /// format; returns the one stored (so two tabs signing in to the same app at once agree).
    /// A NameID in another format replaces the one stored, keeping the SessionIndex: the value
    /// and its format always come from the same sign-in.
    pub async fn saml_participant_or_insert(
        &self,
        record: &SamlParticipantRecord,
    ) -> Result<SamlParticipantRecord> {
        let row: ParticipantRow = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO saml_session_participants (session_hash, tenant_id, app_id, name_id, \
                 name_id_format, session_index, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (session_hash, app_id) DO UPDATE SET name_id = excluded.name_id, \
                 name_id_format = excluded.name_id_format \
                 WHERE saml_session_participants.name_id_format <> excluded.name_id_format",
            )
            .bind(&record.session_hash)
            .bind(record.tenant.0)
            .bind(&record.app_id)
            .bind(&record.name_id)
            .bind(&record.name_id_format)
            .bind(&record.session_index)
            .bind(record.created_at.0)
            .bind(record.expires_at.0)
            .execute(pool)
            .await?;
            sqlx::query_as(&format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM saml_session_participants \
                 WHERE session_hash = $1 AND app_id = $2"
            ))
            .bind(&record.session_hash)
            .bind(&record.app_id)
            .fetch_one(pool)
            .await?
        });
        Ok(participant(row))
    }

    /// The service providers a session signed in to, oldest first.
    pub async fn saml_participants(
        &self,
        session_hash: &str,
    ) -> Result<Vec<SamlParticipantRecord>> {
        let rows: Vec<ParticipantRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM saml_session_participants \
                 WHERE session_hash = $1 ORDER BY created_at, app_id"
            ))
            .bind(session_hash)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(participant).collect())
    }

    /// Forgets a session's participants (it ended), and any past their time.
    pub async fn delete_saml_participants(&self, session_hash: &str, now: Timestamp) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM saml_session_participants WHERE session_hash = $1 OR expires_at <= $2",
            )
            .bind(session_hash)
            .bind(now.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
