//! The operator listener: what `/metrics` counts for the edge's requests (by route template,
//! never by path), the certificate and job figures read from the database at each scrape, and
//! `/healthz` and `/readyz`, which turns 503 when the database stops answering.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use vestibule_domain::{Seconds, Timestamp};
use vestibule_members::{NewDirectoryMember, SignInAttempt};
use vestibule_server::operator::{operator_router, Listener, Metrics};
use vestibule_server::tenant_edge;
use vestibule_settings::SettingsInput;
use vestibule_storage::testing::sqlite;
use vestibule_storage::CertificateRecord;

async fn get(router: &Router, host: &str, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_read_certificates_and_jobs_from_the_database() {
    let db = sqlite().await;
    let store = db.store().clone();
    let now = Timestamp::now();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", now)
        .await
        .unwrap();
    let config = support::config(&["sso.acme.localhost=acme"]);
    let engines = support::engines(&config, store.clone());
    let metrics = Metrics::default();
    let edge = metrics.track(
        Listener::Edge,
        tenant_edge::plain_http_router(
            engines.provisioning.clone(),
            8443,
            engines.member_site(&config).unwrap(),
        ),
    );
    assert!(engines.members.observe_sign_ins(metrics.sign_in_observer()));
    let operator = operator_router(metrics, store.clone());

    // Members of the directory sign in: once right, twice wrong.
    let settings = SettingsInput {
        identity_source: "directory".into(),
        brand_name: "Acme".into(),
        ..SettingsInput::default()
    };
    engines.settings.save(acme.id, settings, now).await.unwrap();
    let jane = NewDirectoryMember {
        username: "jane".into(),
        email: "jane@acme.test".into(),
        given_name: "Jane".into(),
        family_name: "Member".into(),
        password: "jane-member-password".into(),
    };
    engines
        .members
        .add_directory_member(acme.id, jane, now)
        .await
        .unwrap();
    for password in ["jane-member-password", "wrong", "also wrong"] {
        let _ = engines
            .members
            .sign_in_with_password(
                acme.id,
                "jane",
                password,
                SignInAttempt::by("192.0.2.1"),
                now,
            )
            .await;
    }

    // Two members follow IdP-initiated links to apps that do not exist: one series, labelled
    // with the route as declared.
    for app in ["first-app", "second-app"] {
        let (status, _) = get(
            &edge,
            "sso.acme.localhost:8080",
            &format!("/saml/idp/{app}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    get(&edge, "sso.acme.localhost:8080", "/saml/metadata").await;

    // A domain with its certificate, expiring in 30 days, and one renewal job due.
    let domain = store
        .claim_domain(acme.id, "sso.acme.org", now)
        .await
        .unwrap();
    store
        .put_certificate(&CertificateRecord {
            domain_id: domain.id,
            domain: "sso.acme.org".into(),
            chain_pem: "-----BEGIN CERTIFICATE-----".into(),
            key_sealed: "sealed".into(),
            not_before: now,
            not_after: now + Seconds(30 * 86_400),
            issued_at: now,
        })
        .await
        .unwrap();

    // A SAML app whose subscribed metadata address did not answer at the last read.
    let input = vestibule_saml::SamlAppInput {
        name: "Events".into(),
        entity_id: "https://events.example.org/sp".into(),
        assertion_consumers: vec![vestibule_saml::AssertionConsumer {
            url: "https://events.example.org/acs".into(),
            index: 0,
            is_default: true,
        }],
        ..Default::default()
    };
    let events = engines.saml.apps.create(acme.id, input, now).await.unwrap();
    let metadata = "https://events.example.org/metadata";
    let subscriptions = &engines.saml.metadata;
    subscriptions
        .subscribe(acme.id, &events.app_id, metadata, false, now)
        .await
        .unwrap();
    let unanswered = Err("connection refused".to_string());
    let nothing = vestibule_saml::ApplyChanges::Nothing;
    subscriptions
        .check(acme.id, &events.app_id, metadata, unanswered, nothing, now)
        .await
        .unwrap();

    let (status, text) = get(&operator, "127.0.0.1:9464", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let failing = format!(
        "vestibule_saml_metadata_read_failing{{cloud_id=\"acme\",app=\"{}\"}} 1",
        events.app_id
    );
    assert!(text.contains(&failing), "{text}");
    assert!(
        text.contains(
            "vestibule_http_requests_total{listener=\"edge\",route=\"/saml/idp/{app_id}\",method=\"GET\",status=\"400\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "vestibule_http_requests_total{listener=\"edge\",route=\"/saml/metadata\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        !text.contains("first-app"),
        "paths never become labels: {text}"
    );
    assert!(
        text.contains(
            "vestibule_http_request_duration_seconds_count{listener=\"edge\",route=\"/saml/idp/{app_id}\",method=\"GET\"} 2"
        ),
        "{text}"
    );
    let days = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("vestibule_certificate_days_to_expiry{domain=\"sso.acme.org\"} ")
        })
        .unwrap_or_else(|| panic!("certificate gauge in {text}"));
    let days: f64 = days.parse().unwrap();
    assert!((29.9..=30.0).contains(&days), "{days}");
    assert!(
        text.contains("vestibule_provisioning_jobs{state=\"waiting\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "vestibule_member_sign_ins_total{source=\"directory\",outcome=\"signed in\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "vestibule_member_sign_ins_total{source=\"directory\",outcome=\"wrong password\"} 2"
        ),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));

    // Released domains leave the figures at the next scrape.
    store.release_domain(acme.id, None).await.unwrap();
    let (_, text) = get(&operator, "127.0.0.1:9464", "/metrics").await;
    assert!(!text.contains("sso.acme.org"), "{text}");
    assert!(
        text.contains("vestibule_provisioning_jobs{state=\"waiting\"} 0"),
        "{text}"
    );

    assert_eq!(
        get(&operator, "127.0.0.1:9464", "/healthz").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&operator, "127.0.0.1:9464", "/readyz").await.0,
        StatusCode::OK
    );
    // The database goes away: the node is alive but not ready, and says so.
    store.close().await;
    assert_eq!(
        get(&operator, "127.0.0.1:9464", "/healthz").await.0,
        StatusCode::OK
    );
    let (status, body) = get(&operator, "127.0.0.1:9464", "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database"), "{body}");
    assert_eq!(
        get(&operator, "127.0.0.1:9464", "/metrics").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_plausible_one_from_the_load_balancer_is_kept() {
    let metrics = Metrics::default();
    let router = metrics.track(
        Listener::Dashboard,
        Router::new().route("/", axum::routing::get(|| async { "hello" })),
    );
    let id_of = |incoming: Option<&str>| {
        let router = router.clone();
        let incoming = incoming.map(str::to_string);
        async move {
            let mut request = Request::get("/");
            if let Some(id) = incoming {
                request = request.header("x-request-id", id);
            }
            let response = router
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let (first, second) = (id_of(None).await, id_of(None).await);
    assert_eq!(first.len(), 16);
    assert_ne!(first, second);
    assert_eq!(id_of(Some("lb-7f3a.1")).await, "lb-7f3a.1");
    // Anything that could forge a log line or grow without bound is replaced.
    for hostile in ["a b", "x\"}{", &"x".repeat(65)] {
        let id = id_of(Some(hostile)).await;
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 16);
    }
}
