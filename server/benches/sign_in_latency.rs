//! Full member sign-in latency through iMIS, at 1, 16 and 256 members at once:
//!
//! ```text
//! cargo bench -p vestibule --bench sign_in_latency
//! ```
//!
//! One sign-in is everything between an application sending the member and the application
//! holding tokens: `GET /oidc/authorize` (to the hosted sign-in), the branded sign-in page,
//! `GET /login/imis` (to iMIS's SSO page), the member signing in at iMIS (the emulator issues the
//! refresh token at once, as if they typed instantly), iMIS posting it back to `/imis/callback`
//! (Vestibule redeems it at iMIS's `/token` and reads the profile IQA, over HTTP to the emulator
//! on loopback), `GET /oidc/authorize` again (the code) and `POST /oidc/token` (RS256 ID token).
//!
//! Vestibule's router runs in process on a two-worker runtime, as `vestibule serve` does on this
//! machine, with SQLite in WAL mode; the emulator answers instantly on the same runtime. Each
//! concurrency level runs its members in parallel, each signing in again and again, and reports
//! the median and 99th percentile of one sign-in's time and the sign-ins per second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use imis_emulator::{Behaviour, Directory, Emulator};
use tower::ServiceExt;
use vestibule_domain::Timestamp;
use vestibule_server::tenant_edge;
use vestibule_settings::SettingsInput;
use vestibule_storage::testing::sqlite;

#[path = "../tests/support/events_app.rs"]
mod events_app;
#[path = "../tests/support/mod.rs"]
mod support;

const HOST: &str = "sso.acme.localhost:8080";
const REDIRECT: &str = "https://events.example.org/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Bench {
    router: Router,
    emulator: Emulator,
    /// The emulator's origin, which iMIS's form posts come from.
    imis_origin: String,
    client_id: String,
    /// The application's `Authorization: Basic …` header.
    basic: String,
}

async fn bench() -> (Bench, vestibule_storage::testing::TestDatabase) {
    let db = sqlite().await;
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    let config = support::config(&["sso.acme.localhost=acme"]);
    let engines = support::engines(&config, store);
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let imis = emulator.serve_on_loopback().await.unwrap();
    let imis_origin = imis.trim_end_matches('/').to_string();
    let settings = SettingsInput {
        imis_base_url: imis,
        oidc_client_id: "vestibule-oidc".into(),
        oidc_client_secret: "demo-oidc-secret".into(),
        oidc_sso_page: "/sso/oidc".into(),
        api_username: "vestibule-api".into(),
        api_password: "demo-api-password".into(),
        profile_iqa: "$/Vestibule/MemberProfile".into(),
        brand_name: "Acme Association".into(),
        identity_source: "imis".into(),
        ..SettingsInput::default()
    };
    engines
        .settings
        .save(acme, settings, Timestamp::now())
        .await
        .unwrap();
    let (client_id, basic) = events_app::create(&engines, acme, REDIRECT).await;
    let site = engines.member_site(&config).unwrap();
    let router = tenant_edge::plain_http_router(engines.provisioning.clone(), 8443, site);
    let bench = Bench {
        imis_origin,
        router,
        emulator,
        client_id,
        basic,
    };
    (bench, db)
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&format!("{name}=")))
        .and_then(|value| value.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

fn location(headers: &HeaderMap) -> String {
    headers[header::LOCATION].to_str().unwrap().to_string()
}

fn query_value(url: &str, key: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == key))
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}

impl Bench {
    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, bytes.to_vec())
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(path).header(header::HOST, HOST);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// One member's whole sign-in, as the browser and the application make it.
    async fn sign_in(&self, member: usize) {
        let state = format!("member-{member}");
        let authorize = format!(
            "/oidc/authorize?client_id={}&redirect_uri={}&response_type=code&scope=openid%20profile\
             &state={state}&nonce=n-{member}&code_challenge={CHALLENGE}&code_challenge_method=S256",
            self.client_id, "https%3A%2F%2Fevents.example.org%2Fcb",
        );
        let (status, headers, _) = self.get(&authorize, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let login = location(&headers);
        let (status, _, page) = self.get(&login, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.windows(16).any(|w| w == b"Acme Association"));
        let return_to = query_value(&login, "return_to");
        let (status, headers, _) = self
            .get(&format!("/login/imis?return_to={return_to}"), None)
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let pending = cookie(&headers, "__Host-vestibule_pending");
        // The member signs in at iMIS, which posts a refresh token back from its own site.
        let token = self
            .emulator
            .issue_refresh_token("jane", "vestibule-oidc")
            .unwrap();
        let callback = Request::post("/imis/callback")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, &self.imis_origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::COOKIE,
                format!("__Host-vestibule_pending={pending}"),
            )
            .body(Body::from(format!("refresh_token={token}")))
            .unwrap();
        let (status, headers, body) = self.send(callback).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let session = format!(
            "__Host-vestibule_member={}",
            cookie(&headers, "__Host-vestibule_member")
        );
        let (status, headers, _) = self.get(&location(&headers), Some(&session)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let code = query_value(&location(&headers), "code");
        let redeem = Request::post("/oidc/token")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, &self.basic)
            .body(Body::from(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
                "https%3A%2F%2Fevents.example.org%2Fcb"
            )))
            .unwrap();
        let (status, _, body) = self.send(redeem).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (bench, _db) = runtime.block_on(bench());
    let bench = Arc::new(bench);
    // Warm up: the tenant's signing key is made on first use.
    runtime.block_on(bench.sign_in(0));
    println!("Full member sign-in through iMIS (emulator answering at once), RS256 ID token");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>12}",
        "members", "sign-ins", "p50 ms", "p99 ms", "sign-ins/s"
    );
    for members in [1usize, 16, 256] {
        // Enough sign-ins per level for a 99th percentile that is not the maximum.
        let each = (1024 / members).max(4);
        let started = Instant::now();
        let mut latencies: Vec<Duration> = runtime.block_on(async {
            let mut running = tokio::task::JoinSet::new();
            for member in 0..members {
                let bench = bench.clone();
                running.spawn(async move {
                    let mut mine = Vec::with_capacity(each);
                    for _ in 0..each {
                        let one = Instant::now();
                        bench.sign_in(member).await;
                        mine.push(one.elapsed());
                    }
                    mine
                });
            }
            let mut all = Vec::new();
            while let Some(mine) = running.join_next().await {
                all.extend(mine.unwrap());
            }
            all
        });
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{members:>8} {:>10} {:>10.1} {:>10.1} {:>12.0}",
            latencies.len(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            latencies.len() as f64 / elapsed
        );
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
}
