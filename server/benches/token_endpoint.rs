//! Token-endpoint throughput for the authorization-code flow, beside the raw signing rate of
//! the fastest implementation on the machine (ring and OpenSSL are both measured; the floor is
//! the faster of the two), on the same core, in one run:
//!
//! ```text
//! cargo bench -p vestibule --bench token_endpoint
//! ```
//!
//! Each round redeems codes issued beforehand (outside the timing) with `POST /oidc/token`,
//! client_secret_basic, through the member site's whole router on a current-thread runtime
//! (one core; no TCP). SQLite in WAL mode, as `vestibule serve` runs it. The floor is one
//! signature of the same algorithm over a message of an ID token's size: the work no token
//! endpoint can avoid. Medians of several rounds are printed, and the ratio between them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use vestibule_domain::{TenantId, Timestamp};
use vestibule_oidc::{check_request, Subject};
use vestibule_server::{tenant_edge, Engines};
use vestibule_storage::testing::{postgres, sqlite, TestDatabase};

#[path = "../../bench/support/figures.rs"]
mod figures;
use figures::median;
#[path = "../../bench/support/signing_floor.rs"]
mod signing_floor;
use signing_floor::{timed, Floor, Rate, LIBRARIES};

#[path = "../tests/support/events_app.rs"]
mod events_app;
#[path = "../tests/support/mod.rs"]
mod support;

const HOST: &str = "sso.acme.localhost:8080";
const REDIRECT: &str = "https://events.example.org/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ROUNDS: usize = 5;

struct Provider {
    router: Router,
    engines: Engines,
    tenant: TenantId,
    _db: TestDatabase,
}

async fn provider(db: TestDatabase) -> Provider {
    let store = db.store().clone();
    let tenant = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    let config = support::config(&["sso.acme.localhost=acme"]);
    let engines = support::engines(&config, store);
    let provisioning = engines.provisioning.clone();
    let router =
        tenant_edge::plain_http_router(provisioning, 8443, engines.member_site(&config).unwrap());
    Provider {
        router,
        engines,
        tenant,
        _db: db,
    }
}

impl Provider {
    /// Codes as the authorization endpoint issues them after a member signed in.
    async fn codes(&self, client_id: &str, count: usize) -> Vec<String> {
        let client = self
            .engines
            .oidc
            .clients
            .get(self.tenant, client_id)
            .await
            .unwrap();
        let params: Vec<(String, String)> = [
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let request = check_request(&params, Some(&client)).unwrap();
        let subject = Subject {
            sub: "imis:23201".into(),
            attributes: [
                ("Email", "jane@members.acme.test"),
                ("FirstName", "Jane"),
                ("LastName", "Member"),
                ("FullName", "Jane Member"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let now = Timestamp::now();
        let mut codes = Vec::with_capacity(count);
        for _ in 0..count {
            let code = self
                .engines
                .oidc
                .grants
                .issue_code(self.tenant, &request, subject.clone(), now, now)
                .await
                .unwrap();
            codes.push(code);
        }
        codes
    }

    async fn redeem(&self, basic: &str, code: &str) {
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            "https%3A%2F%2Fevents.example.org%2Fcb"
        );
        let request = Request::post("/oidc/token")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, basic)
            .body(Body::from(body))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // What an ID token's signing input weighs: header and claims, base64url.
    let message = vec![b'e'; 620];
    println!("Token endpoint (authorization_code, client_secret_basic, PKCE) vs raw signing");
    println!("signs/s: the faster of ring and OpenSSL (named), medians of the same rounds");
    println!(
        "{:<10} {:<7} {:>10} {:>10} {:>9} {:>9} {:>8} {:>10} {:>7} {:>7}",
        "database",
        "alg",
        "tokens/s",
        "per core",
        "ring",
        "OpenSSL",
        "floor",
        "per core",
        "wall",
        "core"
    );
    // `cargo bench --bench token_endpoint -- HS512` runs one row (for a profiler).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    // SQLite always; PostgreSQL when VESTIBULE_TEST_POSTGRES_URL names a server (bench/run
    // starts one). On PostgreSQL "per core" counts this process only: in a deployment of
    // several nodes the database runs on its own machine.
    let mut databases = vec![("SQLite", runtime.block_on(sqlite()))];
    if let Some(db) = runtime.block_on(postgres()) {
        databases.push(("PostgreSQL", db));
    }
    for (database, db) in databases {
        let provider = runtime.block_on(provider(db));
        for (algorithm, count) in [("RS256", 1200), ("RS512", 150), ("HS512", 3000)] {
            if only.is_empty() || only.iter().any(|a| a == algorithm) {
                row(&runtime, &provider, database, algorithm, count, &message);
            }
        }
    }
    // Keep the runtime's blocking pool from outliving main with work queued.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// One row: `count` codes redeemed per round beside as many signatures, five rounds.
fn row(
    runtime: &tokio::runtime::Runtime,
    provider: &Provider,
    database: &str,
    algorithm: &str,
    count: usize,
    message: &[u8],
) {
    let (client_id, basic) = runtime.block_on(events_app::create_signing(
        &provider.engines,
        provider.tenant,
        REDIRECT,
        algorithm,
    ));
    // Warm up: the tenant's key is generated on first use.
    for code in runtime.block_on(provider.codes(&client_id, 3)) {
        runtime.block_on(provider.redeem(&basic, &code));
    }
    let mut floors: Vec<Floor> = LIBRARIES
        .iter()
        .map(|library| Floor::new(library, algorithm, message.to_vec()))
        .collect();
    // Token and floor rounds alternate, so a noisy neighbour on the machine weighs on both.
    let (mut tokens, mut signs) = (Vec::new(), vec![Vec::new(); LIBRARIES.len()]);
    for _ in 0..ROUNDS {
        let codes = runtime.block_on(provider.codes(&client_id, count));
        tokens.push(timed(count, || {
            runtime.block_on(async {
                for code in &codes {
                    provider.redeem(&basic, code).await;
                }
            })
        }));
        for (floor, rates) in floors.iter_mut().zip(&mut signs) {
            rates.push(floor.run(count));
        }
    }
    let medians = |rates: &[Rate]| {
        (
            median(rates.iter().map(|r| r.wall).collect()),
            median(rates.iter().map(|r| r.cpu).collect()),
        )
    };
    let (token_wall, token_cpu) = medians(&tokens);
    let libraries: Vec<(f64, f64)> = signs.iter().map(|rates| medians(rates)).collect();
    let fastest = (0..LIBRARIES.len())
        .max_by(|&a, &b| libraries[a].0.total_cmp(&libraries[b].0))
        .unwrap();
    let (sign_wall, sign_cpu) = libraries[fastest];
    println!(
        "{database:<10} {algorithm:<7} {token_wall:>10.0} {token_cpu:>10.0} {:>9.0} {:>9.0} {:>8} {sign_cpu:>10.0} {:>6.0}% {:>6.0}%",
        libraries[0].0,
        libraries[1].0,
        LIBRARIES[fastest],
        100.0 * token_wall / sign_wall,
        100.0 * token_cpu / sign_cpu
    );
}
