//! The authorization endpoint's decisions, without HTTP: which problems go to a page and which
//! to the application, when the member must sign in (again), when consent is asked, and what the
//! consent page's answer leads to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vestibule_domain::{Seconds, SiteAddress, TenantId, Timestamp};
use vestibule_oidc::{
    Authorizer, ClientInput, ConsentAnswer, ConsentDecision, Consents, Decision, OidcClients,
    SessionFacts,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::sqlite;

const T0: Timestamp = Timestamp(1_900_000_000);
const REDIRECT: &str = "https://events.example.org/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JANE: &str = "imis:23201";

struct World {
    authorizer: Authorizer,
    clients: OidcClients,
    store: vestibule_storage::Store,
    acme: TenantId,
    plain: String,
    asking: String,
    _db: vestibule_storage::testing::TestDatabase,
}

async fn world() -> World {
    let db = sqlite().await;
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap()
        .id;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let clients = OidcClients::new(store.clone(), secret);
    let app = |name: &str, consent: bool| ClientInput {
        name: name.into(),
        redirect_uris: vec![REDIRECT.into()],
        consent,
        ..ClientInput::default()
    };
    let plain = clients
        .create(acme, app("Events", false), T0)
        .await
        .unwrap()
        .0;
    let asking = clients
        .create(acme, app("Learning", true), T0)
        .await
        .unwrap()
        .0;
    World {
        authorizer: Authorizer::new(clients.clone(), Consents::new(store.clone())),
        clients,
        store,
        acme,
        plain: plain.client_id,
        asking: asking.client_id,
        _db: db,
    }
}

fn params(client_id: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in extra {
        pairs.retain(|(k, _)| k != key);
        pairs.push((key.to_string(), value.to_string()));
    }
    pairs
}

/// The tenant's primary domain, where apps not bound to a domain are served.
fn primary() -> SiteAddress {
    SiteAddress::Primary("sso.acme.org".into())
}

fn signed_in(at: Timestamp) -> Option<SessionFacts<'static>> {
    Some(SessionFacts {
        subject: JANE,
        signed_in_at: at,
    })
}

#[tokio::test]
async fn requests_are_checked_then_signed_in_then_consented() {
    let w = world().await;
    let decide = |client: &str, extra: &[(&str, &str)], session| {
        let params = params(client, extra);
        let authorizer = w.authorizer.clone();
        let acme = w.acme;
        async move {
            let primary = primary();
            let decided = authorizer.decide(acme, &primary, &params, session, T0);
            decided.await.unwrap()
        }
    };

    // Until client and redirect URI are known to be genuine, nothing goes to the application.
    for (client, extra) in [
        ("no-such-app", vec![]),
        (
            w.plain.as_str(),
            vec![("redirect_uri", "https://evil.example/cb")],
        ),
    ] {
        let decision = decide(client, &extra, None).await;
        assert!(matches!(decision, Decision::ErrorPage(_)), "{decision:?}");
    }
    // After that, the application hears of problems, with its state.
    match decide(&w.plain, &[("response_type", "id_token")], None).await {
        Decision::ErrorRedirect(error) => {
            assert_eq!(error.error, "unsupported_response_type");
            assert_eq!(error.state.as_deref(), Some("st"));
        }
        other => panic!("{other:?}"),
    }

    // Signed out: sign in, then resume.
    match decide(&w.plain, &[], None).await {
        Decision::SignIn { resume, again } => {
            assert!(!again);
            assert!(resume.starts_with("/oidc/authorize?client_id="), "{resume}");
        }
        other => panic!("{other:?}"),
    }
    // prompt=none never shows a page.
    match decide(&w.plain, &[("prompt", "none")], None).await {
        Decision::ErrorRedirect(error) => assert_eq!(error.error, "login_required"),
        other => panic!("{other:?}"),
    }
    // Signed in: issue.
    assert!(matches!(
        decide(&w.plain, &[], signed_in(T0)).await,
        Decision::Issue { .. }
    ));
    // A forced sign-in with a session: sign in again, without the prompt when resuming.
    for extra in [
        [("prompt", "login")],
        [("max_age", "0")],
        [("max_age", "60")],
    ] {
        match decide(&w.plain, &extra, signed_in(T0 - Seconds(120))).await {
            Decision::SignIn { resume, again } => {
                assert!(again, "{extra:?}");
                assert!(!resume.contains("prompt"), "{resume}");
            }
            other => panic!("{extra:?}: {other:?}"),
        }
    }

    // Consent: asked, or consent_required under prompt=none.
    match decide(&w.asking, &[], signed_in(T0)).await {
        Decision::AskConsent { client, scopes, .. } => {
            assert_eq!(client.name, "Learning");
            assert_eq!(scopes, ["openid", "profile"]);
        }
        other => panic!("{other:?}"),
    }
    match decide(&w.asking, &[("prompt", "none")], signed_in(T0)).await {
        Decision::ErrorRedirect(error) => assert_eq!(error.error, "consent_required"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_consent_answer_is_checked_again_and_remembered() {
    let w = world().await;
    let resume = vestibule_oidc::resume_url(&params(&w.asking, &[("prompt", "consent")]));
    let answer = |answer, session| {
        let authorizer = w.authorizer.clone();
        let (acme, resume) = (w.acme, resume.clone());
        async move {
            authorizer
                .decide_consent(acme, &primary(), &resume, answer, session, T0)
                .await
                .unwrap()
        }
    };
    match answer(ConsentAnswer::Deny, signed_in(T0)).await {
        ConsentDecision::Denied { client, refusal } => {
            assert_eq!(client.client_id, w.asking);
            assert_eq!(refusal.error, "access_denied");
        }
        other => panic!("{other:?}"),
    }
    // Signed out since: through the authorization endpoint again.
    assert!(matches!(
        answer(ConsentAnswer::Allow, None).await,
        ConsentDecision::Again { .. }
    ));
    assert!(matches!(
        answer(ConsentAnswer::Allow, signed_in(T0)).await,
        ConsentDecision::Issue { .. }
    ));
    // Remembered: the next request is issued without asking.
    let next = w
        .authorizer
        .decide(
            w.acme,
            &primary(),
            &params(&w.asking, &[]),
            signed_in(T0),
            T0,
        )
        .await
        .unwrap();
    assert!(matches!(next, Decision::Issue { .. }), "{next:?}");

    // A tampered request in the form is checked like any other.
    let tampered = vestibule_oidc::resume_url(&params(
        &w.asking,
        &[("redirect_uri", "https://evil.example/cb")],
    ));
    let refused = w
        .authorizer
        .decide_consent(
            w.acme,
            &primary(),
            &tampered,
            ConsentAnswer::Allow,
            signed_in(T0),
            T0,
        )
        .await
        .unwrap();
    assert!(
        matches!(refused, ConsentDecision::Refused(Decision::ErrorPage(_))),
        "{refused:?}"
    );
}

/// Issue 26 §6: an app registered on the test domain is used there, with that domain's issuer;
/// the primary domain refuses it (and the test domain refuses apps that follow the primary)
/// before anything is sent to its redirect URI.
#[tokio::test]
async fn an_app_bound_to_a_domain_is_served_there_only() {
    let w = world().await;
    for name in ["sso.acme.org", "sso-test.acme.org"] {
        w.store.claim_domain(w.acme, name, T0).await.unwrap();
    }
    let on_test = ClientInput {
        name: "Events (test)".into(),
        redirect_uris: vec![REDIRECT.into()],
        domain: " SSO-Test.acme.org ".into(),
        ..ClientInput::default()
    };
    let (bound, _) = w.clients.create(w.acme, on_test.clone(), T0).await.unwrap();
    assert_eq!(bound.settings.domain.as_deref(), Some("sso-test.acme.org"));
    let test = SiteAddress::Other("sso-test.acme.org".into());
    let decide = |client: String, address: SiteAddress| {
        let authorizer = w.authorizer.clone();
        let acme = w.acme;
        async move {
            let params = params(&client, &[]);
            let decided = authorizer.decide(acme, &address, &params, signed_in(T0), T0);
            decided.await.unwrap()
        }
    };
    let issued = decide(bound.client_id.clone(), test.clone()).await;
    assert!(matches!(issued, Decision::Issue { .. }), "{issued:?}");
    match decide(bound.client_id.clone(), primary()).await {
        Decision::ErrorPage(message) => assert_eq!(
            message,
            "Events (test) is set up on sso-test.acme.org: its sign-ins start there, not on \
             this domain."
        ),
        other => panic!("{other:?}"),
    }
    let unbound = decide(w.plain.clone(), test).await;
    assert!(matches!(unbound, Decision::ErrorPage(_)), "{unbound:?}");

    // Only the tenant's own domains can be chosen.
    let elsewhere = ClientInput {
        domain: "sso.beta.org".into(),
        ..on_test
    };
    let refused = w.clients.create(w.acme, elsewhere, T0).await;
    assert!(
        matches!(&refused, Err(vestibule_oidc::OidcError::Invalid(invalid)) if invalid.field == "domain"),
        "{:?}",
        refused.map(|_| ())
    );
}
