//! The token endpoint beside a peer on the same machine, in one run: `vestibule serve` (release,
//! SQLite) and node-oidc-provider (`bench/peer/provider.mjs`, Node.js) each redeem authorization
//! codes for an ID token signed RS256 (RSA-2048), RS512 (RSA-4096) or HS512, under the same load
//! from the same client:
//!
//! ```text
//! npm ci --prefix bench/peer     # once: the peer, pinned in bench/peer/package-lock.json
//! cargo bench -p vestibule --bench token_vs_peer
//! ```
//!
//! Both are configured alike: confidential clients (one per algorithm), `client_secret_basic`,
//! PKCE S256 required, the `openid profile email` scopes with the profile claims in the ID
//! token. A member signs in once on each provider's own sign-in page; the codes of a round are
//! then issued by the authorization endpoint with that session (outside the timing) and redeemed
//! over HTTP/1.1 on loopback by kept-alive connections from a one-thread client. Rounds alternate
//! between the two so a noisy neighbour weighs on both. Printed: throughput with `CONNECTIONS`
//! connections at once, per wall-clock second and per second of the server process's CPU time
//! (user and system, all its threads, from `/proc/<pid>/stat`); and the latency of a token
//! request (p50, p99) with one request at a time, where it is the server's own time rather than
//! the queue of a saturated two-core machine (where the servers' threads, SQLite's and the
//! client's take turns on the cores). The peer keeps its grants in memory; Vestibule writes each
//! redemption to SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/events_app.rs"]
mod events_app;
#[path = "../tests/support/form.rs"]
mod form_encoding;
#[path = "../tests/support/mod.rs"]
mod support;
// The two-node tests use what this benchmark leaves.
#[allow(dead_code)]
#[path = "../tests/support/node.rs"]
mod node;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use form_encoding::form;
use node::{query_value, Node, Reply, DOMAIN, REDIRECT};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;

#[path = "../../bench/support/figures.rs"]
mod figures;
#[path = "../../bench/support/peer_runs.rs"]
mod peer_runs;
use figures::process_cpu_seconds;
use peer_runs::{cookie_header, keep_cookies, summary, Round};
#[path = "../../bench/support/signing_floor.rs"]
mod signing_floor;

const ROUNDS: usize = 5;
/// The rows: each algorithm, and the codes a round redeems with it (a second or two of work).
const ROWS: [(&str, usize); 3] = [("RS256", 1500), ("RS512", 300), ("HS512", 1500)];
const CONNECTIONS: usize = 8;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A provider under test: where its token endpoint is and how to get codes from it.
struct Target {
    name: &'static str,
    algorithm: &'static str,
    address: SocketAddr,
    /// The `Host` header its requests carry.
    host: String,
    token_path: &'static str,
    basic: String,
    /// The server process, whose CPU time is read.
    pid: u32,
    /// `GET` this with `cookie` and the answer redirects to the application with a code.
    authorize: String,
    cookie: String,
}

impl Target {
    /// Codes issued by the authorization endpoint to the signed-in member, one at a time.
    async fn codes(&self, count: usize) -> Vec<String> {
        let mut codes = Vec::with_capacity(count);
        for _ in 0..count {
            let reply = self.get(&self.authorize).await;
            let location = self.location(&reply);
            assert!(
                location.starts_with(REDIRECT),
                "{} {}: {location}",
                self.name,
                self.algorithm
            );
            codes.push(query_value(&location, "code").expect("a code"));
        }
        codes
    }

    fn location(&self, reply: &Reply) -> String {
        reply.header("location").unwrap_or_else(|| {
            panic!(
                "{} {}: no redirect: {} {}",
                self.name, self.algorithm, reply.status, reply.body
            )
        })
    }

    async fn get(&self, path: &str) -> Reply {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n",
            self.host, self.cookie
        );
        node::exchange(self.address, &head, "", "")
            .await
            .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", self.name))
    }

    /// Redeems `codes` over `connections` connections at once.
    async fn redeem(&self, codes: Vec<String>, connections: usize) -> Round {
        let per_connection = codes.len().div_ceil(connections);
        let (started, cpu_started) = (Instant::now(), process_cpu_seconds(self.pid));
        let mut running = tokio::task::JoinSet::new();
        for chunk in codes.chunks(per_connection) {
            let (chunk, address) = (chunk.to_vec(), self.address);
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n",
                self.token_path, self.host, self.basic
            );
            running.spawn(async move { redeem_on_one_connection(address, &head, &chunk).await });
        }
        let mut latencies = Vec::with_capacity(codes.len());
        while let Some(joined) = running.join_next().await {
            latencies.extend(joined.unwrap());
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = (process_cpu_seconds(self.pid) - cpu_started).max(0.01);
        latencies.sort();
        Round {
            wall: codes.len() as f64 / wall,
            per_core: codes.len() as f64 / cpu,
            latencies,
        }
    }
}

/// One kept-alive connection redeeming `codes` in turn; each request's latency.
async fn redeem_on_one_connection(
    address: SocketAddr,
    head: &str,
    codes: &[String],
) -> Vec<Duration> {
    let stream = TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut stream = AsyncBufReader::new(stream);
    let mut latencies = Vec::with_capacity(codes.len());
    for code in codes {
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ]);
        let request = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
        let sent = Instant::now();
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let (status, answer) = read_response(&mut stream).await;
        latencies.push(sent.elapsed());
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("\"id_token\""), "{answer}");
    }
    latencies
}

/// One HTTP/1.1 response with a `Content-Length`: its status and body.
async fn read_response(stream: &mut AsyncBufReader<TcpStream>) -> (u16, String) {
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        let field = line.trim_end();
        if field.is_empty() {
            break;
        }
        if let Some((name, value)) = field.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The authorization request both providers get (code flow with PKCE).
fn authorize_query(client_id: &str) -> String {
    form(&[
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "bench"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
}

/// Vestibule: a directory tenant with an Events app per algorithm on a SQLite file, served by a
/// release `vestibule serve`; the member signs in on the hosted form.
async fn vestibule(db: &vestibule_storage::testing::TestDatabase) -> (Node, Vec<Target>) {
    let tenant = node::directory_tenant(db, &["jane".to_string()]).await;
    let served = Node::start(
        db.url(),
        &tenant.secret,
        LOOPBACK,
        node::free_port(LOOPBACK),
    );
    served.wait_ready().await;
    let authorize = |client_id: &str| format!("/oidc/authorize?{}", authorize_query(client_id));
    let signed_in = node::sign_in_at(&served, "jane", &authorize(&tenant.client_id)).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = node::session_cookie(&signed_in);
    let mut targets = Vec::new();
    for (algorithm, _) in ROWS {
        let (client_id, basic) =
            events_app::create_signing(&tenant.engines, tenant.id, REDIRECT, algorithm).await;
        targets.push(Target {
            name: "Vestibule",
            algorithm,
            address: SocketAddr::new(LOOPBACK, served.edge_port),
            host: format!("{DOMAIN}:{}", served.edge_port),
            token_path: "/oidc/token",
            basic,
            pid: served.child.id(),
            authorize: authorize(&client_id),
            cookie: cookie.clone(),
        });
    }
    (served, targets)
}

/// The peer, stopped when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// node-oidc-provider with a client per algorithm; the member signs in on its development login
/// page and consents once to each client.
async fn peer() -> (Peer, Vec<Target>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/peer/provider.mjs");
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/peer/node_modules");
    assert!(
        std::path::Path::new(modules).is_dir(),
        "the peer is not installed: run `npm ci --prefix bench/peer` first"
    );
    // HS512 signs with the client secret: 64 bytes, as long as the hash.
    let secret = "events-bench-secret-".repeat(4);
    let clients: Vec<(String, &str)> = ROWS
        .iter()
        .map(|(algorithm, _)| (format!("events-{}", algorithm.to_lowercase()), *algorithm))
        .collect();
    let mut child = Command::new("node")
        .arg(script)
        .arg(REDIRECT)
        .args(
            clients
                .iter()
                .map(|(client_id, algorithm)| format!("{client_id}:{secret}:{algorithm}")),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node, to run the peer");
    let mut issuer = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut issuer).unwrap();
    // The provider writes notices to stdout later on: a closed pipe would end it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let issuer = issuer.trim().to_string();
    let address: SocketAddr = issuer.trim_start_matches("http://").parse().unwrap();
    let mut jar = BTreeMap::new();
    let mut targets = Vec::new();
    for (client_id, algorithm) in clients {
        let mut target = Target {
            name: "oidc-provider",
            algorithm,
            address,
            host: address.to_string(),
            token_path: "/token",
            basic: format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{client_id}:{secret}")
                )
            ),
            pid: child.id(),
            authorize: format!("/auth?{}", authorize_query(&client_id)),
            cookie: String::new(),
        };
        sign_in_to_peer(&mut target, &mut jar, &issuer).await;
        targets.push(target);
    }
    // Each sign-in may have renewed the session: every client uses the latest cookies.
    for target in &mut targets {
        target.cookie = cookie_header(&jar);
    }
    (Peer(child), targets)
}

/// Follows the peer's interactions (login, then consent) until it redirects to the
/// application, keeping its cookies in `jar` and `target.cookie`.
async fn sign_in_to_peer(target: &mut Target, jar: &mut BTreeMap<String, String>, issuer: &str) {
    target.cookie = cookie_header(jar);
    let mut next = target.authorize.clone();
    for _ in 0..8 {
        let reply = target.get(&next).await;
        keep_cookies(jar, &reply);
        target.cookie = cookie_header(jar);
        let location = target.location(&reply);
        if location.starts_with(REDIRECT) {
            return;
        }
        let path = location.trim_start_matches(issuer).to_string();
        if path.starts_with("/interaction/") {
            let page = target.get(&path).await;
            let answer = if page.body.contains("name=\"login\"") {
                form(&[("prompt", "login"), ("login", "jane"), ("password", "any")])
            } else {
                form(&[("prompt", "consent")])
            };
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n",
                target.host, target.cookie
            );
            let submitted = node::exchange(
                target.address,
                &head,
                &answer,
                "application/x-www-form-urlencoded",
            )
            .await
            .unwrap();
            keep_cookies(jar, &submitted);
            target.cookie = cookie_header(jar);
            next = target
                .location(&submitted)
                .trim_start_matches(issuer)
                .to_string();
        } else {
            next = path;
        }
    }
    panic!("the peer never issued a code");
}

fn main() {
    // The client is one thread, so it never takes both cores from the servers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = vestibule_storage::testing::sqlite().await;
        let (_vestibule, ours) = vestibule(&db).await;
        let (_peer, theirs) = peer().await;
        println!(
            "Token endpoint (authorization_code, client_secret_basic, PKCE) over HTTP/1.1: \
             tokens/s with {CONNECTIONS} connections, latency one request at a time"
        );
        println!(
            "{:<6} {:<15} {:>10} {:>10} {:>10} {:>10}",
            "alg", "provider", "tokens/s", "per core", "p50", "p99"
        );
        for (((algorithm, count), ours), theirs) in ROWS.iter().zip(&ours).zip(&theirs) {
            let pair = [ours, theirs];
            // Warm up: keys generated and caches filled on first use.
            for target in pair {
                let codes = target.codes(50).await;
                target.redeem(codes, CONNECTIONS).await;
            }
            // Per target: throughput rounds, then latency rounds.
            let mut rounds: [(Vec<Round>, Vec<Round>); 2] = Default::default();
            for _ in 0..ROUNDS {
                for (target, (busy, alone)) in pair.iter().zip(&mut rounds) {
                    let codes = target.codes(*count).await;
                    busy.push(target.redeem(codes, CONNECTIONS).await);
                    let codes = target.codes(*count / 2).await;
                    alone.push(target.redeem(codes, 1).await);
                }
            }
            let [ours, theirs] = [summary(&rounds[0]), summary(&rounds[1])];
            for (target, figures) in pair.iter().zip([ours, theirs]) {
                println!(
                    "{algorithm:<6} {:<15} {:>10.0} {:>10.0} {:>8.2}ms {:>8.2}ms",
                    target.name,
                    figures[0],
                    figures[1],
                    figures[2] * 1000.0,
                    figures[3] * 1000.0
                );
            }
            // Latency: how many times shorter Vestibule's is.
            println!(
                "{algorithm:<6} {:<15} {:>9.2}x {:>9.2}x {:>9.2}x {:>9.2}x",
                "Vestibule/peer",
                ours[0] / theirs[0],
                ours[1] / theirs[1],
                theirs[2] / ours[2],
                theirs[3] / ours[3]
            );
            // The floor, in this process while the servers are idle: an ID token's worth of
            // bytes signed by each library, one thread (so per wall-clock second is per core).
            let message = vec![b'e'; 620];
            let (rates, best) = signing_floor::fastest(algorithm, &message, *count, 3);
            let named: Vec<String> = signing_floor::LIBRARIES
                .iter()
                .zip(&rates)
                .map(|(library, rate)| format!("{library} {rate:.0}/s"))
                .collect();
            println!(
                "{algorithm:<6} floor: {}; Vestibule per core at {:.0}% of the faster ({})",
                named.join(", "),
                100.0 * ours[1] / rates[best],
                signing_floor::LIBRARIES[best]
            );
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
