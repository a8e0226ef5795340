//! TLS handshakes per second at the edge with 1, 1,000 and 10,000 tenant certificates loaded,
//! beside `openssl s_server` on the same certificate, and the memory a loaded certificate
//! takes, measured in one run:
//!
//! ```text
//! cargo bench -p vestibule-provisioning --bench tls_handshakes
//! ```
//!
//! The certificates are made as the ACME path makes them (ECDSA P-256 keys, here signed by a
//! local CA), stored in SQLite with their keys sealed, and loaded by the edge's own
//! [`CertificateResolver::reload`]; the server is the edge's own rustls configuration
//! ([`server_config`]: TLS 1.3 and 1.2, the suites in the edge's order, SNI picking each
//! tenant's certificate) accepting on loopback on one thread. The client (one thread, four
//! connections at a time) asks for a random tenant's name each time, over TLS 1.3, and closes
//! once the handshake is done (close_notify, then reading the session tickets until the server
//! closes too). It checks the certificate it gets against the CA before the timed
//! rounds; in them it does not, so that the server, not the client, is what is measured.
//! Resumed handshakes use the tickets the server sent for the same names. Printed: handshakes
//! per wall-clock second and per second of the server thread's CPU time (`/proc`), medians of
//! five rounds; and the resident memory the process gained by loading the certificates,
//! divided by their number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use vestibule_domain::{Seconds, Timestamp};
use vestibule_provisioning::{provider, server_config, CertificateResolver};
use vestibule_secrets::SecretKey;
use vestibule_storage::{CertificateRecord, Store};

#[path = "../../../bench/support/figures.rs"]
mod figures;
use figures::{cpu_seconds, median};

const LOADED: [usize; 3] = [1, 1_000, 10_000];
const ROUNDS: usize = 5;
const FULL_PER_ROUND: usize = 4_000;
const RESUMED_PER_ROUND: usize = 8_000;
const CONNECTIONS: usize = 4;
/// Names the client resumes sessions with, picked at random from the loaded ones.
const RESUMING_NAMES: usize = 64;

fn tenant_domain(index: usize) -> String {
    format!("sso.tenant{index:05}.test")
}

/// A local certificate authority standing in for the ACME CA.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    root: CertificateDer<'static>,
}

impl Authority {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = params.self_signed(&key).unwrap().der().clone();
        Self {
            issuer: Issuer::new(params, key),
            root,
        }
    }

    /// A leaf certificate and its key for `domain`, in PEM, as a CA would issue them.
    fn issue(&self, domain: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![domain.to_string()]).unwrap();
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        (leaf.pem(), key.serialize_pem())
    }
}

/// Tenants, their domains and certificates in the database, up to `count` of them; the
/// certificate and key of the first, in PEM, when this call made it.
async fn store_certificates(
    store: &Store,
    secret: &SecretKey,
    authority: &Authority,
    from: usize,
    count: usize,
) -> Option<(String, String)> {
    let now = Timestamp::now();
    let mut first = None;
    for index in from..count {
        let cloud_id = format!("tenant{index:05}").parse().unwrap();
        let tenant = store
            .create_tenant(&cloud_id, "Bench tenant", now)
            .await
            .unwrap();
        let domain = tenant_domain(index);
        let claimed = store.claim_domain(tenant.id, &domain, now).await.unwrap();
        let (chain_pem, key_pem) = authority.issue(&domain);
        if index == 0 {
            first = Some((chain_pem.clone(), key_pem.clone()));
        }
        let key_sealed = secret
            .seal(&format!("certificate-key:{domain}"), key_pem.as_bytes())
            .unwrap();
        store
            .put_certificate(&CertificateRecord {
                domain_id: claimed.id,
                domain,
                chain_pem,
                key_sealed,
                not_before: now,
                not_after: now + Seconds(90 * 86_400),
                issued_at: now,
            })
            .await
            .unwrap();
    }
    first
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0
}

/// A TLS server under test: where it listens and where its CPU time is read.
struct Server {
    address: SocketAddr,
    stat_path: String,
    _process: Option<Process>,
}

/// The edge's configuration accepting on its own thread until the process ends: each
/// connection is handshaken and then closed, as a client that goes away would leave it.
fn edge_server(resolver: Arc<CertificateResolver>) -> Server {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(resolver).unwrap()));
    let (ready, started) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            // This thread's id, so the bench reads its CPU time and no other's.
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let tid = stat.split_whitespace().next().unwrap().to_string();
            ready.send((listener.local_addr().unwrap(), tid)).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
    });
    let (address, tid) = started.recv().unwrap();
    Server {
        address,
        stat_path: format!("/proc/self/task/{tid}/stat"),
        _process: None,
    }
}

/// A child process, stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server` with the first tenant's certificate and key.
fn openssl_server(folder: &std::path::Path, chain_pem: &str, key_pem: &str) -> Server {
    let (cert, key) = (folder.join("cert.pem"), folder.join("key.pem"));
    std::fs::write(&cert, chain_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl, for the comparison");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        address,
        stat_path: format!("/proc/{}/stat", child.id()),
        _process: Some(Process(child)),
    }
}

/// Accepts whatever certificate the server shows: the timed rounds measure the server, and the
/// certificates were checked against the CA before them.
#[derive(Debug)]
struct Unchecked(Vec<SignatureScheme>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

fn client(resumption: Resumption) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unchecked(schemes)))
        .with_no_client_auth();
    config.resumption = resumption;
    TlsConnector::from(Arc::new(config))
}

/// Before the timed rounds: the server shows each asked name its own certificate, valid for
/// the CA, and refuses a name it has none for.
async fn check_certificates(server: &Server, root: &CertificateDer<'static>, names: &[String]) {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    for name in names {
        let tcp = TcpStream::connect(server.address).await.unwrap();
        let server_name = ServerName::try_from(name.clone()).unwrap();
        connector
            .connect(server_name, tcp)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// One timed stretch of handshakes: per wall-clock second, per server CPU second, and how many
/// of them resumed a session.
struct Rate {
    wall: f64,
    per_core: f64,
    resumed: usize,
}

/// `count` handshakes, `CONNECTIONS` at a time, each for a name `pick` chooses.
async fn handshakes(
    server: &Server,
    connector: &TlsConnector,
    names: &Arc<Vec<ServerName<'static>>>,
    count: usize,
) -> Rate {
    let (started, cpu_started) = (Instant::now(), cpu_seconds(&server.stat_path));
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (connector, names, address) = (connector.clone(), names.clone(), server.address);
        running.spawn(async move {
            let mut resumed = 0;
            for _ in 0..count / CONNECTIONS {
                let name = names[rand::thread_rng().gen_range(0..names.len())].clone();
                let tcp = TcpStream::connect(address).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let tls = connector.connect(name, tcp).await.unwrap();
                if tls.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed) {
                    resumed += 1;
                }
                close(tls).await;
            }
            resumed
        });
    }
    let mut resumed = 0;
    while let Some(joined) = running.join_next().await {
        resumed += joined.unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(&server.stat_path) - cpu_started).max(0.01);
    Rate {
        wall: count as f64 / wall,
        per_core: count as f64 / cpu,
        resumed,
    }
}

/// Says goodbye (close_notify) and reads what the server still sends until it closes: the
/// session tickets TLS 1.3 sends after the handshake, which the next resumption needs.
async fn close(mut tls: tokio_rustls::client::TlsStream<TcpStream>) {
    let _ = tls.shutdown().await;
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
}

/// Full and resumed handshakes against `server`, for names drawn from `names`: the medians.
async fn measure(server: &Server, names: &[String]) -> [f64; 5] {
    let all: Arc<Vec<ServerName<'static>>> = Arc::new(
        names
            .iter()
            .map(|n| ServerName::try_from(n.clone()).unwrap())
            .collect(),
    );
    let resuming = Arc::new(all.iter().take(RESUMING_NAMES).cloned().collect::<Vec<_>>());
    let full_client = client(Resumption::disabled());
    // rustls keeps up to 8 tickets per name, and counts its capacity in tickets.
    let resuming_client = client(Resumption::in_memory_sessions(16 * RESUMING_NAMES));
    // Warm up, and a ticket for every resuming name.
    handshakes(server, &full_client, &all, 100).await;
    for name in resuming.iter() {
        let tcp = TcpStream::connect(server.address).await.unwrap();
        close(resuming_client.connect(name.clone(), tcp).await.unwrap()).await;
    }
    let (mut full, mut resumed) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        full.push(handshakes(server, &full_client, &all, FULL_PER_ROUND).await);
        resumed.push(handshakes(server, &resuming_client, &resuming, RESUMED_PER_ROUND).await);
    }
    let resumed_share = resumed.iter().map(|r| r.resumed).sum::<usize>() as f64
        / (ROUNDS * RESUMED_PER_ROUND) as f64;
    [
        median(full.iter().map(|r| r.wall).collect()),
        median(full.iter().map(|r| r.per_core).collect()),
        median(resumed.iter().map(|r| r.wall).collect()),
        median(resumed.iter().map(|r| r.per_core).collect()),
        resumed_share,
    ]
}

fn row(loaded: &str, server: &str, figures: [f64; 5], memory: &str) {
    println!(
        "{loaded:>12} {server:<17} {:>9.0} {:>9.0} {:>10.0} {:>9.0} {:>7.0}% {memory:>12}",
        figures[0],
        figures[1],
        figures[2],
        figures[3],
        100.0 * figures[4]
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = vestibule_storage::testing::sqlite().await;
        let store = db.store().clone();
        let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let authority = Authority::new();
        println!(
            "TLS 1.3 handshakes (ECDSA P-256 certificates, {CONNECTIONS} connections at a time)"
        );
        println!(
            "{:>12} {:<17} {:>9} {:>9} {:>10} {:>9} {:>8} {:>12}",
            "certificates",
            "server",
            "full/s",
            "per core",
            "resumed/s",
            "per core",
            "resumed",
            "memory/cert"
        );
        let (mut stored, mut first_pem, mut first) = (0, None, None);
        for count in LOADED {
            first_pem =
                first_pem.or(store_certificates(&store, &secret, &authority, stored, count).await);
            stored = count;
            let resolver = CertificateResolver::new(store.clone(), secret.clone());
            let before = resident_bytes();
            assert_eq!(resolver.reload().await.unwrap(), count);
            let per_certificate = (resident_bytes() - before) / count as f64;
            let server = edge_server(resolver);
            let names: Vec<String> = (0..count).map(tenant_domain).collect();
            let sample: Vec<String> = (0..count)
                .step_by((count / 16).max(1))
                .map(tenant_domain)
                .collect();
            check_certificates(&server, &authority.root, &sample).await;
            let unknown = TcpStream::connect(server.address).await.unwrap();
            let refused = client(Resumption::disabled())
                .connect(ServerName::try_from("sso.nobody.test").unwrap(), unknown)
                .await;
            assert!(refused.is_err(), "a name without a certificate is refused");
            let figures = measure(&server, &names).await;
            let memory = if count > 1 {
                format!("{:.1} KiB", per_certificate / 1024.0)
            } else {
                "—".to_string()
            };
            row(&count.to_string(), "Vestibule edge", figures, &memory);
            if first.is_none() {
                first = Some(figures);
            }
        }
        // openssl s_server on the first tenant's certificate and key.
        let (chain_pem, key_pem) = first_pem.unwrap();
        let folder = tempfile::tempdir().unwrap();
        let openssl = openssl_server(folder.path(), &chain_pem, &key_pem);
        check_certificates(&openssl, &authority.root, &[tenant_domain(0)]).await;
        let theirs = measure(&openssl, &[tenant_domain(0)]).await;
        row("1", "openssl s_server", theirs, "—");
        let ours = first.unwrap();
        println!(
            "{:>12} {:<17} {:>8.2}x {:>8.2}x {:>9.2}x {:>8.2}x",
            "1",
            "Vestibule/openssl",
            ours[0] / theirs[0],
            ours[1] / theirs[1],
            ours[2] / theirs[2],
            ours[3] / theirs[3]
        );
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
