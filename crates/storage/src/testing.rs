//! Fresh databases for tests, on both backends.
//!
//! SQLite databases live in a temporary folder. PostgreSQL databases are created on the server
//! named by `VESTIBULE_TEST_POSTGRES_URL` (the test command starts one). When that variable is
//! missing the PostgreSQL half is skipped with a notice, unless `VESTIBULE_REQUIRE_POSTGRES=1`
//! (set by the test command and CI), where a missing server fails the test instead.

use std::str::FromStr;

use rand::Rng;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;

use crate::store::Pool;
use crate::{Backend, Store};

pub const POSTGRES_URL_VAR: &str = "VESTIBULE_TEST_POSTGRES_URL";
pub const REQUIRE_POSTGRES_VAR: &str = "VESTIBULE_REQUIRE_POSTGRES";

/// A migrated, empty database that lives as long as this value.
///
/// The fields are private on purpose: a closure that used only `db.store` would otherwise
/// capture just that field (edition 2021 disjoint captures) and delete the SQLite folder early.
pub struct TestDatabase {
    store: Store,
    url: String,
    _folder: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The URL a separate process (a `vestibule serve` under test) can use to reach it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

/// A fresh SQLite database in its own temporary folder.
pub async fn sqlite() -> TestDatabase {
    let folder = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}/test.db", folder.path().display());
    let store = Store::connect(&url).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    TestDatabase {
        store,
        url,
        _folder: Some(folder),
    }
}

/// A fresh PostgreSQL database, or `None` when no test server is configured (see module docs).
pub async fn postgres() -> Option<TestDatabase> {
    let admin_url = match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set");
            }
            eprintln!(
                "note: {POSTGRES_URL_VAR} is not set; skipping the PostgreSQL half of this test"
            );
            return None;
        }
    };
    let admin = PgConnectOptions::from_str(&admin_url).expect("parse the PostgreSQL test URL");
    let name = format!("vestibule_test_{:016x}", rand::thread_rng().gen::<u64>());
    let admin_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone())
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin_pool)
        .await
        .expect("create a test database");
    admin_pool.close().await;

    let options = admin.database(&name);
    let url = options.to_url_lossy().to_string();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .expect("connect to the test database");
    let store = Store {
        pool: Pool::Postgres(pool),
    };
    store.migrate().await.expect("migrate PostgreSQL");
    Some(TestDatabase {
        store,
        url,
        _folder: None,
    })
}

/// One fresh database per available backend: SQLite always, PostgreSQL when configured.
pub async fn each_backend() -> Vec<TestDatabase> {
    let mut databases = vec![sqlite().await];
    databases.extend(postgres().await);
    databases
}

/// Runs `scenario` once on each available backend with a fresh database, saying which.
pub async fn for_each_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDatabase) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for database in each_backend().await {
        eprintln!("running on {:?}", database.backend());
        scenario(database).await;
    }
}
