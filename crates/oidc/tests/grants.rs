//! The code flow and the implicit flow at the engine level, on SQLite and PostgreSQL: codes are
//! single use and bound to client, redirect URI and PKCE; a replay revokes what the code gave;
//! ID tokens verify with the published keys (or, for HS512, the client secret).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_oidc::{
    at_hash, check_request, jwks, AuthorizationRequest, Client, ClientInput, Grants, KeyPolicy,
    OidcClients, SigningAlgorithm, SigningKeys, Subject, Verifier, CODE_LIFETIME,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

const T0: Timestamp = Timestamp(1_900_000_000);
const ISSUER: &str = "https://sso.acme.org";
const REDIRECT: &str = "https://events.example.org/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct World {
    grants: Grants,
    keys: SigningKeys,
    clients: OidcClients,
    acme: TenantId,
}

async fn world(db: &TestDatabase) -> World {
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap()
        .id;
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let keys = SigningKeys::new(store.clone(), secret.clone(), KeyPolicy::default());
    let clients = OidcClients::new(store.clone(), secret);
    World {
        grants: Grants::new(store, keys.clone(), clients.clone()),
        keys,
        clients,
        acme,
    }
}

fn jane() -> Subject {
    Subject {
        sub: "imis:23201".into(),
        attributes: BTreeMap::from([("Email".to_string(), "jane@example.org".to_string())]),
    }
}

async fn app(world: &World, adjust: impl FnOnce(&mut ClientInput)) -> Client {
    let mut input = ClientInput {
        name: "Events".into(),
        redirect_uris: vec![REDIRECT.into()],
        ..ClientInput::default()
    };
    adjust(&mut input);
    world.clients.create(world.acme, input, T0).await.unwrap().0
}

fn request(client: &Client, extra: &[(&str, &str)]) -> AuthorizationRequest {
    let mut params: Vec<(String, String)> = [
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "s"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in extra {
        params.retain(|(k, _)| k != key);
        params.push((key.to_string(), value.to_string()));
    }
    check_request(&params, Some(client)).unwrap()
}

#[tokio::test]
async fn the_code_flow_issues_verifiable_tokens_once() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let events = app(&world, |_| {}).await;
        let code = world
            .grants
            .issue_code(world.acme, &request(&events, &[]), jane(), T0, T0)
            .await
            .unwrap();
        let tokens = world
            .grants
            .redeem_code(ISSUER, &events, &code, Some(REDIRECT), Some(VERIFIER), T0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tokens.token_type, "Bearer");
        assert_eq!(tokens.scope, "openid profile");

        let published = world.keys.published(world.acme, T0).await.unwrap();
        assert_eq!(jwks(&published)["keys"].as_array().unwrap().len(), 1);
        let claims = Verifier::Rsa {
            algorithm: SigningAlgorithm::RS256,
            keys: &published,
        }
        .verify(&tokens.id_token)
        .unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], events.client_id.as_str());
        assert_eq!(claims["sub"], "imis:23201");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["email"], "jane@example.org");

        let (client_id, grant) = world
            .grants
            .access_grant(world.acme, &tokens.access_token, T0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(client_id, events.client_id);
        assert_eq!(grant.subject.sub, "imis:23201");

        // Introspection answers only the client the token belongs to.
        let facts = world
            .grants
            .introspect(&events, &tokens.access_token, T0)
            .await
            .unwrap();
        assert_eq!(facts["active"], true);
        assert_eq!(facts["sub"], "imis:23201");
        let other = app(&world, |i| i.name = "Other".into()).await;
        for (client, token) in [(&other, tokens.access_token.as_str()), (&events, "made-up")] {
            let facts = world.grants.introspect(client, token, T0).await.unwrap();
            assert_eq!(facts, serde_json::json!({ "active": false }));
        }

        // A replayed code fails and revokes the access token the first redemption got.
        let replay = world
            .grants
            .redeem_code(ISSUER, &events, &code, Some(REDIRECT), Some(VERIFIER), T0)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(replay.error, "invalid_grant");
        assert!(world
            .grants
            .access_grant(world.acme, &tokens.access_token, T0)
            .await
            .unwrap()
            .is_none());

        // The sweep keeps a used code for a day past its expiry, so a late replay is still
        // recognised; after a week past the token's expiry, both are gone.
        let next_day = T0 + CODE_LIFETIME + Seconds::hours(1);
        assert_eq!(world.grants.sweep(next_day).await.unwrap(), 0);
        let late = world
            .grants
            .redeem_code(
                ISSUER,
                &events,
                &code,
                Some(REDIRECT),
                Some(VERIFIER),
                next_day,
            )
            .await
            .unwrap()
            .unwrap_err();
        assert!(late.description.contains("already used"), "{late:?}");
        assert_eq!(
            world
                .grants
                .sweep(T0 + Seconds::hours(24 * 9))
                .await
                .unwrap(),
            2
        );
    })
    .await;
}

type Refusal<'a> = (
    &'a Client,
    Option<&'a str>,
    Option<&'a str>,
    Timestamp,
    &'a str,
);

/// Each refusal names its reason, uses the code up, and leaves no access token behind: the
/// database issues the token in the statement that marks the code used, and the PKCE check
/// after it must take it back.
#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_pkce_and_time() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let events = app(&world, |_| {}).await;
        let other = app(&world, |i| i.name = "Other".into()).await;
        let wrong_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        // Who redeems, with which redirect URI and verifier, when, and the reason refused.
        let cases: Vec<Refusal> = vec![
            (&other, Some(REDIRECT), Some(VERIFIER), T0, "another client"),
            (
                &events,
                Some("https://events.example.org/other"),
                Some(VERIFIER),
                T0,
                "redirect_uri does not match",
            ),
            (
                &events,
                None,
                Some(VERIFIER),
                T0,
                "redirect_uri does not match",
            ),
            (
                &events,
                Some(REDIRECT),
                Some(wrong_verifier),
                T0,
                "does not match the code_challenge",
            ),
            (
                &events,
                Some(REDIRECT),
                None,
                T0,
                "code_verifier is missing",
            ),
            (
                &events,
                Some(REDIRECT),
                Some(VERIFIER),
                T0 + CODE_LIFETIME,
                "expired",
            ),
        ];
        for (client, redirect, verifier, at, reason) in &cases {
            let code = world
                .grants
                .issue_code(world.acme, &request(&events, &[]), jane(), T0, T0)
                .await
                .unwrap();
            let refused = world
                .grants
                .redeem_code(ISSUER, client, &code, *redirect, *verifier, *at)
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(refused.error, "invalid_grant", "{reason}");
            assert!(refused.description.contains(reason), "{refused:?}");
            // Refused or not, the code was used: the right redemption now is a replay.
            let again = world
                .grants
                .redeem_code(ISSUER, &events, &code, Some(REDIRECT), Some(VERIFIER), T0)
                .await
                .unwrap()
                .unwrap_err();
            assert!(again.description.contains("already used"), "{again:?}");
        }
        let made_up = world
            .grants
            .redeem_code(
                ISSUER,
                &events,
                "made-up",
                Some(REDIRECT),
                Some(VERIFIER),
                T0,
            )
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(made_up.error, "invalid_grant");

        // Without a challenge at authorization, a verifier at the token endpoint is refused too.
        let no_pkce = world
            .grants
            .issue_code(
                world.acme,
                &request(
                    &events,
                    &[("code_challenge", ""), ("code_challenge_method", "")],
                ),
                jane(),
                T0,
                T0,
            )
            .await
            .unwrap();
        let refused = world
            .grants
            .redeem_code(
                ISSUER,
                &events,
                &no_pkce,
                Some(REDIRECT),
                Some(VERIFIER),
                T0,
            )
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            refused.description.contains("no code_challenge"),
            "{refused:?}"
        );

        // Long after, the sweep finds the codes and not one access token.
        let swept = world
            .grants
            .sweep(T0 + Seconds::hours(24 * 9))
            .await
            .unwrap();
        assert_eq!(swept, cases.len() as u64 + 1);
    })
    .await;
}

#[tokio::test]
async fn hs512_and_implicit_tokens() {
    let db = sqlite().await;
    let world = world(&db).await;
    let input = ClientInput {
        name: "Events".into(),
        redirect_uris: vec![REDIRECT.into()],
        algorithm: "HS512".into(),
        allow_implicit: true,
        ..ClientInput::default()
    };
    let (created, shown) = world.clients.create(world.acme, input, T0).await.unwrap();
    // OpenID Connect Core §10.1: the key is the client secret's octets.
    let key = shown.client_secret.unwrap().into_bytes();
    let shared = world
        .clients
        .authenticate(
            world.acme,
            &created.client_id,
            std::str::from_utf8(&key).unwrap(),
            T0,
        )
        .await
        .unwrap();
    let code = world
        .grants
        .issue_code(world.acme, &request(&shared, &[]), jane(), T0, T0)
        .await
        .unwrap();
    let tokens = world
        .grants
        .redeem_code(ISSUER, &shared, &code, Some(REDIRECT), Some(VERIFIER), T0)
        .await
        .unwrap()
        .unwrap();
    let claims = Verifier::Hs512 { secret: &key }
        .verify(&tokens.id_token)
        .unwrap();
    assert_eq!(claims["aud"], shared.client_id.as_str());
    // HS512 tokens need no tenant key: none was made.
    assert!(world
        .keys
        .published(world.acme, T0)
        .await
        .unwrap()
        .is_empty());

    let implicit = request(&shared, &[("response_type", "id_token token")]);
    let response = world
        .grants
        .issue_implicit(ISSUER, &shared, &implicit, jane(), T0, T0)
        .await
        .unwrap();
    let claims = Verifier::Hs512 { secret: &key }
        .verify(response.id_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        claims["at_hash"],
        at_hash(SigningAlgorithm::HS512, &response.access_token).as_str()
    );
    let token_only = request(&shared, &[("response_type", "token")]);
    let response = world
        .grants
        .issue_implicit(ISSUER, &shared, &token_only, jane(), T0, T0)
        .await
        .unwrap();
    assert!(response.id_token.is_none());
    let expired = T0 + Seconds(shared.settings.access_token_seconds);
    assert!(world
        .grants
        .access_grant(world.acme, &response.access_token, expired)
        .await
        .unwrap()
        .is_none());
    // Revocation by another client changes nothing; by the owner it ends the token.
    let other = app(&world, |i| i.name = "Other".into()).await;
    world
        .grants
        .revoke(&other, &response.access_token, T0)
        .await
        .unwrap();
    assert!(world
        .grants
        .access_grant(world.acme, &response.access_token, T0)
        .await
        .unwrap()
        .is_some());
    world
        .grants
        .revoke(&shared, &response.access_token, T0)
        .await
        .unwrap();
    assert!(world
        .grants
        .access_grant(world.acme, &response.access_token, T0)
        .await
        .unwrap()
        .is_none());
}
