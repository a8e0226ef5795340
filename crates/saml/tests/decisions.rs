//! The single sign-on decisions, without HTTP: when a session answers a request, when the
//! member must sign in (again) and which session `ForceAuthn` never takes, `NoPassive`, and the
//! status a LogoutRequest is answered with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vestibule_domain::Timestamp;
use vestibule_saml::{
    logout_status, Arrival, AssertionConsumer, Idp, NameIdFormat, SamlAppInput, SamlIdp,
    SsoDecision, SsoPolicy, SsoSession, STATUS_NO_PASSIVE, STATUS_REQUESTER, STATUS_SUCCESS,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::sqlite;

const T0: Timestamp = Timestamp(1_900_000_000);

#[tokio::test]
async fn sessions_answer_unless_force_authn_or_is_passive_say_otherwise() {
    let db = sqlite().await;
    let store = db.store().clone();
    let tenant = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap()
        .id;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let saml = SamlIdp::new(store, secret, SsoPolicy::default());
    let app = saml
        .apps
        .create(
            tenant,
            SamlAppInput {
                name: "Events".into(),
                entity_id: "https://events.example.org/saml".into(),
                assertion_consumers: vec![AssertionConsumer {
                    url: "https://events.example.org/saml/acs".into(),
                    index: 0,
                    is_default: true,
                }],
                name_id_format: NameIdFormat::EmailAddress,
                ..SamlAppInput::default()
            },
            T0,
        )
        .await
        .unwrap();
    let idp = Idp {
        tenant,
        entity_id: "https://sso.acme.test/saml/metadata".into(),
        single_sign_on: "https://sso.acme.test/saml/sso".into(),
        single_logout: "https://sso.acme.test/saml/slo".into(),
        common_name: "sso.acme.test".into(),
        address: vestibule_domain::SiteAddress::Primary("sso.acme.test".into()),
    };
    let received = saml
        .start_idp_initiated(&idp, &app.app_id, None, T0)
        .await
        .unwrap();
    let token = received.token.as_str();
    let old = SsoSession {
        token: "old-session",
        signed_in_at: T0,
    };
    let new = SsoSession {
        token: "new-session",
        signed_in_at: T0,
    };
    let decide = |pending, session, arrival| {
        let saml = saml.clone();
        async move {
            saml.decide(tenant, token, &pending, session, arrival, T0)
                .await
                .unwrap()
        }
    };

    // A plain request: a session answers; without one, sign in.
    let plain = received.pending.clone();
    assert_eq!(
        decide(plain.clone(), Some(old), Arrival::JustReceived).await,
        SsoDecision::Answer
    );
    assert_eq!(
        decide(plain.clone(), None, Arrival::JustReceived).await,
        SsoDecision::SignIn { again: false }
    );

    // IsPassive without a session: NoPassive, never a page.
    let mut passive = plain.clone();
    passive.is_passive = true;
    match decide(passive, None, Arrival::JustReceived).await {
        SsoDecision::NoPassive(answer) => assert_eq!(answer.sub_status, Some(STATUS_NO_PASSIVE)),
        other => panic!("{other:?}"),
    }

    // ForceAuthn with a session (made in the same second): sign in again, and that session
    // is remembered as the one that may not answer, even when the member comes straight back.
    let mut forced = plain.clone();
    forced.force_authn = true;
    assert_eq!(
        decide(forced.clone(), Some(old), Arrival::JustReceived).await,
        SsoDecision::SignIn { again: true }
    );
    let mut stored = saml.pending(tenant, token, T0).await.unwrap().unwrap();
    stored.force_authn = true;
    assert_eq!(
        decide(stored.clone(), Some(old), Arrival::BackFromSignIn).await,
        SsoDecision::SignIn { again: true }
    );
    assert_eq!(
        decide(stored.clone(), Some(new), Arrival::BackFromSignIn).await,
        SsoDecision::Answer
    );
    // A session older than the request never answers it.
    let older = SsoSession {
        token: "older-session",
        signed_in_at: Timestamp(T0.0 - 1),
    };
    assert_eq!(
        decide(stored, Some(older), Arrival::BackFromSignIn).await,
        SsoDecision::SignIn { again: true }
    );
}

#[test]
fn a_logout_request_for_someone_else_is_a_requester_error() {
    assert_eq!(logout_status(true, true), STATUS_SUCCESS);
    assert_eq!(logout_status(true, false), STATUS_REQUESTER);
    assert_eq!(logout_status(false, false), STATUS_SUCCESS);
}
