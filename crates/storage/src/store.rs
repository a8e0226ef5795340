use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Database, PgPool};

use crate::sqlite_pool::SqlitePool;
use crate::{Result, StorageError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same runtime query on whichever pool the store holds. Both arms are compiled, so a
/// query that does not type-check for either database fails the build.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// `text` for a `LIKE … ESCAPE '\\'` pattern, matching itself: `%` and `_` match only when escaped.
pub(crate) fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A pooled connection that sat idle this long is checked before it is handed out.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(30);

/// sqlx checks every connection it hands out by default: one more round trip to the server
/// before every statement, which the token endpoint measured as a third of its database cost.
/// Only a connection that waited long enough for its server to have gone away is checked; a busy
/// one is not. (SQLite has its own pool: `sqlite_pool`.)
fn pool_options<DB: Database>() -> PoolOptions<DB> {
    PoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|connection: &mut DB::Connection, held| {
            Box::pin(async move {
                if held.idle_for >= CHECK_IDLE_AFTER {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The database behind a Vestibule deployment. Cheap to clone: it holds a connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
}

impl Store {
    /// Connects to `sqlite://path` (created if missing, with its folder) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StorageError::InvalidUrl(e.to_string()))?;
            let pool = pool_options()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            return Ok(Self {
                pool: Pool::Postgres(pool),
            });
        }
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StorageError::InvalidUrl(e.to_string()))?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                // In WAL mode NORMAL syncs at checkpoints, not on every commit: the database
                // cannot be corrupted, and only a power cut (not a crash of the process) can
                // lose the last commits, which are sign-in state a member repeats. FULL costs
                // a disk flush on each of the writes a sign-in makes.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            if let Some(parent) = options.get_filename().parent() {
                create_folder(parent)?;
            }
            let pool = SqlitePool::connect(options, 8, CHECK_IDLE_AFTER).await?;
            return Ok(Self {
                pool: Pool::Sqlite(pool),
            });
        }
        Err(StorageError::InvalidUrl(
            "expected a sqlite:// or postgres:// URL".to_string(),
        ))
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this store's dialect that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(&mut *pool.acquire().await?).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// True when the database answers a trivial query; used by readiness checks.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

fn create_folder(folder: &Path) -> Result<()> {
    if folder.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(folder)
        .map_err(|e| StorageError::InvalidUrl(format!("cannot create {}: {e}", folder.display())))
}
