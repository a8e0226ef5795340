//! Signed SAML responses beside a peer on the same machine, in one run: `vestibule serve`
//! (release, SQLite) and the SimpleSAMLphp IdP (Debian's `simplesamlphp`, under PHP's built-in
//! server with two workers and OPcache) answer the same SP-initiated AuthnRequest (Redirect
//! binding) for a signed-in member with a response whose assertion is signed RSA-2048 SHA-256,
//! for the same service provider and NameID format:
//!
//! ```text
//! apt-get install simplesamlphp php-cli    # once (bench/run does it)
//! cargo bench -p vestibule --bench saml_vs_peer
//! ```
//!
//! Each provider has `CONNECTIONS` members' sessions (one per connection: PHP locks a session
//! while a request holds it); every request has its own ID and its own TCP connection (PHP's
//! built-in server closes each), from a one-thread client. Printed: responses per wall-clock
//! second with `CONNECTIONS` connections, per second of the server's CPU time (its process and
//! worker processes, from `/proc`), and the latency (p50, p99) one request at a time. Rounds
//! alternate between the two.

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
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use node::{Node, Reply, DOMAIN};
use vestibule_domain::Timestamp;
use vestibule_saml::{AssertionConsumer, NameIdFormat, SamlAppInput};

#[path = "../../bench/support/figures.rs"]
mod figures;
#[path = "../../bench/support/peer_runs.rs"]
mod peer_runs;
use figures::process_cpu_seconds;
use peer_runs::{cookie_header, keep_cookies, summary, Round};

const ROUNDS: usize = 5;
/// Responses per throughput round (a second or two of work); half as many one at a time.
const COUNT: usize = 600;
const CONNECTIONS: usize = 8;
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SP: &str = "https://events.example.org/saml";
const ACS: &str = "https://events.example.org/saml/acs";

/// A provider under test.
struct Target {
    name: &'static str,
    address: SocketAddr,
    host: String,
    sso_path: &'static str,
    /// The server's processes, whose CPU time is read: the first and its children.
    pid: u32,
    /// One signed-in member's cookies per connection.
    sessions: Vec<String>,
}

/// CPU seconds of `pid` and its child processes (PHP's workers).
fn tree_cpu_seconds(pid: u32) -> f64 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    process_cpu_seconds(pid)
        + children
            .split_whitespace()
            .filter_map(|child| child.parse().ok())
            .map(tree_cpu_seconds)
            .sum::<f64>()
}

/// An AuthnRequest with a fresh ID, as the Redirect binding's query (unsigned).
fn sso_query() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = format!("_bench{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" AssertionConsumerServiceURL=\"{ACS}\" \
         ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">\
         <saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>"
    );
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflater.write_all(xml.as_bytes()).unwrap();
    let encoded = STANDARD.encode(deflater.finish().unwrap());
    form_encoding::form(&[("SAMLRequest", &encoded)])
}

impl Target {
    async fn get(&self, path: &str, cookie: &str) -> Reply {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n",
            self.host
        );
        node::exchange(self.address, &head, "", "")
            .await
            .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", self.name))
    }

    /// `count` signed responses over `connections` connections at once, each connection with
    /// its own member.
    async fn answer(&'static self, count: usize, connections: usize) -> Round {
        let per_connection = count.div_ceil(connections);
        let (started, cpu_started) = (Instant::now(), tree_cpu_seconds(self.pid));
        let mut running = tokio::task::JoinSet::new();
        for connection in 0..connections {
            let cookie = self.sessions[connection].clone();
            running.spawn(async move {
                let mut latencies = Vec::with_capacity(per_connection);
                for _ in 0..per_connection {
                    let path = format!("{}?{}", self.sso_path, sso_query());
                    let sent = Instant::now();
                    let reply = self.get(&path, &cookie).await;
                    latencies.push(sent.elapsed());
                    assert!(
                        reply.status == 200 && reply.body.contains("name=\"SAMLResponse\""),
                        "{}: {} {}",
                        self.name,
                        reply.status,
                        reply.body
                    );
                }
                latencies
            });
        }
        let mut latencies = Vec::with_capacity(count);
        while let Some(joined) = running.join_next().await {
            latencies.extend(joined.unwrap());
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = (tree_cpu_seconds(self.pid) - cpu_started).max(0.01);
        latencies.sort();
        let answered = latencies.len() as f64;
        Round {
            wall: answered / wall,
            per_core: answered / cpu,
            latencies,
        }
    }
}

/// Vestibule: a directory tenant with the service provider registered (assertion signed,
/// persistent NameID), served by a release `vestibule serve`; `CONNECTIONS` sign-ins.
async fn vestibule(db: &vestibule_storage::testing::TestDatabase) -> (Node, Target) {
    let tenant = node::directory_tenant(db, &["jane".to_string()]).await;
    let app = SamlAppInput {
        name: "Events".into(),
        entity_id: SP.into(),
        assertion_consumers: vec![AssertionConsumer {
            url: ACS.into(),
            index: 0,
            is_default: true,
        }],
        name_id_format: NameIdFormat::Persistent,
        ..SamlAppInput::default()
    };
    let saml = &tenant.engines.saml;
    saml.apps
        .create(tenant.id, app, Timestamp::now())
        .await
        .unwrap();
    let served = Node::start(
        db.url(),
        &tenant.secret,
        LOOPBACK,
        node::free_port(LOOPBACK),
    );
    served.wait_ready().await;
    let mut sessions = Vec::new();
    for _ in 0..CONNECTIONS {
        let signed_in = node::sign_in_at(&served, "jane", "/").await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.body);
        sessions.push(node::session_cookie(&signed_in));
    }
    let target = Target {
        name: "Vestibule",
        address: SocketAddr::new(LOOPBACK, served.edge_port),
        host: format!("{DOMAIN}:{}", served.edge_port),
        sso_path: "/saml/sso",
        pid: served.child.id(),
        sessions,
    };
    (served, target)
}

/// The peer, stopped when dropped.
struct Peer {
    server: Child,
    _folder: tempfile::TempDir,
}

impl Drop for Peer {
    /// PHP's workers are processes of their own: the whole process group goes, not only the
    /// server that forked them.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.server.id())])
            .status();
        let _ = self.server.wait();
    }
}

const SIMPLESAMLPHP: &str = "/usr/share/simplesamlphp/www";

/// SimpleSAMLphp with its own RSA-2048 key, configured from `bench/saml-peer`, under PHP's
/// built-in server; `CONNECTIONS` sign-ins on its username/password page.
async fn peer() -> (Peer, Target) {
    assert!(
        Path::new(SIMPLESAMLPHP).is_dir(),
        "the peer is not installed: apt-get install simplesamlphp php-cli"
    );
    let folder = tempfile::tempdir().unwrap();
    for part in ["cert", "log", "data", "tmp"] {
        std::fs::create_dir(folder.path().join(part)).unwrap();
    }
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=simplesamlphp.bench", "-keyout"])
        .arg(folder.path().join("cert/idp.pem"))
        .arg("-out")
        .arg(folder.path().join("cert/idp.crt"))
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command");
    assert!(made.success());
    let port = node::free_port(LOOPBACK);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/saml-peer");
    let server = Command::new("php")
        .args([
            "-d",
            "opcache.enable_cli=1",
            "-S",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(SIMPLESAMLPHP)
        .env("SIMPLESAMLPHP_CONFIG_DIR", config)
        .env("BENCH_DIR", folder.path())
        .env("BENCH_PORT", port.to_string())
        .env("PHP_CLI_SERVER_WORKERS", "2")
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("php, to run the peer");
    let peer = Peer {
        server,
        _folder: folder,
    };
    let mut target = Target {
        name: "SimpleSAMLphp",
        address: SocketAddr::new(LOOPBACK, port),
        host: format!("127.0.0.1:{port}"),
        sso_path: "/saml2/idp/SSOService.php",
        pid: peer.server.id(),
        sessions: Vec::new(),
    };
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(target.address).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..CONNECTIONS {
        let session = sign_in_to_peer(&target).await;
        target.sessions.push(session);
    }
    (peer, target)
}

/// An AuthnRequest, SimpleSAMLphp's username/password page, the member's answer: the session's
/// cookies once it answers with a response.
async fn sign_in_to_peer(target: &Target) -> String {
    let mut jar = BTreeMap::new();
    let first = target
        .get(&format!("{}?{}", target.sso_path, sso_query()), "")
        .await;
    keep_cookies(&mut jar, &first);
    let login = first.location();
    let login_path = login.trim_start_matches(&format!("http://{}", target.host));
    let page = target.get(login_path, &cookie_header(&jar)).await;
    keep_cookies(&mut jar, &page);
    let auth_state = page
        .body
        .split("name=\"AuthState\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form's AuthState")
        .replace("&amp;", "&");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n",
        login_path.split('?').next().unwrap(),
        target.host,
        cookie_header(&jar)
    );
    let body = form_encoding::form(&[
        ("username", "jane"),
        ("password", "jane-member-password"),
        ("AuthState", &auth_state),
    ]);
    let answered = node::exchange(
        target.address,
        &head,
        &body,
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    keep_cookies(&mut jar, &answered);
    assert!(
        answered.body.contains("name=\"SAMLResponse\""),
        "the peer did not sign the member in: {} {}",
        answered.status,
        answered.body
    );
    cookie_header(&jar)
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
        // Both live as long as the runtime's tasks that borrow them.
        let pair: [&'static Target; 2] = [Box::leak(Box::new(ours)), Box::leak(Box::new(theirs))];
        println!(
            "SP-initiated SSO (Redirect binding in, POST binding out, assertion signed RSA-2048 \
             SHA-256) over HTTP/1.1: responses/s with {CONNECTIONS} connections, latency one \
             request at a time"
        );
        println!(
            "{:<15} {:>12} {:>10} {:>10} {:>10}",
            "provider", "responses/s", "per core", "p50", "p99"
        );
        // Warm up: keys made, caches and OPcache filled.
        for target in pair {
            target.answer(100, CONNECTIONS).await;
        }
        let mut rounds: [(Vec<Round>, Vec<Round>); 2] = Default::default();
        for _ in 0..ROUNDS {
            for (target, (busy, alone)) in pair.iter().zip(&mut rounds) {
                busy.push(target.answer(COUNT, CONNECTIONS).await);
                alone.push(target.answer(COUNT / 2, 1).await);
            }
        }
        let [ours, theirs] = [summary(&rounds[0]), summary(&rounds[1])];
        for (target, figures) in pair.iter().zip([ours, theirs]) {
            println!(
                "{:<15} {:>12.0} {:>10.0} {:>8.2}ms {:>8.2}ms",
                target.name,
                figures[0],
                figures[1],
                figures[2] * 1000.0,
                figures[3] * 1000.0
            );
        }
        println!(
            "{:<15} {:>11.2}x {:>9.2}x {:>9.2}x {:>9.2}x",
            "Vestibule/peer",
            ours[0] / theirs[0],
            ours[1] / theirs[1],
            theirs[2] / ours[2],
            theirs[3] / ours[3]
        );
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
