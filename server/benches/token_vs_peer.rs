//! The token endpoint beside a peer on the same machine, in one run: `vestibule serve` (release,
//! SQLite) and node-oidc-provider (`bench/peer/provider.mjs`, Node.js) each redeem authorization
//! codes for an RS256 ID token, under the same load from the same client:
//!
//! ```text
//! npm ci --prefix bench/peer     # once: the peer, pinned in bench/peer/package-lock.json
//! cargo bench -p vestibule --bench token_vs_peer
//! ```
//!
//! Both are configured alike: one confidential client, `client_secret_basic`, PKCE S256
//! required, the `openid profile email` scopes with the profile claims in the ID token. A member
//! signs in once on each provider's own sign-in page; the codes of a round are then issued by
//! the authorization endpoint with that session (outside the timing) and redeemed over HTTP/1.1
//! on loopback by `CONNECTIONS` kept-alive connections from a one-thread client. Rounds alternate
//! between the two so a noisy neighbour weighs on both. Printed: tokens per wall-clock second,
//! tokens per second of the server process's CPU time (user and system, all its threads, from
//! `/proc/<pid>/stat`), and the latency of one token request (p50, p99). The peer keeps its
//! grants in memory; Vestibule writes each redemption to SQLite.

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

const ROUNDS: usize = 5;
const CODES_PER_ROUND: usize = 1500;
const CONNECTIONS: usize = 8;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A provider under test: where its token endpoint is and how to get codes from it.
struct Target {
    name: &'static str,
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

/// What one redemption round measured.
struct Round {
    wall: f64,
    per_core: f64,
    latencies: Vec<Duration>,
}

impl Target {
    /// Codes issued by the authorization endpoint to the signed-in member, one at a time.
    async fn codes(&self, count: usize) -> Vec<String> {
        let mut codes = Vec::with_capacity(count);
        for _ in 0..count {
            let reply = self.get(&self.authorize).await;
            let location = reply.location();
            assert!(location.starts_with(REDIRECT), "{}: {location}", self.name);
            codes.push(query_value(&location, "code").expect("a code"));
        }
        codes
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

    /// Redeems `codes` over `CONNECTIONS` connections at once.
    async fn redeem(&self, codes: Vec<String>) -> Round {
        let per_connection = codes.len().div_ceil(CONNECTIONS);
        let (started, cpu_started) = (Instant::now(), process_cpu_seconds(self.pid));
        let mut connections = tokio::task::JoinSet::new();
        for chunk in codes.chunks(per_connection) {
            let (chunk, address) = (chunk.to_vec(), self.address);
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n",
                self.token_path, self.host, self.basic
            );
            connections
                .spawn(async move { redeem_on_one_connection(address, &head, &chunk).await });
        }
        let mut latencies = Vec::with_capacity(codes.len());
        while let Some(joined) = connections.join_next().await {
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

/// CPU time process `pid` has used so far, all threads, user and system, in seconds.
fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime, in clock ticks of a hundredth of a second.
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
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

/// Vestibule: a directory tenant with the Events app on a SQLite file, served by a release
/// `vestibule serve`; the member signs in on the hosted form.
async fn vestibule(db: &vestibule_storage::testing::TestDatabase) -> (Node, Target) {
    let tenant = node::directory_tenant(db, &["jane".to_string()]).await;
    let served = Node::start(
        db.url(),
        &tenant.secret,
        LOOPBACK,
        node::free_port(LOOPBACK),
    );
    served.wait_ready().await;
    let authorize = format!("/oidc/authorize?{}", authorize_query(&tenant.client_id));
    let signed_in = node::sign_in_at(&served, "jane", &authorize).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let target = Target {
        name: "Vestibule",
        address: SocketAddr::new(LOOPBACK, served.edge_port),
        host: format!("{DOMAIN}:{}", served.edge_port),
        token_path: "/oidc/token",
        basic: tenant.basic.clone(),
        pid: served.child.id(),
        authorize,
        cookie: node::session_cookie(&signed_in),
    };
    (served, target)
}

/// The peer, stopped when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// node-oidc-provider with the same client; the member signs in on its development login page
/// and consents once.
async fn peer() -> (Peer, Target) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/peer/provider.mjs");
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/peer/node_modules");
    assert!(
        std::path::Path::new(modules).is_dir(),
        "the peer is not installed: run `npm ci --prefix bench/peer` first"
    );
    let (client_id, secret) = ("events", "events-bench-secret");
    let mut child = Command::new("node")
        .args([script, client_id, secret, REDIRECT])
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
    let mut target = Target {
        name: "oidc-provider",
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
        authorize: format!("/auth?{}", authorize_query(client_id)),
        cookie: String::new(),
    };
    sign_in_to_peer(&mut target, &issuer).await;
    (Peer(child), target)
}

/// Follows the peer's interactions (login, then consent) until it redirects to the
/// application, keeping its cookies in `target.cookie`.
async fn sign_in_to_peer(target: &mut Target, issuer: &str) {
    let mut jar = BTreeMap::new();
    let mut next = target.authorize.clone();
    for _ in 0..8 {
        let reply = target.get(&next).await;
        keep_cookies(&mut jar, &reply);
        target.cookie = cookie_header(&jar);
        let location = reply.location();
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
            keep_cookies(&mut jar, &submitted);
            target.cookie = cookie_header(&jar);
            next = submitted.location().trim_start_matches(issuer).to_string();
        } else {
            next = path;
        }
    }
    panic!("the peer never issued a code");
}

fn keep_cookies(jar: &mut BTreeMap<String, String>, reply: &Reply) {
    for line in reply.head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("set-cookie") {
            let pair = value.trim().split(';').next().unwrap_or_default();
            if let Some((key, value)) = pair.split_once('=') {
                jar.insert(key.to_string(), value.to_string());
            }
        }
    }
}

fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn main() {
    // The client is one thread, so it never takes both cores from the servers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = vestibule_storage::testing::sqlite().await;
        let (_vestibule, vestibule) = vestibule(&db).await;
        let (_peer, peer) = peer().await;
        let targets = [&vestibule, &peer];
        // Warm up: keys generated and caches filled on first use.
        for target in targets {
            let codes = target.codes(50).await;
            target.redeem(codes).await;
        }
        let mut rounds: Vec<Vec<Round>> = vec![Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (target, rounds) in targets.iter().zip(&mut rounds) {
                let codes = target.codes(CODES_PER_ROUND).await;
                rounds.push(target.redeem(codes).await);
            }
        }
        println!(
            "Token endpoint (authorization_code, RS256, client_secret_basic, PKCE) over HTTP/1.1, \
             {CONNECTIONS} connections, {CODES_PER_ROUND} codes a round"
        );
        println!(
            "{:<14} {:>10} {:>10} {:>10} {:>10}",
            "provider", "tokens/s", "per core", "p50", "p99"
        );
        let mut summary = Vec::new();
        for (target, rounds) in targets.iter().zip(&rounds) {
            let wall = median(rounds.iter().map(|r| r.wall).collect());
            let per_core = median(rounds.iter().map(|r| r.per_core).collect());
            let p50 = median(
                rounds
                    .iter()
                    .map(|r| percentile(&r.latencies, 0.5).as_secs_f64())
                    .collect(),
            );
            let p99 = median(
                rounds
                    .iter()
                    .map(|r| percentile(&r.latencies, 0.99).as_secs_f64())
                    .collect(),
            );
            println!(
                "{:<14} {wall:>10.0} {per_core:>10.0} {:>8.2}ms {:>8.2}ms",
                target.name,
                p50 * 1000.0,
                p99 * 1000.0
            );
            summary.push((wall, per_core, p50, p99));
        }
        let (ours, theirs) = (summary[0], summary[1]);
        println!(
            "{:<14} {:>9.2}x {:>9.2}x {:>9.2}x {:>9.2}x",
            "Vestibule/peer",
            ours.0 / theirs.0,
            ours.1 / theirs.1,
            // Latency: how many times shorter Vestibule's is.
            theirs.2 / ours.2,
            theirs.3 / ours.3
        );
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
