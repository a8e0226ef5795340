//! Warnings by e-mail (`server/src/warnings.rs`): who is warned, when, and how often — against
//! the real outbox on both databases. The SMTP side is the outbox's own tests'.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vestibule_domain::{Email, Role, Seconds, TenantId, Timestamp};
use vestibule_mail::{Outbox, OutboxPolicy, Security, SmtpSender, SmtpSettings};
use vestibule_members::ImisTrouble;
use vestibule_secrets::SecretKey;
use vestibule_server::warnings::{imis_trouble, warn_of_saml_apps, IMIS_WINDOW};
use vestibule_storage::testing::for_each_backend;
use vestibule_storage::{NewStaff, SignInEventRecord, Store};

const NOW: Timestamp = Timestamp(1_800_000_000);
const DASHBOARD: &str = "https://dashboard.vestibule.test";

/// An outbox that queues (nothing here sends: the port is closed).
fn outbox(store: &Store) -> Outbox {
    let sender = SmtpSender::new(&SmtpSettings {
        host: "127.0.0.1".to_string(),
        port: 9,
        security: Security::None,
        credentials: None,
        from: Email::parse("sso@vestibule.test").unwrap(),
        extra_roots_pem: None,
        timeout: Duration::from_secs(1),
    })
    .unwrap();
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    Outbox::new(
        store.clone(),
        key,
        sender,
        "node-test".into(),
        OutboxPolicy::default(),
    )
}

async fn staff(store: &Store, email: &str, role: Role, password: bool) {
    store
        .create_staff(
            &NewStaff {
                email: Email::parse(email).unwrap(),
                role,
                password_hash: password.then(|| "hash".to_string()),
            },
            NOW,
        )
        .await
        .unwrap();
}

async fn failed_sign_in(store: &Store, tenant: TenantId, outcome: &str, at: Timestamp) {
    store
        .record_sign_in_event(
            tenant,
            &SignInEventRecord {
                at,
                source: "imis".into(),
                member: "jane".into(),
                application: String::new(),
                outcome: outcome.into(),
                detail: "iMIS answered 503 Service Unavailable".into(),
            },
        )
        .await
        .unwrap();
}

async fn warnings(store: &Store) -> Vec<(String, Option<TenantId>, String)> {
    mail_of_kind(store, "imis_warning").await
}

async fn mail_of_kind(store: &Store, kind: &str) -> Vec<(String, Option<TenantId>, String)> {
    store
        .recent_mail(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|mail| mail.kind == kind)
        .map(|mail| (mail.recipient, mail.tenant, mail.subject))
        .collect()
}

#[tokio::test]
async fn lasting_imis_failures_warn_each_admin_of_the_tenant_once_a_day() {
    for_each_backend(|db| async move {
        let store = db.store();
        let outbox = outbox(store);
        let acme = store
            .create_tenant(&"acme".parse().unwrap(), "Acme", NOW)
            .await
            .unwrap()
            .id;
        let beta = store
            .create_tenant(&"beta".parse().unwrap(), "Beta", NOW)
            .await
            .unwrap()
            .id;
        staff(store, "admin@acme.test", Role::TenantAdmin(acme), true).await;
        staff(store, "invited@acme.test", Role::TenantAdmin(acme), false).await;
        staff(store, "admin@beta.test", Role::TenantAdmin(beta), true).await;
        staff(store, "ops@vestibule.test", Role::Operator, true).await;
        let trouble = |at| ImisTrouble {
            tenant: acme,
            outcome: "iMIS unavailable",
            detail: "iMIS answered 503 Service Unavailable".into(),
            at,
        };

        // One failure of Acme's in the window (one older does not count), a member's wrong
        // password and two of another tenant's: a blip, not a pattern.
        failed_sign_in(
            store,
            acme,
            "iMIS unavailable",
            NOW - IMIS_WINDOW - Seconds(1),
        )
        .await;
        failed_sign_in(store, acme, "wrong password", NOW).await;
        failed_sign_in(store, acme, "iMIS unavailable", NOW).await;
        failed_sign_in(store, beta, "client secret refused", NOW).await;
        failed_sign_in(store, beta, "client secret refused", NOW).await;
        assert_eq!(
            imis_trouble(store, &outbox, DASHBOARD, &trouble(NOW), NOW)
                .await
                .unwrap(),
            0
        );
        assert!(warnings(store).await.is_empty());

        // A second, then a third within fifteen minutes: the admin who can act is warned,
        // nobody else.
        failed_sign_in(
            store,
            acme,
            "client secret refused",
            NOW - Seconds::minutes(14),
        )
        .await;
        assert_eq!(
            imis_trouble(store, &outbox, DASHBOARD, &trouble(NOW), NOW)
                .await
                .unwrap(),
            0
        );
        failed_sign_in(store, acme, "not set up", NOW).await;
        assert_eq!(
            imis_trouble(store, &outbox, DASHBOARD, &trouble(NOW), NOW)
                .await
                .unwrap(),
            1
        );
        let sent = warnings(store).await;
        assert_eq!(
            sent,
            [(
                "admin@acme.test".to_string(),
                Some(acme),
                "Members of acme cannot sign in with iMIS".to_string()
            )]
        );

        // While it lasts, not again the same day; the next day, again.
        let later = NOW + Seconds::hours(2);
        for _ in 0..3 {
            failed_sign_in(store, acme, "iMIS unavailable", later).await;
        }
        assert_eq!(
            imis_trouble(store, &outbox, DASHBOARD, &trouble(later), later)
                .await
                .unwrap(),
            0
        );
        let next_day = NOW + Seconds::hours(25);
        for _ in 0..3 {
            failed_sign_in(store, acme, "iMIS unavailable", next_day).await;
        }
        assert_eq!(
            imis_trouble(store, &outbox, DASHBOARD, &trouble(next_day), next_day)
                .await
                .unwrap(),
            1
        );
    })
    .await;
}

/// Issue 26 §4: what a SAML app needs (here a subscribed metadata address that stopped
/// answering) reaches its Cloud ID's admins by e-mail as well as the dashboard, once a day
/// while it lasts; other Cloud IDs' admins hear nothing.
#[tokio::test]
async fn saml_apps_that_need_their_admins_warn_them_once_a_day() {
    for_each_backend(|db| async move {
        let store = db.store();
        let outbox = outbox(store);
        let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let saml = vestibule_saml::SamlIdp::new(store.clone(), key, Default::default());
        let mut tenants = Vec::new();
        for (cloud_id, admin) in [("acme", "admin@acme.test"), ("beta", "admin@beta.test")] {
            let tenant = store
                .create_tenant(&cloud_id.parse().unwrap(), cloud_id, NOW)
                .await
                .unwrap()
                .id;
            staff(store, admin, Role::TenantAdmin(tenant), true).await;
            let input = vestibule_saml::SamlAppInput {
                name: "Events".into(),
                entity_id: "https://events.example.org/sp".into(),
                assertion_consumers: vestibule_saml::AssertionConsumer::parse_lines(
                    "https://events.example.org/acs",
                )
                .unwrap(),
                ..Default::default()
            };
            let app = saml.apps.create(tenant, input, NOW).await.unwrap();
            tenants.push((tenant, app.app_id));
        }
        let sweep = |at| warn_of_saml_apps(store, &saml, &outbox, DASHBOARD, at);
        assert_eq!(sweep(NOW).await.unwrap(), 0, "nothing needs anyone yet");

        let (acme, events) = &tenants[0];
        let url = "https://events.example.org/metadata";
        saml.metadata
            .subscribe(*acme, events, url, false, NOW)
            .await
            .unwrap();
        let unanswered = Err("connection refused".to_string());
        let nothing = vestibule_saml::ApplyChanges::Nothing;
        saml.metadata
            .check(*acme, events, url, unanswered, nothing, NOW)
            .await
            .unwrap();
        assert_eq!(sweep(NOW).await.unwrap(), 1);
        let sent = mail_of_kind(store, "saml_app_warning").await;
        assert_eq!(
            sent,
            [(
                "admin@acme.test".to_string(),
                Some(*acme),
                "SAML apps of acme need you before sign-ins break".to_string()
            )]
        );

        // While it lasts, once a day.
        assert_eq!(sweep(NOW + Seconds::hours(2)).await.unwrap(), 0);
        assert_eq!(sweep(NOW + Seconds::hours(25)).await.unwrap(), 1);
    })
    .await;
}

/// Two nodes that decide at the same moment to send the same warning (each saw none sent yet)
/// queue it once: the outbox keys it by its period. Plain messages are not limited so.
#[tokio::test]
async fn a_warning_two_nodes_send_at_once_is_queued_once() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&"acme".parse().unwrap(), "Acme", NOW)
            .await
            .unwrap()
            .id;
        let (node_a, node_b) = (outbox(store), outbox(store));
        let warning = vestibule_mail::Mail::saml_apps_need_attention(
            Email::parse("admin@acme.test").unwrap(),
            acme,
            "acme",
            &[(
                "Events".into(),
                "Reading its metadata failed: timeout".into(),
            )],
            DASHBOARD,
        );
        let day = Seconds::hours(24);
        let (a, b) = tokio::join!(
            node_a.enqueue_once(&warning, day, NOW),
            node_b.enqueue_once(&warning, day, NOW)
        );
        let queued = [a.unwrap(), b.unwrap()];
        assert_eq!(queued.iter().flatten().count(), 1, "{queued:?}");
        assert!(node_b
            .enqueue_once(&warning, day, NOW + Seconds::hours(1))
            .await
            .unwrap()
            .is_none());
        // The next period is another one.
        let tomorrow = NOW + day;
        assert!(node_b
            .enqueue_once(&warning, day, tomorrow)
            .await
            .unwrap()
            .is_some());
        // Another recipient, or a message without a period, is its own.
        let other = vestibule_mail::Mail {
            to: Email::parse("other@acme.test").unwrap(),
            ..warning.clone()
        };
        assert!(node_a
            .enqueue_once(&other, day, NOW)
            .await
            .unwrap()
            .is_some());
        assert!(node_a.enqueue(&warning, NOW).await.unwrap().is_some());
        assert_eq!(mail_of_kind(store, "saml_app_warning").await.len(), 4);
    })
    .await;
}
