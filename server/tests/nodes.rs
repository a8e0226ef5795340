//! Two `vestibule serve` processes on one PostgreSQL database, as a load balancer would run
//! them: a member's requests land on either node and nothing is lost between them.
//!
//! The nodes listen on the same port of two loopback addresses (127.0.0.1 and 127.0.0.2), so
//! the tenant's test domain has one origin, as behind a load balancer; each request below
//! names the node it goes to. Runs when the test command's PostgreSQL is there (required in CI).
//! One process on SQLite shows the limits every listener puts on a request's head.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/events_app.rs"]
mod events_app;
#[path = "support/form.rs"]
mod form_encoding;
#[path = "support/node.rs"]
mod node;
#[path = "support/sandbox.rs"]
mod sandbox;
mod support;
use node::*;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use vestibule_domain::Timestamp;
use vestibule_storage::testing::postgres;

/// Where node A and node B listen: the same ports on two loopback addresses.
const NODE_A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const NODE_B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[tokio::test]
async fn two_nodes_share_sessions_codes_and_settings_through_postgres() {
    let Some(db) = postgres().await else {
        return;
    };
    let tenant = directory_tenant(&db, &["jane".to_string()]).await;
    let (engines, acme, secret, basic) =
        (&tenant.engines, tenant.id, &tenant.secret, &tenant.basic);

    let port = free_port(NODE_A);
    let a = Node::start(db.url(), secret, NODE_A, port);
    let b = Node::start(db.url(), secret, NODE_B, port);
    a.wait_ready().await;
    b.wait_ready().await;

    // The application sends the member to node A, which asks them to sign in.
    let authorize = authorize_path(&tenant.client_id, "st-1");
    let asked = a.send("GET", &authorize, &[], "").await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let login = asked.location();
    assert!(login.starts_with("/login?return_to="), "{login}");

    // The sign-in form is posted to node B: the session it opens is in the database.
    let signed_in = sign_in_at(&b, "jane", &authorize).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = session_cookie(&signed_in);

    // Back at node A with the cookie B set: A knows the member and issues the code.
    let answered = a.send("GET", &authorize, &[("Cookie", &cookie)], "").await;
    assert_eq!(answered.status, 303, "{}", answered.body);
    let callback = answered.location();
    assert!(callback.starts_with(REDIRECT), "{callback}");
    assert_eq!(query_value(&callback, "state").as_deref(), Some("st-1"));
    let code = query_value(&callback, "code").unwrap();

    // The application redeems the code at node B, once: a second try at A is refused.
    let tokens = redeem(&b, &code, basic).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let tokens: serde_json::Value = serde_json::from_str(&tokens.body).unwrap();
    assert!(tokens["id_token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    // The access token B issued works at A's userinfo.
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let userinfo = a
        .send("GET", "/oidc/userinfo", &[("Authorization", &bearer)], "")
        .await;
    assert_eq!(userinfo.status, 200, "{}", userinfo.body);
    assert!(
        userinfo.body.contains("jane@acme.test"),
        "{}",
        userinfo.body
    );

    let replay = redeem(&a, &code, basic).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("invalid_grant"), "{}", replay.body);

    // Replaying a code revokes what it gave (RFC 6749 §4.1.2), on every node.
    let revoked = b
        .send("GET", "/oidc/userinfo", &[("Authorization", &bearer)], "")
        .await;
    assert_eq!(revoked.status, 401, "{}", revoked.body);

    // A Settings change is on both nodes' pages at once (within the promised seconds).
    engines
        .settings
        .save(acme, directory_settings("Acme Members"), Timestamp::now())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    for node in [&a, &b] {
        loop {
            let page = node.send("GET", "/login", &[], "").await;
            if page.body.contains("Acme Members") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} still shows the old brand",
                node.ip
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Each node's metrics show its own part: B the sign-in and the token, A the code.
    let (metrics_a, metrics_b) = (a.metrics().await, b.metrics().await);
    assert!(
        metrics_b.contains(
            "vestibule_member_sign_ins_total{source=\"directory\",outcome=\"signed in\"} 1"
        ),
        "{metrics_b}"
    );
    assert!(
        !metrics_a.contains("vestibule_member_sign_ins_total{"),
        "{metrics_a}"
    );
    assert!(
        metrics_b.contains("route=\"/oidc/token\",method=\"POST\",status=\"200\"} 1"),
        "{metrics_b}"
    );
    assert!(
        metrics_a.contains("route=\"/oidc/authorize\",method=\"GET\",status=\"303\"} 2"),
        "{metrics_a}"
    );
}

/// A request head over `address` with `extra` header lines (each ending in CRLF); its status.
async fn status_with_headers(address: SocketAddr, host: &str, extra: &str) -> u16 {
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n{extra}");
    exchange(address, &head, "", "").await.unwrap().status
}

/// Header lines that together exceed the limit on a request head, and more header fields than
/// the limit on their number.
fn oversized_heads() -> [String; 2] {
    let long = format!("X-Padding: {}\r\n", "a".repeat(40 * 1024));
    let many = (0..120).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    [long, many]
}

#[tokio::test]
async fn every_listener_refuses_request_heads_over_the_limits_with_431() {
    let folder = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/v.db", folder.path().display());
    let secret = vestibule_secrets::SecretKey::generate_base64();
    let ip: IpAddr = NODE_A;
    let node = Node::start(&database, &secret, ip, free_port(ip));
    node.wait_ready().await;
    let edge = SocketAddr::new(ip, node.edge_port);
    let listeners = [
        (node.dashboard, node.dashboard.to_string()),
        (node.operator, node.operator.to_string()),
        (edge, format!("{DOMAIN}:{}", node.edge_port)),
    ];
    for (address, host) in &listeners {
        let fine = status_with_headers(*address, host, "X-Small: 1\r\n").await;
        assert!(fine != 431 && fine != 0, "{address}: {fine}");
        for extra in oversized_heads() {
            let head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n{extra}");
            let reply = exchange(*address, &head, "", "").await.unwrap();
            assert_eq!(reply.status, 431, "{address}");
            // Not hyper's empty answer: a sentence that says what to do.
            assert!(
                reply.body.contains("too large"),
                "{address}: {}",
                reply.body
            );
        }
    }
}

/// Members at once in the load test, and members in all.
const CONCURRENT_MEMBERS: usize = 64;
const MEMBERS: usize = 256;

/// One member's whole sign-in, spread over both nodes: the application's request at one, the
/// hosted sign-in at the other, the code back at the first, the token request at the second,
/// userinfo at the first. Returns the `sub` userinfo gave, or what went wrong.
async fn member_signs_in(
    nodes: [&Node; 2],
    client_id: &str,
    basic: &str,
    username: &str,
) -> Result<String, String> {
    let [first, second] = nodes;
    let authorize = authorize_path(client_id, username);
    let asked = first.send("GET", &authorize, &[], "").await;
    if asked.status != 303 || !asked.location().starts_with("/login?") {
        return Err(format!("authorize: {} {}", asked.status, asked.body));
    }
    let signed_in = sign_in_at(second, username, &authorize).await;
    if signed_in.status != 303 {
        return Err(format!("sign-in: {} {}", signed_in.status, signed_in.body));
    }
    let cookie = session_cookie(&signed_in);
    let answered = first
        .send("GET", &authorize, &[("Cookie", &cookie)], "")
        .await;
    let callback = answered.location();
    if query_value(&callback, "state").as_deref() != Some(username) {
        return Err(format!("callback: {} {callback}", answered.status));
    }
    let code = query_value(&callback, "code").ok_or(format!("no code: {callback}"))?;
    let tokens = redeem(second, &code, basic).await;
    if tokens.status != 200 {
        return Err(format!("token: {} {}", tokens.status, tokens.body));
    }
    let tokens: serde_json::Value =
        serde_json::from_str(&tokens.body).map_err(|e| e.to_string())?;
    let bearer = format!(
        "Bearer {}",
        tokens["access_token"].as_str().unwrap_or_default()
    );
    let userinfo = first
        .send("GET", "/oidc/userinfo", &[("Authorization", &bearer)], "")
        .await;
    if userinfo.status != 200 {
        return Err(format!("userinfo: {} {}", userinfo.status, userinfo.body));
    }
    let claims: serde_json::Value =
        serde_json::from_str(&userinfo.body).map_err(|e| e.to_string())?;
    Ok(claims["sub"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_bounded_load_of_sign_ins_and_token_requests_across_both_nodes_loses_nothing() {
    let Some(db) = postgres().await else {
        return;
    };
    let usernames: Vec<String> = (0..MEMBERS).map(|i| format!("member{i:03}")).collect();
    let tenant = directory_tenant(&db, &usernames).await;
    let subject_of: std::collections::HashMap<String, String> = tenant
        .engines
        .members
        .directory(tenant.id)
        .await
        .unwrap()
        .into_iter()
        .map(|member| (member.username, member.subject))
        .collect();
    let port = free_port(NODE_A);
    let a = Node::start(db.url(), &tenant.secret, NODE_A, port);
    let b = Node::start(db.url(), &tenant.secret, NODE_B, port);
    a.wait_ready().await;
    b.wait_ready().await;
    let nodes = std::sync::Arc::new((a, b));

    // Every member signs in at once, at most CONCURRENT_MEMBERS at a time; half start at A.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MEMBERS));
    let mut running = tokio::task::JoinSet::new();
    for (i, username) in usernames.iter().cloned().enumerate() {
        let (nodes, gate) = (nodes.clone(), gate.clone());
        let (client_id, basic) = (tenant.client_id.clone(), tenant.basic.clone());
        running.spawn(async move {
            let _turn = gate.acquire().await.unwrap();
            let (a, b) = (&nodes.0, &nodes.1);
            let order = if i % 2 == 0 { [a, b] } else { [b, a] };
            let outcome = member_signs_in(order, &client_id, &basic, &username).await;
            (username, outcome)
        });
    }
    let mut subjects = Vec::new();
    while let Some(joined) = running.join_next().await {
        let (username, outcome) = joined.unwrap();
        match outcome {
            // Each member got their own identity, not another's.
            Ok(sub) => assert_eq!(sub, subject_of[&username]),
            Err(error) => panic!("{username}: {error}"),
        }
        subjects.push(username);
    }
    assert_eq!(subjects.len(), MEMBERS);

    // Nothing lost: every sign-in is in the audit log once, and the nodes' counts add up.
    let filter = vestibule_audit::filter("sign_in.succeeded", "");
    let events = tenant
        .engines
        .audit
        .search(tenant.id, &filter)
        .await
        .unwrap();
    let mut who: Vec<String> = events.into_iter().map(|e| e.actor).collect();
    who.sort();
    assert_eq!(who, usernames);
    let (metrics_a, metrics_b) = (nodes.0.metrics().await, nodes.1.metrics().await);
    let sum = |name: &str| counter(&metrics_a, name) + counter(&metrics_b, name);
    let total = MEMBERS as f64;
    assert_eq!(
        sum("vestibule_member_sign_ins_total{source=\"directory\",outcome=\"signed in\"}"),
        total
    );
    let tokens = "vestibule_http_requests_total{listener=\"edge\",route=\"/oidc/token\",method=\"POST\",status=\"200\"}";
    assert_eq!(sum(tokens), total, "{metrics_a}\n{metrics_b}");
}

/// The settings both nodes provision with: the sandbox's CA and DNS, and `lease_seconds` on
/// each job. The timed certificate reload is an hour away: nodes hear of each other's
/// certificates through PostgreSQL's notifications.
fn provisioning_env(acme: &sandbox::AcmeSandbox, lease_seconds: &str) -> Vec<(String, String)> {
    let mut env = acme.env.clone();
    env.extend(
        [
            ("VESTIBULE_CNAME_TARGET", "edge.vestibule.test"),
            ("VESTIBULE_ACME_CAA_IDENTITIES", ""),
            ("VESTIBULE_CERTIFICATE_RELOAD_SECONDS", "3600"),
            ("VESTIBULE_PROVISIONING_LEASE_SECONDS", lease_seconds),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env
}

/// A tenant admin presses Start Provisioning (on a third node: the engines here).
/// Creates the tenant "acme": its id and the name its CNAME record must point at.
async fn acme_tenant(
    db: &vestibule_storage::testing::TestDatabase,
) -> (vestibule_domain::TenantId, String) {
    let tenant = db
        .store()
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    // The nodes' edge name (VESTIBULE_CNAME_TARGET), not this process's configuration's.
    let target = vestibule_provisioning::tenant_cname_target(tenant, "acme", "edge.vestibule.test");
    (tenant, target)
}

async fn start_provisioning(
    engines: &vestibule_server::Engines,
    tenant: vestibule_domain::TenantId,
) {
    engines
        .provisioning
        .start(tenant, "sso.acme.test", Timestamp::now())
        .await
        .unwrap();
}

async fn wait_online(engines: &vestibule_server::Engines, tenant: vestibule_domain::TenantId) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let overview = engines
            .provisioning
            .overview(tenant)
            .await
            .unwrap()
            .unwrap();
        if overview.record.state == vestibule_domain::DomainState::Online {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not online: {:?} {}",
            overview.record.state,
            overview.record.message
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The node serves the certificate Pebble issued for the domain, by SNI, within seconds.
async fn wait_served(node: &Node, root: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sandbox::https_exchange(node.https, "sso.acme.test", root).await {
            Ok((response, _)) => {
                assert!(response.starts_with("HTTP/1.1 "), "{response}");
                return;
            }
            Err(error) => assert!(Instant::now() < deadline, "node {}: {error}", node.ip),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A counter's value in a node's exposition (0 when it never counted).
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

const ORDERS: &str = "vestibule_certificate_orders_total";

#[tokio::test]
async fn two_nodes_racing_for_a_domain_order_one_certificate_and_both_serve_it() {
    let Some(db) = postgres().await else {
        return;
    };
    // Pebble validates HTTP-01 at the shared edge port; the DNS server sends it to 127.0.0.1.
    let port = free_port(NODE_A);
    let Some(acme) = sandbox::AcmeSandbox::start(port, None) else {
        return;
    };
    let config = support::config(&[]);
    let secret = config.secret_key.clone().unwrap();
    let engines = support::engines(&config, db.store().clone());
    let (tenant, target) = acme_tenant(&db).await;
    acme.point_cname("sso.acme.test", &target);
    let env = provisioning_env(&acme, "180");
    // The job is queued before either node runs, so both workers find it due at start.
    start_provisioning(&engines, tenant).await;
    let a = Node::start_with(db.url(), &secret, NODE_A, port, &env);
    let b = Node::start_with(db.url(), &secret, NODE_B, port, &env);
    a.wait_ready().await;
    b.wait_ready().await;
    wait_online(&engines, tenant).await;

    let root = acme.issuing_root();
    for node in [&a, &b] {
        wait_served(node, &root).await;
    }
    // One certificate, from one order placed by one of the nodes; both nodes' figures show it.
    assert_eq!(db.store().certificate_expiries().await.unwrap().len(), 1);
    let (metrics_a, metrics_b) = (a.metrics().await, b.metrics().await);
    assert_eq!(
        counter(&metrics_a, ORDERS) + counter(&metrics_b, ORDERS),
        1.0,
        "{metrics_a}\n{metrics_b}"
    );
    for metrics in [&metrics_a, &metrics_b] {
        assert!(
            metrics.contains("vestibule_certificate_days_to_expiry{domain=\"sso.acme.test\"}"),
            "{metrics}"
        );
    }
    // The HTTPS edge keeps the same limits on a request's head as the other listeners.
    for extra in oversized_heads() {
        let (response, _) = sandbox::https_request(a.https, "sso.acme.test", &root, &extra)
            .await
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    }
}

#[tokio::test]
async fn a_node_killed_in_the_middle_of_provisioning_leaves_the_job_to_the_other() {
    let Some(db) = postgres().await else {
        return;
    };
    let port = free_port(NODE_A);
    let Some(acme) = sandbox::AcmeSandbox::start(port, None) else {
        return;
    };
    // Pebble's validation first goes to 127.0.0.3, where nothing answers: node A's order is
    // held there, in the middle, until A is killed.
    let stall = std::net::SocketAddr::new(Ipv4Addr::new(127, 0, 0, 3).into(), port);
    let stall = tokio::net::TcpListener::bind(stall).await.unwrap();
    let config = support::config(&[]);
    let secret = config.secret_key.clone().unwrap();
    let engines = support::engines(&config, db.store().clone());
    let (tenant, target) = acme_tenant(&db).await;
    let target_host = format!("{target}.");
    let point_at = |address: &str| {
        for host in ["sso.acme.test.", target_host.as_str()] {
            acme.dns("clear-a", serde_json::json!({ "host": host }));
            acme.dns(
                "add-a",
                serde_json::json!({ "host": host, "addresses": [address] }),
            );
        }
    };
    acme.point_cname("sso.acme.test", &target);
    point_at("127.0.0.3");
    // A short lease, so the takeover comes within seconds of the death.
    let env = provisioning_env(&acme, "3");
    let mut a = Node::start_with(db.url(), &secret, NODE_A, port, &env);
    a.wait_ready().await;
    start_provisioning(&engines, tenant).await;

    // Pebble knocks: A has ordered and asked for validation, and holds the job's lease.
    let (_held, _) = tokio::time::timeout(Duration::from_secs(60), stall.accept())
        .await
        .expect("Pebble never came to validate A's order")
        .unwrap();
    let midway = engines
        .provisioning
        .overview(tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        midway.record.state,
        vestibule_domain::DomainState::Provisioning
    );
    assert_eq!(counter(&a.metrics().await, ORDERS), 1.0);

    let b = Node::start_with(db.url(), &secret, NODE_B, port, &env);
    b.wait_ready().await;
    // A dies without a word; validations now reach B.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    point_at("127.0.0.2");

    // B takes the job over once A's lease runs out, orders again and finishes.
    wait_online(&engines, tenant).await;
    wait_served(&b, &acme.issuing_root()).await;
    assert_eq!(db.store().certificate_expiries().await.unwrap().len(), 1);
    assert_eq!(counter(&b.metrics().await, ORDERS), 1.0);
}
