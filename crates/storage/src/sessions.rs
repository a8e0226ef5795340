//! What staff and member sessions share in storage: a token hash and the two times that end
//! them (`last_seen_at`, `expires_at`). Their own columns are read and written in `staff.rs`
//! and `members.rs`.

use vestibule_domain::Timestamp;

use crate::store::{with_pool, Store};
use crate::Result;

/// A table of sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SessionTable {
    Staff,
    Member,
}

impl SessionTable {
    fn name(self) -> &'static str {
        match self {
            Self::Staff => "staff_sessions",
            Self::Member => "member_sessions",
        }
    }
}

impl Store {
    /// Records a use of the session: the idle timeout starts again from `now`.
    pub(crate) async fn touch_session_in(
        &self,
        table: SessionTable,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET last_seen_at = $1 WHERE token_hash = $2",
            table.name()
        );
        with_pool!(self, pool => {
            sqlx::query(&sql).bind(now.0).bind(token_hash).execute(pool).await?;
        });
        Ok(())
    }

    pub(crate) async fn delete_session_in(
        &self,
        table: SessionTable,
        token_hash: &str,
    ) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE token_hash = $1", table.name());
        with_pool!(self, pool => {
            sqlx::query(&sql).bind(token_hash).execute(pool).await?;
        });
        Ok(())
    }

    /// Deletes the sessions past their absolute expiry or last seen before `idle_since`.
    pub(crate) async fn delete_stale_sessions_in(
        &self,
        table: SessionTable,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {} WHERE expires_at <= $1 OR last_seen_at < $2",
            table.name()
        );
        let deleted = with_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(now.0)
                .bind(idle_since.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted)
    }
}
