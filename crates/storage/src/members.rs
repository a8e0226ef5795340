//! Members of a tenant: the built-in directory, sign-ins waiting for iMIS, member sessions,
//! sign-in events for the tenant's admins, and the logo on the hosted pages.

use vestibule_domain::{TenantId, Timestamp};

use crate::sessions::SessionTable;
use crate::store::{like_literal, with_pool};
use crate::{Result, Store};

/// A member of the built-in directory. `username` is stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMemberRecord {
    pub id: i64,
    pub tenant: TenantId,
    /// The member's `sub` (and the key of their SAML persistent NameIDs and consents): opaque,
    /// made once when they are added and never given to anyone else, whatever the username.
    pub subject: String,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub password_hash: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A sign-in sent to iMIS and not back yet. Single use: [`Store::take_pending_sign_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignInRecord {
    pub token_hash: String,
    pub tenant: TenantId,
    pub return_to: String,
    pub resume: String,
    /// The application the member is on their way to, for the sign-in log ("" for none).
    pub application: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A member's session on a tenant's domain; `member` is the profile as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSessionRecord {
    pub token_hash: String,
    pub tenant: TenantId,
    pub subject: String,
    pub member: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// One member sign-in, successful or not, as the tenant's admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEventRecord {
    pub at: Timestamp,
    pub source: String,
    pub member: String,
    /// The application the member was signing in to ("" for the hosted page itself).
    pub application: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoRecord {
    pub content_type: String,
    pub data: Vec<u8>,
    pub updated_at: Timestamp,
}

const DIRECTORY_COLUMNS: &str = "id, tenant_id, subject, username, email, given_name, \
     family_name, password_hash, created_at, updated_at";

type DirectoryRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

fn directory_member(row: DirectoryRow) -> DirectoryMemberRecord {
    let (
        id,
        tenant,
        subject,
        username,
        email,
        given_name,
        family_name,
        password_hash,
        created,
        updated,
    ) = row;
    DirectoryMemberRecord {
        id,
        tenant: TenantId(tenant),
        subject,
        username,
        email,
        given_name,
        family_name,
        password_hash,
        created_at: Timestamp(created),
        updated_at: Timestamp(updated),
    }
}

type SessionRow = (String, i64, String, String, i64, i64, i64);

fn member_session(row: SessionRow) -> MemberSessionRecord {
    let (token_hash, tenant, subject, member, created_at, last_seen_at, expires_at) = row;
    MemberSessionRecord {
        token_hash,
        tenant: TenantId(tenant),
        subject,
        member,
        created_at: Timestamp(created_at),
        last_seen_at: Timestamp(last_seen_at),
        expires_at: Timestamp(expires_at),
    }
}

/// How long sign-in events are kept for the dashboard.
const EVENT_DAYS: i64 = 30;

impl Store {
    // --- the member directory ------------------------------------------------------------------

    /// Adds a member; a username the tenant already has gives
    /// [`crate::Conflict::MemberUsername`].
    pub async fn insert_directory_member(
        &self,
        member: &DirectoryMemberRecord,
    ) -> Result<DirectoryMemberRecord> {
        let id: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO directory_members (tenant_id, subject, username, email, given_name, \
                 family_name, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(member.tenant.0)
            .bind(&member.subject)
            .bind(&member.username)
            .bind(&member.email)
            .bind(&member.given_name)
            .bind(&member.family_name)
            .bind(&member.password_hash)
            .bind(member.created_at.0)
            .bind(member.updated_at.0)
            .fetch_one(pool)
            .await?
        });
        Ok(DirectoryMemberRecord {
            id,
            ..member.clone()
        })
    }

    pub async fn directory_members(&self, tenant: TenantId) -> Result<Vec<DirectoryMemberRecord>> {
        let rows: Vec<DirectoryRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DIRECTORY_COLUMNS} FROM directory_members WHERE tenant_id = $1 \
                 ORDER BY username"
            ))
            .bind(tenant.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(directory_member).collect())
    }

    /// The member with this (lower-cased) username in this tenant's directory.
    pub async fn directory_member_by_username(
        &self,
        tenant: TenantId,
        username: &str,
    ) -> Result<Option<DirectoryMemberRecord>> {
        let row: Option<DirectoryRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DIRECTORY_COLUMNS} FROM directory_members \
                 WHERE tenant_id = $1 AND username = $2"
            ))
            .bind(tenant.0)
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(directory_member))
    }

    /// The members of this tenant's directory with this e-mail address (any case): several
    /// members may share one, a family's for instance.
    pub async fn directory_members_by_email(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Vec<DirectoryMemberRecord>> {
        let rows: Vec<DirectoryRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DIRECTORY_COLUMNS} FROM directory_members \
                 WHERE tenant_id = $1 AND LOWER(email) = LOWER($2) ORDER BY username LIMIT 20"
            ))
            .bind(tenant.0)
            .bind(email)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(directory_member).collect())
    }

    pub async fn directory_member_by_id(
        &self,
        tenant: TenantId,
        id: i64,
    ) -> Result<Option<DirectoryMemberRecord>> {
        let row: Option<DirectoryRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DIRECTORY_COLUMNS} FROM directory_members WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(directory_member))
    }

    /// Replaces a member's password; false when the tenant has no such member.
    pub async fn set_directory_password(
        &self,
        tenant: TenantId,
        id: i64,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let subject: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "UPDATE directory_members SET password_hash = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4 RETURNING subject",
            )
            .bind(password_hash)
            .bind(now.0)
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(subject) = subject else {
            return Ok(false);
        };
        // A reset password is an admin taking the account back: whatever the old one opened
        // ends with it.
        self.revoke_member_grants(tenant, &subject, now).await?;
        Ok(true)
    }

    /// Removes a member, ends their sessions and revokes their tokens; false when the tenant
    /// has no such member.
    pub async fn delete_directory_member(
        &self,
        tenant: TenantId,
        id: i64,
        now: Timestamp,
    ) -> Result<bool> {
        // Revoked first: should the removal then fail, the member is still there (and can be
        // removed again) but holds nothing.
        let subject: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT subject FROM directory_members WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(subject) = subject else {
            return Ok(false);
        };
        self.revoke_member_grants(tenant, &subject, now).await?;
        let removed = with_pool!(self, pool => {
            sqlx::query("DELETE FROM directory_members WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(removed == 1)
    }

    // --- sign-ins waiting for iMIS -------------------------------------------------------------

    pub async fn insert_pending_sign_in(&self, pending: &PendingSignInRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO pending_sign_ins \
                 (token_hash, tenant_id, return_to, resume, application, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&pending.token_hash)
            .bind(pending.tenant.0)
            .bind(&pending.return_to)
            .bind(&pending.resume)
            .bind(&pending.application)
            .bind(pending.created_at.0)
            .bind(pending.expires_at.0)
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1")
                .bind(pending.created_at.0)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes and returns the tenant's pending sign-in with this hash if it has not expired.
    /// Deleting and reading in one statement makes it single-use even across nodes.
    pub async fn take_pending_sign_in(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PendingSignInRecord>> {
        type Row = (String, i64, String, String, String, i64, i64);
        let row: Option<Row> = with_pool!(self, pool => {
            sqlx::query_as(
                "DELETE FROM pending_sign_ins WHERE token_hash = $1 AND tenant_id = $2 \
                 RETURNING token_hash, tenant_id, return_to, resume, application, created_at, \
                 expires_at",
            )
            .bind(token_hash)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row
            .map(
                |(token_hash, tenant, return_to, resume, application, created_at, expires_at)| {
                    PendingSignInRecord {
                        token_hash,
                        tenant: TenantId(tenant),
                        return_to,
                        resume,
                        application,
                        created_at: Timestamp(created_at),
                        expires_at: Timestamp(expires_at),
                    }
                },
            )
            .filter(|pending| pending.expires_at > now))
    }

    // --- member sessions -----------------------------------------------------------------------

    pub async fn insert_member_session(&self, session: &MemberSessionRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO member_sessions \
                 (token_hash, tenant_id, subject, member, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&session.token_hash)
            .bind(session.tenant.0)
            .bind(&session.subject)
            .bind(&session.member)
            .bind(session.created_at.0)
            .bind(session.last_seen_at.0)
            .bind(session.expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The tenant's session with this hash; another tenant's session is not found.
    pub async fn member_session(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> Result<Option<MemberSessionRecord>> {
        let row: Option<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT token_hash, tenant_id, subject, member, created_at, last_seen_at, \
                 expires_at FROM member_sessions WHERE token_hash = $1 AND tenant_id = $2",
            )
            .bind(token_hash)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(member_session))
    }

    pub async fn touch_member_session(&self, token_hash: &str, now: Timestamp) -> Result<()> {
        self.touch_session_in(SessionTable::Member, token_hash, now)
            .await
    }

    pub async fn delete_member_session(&self, token_hash: &str) -> Result<()> {
        self.delete_session_in(SessionTable::Member, token_hash)
            .await
    }

    /// Deletes member sessions past their absolute expiry or idle since before `idle_since`.
    pub async fn delete_stale_member_sessions(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<u64> {
        self.delete_stale_sessions_in(SessionTable::Member, now, idle_since)
            .await
    }

    // --- sign-in events ------------------------------------------------------------------------

    /// Records a sign-in and drops the tenant's events older than 30 days.
    pub async fn record_sign_in_event(
        &self,
        tenant: TenantId,
        event: &SignInEventRecord,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO member_sign_in_events \
                 (tenant_id, at, source, member, application, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(tenant.0)
            .bind(event.at.0)
            .bind(&event.source)
            .bind(&event.member)
            .bind(&event.application)
            .bind(&event.outcome)
            .bind(&event.detail)
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM member_sign_in_events WHERE tenant_id = $1 AND at < $2")
                .bind(tenant.0)
                .bind(event.at.0 - EVENT_DAYS * 24 * 3600)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The tenant's newest sign-ins, or only those whose member or application contains
    /// `search` (any case; `%` and `_` are matched as themselves).
    pub async fn sign_in_events(
        &self,
        tenant: TenantId,
        search: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SignInEventRecord>> {
        let pattern = search.map(|search| format!("%{}%", like_literal(&search.to_lowercase())));
        let rows: Vec<(i64, String, String, String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT at, source, member, application, outcome, detail \
                 FROM member_sign_in_events \
                 WHERE tenant_id = $1 AND ($3 IS NULL OR lower(member) LIKE $3 ESCAPE '\\' \
                 OR lower(application) LIKE $3 ESCAPE '\\') \
                 ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(tenant.0)
            .bind(limit)
            .bind(pattern.clone())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(at, source, member, application, outcome, detail)| SignInEventRecord {
                    at: Timestamp(at),
                    source,
                    member,
                    application,
                    outcome,
                    detail,
                },
            )
            .collect())
    }

    // --- the logo ------------------------------------------------------------------------------

    pub async fn tenant_logo(&self, tenant: TenantId) -> Result<Option<LogoRecord>> {
        let row: Option<(String, Vec<u8>, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT content_type, data, updated_at FROM tenant_logos WHERE tenant_id = $1",
            )
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(content_type, data, updated_at)| LogoRecord {
            content_type,
            data,
            updated_at: Timestamp(updated_at),
        }))
    }

    /// When the tenant's logo was last changed, if it has one, without reading the image.
    pub async fn tenant_logo_updated_at(&self, tenant: TenantId) -> Result<Option<Timestamp>> {
        let updated_at: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT updated_at FROM tenant_logos WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(updated_at.map(Timestamp))
    }

    pub async fn put_tenant_logo(&self, tenant: TenantId, logo: &LogoRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO tenant_logos (tenant_id, content_type, data, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
                 content_type = excluded.content_type, data = excluded.data, \
                 updated_at = excluded.updated_at",
            )
            .bind(tenant.0)
            .bind(&logo.content_type)
            .bind(&logo.data)
            .bind(logo.updated_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn delete_tenant_logo(&self, tenant: TenantId) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM tenant_logos WHERE tenant_id = $1")
                .bind(tenant.0)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
