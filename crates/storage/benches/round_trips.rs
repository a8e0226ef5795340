//! What one SQL statement costs on SQLite through sqlx, in CPU time (all threads), beside the
//! same statement on a connection held for the whole run:
//!
//! ```text
//! cargo bench -p vestibule-storage --bench round_trips
//! ```
//!
//! sqlx runs each SQLite connection on a worker thread of its own: a statement is a hand-off
//! to that thread and back. A pooled connection is also pinged when it is returned (sqlx 0.8
//! does so on every release), which is a second hand-off. The token endpoint makes two
//! statements a request: this is the floor under each, before the statement does any work
//! (its writes cost more; docs/benchmarks.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, SqliteConnection};
use vestibule_domain::Timestamp;

#[path = "../../../bench/support/figures.rs"]
mod figures;
use figures::{median, own_cpu_seconds};

const STATEMENTS: u32 = 20_000;
const ROUNDS: usize = 5;

/// Microseconds of CPU and of wall-clock time per statement, median of the rounds. A macro,
/// so the statement can borrow a connection mutably.
macro_rules! per_statement {
    ($statement:expr) => {{
        let (mut cpu, mut wall) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (started, cpu_started) = (Instant::now(), own_cpu_seconds());
            for _ in 0..STATEMENTS {
                $statement;
            }
            wall.push(started.elapsed().as_secs_f64() * 1e6 / f64::from(STATEMENTS));
            cpu.push((own_cpu_seconds() - cpu_started) * 1e6 / f64::from(STATEMENTS));
        }
        (median(cpu), median(wall))
    }};
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let folder = tempfile::tempdir().unwrap();
        // As `Store::connect` opens it.
        let options = SqliteConnectOptions::new()
            .filename(folder.path().join("round_trips.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .unwrap();
        let mut held = SqliteConnection::connect_with(&options).await.unwrap();
        let store = vestibule_storage::testing::sqlite().await;
        let acme = "acme".parse().unwrap();
        store
            .store()
            .create_tenant(&acme, "Acme", Timestamp::now())
            .await
            .unwrap();

        println!(
            "SQLite through sqlx: CPU (all threads) and wall-clock microseconds per statement"
        );
        println!("{:<52} {:>8} {:>8}", "statement", "CPU µs", "wall µs");
        let rows: [(&str, (f64, f64)); 3] = [
            (
                "SELECT 1 on a connection held throughout",
                per_statement!(held.execute("SELECT 1").await.unwrap()),
            ),
            (
                "SELECT 1 on a pooled connection (pinged on release)",
                per_statement!(pool.execute("SELECT 1").await.unwrap()),
            ),
            (
                "a tenant by Cloud ID through the store",
                per_statement!(store.store().tenant_by_cloud_id(&acme).await.unwrap()),
            ),
        ];
        for (statement, (cpu, wall)) in rows {
            println!("{statement:<52} {cpu:>8.1} {wall:>8.1}");
        }
    });
}
