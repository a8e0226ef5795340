use vestibule_domain::{
    CloudId, Email, Role, Seconds, StaffId, StaffMember, TenantAccess, TenantId, Timestamp,
};

use sqlx::Connection;

use crate::sessions::SessionTable;
use crate::store::{with_pool, Pool};
use crate::{Result, StorageError, Store};

/// A staff member to create. `password_hash` is `None` for someone who will choose a password
/// through a setup link.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub email: Email,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// A change the admins of a Cloud ID make to a member of its team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamChange {
    /// What the member may do there from now on.
    Access(TenantAccess),
    /// Off the team, sessions ended.
    Remove,
}

/// What sign-in needs: the member and their password hash, if they have chosen one.
#[derive(Debug, Clone)]
pub struct StaffCredentials {
    pub staff: StaffMember,
    pub password_hash: Option<String>,
}

/// A dashboard session as stored: the cookie's token is kept only as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub staff_id: StaffId,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A one-time setup link as stored (hash only). `staff_id` is `None` for the first operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupTokenRecord {
    pub token_hash: String,
    pub staff_id: Option<StaffId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

const STAFF_COLUMNS: &str =
    "s.id, s.email, s.role, s.access, s.tenant_id, t.cloud_id, s.password_hash, s.created_at \
     FROM staff s LEFT JOIN tenants t ON t.id = s.tenant_id";

type StaffRow = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

fn credentials_from_row(row: StaffRow) -> Result<StaffCredentials> {
    let (id, email, role, access, tenant_id, cloud_id, password_hash, created_at) = row;
    let role = match (role.as_str(), TenantAccess::parse(&access), tenant_id) {
        ("operator", Ok(TenantAccess::Admin), None) => Role::Operator,
        ("tenant_admin", Ok(access), Some(tenant)) => access.role(TenantId(tenant)),
        (other, _, _) => {
            return Err(StorageError::Corrupt(format!(
                "staff {id} has role {other:?}, access {access:?} and tenant {tenant_id:?}"
            )))
        }
    };
    Ok(StaffCredentials {
        staff: StaffMember {
            id: StaffId(id),
            email: Email::parse(&email)?,
            role,
            cloud_id: cloud_id.map(|c| CloudId::parse(&c)).transpose()?,
            has_password: password_hash.is_some(),
            created_at: Timestamp(created_at),
        },
        password_hash,
    })
}

/// The `role`, `access` and `tenant_id` columns of a role.
fn role_columns(role: &Role) -> (&'static str, &'static str, Option<i64>) {
    let access = role.tenant_access().unwrap_or(TenantAccess::Admin).as_str();
    match role {
        Role::Operator => ("operator", access, None),
        Role::TenantAdmin(tenant) | Role::TenantViewer(tenant) => {
            ("tenant_admin", access, Some(tenant.0))
        }
    }
}

type SessionRow = (String, i64, String, i64, i64, i64);

fn session_from_row(row: SessionRow) -> SessionRecord {
    let (token_hash, staff_id, csrf_token, created_at, last_seen_at, expires_at) = row;
    SessionRecord {
        token_hash,
        staff_id: StaffId(staff_id),
        csrf_token,
        created_at: Timestamp(created_at),
        last_seen_at: Timestamp(last_seen_at),
        expires_at: Timestamp(expires_at),
    }
}

type SetupTokenRow = (String, Option<i64>, i64, i64);

fn setup_token_from_row(
    (token_hash, staff_id, created_at, expires_at): SetupTokenRow,
) -> SetupTokenRecord {
    SetupTokenRecord {
        token_hash,
        staff_id: staff_id.map(StaffId),
        created_at: Timestamp(created_at),
        expires_at: Timestamp(expires_at),
    }
}

impl Store {
    // --- staff -------------------------------------------------------------------------------

    /// Creates a staff member. A taken e-mail address gives [`crate::Conflict::StaffEmail`].
    pub async fn create_staff(&self, new: &NewStaff, now: Timestamp) -> Result<StaffMember> {
        let (role, access, tenant_id) = role_columns(&new.role);
        let id: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO staff (email, role, access, tenant_id, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(new.email.as_str())
            .bind(role)
            .bind(access)
            .bind(tenant_id)
            .bind(new.password_hash.as_deref())
            .bind(now.0)
            .fetch_one(pool)
            .await?
        });
        self.staff_by_id(StaffId(id))
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("staff {id} vanished after insert")))
    }

    pub async fn staff_count(&self) -> Result<i64> {
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM staff").fetch_one(pool).await?
        });
        Ok(count)
    }

    pub async fn staff_by_id(&self, id: StaffId) -> Result<Option<StaffMember>> {
        let sql = format!("SELECT {STAFF_COLUMNS} WHERE s.id = $1");
        let row: Option<StaffRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?
        });
        Ok(row.map(credentials_from_row).transpose()?.map(|c| c.staff))
    }

    pub async fn staff_credentials(&self, email: &Email) -> Result<Option<StaffCredentials>> {
        let sql = format!("SELECT {STAFF_COLUMNS} WHERE s.email = $1");
        let row: Option<StaffRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(email.as_str()).fetch_optional(pool).await?
        });
        row.map(credentials_from_row).transpose()
    }

    /// The staff of one tenant. Tenant data is always read through its tenant id.
    pub async fn list_tenant_staff(&self, tenant: TenantId) -> Result<Vec<StaffMember>> {
        let sql = format!("SELECT {STAFF_COLUMNS} WHERE s.tenant_id = $1 ORDER BY s.email");
        let rows: Vec<StaffRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| credentials_from_row(row).map(|c| c.staff))
            .collect()
    }

    pub async fn list_operators(&self) -> Result<Vec<StaffMember>> {
        let sql = format!("SELECT {STAFF_COLUMNS} WHERE s.role = 'operator' ORDER BY s.email");
        let rows: Vec<StaffRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| credentials_from_row(row).map(|c| c.staff))
            .collect()
    }

    /// Replaces a password hash and ends every session of that staff member, so a password
    /// change signs out other browsers.
    pub async fn set_staff_password(&self, id: StaffId, password_hash: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let affected = sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(id.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            affected
        });
        Ok(affected == 1)
    }

    // --- sessions ----------------------------------------------------------------------------

    pub async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO staff_sessions \
                 (token_hash, staff_id, csrf_token, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&session.token_hash)
            .bind(session.staff_id.0)
            .bind(&session.csrf_token)
            .bind(session.created_at.0)
            .bind(session.last_seen_at.0)
            .bind(session.expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT token_hash, staff_id, csrf_token, created_at, last_seen_at, expires_at \
                 FROM staff_sessions WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(session_from_row))
    }

    pub async fn touch_session(&self, token_hash: &str, now: Timestamp) -> Result<()> {
        self.touch_session_in(SessionTable::Staff, token_hash, now)
            .await
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.delete_session_in(SessionTable::Staff, token_hash)
            .await
    }

    /// Deletes staff sessions past their absolute expiry or idle since before `idle_since`.
    pub async fn delete_stale_sessions(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<u64> {
        self.delete_stale_sessions_in(SessionTable::Staff, now, idle_since)
            .await
    }

    // --- setup links -------------------------------------------------------------------------

    pub async fn insert_setup_token(&self, token: &SetupTokenRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO setup_tokens (token_hash, staff_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&token.token_hash)
            .bind(token.staff_id.map(|id| id.0))
            .bind(token.created_at.0)
            .bind(token.expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Reads a setup link without using it up, so the setup page can say who it is for.
    pub async fn setup_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SetupTokenRecord>> {
        let row: Option<SetupTokenRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT token_hash, staff_id, created_at, expires_at FROM setup_tokens \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(setup_token_from_row))
    }

    /// Replaces a staff member's setup links with `token`: a resent invitation retires the
    /// links sent before it.
    pub async fn replace_setup_tokens(&self, token: &SetupTokenRecord) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM setup_tokens WHERE staff_id = $1")
                .bind(token.staff_id.map(|id| id.0))
                .execute(pool)
                .await?;
        });
        self.insert_setup_token(token).await
    }

    /// Makes `change` to `staff` on `tenant`'s team on behalf of `by`, who must still be an
    /// operator or one of the tenant's admins when it happens. The check and the change share
    /// one transaction that first writes the tenant's row (a row lock on PostgreSQL, the write
    /// lock on SQLite), so two admins demoting or removing each other at the same moment leave
    /// one of them. A removal takes the member's sessions and setup links with it (cascade).
    /// False when `staff` is not on the team or `by` may no longer change it.
    pub async fn change_team_member(
        &self,
        tenant: TenantId,
        staff: StaffId,
        change: TeamChange,
        by: StaffId,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            sqlx::query("UPDATE tenants SET display_name = display_name WHERE id = $1")
                .bind(tenant.0)
                .execute(&mut *tx)
                .await?;
            let may_change: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM staff WHERE id = $1 \
                 AND (role = 'operator' OR (tenant_id = $2 AND access = 'admin'))",
            )
            .bind(by.0)
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await?;
            let statement = match change {
                TeamChange::Access(access) => sqlx::query(
                    "UPDATE staff SET access = $3 \
                     WHERE id = $1 AND tenant_id = $2 AND role = 'tenant_admin'",
                )
                .bind(staff.0)
                .bind(tenant.0)
                .bind(access.as_str()),
                TeamChange::Remove => {
                    sqlx::query("DELETE FROM staff WHERE id = $1 AND tenant_id = $2")
                        .bind(staff.0)
                        .bind(tenant.0)
                }
            };
            let changed =
                may_change == 1 && statement.execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            changed
        });
        Ok(changed)
    }

    /// Removes every unused first-operator link, so only the newest printed link works.
    pub async fn delete_bootstrap_tokens(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM setup_tokens WHERE staff_id IS NULL")
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Uses up a first-operator link and creates that operator, atomically: a link works once,
    /// and only while no operator exists. Returns `None` when the link is unknown, expired or
    /// already used, or an operator already exists.
    pub async fn complete_bootstrap(
        &self,
        token_hash: &str,
        email: &Email,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<StaffMember>> {
        let id: Option<i64> = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let used: Option<String> = sqlx::query_scalar(
                "DELETE FROM setup_tokens WHERE token_hash = $1 AND staff_id IS NULL \
                 AND expires_at > $2 RETURNING token_hash",
            )
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(&mut *tx)
            .await?;
            let operators: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM staff WHERE role = 'operator'")
                .fetch_one(&mut *tx)
                .await?;
            if used.is_none() || operators > 0 {
                tx.rollback().await?;
                None
            } else {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO staff (email, role, tenant_id, password_hash, created_at) \
                     VALUES ($1, 'operator', NULL, $2, $3) RETURNING id",
                )
                .bind(email.as_str())
                .bind(password_hash)
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Some(id)
            }
        });
        match id {
            Some(id) => self.staff_by_id(StaffId(id)).await,
            None => Ok(None),
        }
    }

    /// Uses up an invitation link and sets that staff member's password, atomically.
    pub async fn complete_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<StaffMember>> {
        let id: Option<i64> = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let staff_id: Option<Option<i64>> = sqlx::query_scalar(
                "DELETE FROM setup_tokens WHERE token_hash = $1 AND staff_id IS NOT NULL \
                 AND expires_at > $2 RETURNING staff_id",
            )
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(&mut *tx)
            .await?;
            match staff_id.flatten() {
                Some(id) => {
                    sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
                        .bind(password_hash)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(id)
                }
                None => {
                    tx.rollback().await?;
                    None
                }
            }
        });
        match id {
            Some(id) => self.staff_by_id(StaffId(id)).await,
            None => Ok(None),
        }
    }

    // --- sign-in failures --------------------------------------------------------------------

    /// Records one failed sign-in in each bucket (per account, per address) and drops records
    /// older than `forget_before`, so the table stays small.
    pub async fn record_sign_in_failure(
        &self,
        buckets: &[&str],
        now: Timestamp,
        forget_before: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            for bucket in buckets {
                sqlx::query("INSERT INTO sign_in_failures (bucket, at) VALUES ($1, $2)")
                    .bind(*bucket)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
                .bind(forget_before.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many failures a bucket has had since `since`, and when the oldest of them happened.
    pub async fn sign_in_failures(
        &self,
        bucket: &str,
        since: Timestamp,
    ) -> Result<(i64, Option<Timestamp>)> {
        let (count, oldest): (i64, Option<i64>) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE bucket = $1 AND at >= $2",
            )
            .bind(bucket)
            .bind(since.0)
            .fetch_one(pool)
            .await?
        });
        Ok((count, oldest.map(Timestamp)))
    }

    /// `None` while `bucket` has had fewer than `limit` failures in the last `window`; otherwise
    /// how long until its oldest failure stops counting (at least a second).
    pub async fn sign_in_retry_after(
        &self,
        bucket: &str,
        limit: i64,
        window: Seconds,
        now: Timestamp,
    ) -> Result<Option<Seconds>> {
        let (count, oldest) = self
            .sign_in_failures(bucket, Failures::counted_since(window, now))
            .await?;
        Ok(Failures { count, oldest }.retry_after(limit, window, now))
    }

    /// Takes a password check's place under `limits`, before the password is checked. The
    /// address's count is read: over its limit, the answer is how long to wait. The account's
    /// is *taken*: one statement writes the attempt only while the account is under its limit
    /// (SQLite runs it under its write lock; on PostgreSQL a transaction-scoped advisory lock
    /// on the bucket serialises it), so at most `limit` checks a window happen for one account
    /// however many arrive at once. The address is only read, because members behind one
    /// address sign in at the same moment all the time and must not take each other's turns.
    /// Every allowed check ends with [`Store::finish_password_check`].
    pub async fn begin_password_check(
        &self,
        limits: &PasswordLimits<'_>,
        now: Timestamp,
    ) -> Result<std::result::Result<SignInAttempt, Seconds>> {
        let (address, address_limit) = limits.address;
        if let Some(wait) = self
            .sign_in_retry_after(address, address_limit, limits.window, now)
            .await?
        {
            return Ok(Err(wait));
        }
        let (account, account_limit) = limits.account;
        let taken = self.take_place(account, account_limit, limits.window, now);
        Ok(taken.await?.map(|id| SignInAttempt { id }))
    }

    /// Takes one of `limit` places per `window` in `bucket`, or answers how long until one
    /// frees up (at least a second). One statement writes the place only while the bucket is
    /// under its limit (SQLite runs it under its write lock; on PostgreSQL a
    /// transaction-scoped advisory lock on the bucket serialises it), so at most `limit` are
    /// taken a window however many requests arrive at once. Places are kept, like failures,
    /// until a failure recorded later forgets them.
    pub async fn take_place(
        &self,
        bucket: &str,
        limit: i64,
        window: Seconds,
        now: Timestamp,
    ) -> Result<std::result::Result<i64, Seconds>> {
        let since = Failures::counted_since(window, now);
        let insert = "INSERT INTO sign_in_failures (bucket, at) SELECT $1, $2 \
             WHERE (SELECT COUNT(*) FROM sign_in_failures WHERE bucket = $1 AND at >= $3) < $4 \
             RETURNING id";
        let id: Option<i64> = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(insert)
                    .bind(bucket)
                    .bind(now.0)
                    .bind(since.0)
                    .bind(limit)
                    .fetch_optional(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                    .bind(bucket)
                    .execute(&mut *tx)
                    .await?;
                let id = sqlx::query_scalar(insert)
                    .bind(bucket)
                    .bind(now.0)
                    .bind(since.0)
                    .bind(limit)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                id
            }
        };
        match id {
            Some(id) => Ok(Ok(id)),
            None => {
                let (count, oldest) = self.sign_in_failures(bucket, since).await?;
                let wait = Failures { count, oldest }
                    .retry_after(limit, window, now)
                    .unwrap_or(Seconds(1));
                Ok(Err(wait))
            }
        }
    }

    /// Ends a check [`Store::begin_password_check`] allowed. A wrong password stays counted
    /// against the account and is counted against the address; a right one clears the
    /// account's count; a check that never judged the password (iMIS down) is taken back.
    pub async fn finish_password_check(
        &self,
        attempt: SignInAttempt,
        limits: &PasswordLimits<'_>,
        outcome: PasswordOutcome,
        now: Timestamp,
    ) -> Result<()> {
        match outcome {
            PasswordOutcome::Wrong => {
                let forget_before = Failures::counted_since(limits.window, now);
                self.record_sign_in_failure(&[limits.address.0], now, forget_before)
                    .await
            }
            PasswordOutcome::Right => {
                self.take_back(&attempt).await?;
                self.clear_sign_in_failures(limits.account.0).await
            }
            PasswordOutcome::Unjudged => self.take_back(&attempt).await,
        }
    }

    async fn take_back(&self, attempt: &SignInAttempt) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
                .bind(attempt.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn clear_sign_in_failures(&self, bucket: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_failures WHERE bucket = $1")
                .bind(bucket)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

/// A password check counted against its account before the password is checked.
#[derive(Debug)]
#[must_use = "a check counts as a failure until it is finished"]
pub struct SignInAttempt {
    id: i64,
}

/// The buckets and limits one password check counts against.
#[derive(Debug, Clone, Copy)]
pub struct PasswordLimits<'a> {
    /// The account's bucket and how many wrong passwords it may have in a window.
    pub account: (&'a str, i64),
    /// The caller's address's bucket and limit.
    pub address: (&'a str, i64),
    pub window: Seconds,
}

/// What a password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordOutcome {
    Right,
    Wrong,
    /// The password was not judged (the identity source could not be asked).
    Unjudged,
}

/// The failures one bucket has had in a window, as counted by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    pub oldest: Option<Timestamp>,
}

impl Failures {
    /// Where a window of failures ending at `now` starts: a failure counts for exactly
    /// `window` seconds, matching the Retry-After reported.
    pub fn counted_since(window: Seconds, now: Timestamp) -> Timestamp {
        now - window + Seconds(1)
    }

    /// `None` while there were fewer than `limit`; otherwise how long until the oldest stops
    /// counting (at least a second).
    pub fn retry_after(&self, limit: i64, window: Seconds, now: Timestamp) -> Option<Seconds> {
        if self.count < limit {
            return None;
        }
        let retry_at = self.oldest.unwrap_or(now) + window;
        Some(Seconds((retry_at - now).0.max(1)))
    }
}
