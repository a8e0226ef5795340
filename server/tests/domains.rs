//! Domain provisioning against real servers: Pebble as the ACME CA and pebble-challtestsrv as
//! the DNS server, both started per test by `scripts/acme-sandbox`, with Vestibule's own
//! plain-HTTP and HTTPS listeners on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vestibule_domain::{DomainState, ProvisioningPhase, TenantId, Timestamp};
use vestibule_provisioning::{AcmeSettings, Provisioning, ProvisioningError, ProvisioningSettings};
use vestibule_secrets::SecretKey;
use vestibule_server::{member_site, tenant_edge, Config, Engines};
use vestibule_staff::PasswordHasher;
use vestibule_storage::testing::{sqlite, TestDatabase};
use vestibule_storage::Store;

#[path = "support/sandbox.rs"]
mod sandbox;
use sandbox::{https_exchange, https_request_after, AcmeSandbox};

const TARGET: &str = "edge.vestibule.test";
const REQUIRE_VAR: &str = "VESTIBULE_REQUIRE_SANDBOX";

/// Pebble, the DNS server and Vestibule's edge listeners for one test.
struct Sandbox {
    acme: AcmeSandbox,
    http: SocketAddr,
    https: SocketAddr,
    https_listener: Option<TcpListener>,
    http_listener: Option<TcpListener>,
    /// The edge sits behind a TCP load balancer that sends PROXY protocol headers.
    proxy_protocol: bool,
}

impl Sandbox {
    /// `None` when Pebble is not installed and the test command did not ask for it.
    async fn start(cert_seconds: Option<u32>) -> Option<Self> {
        let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = http_listener.local_addr().unwrap();
        let https = https_listener.local_addr().unwrap();
        let acme = AcmeSandbox::start(http.port(), cert_seconds)?;
        Some(Self {
            acme,
            http,
            https,
            https_listener: Some(https_listener),
            http_listener: Some(http_listener),
            proxy_protocol: false,
        })
    }

    fn var(&self, name: &str) -> String {
        self.acme.var(name)
    }

    fn settings(&self) -> ProvisioningSettings {
        ProvisioningSettings {
            cname_target: TARGET.to_string(),
            own_domains: vec!["vestibule.test".to_string()],
            dns_servers: vec![self.var("VESTIBULE_DNS_SERVERS").parse().unwrap()],
            acme: AcmeSettings {
                directory_url: self.var("VESTIBULE_ACME_DIRECTORY"),
                trusted_root: Some(PathBuf::from(self.var("VESTIBULE_ACME_ROOT"))),
                contact: None,
            },
            caa_identities: vec!["pebble.vestibule.test".to_string()],
            edge_address: self.https,
            edge_proxy_protocol: self.proxy_protocol,
            lease: vestibule_domain::Seconds(60),
            max_attempts: 3,
            retry_base: vestibule_domain::Seconds(1),
            check_interval: vestibule_domain::Seconds(300),
            reload_interval: vestibule_domain::Seconds(300),
        }
    }

    /// Starts Vestibule's plain-HTTP and HTTPS listeners for `provisioning`.
    fn serve(&mut self, provisioning: &Provisioning, store: &Store) {
        let plain = self.http_listener.take().expect("listeners start once");
        let https = self.https_listener.take().expect("listeners start once");
        let config = Config::default();
        let engines = Engines::with_hasher(
            &config,
            store.clone(),
            SecretKey::from_base64(&SecretKey::generate_base64()).unwrap(),
            provisioning.clone(),
            PasswordHasher::new(1024, 1, 1),
        );
        let site = engines.member_site(&config).unwrap();
        let router =
            tenant_edge::plain_http_router(provisioning.clone(), self.https.port(), site.clone());
        tokio::spawn(async move { axum::serve(plain, router).await });
        tokio::spawn(tenant_edge::serve_https(
            https,
            provisioning.clone(),
            member_site::https_router(site),
            vestibule_server::listen::Front {
                trusted: std::sync::Arc::new(
                    vestibule_server::client_address::TrustedProxies::parse(&[
                        "127.0.0.1".to_string()
                    ])
                    .unwrap(),
                ),
                proxy_protocol: self.proxy_protocol,
            },
        ));
    }

    fn dns(&self, endpoint: &str, body: serde_json::Value) {
        self.acme.dns(endpoint, body);
    }

    fn point_cname(&self, domain: &str, target: &str) {
        self.acme.point_cname(domain, target);
    }

    fn issuing_root(&self) -> Vec<u8> {
        self.acme.issuing_root()
    }
}

async fn tenant(store: &Store, cloud_id: &str) -> TenantId {
    store
        .create_tenant(&cloud_id.parse().unwrap(), cloud_id, Timestamp::now())
        .await
        .unwrap()
        .id
}

fn engine(sandbox: &Sandbox, db: &TestDatabase, secret: &SecretKey) -> Provisioning {
    Provisioning::new(sandbox.settings(), db.store().clone(), secret.clone()).unwrap()
}

/// A TLS connection to the edge asking for `name`, verified against `root`; returns the
/// response to `GET /`.
async fn https_get(edge: SocketAddr, name: &str, root: &[u8]) -> Result<String, String> {
    https_exchange(edge, name, root)
        .await
        .map(|(response, _)| response)
}

async fn plain_get(address: SocketAddr, host: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(address).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

/// Pebble, the DNS server, a fresh database, and Vestibule's engine and listeners.
struct Edge {
    sandbox: Sandbox,
    db: TestDatabase,
    secret: SecretKey,
    provisioning: Provisioning,
}

async fn running_edge(cert_seconds: Option<u32>) -> Option<Edge> {
    let mut sandbox = Sandbox::start(cert_seconds).await?;
    let db = sqlite().await;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let provisioning = engine(&sandbox, &db, &secret);
    sandbox.serve(&provisioning, db.store());
    Some(Edge {
        sandbox,
        db,
        secret,
        provisioning,
    })
}

impl Edge {
    /// Creates the tenant, points the CNAME at us and provisions the domain as typed.
    async fn provision(&self, cloud_id: &str, typed: &str) -> TenantId {
        let tenant = tenant(self.db.store(), cloud_id).await;
        let target = self.provisioning.cname_target(tenant).await.unwrap();
        self.sandbox
            .point_cname(&typed.trim_end_matches('.').to_ascii_lowercase(), &target);
        self.provisioning
            .start(tenant, typed, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(self.provisioning.run_due_jobs().await.unwrap(), 1);
        let (state, message) = state_of(&self.provisioning, tenant).await;
        assert_eq!(state, DomainState::Online, "{message}");
        tenant
    }
}

async fn state_of(provisioning: &Provisioning, tenant: TenantId) -> (DomainState, String) {
    let overview = provisioning.overview(tenant).await.unwrap().unwrap();
    (overview.record.state, overview.record.message)
}

#[tokio::test]
async fn provisions_a_domain_and_serves_it_over_tls_by_sni() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        secret,
        provisioning,
    } = &edge;
    let acme = edge.provision("acme", "SSO.acme.test").await;
    let overview = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(
        overview.record.state,
        DomainState::Online,
        "{} / {}",
        overview.record.message,
        overview.record.check_message
    );
    assert_eq!(overview.record.phase, ProvisioningPhase::Online);
    assert!(overview.record.checked_at.is_some());
    assert!(overview.certificate_expires.unwrap() > Timestamp::now());

    // A member's browser: verifies the chain against the CA's root and gets the tenant's page.
    let root = sandbox.issuing_root();
    let response = https_get(sandbox.https, "sso.acme.test", &root)
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response
        .to_ascii_lowercase()
        .contains("strict-transport-security: max-age="));
    assert!(response.contains("acme"), "{response}");

    // Review finding: SNI picked acme's certificate, the Host header named another tenant, and
    // that tenant's pages came back under acme's certificate. Now: 421, nothing served.
    let (misdirected, _) =
        sandbox::https_request_to_host(sandbox.https, "sso.acme.test", "sso.beta.test", &root, "")
            .await
            .unwrap();
    assert!(misdirected.starts_with("HTTP/1.1 421"), "{misdirected}");
    assert!(!misdirected.contains("acme"), "{misdirected}");
    // HTTP/2 is offered (an h2-only client was cut off), HTTP/1.1 still.
    assert_eq!(
        sandbox::negotiated_protocol(sandbox.https, "sso.acme.test", &root, &[b"h2"])
            .await
            .unwrap()
            .as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        sandbox::negotiated_protocol(sandbox.https, "sso.acme.test", &root, &[b"http/1.1"])
            .await
            .unwrap()
            .as_deref(),
        Some(&b"http/1.1"[..])
    );

    // A name we hold no certificate for gets no certificate at all.
    let refused = https_get(sandbox.https, "other.acme.test", &root).await;
    assert!(refused.is_err(), "{refused:?}");

    // The plain listener redirects to HTTPS and does not serve pages.
    let redirect = plain_get(sandbox.http, "sso.acme.test", "/login?x=1").await;
    assert!(redirect.starts_with("HTTP/1.1 301"), "{redirect}");
    assert!(
        redirect.contains(&format!(
            "https://sso.acme.test:{}/login?x=1",
            sandbox.https.port()
        )),
        "{redirect}"
    );

    // The key is sealed at rest, and a new engine (a restart) serves from the database.
    let stored = db
        .store()
        .certificate_for_domain(overview.record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.key_sealed.contains("PRIVATE KEY"));
    let restarted = engine(sandbox, db, secret);
    assert_eq!(restarted.resolver().reload().await.unwrap(), 1);
    assert!(restarted.resolver().serves("sso.acme.test"));

    // Released: the edge stops serving it at once, and another Cloud ID may claim it.
    provisioning.release(acme, None).await.unwrap();
    assert!(https_get(sandbox.https, "sso.acme.test", &root)
        .await
        .is_err());
    let beta = tenant(db.store(), "beta").await;
    provisioning
        .start(beta, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();
}

/// Review finding: a release from the command line (another process on the same SQLite file)
/// left the certificate in handshakes until the next timed reload. The serving process now
/// notices the change within a couple of seconds (the reload timer here is five minutes).
#[tokio::test]
async fn a_release_by_another_process_stops_the_edge_serving_the_name() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        secret,
        provisioning,
    } = &edge;
    let acme = edge.provision("acme", "sso.acme.test").await;
    let root = sandbox.issuing_root();
    tokio::spawn(provisioning.clone().run_background());
    assert!(https_get(sandbox.https, "sso.acme.test", &root)
        .await
        .is_ok());

    // The command line: its own engine, writing the same database.
    let command_line = engine(sandbox, db, secret);
    command_line.release(acme, None).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while https_get(sandbox.https, "sso.acme.test", &root)
        .await
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the released name is still served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn dns_problems_are_explained_and_stop_provisioning() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        provisioning,
        ..
    } = &edge;

    // (setup, domain, what the message must say)
    let cases: Vec<(&str, &str)> = vec![
        (
            "missing.acme.test",
            "No DNS record exists for missing.acme.test",
        ),
        (
            "a-record.acme.test",
            "has an address record (192.0.2.7) instead of a CNAME",
        ),
        (
            "elsewhere.acme.test",
            "is a CNAME to other.example.net, not to tenant2-",
        ),
        (
            "sso.caa-org.test",
            "A CAA record on caa-org.test allows only another-ca.example",
        ),
        ("servfail.acme.test", "answered with an error (SERVFAIL)"),
    ];
    sandbox.dns(
        "add-a",
        serde_json::json!({"host": "a-record.acme.test.", "addresses": ["192.0.2.7"]}),
    );
    sandbox.point_cname("elsewhere.acme.test", "other.example.net");
    sandbox.dns(
        "add-caa",
        serde_json::json!({"host": "caa-org.test.", "policies": [{"tag": "issue", "value": "another-ca.example"}]}),
    );
    sandbox.dns(
        "set-servfail",
        serde_json::json!({"host": "servfail.acme.test."}),
    );
    // pebble-challtestsrv answers A queries for unknown names with its default address, so
    // "missing" needs no setup: it has no CNAME and the check reports the address instead.
    for (index, (domain, expected)) in cases.iter().enumerate() {
        let tenant = tenant(db.store(), &format!("tenant{index}")).await;
        if *domain == "sso.caa-org.test" {
            // CAA usually sits on the organisation's own domain, above the CNAME.
            let target = provisioning.cname_target(tenant).await.unwrap();
            sandbox.point_cname(domain, &target);
        }
        provisioning
            .start(tenant, domain, Timestamp::now())
            .await
            .unwrap();
        provisioning.run_due_jobs().await.unwrap();
        let (state, message) = state_of(provisioning, tenant).await;
        assert_eq!(state, DomainState::Failed, "{domain}: {message}");
        let overview = provisioning.overview(tenant).await.unwrap().unwrap();
        assert_eq!(overview.record.phase, ProvisioningPhase::DnsCheck);
        if *domain == "missing.acme.test" {
            assert!(
                message.contains(expected) || message.contains("instead of a CNAME"),
                "{domain}: {message}"
            );
        } else {
            assert!(message.contains(expected), "{domain}: {message}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_ca_is_retried_then_reported() {
    let Some(mut sandbox) = Sandbox::start(None).await else {
        return;
    };
    let db = sqlite().await;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = sandbox.settings();
    settings.acme.directory_url = format!("https://{closed}/dir");
    settings.max_attempts = 2;
    let provisioning = Provisioning::new(settings, db.store().clone(), secret).unwrap();
    sandbox.serve(&provisioning, db.store());
    let acme = tenant(db.store(), "acme").await;
    let target = provisioning.cname_target(acme).await.unwrap();
    sandbox.point_cname("sso.acme.test", &target);
    provisioning
        .start(acme, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();

    provisioning.run_due_jobs().await.unwrap();
    let (state, message) = state_of(&provisioning, acme).await;
    assert_eq!(state, DomainState::Provisioning, "{message}");
    assert!(
        message.contains("Could not reach the certificate authority"),
        "{message}"
    );
    assert!(message.contains("Attempt 1 of 2"), "{message}");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    provisioning.run_due_jobs().await.unwrap();
    let (state, message) = state_of(&provisioning, acme).await;
    assert_eq!(state, DomainState::Failed, "{message}");
    assert!(
        message.contains("Could not reach the certificate authority"),
        "{message}"
    );
}

#[tokio::test]
async fn a_domain_belongs_to_one_cloud_id() {
    let db = sqlite().await;
    let Some(sandbox) = Sandbox::start(None).await else {
        return;
    };
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let provisioning = engine(&sandbox, &db, &secret);
    let acme = tenant(db.store(), "acme").await;
    let beta = tenant(db.store(), "beta").await;
    provisioning
        .start(acme, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();
    let taken = provisioning
        .start(beta, "SSO.ACME.TEST.", Timestamp::now())
        .await
        .unwrap_err();
    assert!(
        matches!(taken, ProvisioningError::DomainTaken(_)),
        "{taken}"
    );
    assert!(taken.to_string().contains("another Cloud ID"), "{taken}");
    // A Cloud ID may hold several domains, up to a limit.
    for n in 2..=vestibule_storage::MAX_DOMAINS_PER_TENANT {
        provisioning
            .start(acme, &format!("login{n}.acme.test"), Timestamp::now())
            .await
            .unwrap();
    }
    let too_many = provisioning
        .start(acme, "login.acme.test", Timestamp::now())
        .await
        .unwrap_err();
    assert!(
        matches!(too_many, ProvisioningError::AlreadyHasDomain),
        "{too_many}"
    );
    assert!(
        too_many.to_string().contains("already holds 5 domains"),
        "{too_many}"
    );
}

#[tokio::test]
async fn only_the_tenant_a_name_points_at_can_claim_it_and_a_failed_claim_holds_nothing() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        provisioning,
        ..
    } = &edge;
    let acme = tenant(db.store(), "acme").await;
    let squatter = tenant(db.store(), "squatter").await;
    let acme_target = provisioning.cname_target(acme).await.unwrap();
    let squatter_target = provisioning.cname_target(squatter).await.unwrap();
    assert!(acme_target.starts_with("acme-") && acme_target.ends_with(".edge.vestibule.test"));
    assert_ne!(acme_target, squatter_target);

    // The name points at its owner's target, or at the shared edge name (a dangling record
    // left from before): neither is proof for another Cloud ID.
    for pointed_at in [acme_target.as_str(), TARGET] {
        sandbox.point_cname("sso.acme.test", pointed_at);
        provisioning
            .start(squatter, "sso.acme.test", Timestamp::now())
            .await
            .unwrap();
        provisioning.run_due_jobs().await.unwrap();
        let (state, message) = state_of(provisioning, squatter).await;
        assert_eq!(state, DomainState::Failed, "{pointed_at}: {message}");
        assert!(
            message.contains(&format!("not to {squatter_target}")),
            "{message}"
        );
    }

    // The squatter's failed claim does not hold the name: its owner provisions it.
    sandbox.point_cname("sso.acme.test", &acme_target);
    provisioning
        .start(acme, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();
    provisioning.run_due_jobs().await.unwrap();
    let (state, message) = state_of(provisioning, acme).await;
    assert_eq!(state, DomainState::Online, "{message}");
    assert!(provisioning.overview(squatter).await.unwrap().is_none());
}

#[tokio::test]
async fn a_host_routes_to_its_tenant_only_while_the_domain_is_online() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        provisioning,
        ..
    } = &edge;
    let acme = edge.provision("acme", "sso.acme.test").await;
    let root = sandbox.issuing_root();
    let served = https_get(sandbox.https, "sso.acme.test", &root).await;
    assert!(served.unwrap().starts_with("HTTP/1.1 200"));

    // Monitoring finds the record pointing elsewhere: the host stops routing to the tenant
    // (after the few seconds a node remembers a host's tenant).
    sandbox.point_cname("sso.acme.test", "old-provider.example.net");
    provisioning.check_all().await.unwrap();
    assert_eq!(state_of(provisioning, acme).await.0, DomainState::Offline);
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let refused = https_get(sandbox.https, "sso.acme.test", &root).await;
    assert!(
        refused
            .as_deref()
            .is_ok_and(|r| r.starts_with("HTTP/1.1 421")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn behind_a_proxy_protocol_balancer_the_edge_serves_and_checks_itself() {
    let Some(mut sandbox) = Sandbox::start(None).await else {
        return;
    };
    sandbox.proxy_protocol = true;
    let db = sqlite().await;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let provisioning = engine(&sandbox, &db, &secret);
    sandbox.serve(&provisioning, db.store());
    let edge = Edge {
        sandbox,
        db,
        secret,
        provisioning,
    };
    // Online means the self-check's handshake (which sends a LOCAL header) got the
    // certificate.
    edge.provision("acme", "sso.acme.test").await;
    let root = edge.sandbox.issuing_root();
    let https = edge.sandbox.https;
    // A connection straight to the node, without the balancer's header, is dropped.
    assert!(https_get(https, "sso.acme.test", &root).await.is_err());
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    header.extend_from_slice(&[198, 51, 100, 7, 127, 0, 0, 1, 0x9c, 0x40, 0x01, 0xbb]);
    let (response, _) =
        https_request_after(https, &header, "sso.acme.test", "sso.acme.test", &root, "")
            .await
            .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_is_taken_over_and_finished() {
    let Some(mut sandbox) = Sandbox::start(None).await else {
        return;
    };
    let db = sqlite().await;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let mut settings = sandbox.settings();
    settings.lease = vestibule_domain::Seconds(1);
    let acme = tenant(db.store(), "acme").await;
    let target = vestibule_provisioning::tenant_cname_target(acme, "acme", TARGET);
    sandbox.point_cname("sso.acme.test", &target);

    // The first server queues the job, takes its lease, and dies mid-way.
    let first = Provisioning::new(settings.clone(), db.store().clone(), secret.clone()).unwrap();
    first
        .start(acme, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();
    let now = Timestamp::now();
    let leased = db
        .store()
        .lease_due_job("crashed-node", now, now + vestibule_domain::Seconds(1))
        .await
        .unwrap();
    assert!(leased.is_some());
    drop(first);

    // The restarted server cannot take the job while the lease holds, then finishes it.
    let restarted = Provisioning::new(settings, db.store().clone(), secret).unwrap();
    sandbox.serve(&restarted, db.store());
    assert_eq!(restarted.run_due_jobs().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(restarted.run_due_jobs().await.unwrap(), 1);
    let (state, message) = state_of(&restarted, acme).await;
    assert_eq!(state, DomainState::Online, "{message}");
}

#[tokio::test]
async fn a_short_lived_certificate_is_renewed_and_served_without_a_restart() {
    let Some(edge) = running_edge(Some(9)).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        secret,
        provisioning,
    } = &edge;
    let acme = edge.provision("acme", "sso.acme.test").await;
    let first = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(
        first.record.state,
        DomainState::Online,
        "{}",
        first.record.message
    );
    let first_certificate = db
        .store()
        .certificate_for_domain(first.record.id)
        .await
        .unwrap()
        .unwrap();

    // Renewal is due when a third of the lifetime is left: about six seconds in.
    let due = first.record.next_attempt_at;
    assert!(
        due < first_certificate.not_after,
        "renewal is planned before expiry"
    );
    let wait = (due.0 - Timestamp::now().0 + 1).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(provisioning.run_due_jobs().await.unwrap(), 1);
    let renewed = db
        .store()
        .certificate_for_domain(first.record.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(renewed.chain_pem, first_certificate.chain_pem);
    assert!(renewed.not_after > first_certificate.not_after);
    let (state, message) = state_of(provisioning, acme).await;
    assert_eq!(state, DomainState::Online, "{message}");
    // The running edge serves the renewed certificate, without a restart.
    let root = sandbox.issuing_root();
    let (_, served) = https_exchange(sandbox.https, "sso.acme.test", &root)
        .await
        .unwrap();
    assert_eq!(served, leaf_of(&renewed.chain_pem));
    assert_ne!(served, leaf_of(&first_certificate.chain_pem));

    // A renewal that cannot reach the CA keeps the valid certificate and says so.
    let mut unreachable = sandbox.settings();
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    unreachable.acme.directory_url = format!("https://{closed}/dir");
    let cut_off = Provisioning::new(unreachable, db.store().clone(), secret.clone()).unwrap();
    // The Cloud ID's admins hear of it by e-mail (an invitation not yet accepted does not).
    let store = db.store();
    for (email, password) in [
        ("admin@acme.test", Some("hash")),
        ("invited@acme.test", None),
    ] {
        store
            .create_staff(
                &vestibule_storage::NewStaff {
                    email: vestibule_domain::Email::parse(email).unwrap(),
                    role: vestibule_domain::Role::TenantAdmin(acme),
                    password_hash: password.map(str::to_string),
                },
                Timestamp::now(),
            )
            .await
            .unwrap();
    }
    let outbox = vestibule_mail::Outbox::new(
        store.clone(),
        secret.clone(),
        vestibule_mail::SmtpSender::new(&vestibule_mail::SmtpSettings {
            host: "127.0.0.1".to_string(),
            port: closed.port(),
            security: vestibule_mail::Security::None,
            credentials: None,
            from: vestibule_domain::Email::parse("sso@vestibule.test").unwrap(),
            extra_roots_pem: None,
            timeout: Duration::from_secs(1),
        })
        .unwrap(),
        "node-test".to_string(),
        vestibule_mail::OutboxPolicy::default(),
    );
    let dashboard = "https://dashboard.vestibule.test".to_string();
    assert!(
        cut_off.warn_of_failed_renewals(vestibule_server::warnings::renewal_warner(
            store.clone(),
            outbox.clone(),
            dashboard.clone(),
        ))
    );
    let due = provisioning
        .overview(acme)
        .await
        .unwrap()
        .unwrap()
        .record
        .next_attempt_at;
    let wait = (due.0 - Timestamp::now().0 + 1).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(cut_off.run_due_jobs().await.unwrap(), 1);
    let after = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(after.record.state, DomainState::Online);
    assert!(
        after
            .record
            .message
            .contains("Renewing the certificate failed"),
        "{}",
        after.record.message
    );
    assert!(
        after.record.message.contains("stays in use"),
        "{}",
        after.record.message
    );
    let (_, still_served) = https_exchange(sandbox.https, "sso.acme.test", &root)
        .await
        .unwrap();
    assert_eq!(still_served, leaf_of(&renewed.chain_pem));

    // The warning is queued for the admin alone, naming the domain and the expiry.
    let warnings = || async {
        store
            .recent_mail(20)
            .await
            .unwrap()
            .into_iter()
            .filter(|mail| mail.kind == "certificate_warning")
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while warnings().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning was queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = warnings().await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].recipient, "admin@acme.test");
    assert_eq!(queued[0].tenant, Some(acme));
    assert_eq!(
        queued[0].subject,
        "The certificate of sso.acme.test could not be renewed"
    );
    // Failing again the same day warns nobody again.
    let failure = vestibule_provisioning::RenewalFailure {
        tenant: acme,
        domain: "sso.acme.test".to_string(),
        reason: "again".to_string(),
        expires_at: Some(renewed.not_after),
        attempts: 2,
    };
    let again = vestibule_server::warnings::certificate_renewal_failed(
        store,
        &outbox,
        &dashboard,
        &failure,
        Timestamp::now(),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    let next_day = Timestamp::now() + vestibule_domain::Seconds::hours(25);
    let later = vestibule_server::warnings::certificate_renewal_failed(
        store, &outbox, &dashboard, &failure, next_day,
    )
    .await
    .unwrap();
    assert_eq!(later, 1);
}

fn leaf_of(chain_pem: &str) -> Vec<u8> {
    rustls_pemfile::certs(&mut chain_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn monitoring_marks_a_domain_offline_with_the_reason_and_online_again() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        provisioning,
        ..
    } = &edge;
    let acme = edge.provision("acme", "sso.acme.test").await;

    // Someone changes the CNAME record at the DNS provider.
    sandbox.point_cname("sso.acme.test", "old-provider.example.net");
    provisioning.check_all().await.unwrap();
    let offline = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(offline.record.state, DomainState::Offline);
    assert!(
        offline
            .record
            .check_message
            .contains("old-provider.example.net"),
        "{}",
        offline.record.check_message
    );
    assert!(offline.record.checked_at.is_some());

    let target = provisioning.cname_target(acme).await.unwrap();
    sandbox.point_cname("sso.acme.test", &target);
    provisioning.check_all().await.unwrap();
    let online = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(
        online.record.state,
        DomainState::Online,
        "{}",
        online.record.check_message
    );
    assert!(online.record.check_message.is_empty());
}

#[tokio::test]
async fn the_edge_refuses_old_protocols_and_non_aead_suites() {
    if Command::new("sslscan").arg("--version").output().is_err() {
        if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
            panic!("{REQUIRE_VAR}=1 but sslscan is not installed");
        }
        eprintln!("note: sslscan is not installed; skipping");
        return;
    }
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge { sandbox, .. } = &edge;
    edge.provision("acme", "sso.acme.test").await;

    // Off the runtime's thread: the edge under scan runs on it.
    let target = sandbox.https.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("sslscan")
            .args([
                "--no-colour",
                "--no-heartbleed",
                "--no-renegotiation",
                "--sni-name=sso.acme.test",
                &target,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    for old in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"] {
        let line = report
            .lines()
            .find(|line| line.trim_start().starts_with(old))
            .unwrap_or_else(|| panic!("sslscan did not report {old}:\n{report}"));
        assert!(line.contains("disabled"), "{old} must be refused: {line}");
    }
    for current in ["TLSv1.2", "TLSv1.3"] {
        let line = report
            .lines()
            .find(|line| line.trim_start().starts_with(current))
            .unwrap_or_else(|| panic!("sslscan did not report {current}:\n{report}"));
        assert!(
            line.contains("enabled"),
            "{current} must be offered: {line}"
        );
    }
    let accepted: Vec<&str> = report
        .lines()
        .filter(|line| line.starts_with("Preferred") || line.starts_with("Accepted"))
        .collect();
    assert!(!accepted.is_empty(), "{report}");
    for line in &accepted {
        let aead = line.contains("GCM") || line.contains("CHACHA20");
        let forward_secret = line.contains("TLSv1.3") || line.contains("ECDHE");
        assert!(aead && forward_secret, "weak suite offered: {line}");
    }
    // TLS 1.2: exactly seed 000's list less its two CBC suites, in its order (no ChaCha20,
    // which the seed does not list).
    let tls12: Vec<&str> = accepted
        .iter()
        .filter(|line| line.contains("TLSv1.2"))
        .filter_map(|line| line.split_whitespace().nth(4))
        .collect();
    assert_eq!(
        tls12,
        [
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-AES128-GCM-SHA256"
        ],
        "{report}"
    );
}

/// Issue 26 §6: a Cloud ID with a live and a test domain. Each is provisioned with its own
/// certificate and status and served by SNI, each is its own OpenID issuer; the first is primary
/// until the admin chooses the other, and releasing one leaves the other serving.
#[tokio::test]
async fn a_cloud_id_serves_several_domains_each_with_its_own_certificate_and_issuer() {
    let Some(edge) = running_edge(None).await else {
        return;
    };
    let Edge {
        sandbox,
        db,
        provisioning,
        ..
    } = &edge;
    let acme = edge.provision("acme", "sso.acme.test").await;
    let target = provisioning.cname_target(acme).await.unwrap();
    sandbox.point_cname("sso-test.acme.test", &target);
    let added = provisioning
        .start(acme, "sso-test.acme.test", Timestamp::now())
        .await
        .unwrap();
    assert!(!added.record.is_primary);
    assert_eq!(provisioning.run_due_jobs().await.unwrap(), 1);

    let domains = provisioning.domains(acme).await.unwrap();
    let names: Vec<(&str, bool, DomainState)> = domains
        .iter()
        .map(|d| (d.domain.as_str(), d.record.is_primary, d.record.state))
        .collect();
    assert_eq!(
        names,
        [
            ("sso.acme.test", true, DomainState::Online),
            ("sso-test.acme.test", false, DomainState::Online)
        ]
    );
    let root = sandbox.issuing_root();
    let mut leaves = Vec::new();
    for domain in &domains {
        let name = domain.domain.as_str();
        assert!(domain.certificate_expires.is_some());
        let (discovery, leaf) = sandbox::https_get_path(
            sandbox.https,
            name,
            "/.well-known/openid-configuration",
            &root,
        )
        .await
        .unwrap();
        assert!(discovery.starts_with("HTTP/1.1 200"), "{discovery}");
        // The issuer is the origin the domain is reached at (with the configured public port).
        let issuer = discovery
            .split("\"issuer\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let host = issuer.trim_start_matches("https://").split(':').next();
        assert_eq!(host, Some(name), "{issuer}");
        leaves.push(leaf);
    }
    assert_ne!(leaves[0], leaves[1], "each domain has its own certificate");

    // Apps are used on one domain each: one registered on the test domain is served there and
    // refused on the live one, and one that follows the primary the other way round.
    let store = db.store().clone();
    let clients = vestibule_oidc::OidcClients::new(store.clone(), edge.secret.clone());
    // Both register the same redirect URI, and each one of its own (`only`).
    let app = |name: &str, domain: &str, only: &str| vestibule_oidc::ClientInput {
        name: name.into(),
        redirect_uris: vec!["https://events.example.org/cb".into(), format!("{only}/cb")],
        confidential: false,
        domain: domain.into(),
        ..vestibule_oidc::ClientInput::default()
    };
    let now = Timestamp::now();
    let (on_test, _) = clients
        .create(
            acme,
            app(
                "Events (test)",
                "sso-test.acme.test",
                "https://trial.example.org",
            ),
            now,
        )
        .await
        .unwrap();
    let (on_primary, _) = clients
        .create(acme, app("Events", "", "https://live.example.org"), now)
        .await
        .unwrap();
    let authorize = |client_id: &str| {
        format!(
            "/oidc/authorize?client_id={client_id}&redirect_uri=https%3A%2F%2Fevents.example.org\
             %2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8U\
             RWbuGJSstw-cM&code_challenge_method=S256"
        )
    };
    for (client, served, refused, refusal, only) in [
        (
            &on_test,
            "sso-test.acme.test",
            "sso.acme.test",
            "Events (test) is set up on sso-test.acme.test",
            "https://trial.example.org",
        ),
        (
            &on_primary,
            "sso.acme.test",
            "sso-test.acme.test",
            "Events is set up on this organisation",
            "https://live.example.org",
        ),
    ] {
        let path = authorize(&client.client_id);
        let (answer, _) = sandbox::https_get_path(sandbox.https, served, &path, &root)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
        let to_sign_in = answer
            .to_ascii_lowercase()
            .contains("location: /login?return_to=");
        assert!(to_sign_in, "{answer}");
        let (answer, _) = sandbox::https_get_path(sandbox.https, refused, &path, &root)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains(refusal), "{answer}");
        // The token endpoint does not know it there either (a made-up code: on its own domain
        // the client is known and the code is what is wrong).
        let form = format!(
            "grant_type=authorization_code&code=made-up&client_id={}&code_verifier={}\
             &redirect_uri=https%3A%2F%2Fevents.example.org%2Fcb",
            client.client_id, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        let token = |host: &'static str| {
            let form = form.clone();
            let root = root.clone();
            async move {
                sandbox::https_post_form(sandbox.https, host, "/oidc/token", &form, &root)
                    .await
                    .unwrap()
            }
        };
        let answer = token(served).await;
        assert!(answer.contains("\"invalid_grant\""), "{answer}");
        let answer = token(refused).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(answer.contains("\"invalid_client\""), "{answer}");
        // A browser application on an origin only this app registered may call the back
        // channel from the app's domain, not from the other.
        let own_origin = format!("Origin: {only}\r\n");
        let cors = |host: &'static str| {
            let (own_origin, root) = (own_origin.clone(), root.clone());
            async move {
                let path = "/oidc/userinfo";
                sandbox::https_get_with_headers(sandbox.https, host, path, &own_origin, &root)
                    .await
                    .unwrap()
                    .to_ascii_lowercase()
            }
        };
        let allowed = "access-control-allow-origin: https://";
        assert!(cors(served).await.contains(allowed));
        assert!(!cors(refused).await.contains(allowed));
    }
    let saml = vestibule_saml::SamlApps::new(store.clone());
    let sp = saml
        .create(
            acme,
            vestibule_saml::SamlAppInput {
                name: "Learning (test)".into(),
                entity_id: "https://learning.example.org/sp".into(),
                assertion_consumers: vestibule_saml::AssertionConsumer::parse_lines(
                    "https://learning.example.org/acs",
                )
                .unwrap(),
                domain: "sso-test.acme.test".into(),
                ..vestibule_saml::SamlAppInput::default()
            },
            now,
        )
        .await
        .unwrap();
    let idp_initiated = format!("/saml/idp/{}", sp.app_id);
    let (answer, _) =
        sandbox::https_get_path(sandbox.https, "sso-test.acme.test", &idp_initiated, &root)
            .await
            .unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let (answer, _) =
        sandbox::https_get_path(sandbox.https, "sso.acme.test", &idp_initiated, &root)
            .await
            .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("Learning (test) is set up on sso-test.acme.test"),
        "{answer}"
    );

    // The admin makes the test domain primary, then releases the live one: the test domain
    // goes on serving.
    provisioning
        .make_primary(acme, "sso-test.acme.test")
        .await
        .unwrap();
    let primary = provisioning.overview(acme).await.unwrap().unwrap();
    assert_eq!(primary.domain.as_str(), "sso-test.acme.test");
    let beta = tenant(db.store(), "beta").await;
    assert!(provisioning
        .make_primary(beta, "sso.acme.test")
        .await
        .is_err());
    provisioning
        .release(acme, Some("sso.acme.test"))
        .await
        .unwrap();
    assert!(https_get(sandbox.https, "sso.acme.test", &root)
        .await
        .is_err());
    let still = https_get(sandbox.https, "sso-test.acme.test", &root)
        .await
        .unwrap();
    assert!(still.starts_with("HTTP/1.1 200"), "{still}");
}
