//! The pool of SQLite connections.
//!
//! sqlx's own pool hands connections out first in, first out, and pings each one on its way
//! back. On SQLite both cost every statement. A connection throws its page cache away when
//! another connection wrote since it last ran (SQLite compares the WAL's change counter), so a
//! connection coming round again re-reads every page it touches: 25 `pread`s per token request
//! through a pool of eight. And the ping is one more round trip to the connection's worker
//! thread. This pool hands out the connection used last, whose cache is current while requests
//! come one at a time (the others join in under load), and takes it back as it is: a SQLite
//! connection is an open file, not a socket a server can close.

use std::fmt;
use std::time::Duration;

use deadpool::managed::{self, Metrics, PoolError, QueueMode, RecycleResult};
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::StreamExt;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteQueryResult, SqliteRow, SqliteStatement,
    SqliteTypeInfo,
};
use sqlx::{Connection, Describe, Either, Execute, Executor};

/// How long a statement waits for a free connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens connections with the store's options, and checks one that sat idle long enough for
/// its worker thread to have gone (it answers nothing after that).
pub(crate) struct Connector {
    options: SqliteConnectOptions,
    check_idle_after: Duration,
}

impl managed::Manager for Connector {
    type Type = SqliteConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<SqliteConnection, sqlx::Error> {
        SqliteConnection::connect_with(&self.options).await
    }

    async fn recycle(
        &self,
        connection: &mut SqliteConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() >= self.check_idle_after {
            connection.ping().await?;
        }
        Ok(())
    }
}

/// A connection out of the pool; back in when dropped.
pub(crate) type PooledConnection = managed::Object<Connector>;

/// Up to `max_size` connections to one SQLite database, the most recently used handed out first.
/// Cheap to clone. `&SqlitePool` is an [`Executor`], like sqlx's pool.
#[derive(Clone)]
pub(crate) struct SqlitePool(managed::Pool<Connector>);

impl fmt::Debug for SqlitePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlitePool")
            .field("status", &self.0.status())
            .finish()
    }
}

impl SqlitePool {
    /// Opens one connection straight away, so that a database that cannot be opened is an error
    /// here rather than at the first request.
    pub(crate) async fn connect(
        options: SqliteConnectOptions,
        max_size: usize,
        check_idle_after: Duration,
    ) -> Result<Self, sqlx::Error> {
        let connector = Connector {
            options,
            check_idle_after,
        };
        let pool = managed::Pool::builder(connector)
            .max_size(max_size)
            .queue_mode(QueueMode::Lifo)
            .wait_timeout(Some(ACQUIRE_TIMEOUT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
        let pool = Self(pool);
        drop(pool.acquire().await?);
        Ok(pool)
    }

    pub(crate) async fn acquire(&self) -> Result<PooledConnection, sqlx::Error> {
        self.0.get().await.map_err(|error| match error {
            PoolError::Backend(error) => error,
            PoolError::Closed => sqlx::Error::PoolClosed,
            PoolError::Timeout(_) => sqlx::Error::PoolTimedOut,
            other => sqlx::Error::Configuration(other.to_string().into()),
        })
    }

    /// Closes the idle connections (SQLite checkpoints the WAL when the last one closes) and
    /// refuses new checkouts; connections still in use close when they come back.
    pub(crate) async fn close(&self) {
        self.0.close();
        for connection in self.0.retain(|_, _| false).removed {
            // Closing can only fail to tell the worker thread, which then stops on its own.
            let _ = connection.close().await;
        }
    }
}

impl<'p> Executor<'p> for &'p SqlitePool {
    type Database = Sqlite;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        // The results are gathered before they are handed on, because a stream cannot both own
        // the connection and borrow it. No query of Vestibule's reads enough rows for that to
        // matter.
        let results = async move {
            match self.acquire().await {
                Ok(mut connection) => connection.fetch_many(query).collect::<Vec<_>>().await,
                Err(error) => vec![Err(error)],
            }
        };
        Box::pin(
            futures_util::stream::once(results)
                .map(futures_util::stream::iter)
                .flatten(),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<SqliteRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move { self.acquire().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, Result<SqliteStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move { self.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Sqlite>, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move { self.acquire().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::str::FromStr;

    use sqlx::sqlite::SqliteJournalMode;

    use super::*;

    async fn pool(folder: &tempfile::TempDir, max_size: usize) -> SqlitePool {
        let url = format!("sqlite://{}/pool.db", folder.path().display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePool::connect(options, max_size, Duration::from_secs(30))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE notes (body TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    async fn count(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM notes")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn hands_out_the_connection_used_last() {
        let folder = tempfile::tempdir().unwrap();
        let pool = pool(&folder, 4).await;
        // Two connections exist, the second released last.
        let (first, second) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        let second_id = managed::Object::id(&second);
        drop(first);
        drop(second);
        for _ in 0..3 {
            let again = pool.acquire().await.unwrap();
            assert_eq!(managed::Object::id(&again), second_id);
        }
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_before_the_connection_is_reused() {
        let folder = tempfile::tempdir().unwrap();
        // One connection, so the next statement runs on the one the transaction was on.
        let pool = pool(&folder, 1).await;
        {
            let mut connection = pool.acquire().await.unwrap();
            let mut transaction = connection.begin().await.unwrap();
            sqlx::query("INSERT INTO notes (body) VALUES ('never committed')")
                .execute(&mut *transaction)
                .await
                .unwrap();
        }
        assert_eq!(count(&pool).await, 0);
        let mut connection = pool.acquire().await.unwrap();
        let mut transaction = connection.begin().await.unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('committed')")
            .execute(&mut *transaction)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        drop(connection);
        assert_eq!(count(&pool).await, 1);
    }

    #[tokio::test]
    async fn a_statement_cancelled_midway_leaves_the_connection_usable() {
        let folder = tempfile::tempdir().unwrap();
        let pool = pool(&folder, 1).await;
        // A query that takes a while, dropped before it answers.
        let slow =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) \
                    SELECT COUNT(*) FROM n";
        let cancelled = tokio::time::timeout(
            Duration::from_millis(1),
            sqlx::query_scalar::<_, i64>(slow).fetch_one(&pool),
        )
        .await;
        assert!(cancelled.is_err(), "the slow query answered within 1 ms");
        sqlx::query("INSERT INTO notes (body) VALUES ('after')")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(count(&pool).await, 1);
    }

    #[tokio::test]
    async fn waits_for_a_free_connection_and_refuses_once_closed() {
        let folder = tempfile::tempdir().unwrap();
        let pool = pool(&folder, 2).await;
        let held = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { count(&pool).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "a third statement ran with both connections held"
        );
        drop(held);
        assert_eq!(waiting.await.unwrap(), 0);

        pool.close().await;
        let refused = sqlx::query("SELECT 1").execute(&pool).await.unwrap_err();
        assert!(matches!(refused, sqlx::Error::PoolClosed), "{refused:?}");
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_fails_at_connect() {
        let options = SqliteConnectOptions::from_str("sqlite:///nonexistent-folder/x.db").unwrap();
        let error = SqlitePool::connect(options, 2, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(error, sqlx::Error::Database(_)), "{error:?}");
    }
}
