//! What one SQL statement costs on SQLite through sqlx, in CPU time (all threads), beside the
//! same statement on a connection held for the whole run:
//!
//! ```text
//! cargo bench -p vestibule-storage --bench round_trips
//! ```
//!
//! sqlx runs each SQLite connection on a worker thread of its own: a statement is a hand-off
//! to that thread and back. sqlx's pool also pings a connection when it is returned (sqlx 0.8
//! does so on every release), which is a second hand-off; the store's own SQLite pool does not.
//! The token endpoint makes two statements a request: the `SELECT 1` rows are the floor under
//! each, before the statement does any work. The last row is a code's whole life through the
//! store, issued and redeemed (two writes on one connection after another's, as the token
//! endpoint does them; docs/benchmarks.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, SqliteConnection};
use vestibule_domain::Timestamp;
use vestibule_storage::{CodeRecord, CodeRedemption, Redeemed};

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
        let tenant = store
            .store()
            .create_tenant(&acme, "Acme", Timestamp::now())
            .await
            .unwrap()
            .id;
        let now = Timestamp::now();
        let mut codes = 0_u64;
        let mut issue_and_redeem = || {
            codes += 1;
            let code = CodeRecord {
                code_hash: format!("{codes:064x}"),
                tenant,
                client_id: "events".to_string(),
                redirect_uri: "https://events.example.org/cb".to_string(),
                // About what a member's grant weighs (claims, nonce, PKCE challenge).
                grant_json: "g".repeat(600),
                subject: "directory:jane".to_string(),
                expires_at: Timestamp(now.0 + 60),
                used_at: None,
            };
            let token_hash = format!("t{codes:063x}");
            let store = store.store();
            async move {
                let redemption = CodeRedemption {
                    client_id: "events",
                    redirect_uri: "https://events.example.org/cb",
                    token_hash: &token_hash,
                    token_expires_at: Timestamp(now.0 + 3600),
                };
                store.insert_code(&code).await.unwrap();
                let redeemed = store
                    .redeem_code(tenant, &code.code_hash, &redemption, now)
                    .await
                    .unwrap();
                assert!(matches!(redeemed, Some(Redeemed::Issued(_))));
            }
        };

        println!(
            "SQLite through sqlx: CPU (all threads) and wall-clock microseconds per statement"
        );
        println!("{:<56} {:>8} {:>8}", "statement", "CPU µs", "wall µs");
        let rows: [(&str, (f64, f64)); 5] = [
            (
                "SELECT 1 on a connection held throughout",
                per_statement!(held.execute("SELECT 1").await.unwrap()),
            ),
            (
                "SELECT 1 on sqlx's pool (pinged on release)",
                per_statement!(pool.execute("SELECT 1").await.unwrap()),
            ),
            (
                "SELECT 1 on the store's pool",
                per_statement!(store.store().ping().await.unwrap()),
            ),
            (
                "a tenant by Cloud ID through the store",
                per_statement!(store.store().tenant_by_cloud_id(&acme).await.unwrap()),
            ),
            (
                "a code issued and redeemed through the store",
                per_statement!(issue_and_redeem().await),
            ),
        ];
        for (statement, (cpu, wall)) in rows {
            println!("{statement:<56} {cpu:>8.1} {wall:>8.1}");
        }
    });
}
