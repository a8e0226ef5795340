//! Settings saved through the engine and checked against the iMIS emulator over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use imis_emulator::{Behaviour, Directory, Emulator, FailMode};
use vestibule_domain::{TenantId, Timestamp};
use vestibule_imis::Network;
use vestibule_secrets::SecretKey;
use vestibule_settings::{SettingsError, SettingsInput, TenantSettings};
use vestibule_storage::testing::sqlite;

const NOW: Timestamp = Timestamp(1_800_000_000);

async fn emulator_base() -> String {
    Emulator::new(Directory::demo(), Behaviour::default())
        .serve_on_loopback()
        .await
        .unwrap()
}

fn demo_input(base: &str) -> SettingsInput {
    SettingsInput {
        imis_base_url: base.to_string(),
        oidc_client_id: "vestibule-oidc".into(),
        oidc_client_secret: "demo-oidc-secret".into(),
        oidc_sso_page: "/sso/oidc".into(),
        saml_client_id: "vestibule-saml".into(),
        saml_client_secret: "demo-saml-secret".into(),
        saml_sso_page: format!("{base}/sso/saml"),
        api_username: "vestibule-api".into(),
        api_password: "demo-api-password".into(),
        profile_iqa: "$/Vestibule/MemberProfile".into(),
        brand_name: "Acme Association".into(),
        brand_colour: "#1f5fbf".into(),
        sign_in_text: "Members sign in with their Acme account.".into(),
        support_contact: "help@acme.test".into(),
        identity_source: "imis".into(),
        imis_sign_out_url: String::new(),
    }
}

async fn tenant(db: &vestibule_storage::testing::TestDatabase, cloud_id: &str) -> TenantId {
    db.store()
        .create_tenant(&cloud_id.parse().unwrap(), cloud_id, NOW)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn secrets_are_write_only_sealed_and_kept_when_left_empty() {
    let db = sqlite().await;
    let acme = tenant(&db, "acme").await;
    let beta = tenant(&db, "beta").await;
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let settings = TenantSettings::new(
        db.store().clone(),
        key,
        Duration::from_secs(5),
        Network::Development,
    );

    let saved = settings
        .save(acme, demo_input("https://members.acme.test"), NOW)
        .await
        .unwrap();
    assert!(saved.oidc.has_secret && saved.saml.has_secret && saved.has_api_password);
    assert!(!format!("{saved:?}").contains("demo-oidc-secret"));
    let stored = db.store().tenant_settings(acme).await.unwrap().unwrap();
    for secret in ["demo-oidc-secret", "demo-saml-secret", "demo-api-password"] {
        assert!(
            !format!("{stored:?}").contains(secret),
            "{secret} stored in the clear"
        );
    }
    assert_eq!(settings.get(beta).await.unwrap(), Default::default());

    // Saving again with the secret fields empty keeps them.
    let mut again = demo_input("https://members.acme.test");
    again.oidc_client_secret.clear();
    again.api_password.clear();
    again.sign_in_text = "Changed".into();
    settings.save(acme, again, NOW).await.unwrap();
    let connection = settings.connection(acme).await.unwrap().unwrap();
    assert_eq!(connection.oidc.unwrap().client_secret, "demo-oidc-secret");
    assert_eq!(connection.api_password, "demo-api-password");
    assert_eq!(
        connection.oidc_sso_page,
        "https://members.acme.test/sso/oidc"
    );

    // Bad input changes nothing and says what is wrong.
    let mut bad = demo_input("http://members.acme.test");
    bad.brand_colour = "blue".into();
    let error = settings.save(acme, bad, NOW).await.unwrap_err();
    let SettingsError::Invalid(fields) = error else {
        panic!("expected a validation error");
    };
    // The address, the SAML page on that address, and the colour.
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert_eq!(settings.get(acme).await.unwrap().sign_in_text, "Changed");
}

/// Review finding: change the address to your own host, leave the secrets empty, press Test
/// connection, and the stored secrets were posted there. Secrets belong to the site they were
/// entered for: moving the address to another origin clears them.
#[tokio::test]
async fn secrets_do_not_follow_the_address_to_another_site() {
    let db = sqlite().await;
    let acme = tenant(&db, "acme").await;
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let settings = TenantSettings::new(
        db.store().clone(),
        key,
        Duration::from_secs(5),
        Network::Development,
    );
    settings
        .save(acme, demo_input("https://members.acme.test"), NOW)
        .await
        .unwrap();

    // The same site written differently (default port, case, a path) keeps them.
    let mut same = demo_input("https://Members.Acme.test:443");
    same.oidc_client_secret.clear();
    same.saml_client_secret.clear();
    same.api_password.clear();
    same.saml_sso_page = "https://members.acme.test/sso/saml".into();
    let view = settings.save(acme, same, NOW).await.unwrap();
    assert!(view.oidc.has_secret && view.saml.has_secret && view.has_api_password);

    // Another site: every secret left empty is gone, none can be sent there.
    let mut moved = demo_input("https://attacker.example");
    moved.oidc_client_secret.clear();
    moved.saml_client_secret.clear();
    moved.api_password.clear();
    let view = settings.save(acme, moved, NOW).await.unwrap();
    assert!(!view.oidc.has_secret && !view.saml.has_secret && !view.has_api_password);
    let connection = settings.connection(acme).await.unwrap().unwrap();
    assert!(connection.oidc.is_none() && connection.saml.is_none());
    assert!(connection.api_password.is_empty());

    // Typed again with the new address, they are kept.
    let view = settings
        .save(acme, demo_input("https://attacker.example"), NOW)
        .await
        .unwrap();
    assert!(view.oidc.has_secret && view.has_api_password);
}

#[tokio::test]
async fn test_connection_reports_each_step() {
    let base = emulator_base().await;
    let db = sqlite().await;
    let acme = tenant(&db, "acme").await;
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let settings = TenantSettings::new(
        db.store().clone(),
        key,
        Duration::from_secs(5),
        Network::Development,
    );

    let nothing = settings.test_connection(acme, NOW).await.unwrap();
    assert_eq!(nothing.len(), 1);
    assert!(!nothing[0].ok);

    settings.save(acme, demo_input(&base), NOW).await.unwrap();
    let checked = |db: &vestibule_storage::testing::TestDatabase| {
        let store = db.store().clone();
        async move { store.tenant_progress(acme).await.unwrap().imis_check }
    };
    assert_eq!(checked(&db).await, None, "saved, not yet tested");
    let steps = settings.test_connection(acme, NOW).await.unwrap();
    let failed: Vec<_> = steps.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(steps.len(), 7, "{steps:#?}");
    assert_eq!(
        checked(&db).await,
        Some((NOW, true)),
        "the pass is written down"
    );
    // Each step is reported as it is known, in the order of the result.
    let reported = std::sync::Mutex::new(Vec::new());
    let report = |step: &vestibule_settings::CheckStep| {
        reported.lock().unwrap().push(step.step.clone());
    };
    let slot = settings.reserve_check(acme).unwrap();
    // One check at a time per tenant: a second press while it runs is refused, in words.
    let refused = settings.test_connection(acme, NOW).await.unwrap_err();
    assert!(matches!(refused, SettingsError::CheckRunning), "{refused}");
    assert!(refused.to_string().contains("still running"));
    let again = settings
        .test_connection_reporting(slot, NOW, &report)
        .await
        .unwrap();
    // The slot went with the check: the next one may start.
    drop(settings.reserve_check(acme).unwrap());
    let names: Vec<String> = again.iter().map(|step| step.step.clone()).collect();
    assert_eq!(names.len(), 7);
    assert_eq!(*reported.lock().unwrap(), names);
    // Branding is not the connection: the test still stands.
    let mut rebranded = demo_input(&base);
    rebranded.brand_colour = "#aa3300".into();
    (
        rebranded.oidc_client_secret,
        rebranded.saml_client_secret,
        rebranded.api_password,
    ) = (String::new(), String::new(), String::new());
    settings.save(acme, rebranded, NOW).await.unwrap();
    assert_eq!(checked(&db).await, Some((NOW, true)));

    let mut wrong = demo_input(&base);
    wrong.oidc_client_secret = "not-the-secret".into();
    wrong.api_password = "wrong".into();
    wrong.saml_sso_page = "/no-such-page".into();
    settings.save(acme, wrong, NOW).await.unwrap();
    assert_eq!(checked(&db).await, None, "a changed connection is untested");
    let later = NOW + vestibule_domain::Seconds(60);
    let steps = settings.test_connection(acme, later).await.unwrap();
    assert_eq!(checked(&db).await, Some((later, false)), "the failure too");
    let verdict = |name: &str| {
        steps
            .iter()
            .find(|s| s.step == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:#?}"))
            .clone()
    };
    assert!(verdict("iMIS address").ok);
    let account = verdict("Background account");
    assert!(
        !account.ok && account.detail.contains("refused the username or password"),
        "{account:?}"
    );
    assert!(!verdict("Profile IQA").ok);
    let client = verdict("OpenID Connect client application");
    assert!(
        !client.ok && client.detail.contains("does not accept"),
        "{client:?}"
    );
    assert!(verdict("SAML client application").ok);
    let page = verdict("SAML SSO page");
    assert!(!page.ok && page.detail.contains("404"), "{page:?}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    settings
        .save(acme, demo_input(&format!("http://{closed}")), NOW)
        .await
        .unwrap();
    let down = settings.test_connection(acme, NOW).await.unwrap();
    assert!(down.iter().all(|s| !s.ok), "{down:#?}");
    assert!(
        down[0].detail.contains("could not connect"),
        "{:?}",
        down[0]
    );
}

/// An iMIS that is down (HTTP 503 with its own HTML page) or too slow fails "iMIS address" in
/// words, and the steps that need it say "Not checked" at once instead of each waiting in turn.
#[tokio::test]
async fn test_connection_stops_at_an_imis_that_does_not_answer() {
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let base = emulator.serve_on_loopback().await.unwrap();
    let db = sqlite().await;
    let acme = tenant(&db, "acme").await;
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let timeout = Duration::from_secs(1);
    let settings = TenantSettings::new(db.store().clone(), key, timeout, Network::Development);
    settings.save(acme, demo_input(&base), NOW).await.unwrap();

    emulator.set_behaviour(Behaviour {
        fail: FailMode::All,
        ..Behaviour::default()
    });
    let down = settings.test_connection(acme, NOW).await.unwrap();
    assert_eq!(down.len(), 7, "{down:#?}");
    assert!(!down[0].ok, "a 503 is not a working iMIS: {down:#?}");
    assert!(
        down[0].detail.contains("HTTP 503 (Service Unavailable)"),
        "{down:?}"
    );
    for step in &down[1..] {
        assert!(
            !step.ok && step.detail.starts_with("Not checked"),
            "{step:?}"
        );
    }
    assert!(
        down.iter().all(|s| !s.detail.contains('<')),
        "no upstream HTML: {down:#?}"
    );

    // Slower than the timeout: the one wait is on "iMIS address"; the others do not call.
    emulator.set_behaviour(Behaviour {
        delay_ms: 3_000,
        ..Behaviour::default()
    });
    let slow = settings.test_connection(acme, NOW).await.unwrap();
    assert!(slow[0].detail.contains("did not answer within"), "{slow:?}");
    assert!(
        slow[1..]
            .iter()
            .all(|s| s.detail.starts_with("Not checked")),
        "{slow:#?}"
    );
}
