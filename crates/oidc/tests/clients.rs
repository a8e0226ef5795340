//! The registry of OIDC client applications on SQLite and PostgreSQL: validation, secrets shown
//! once and rotated with overlap, constant-time client authentication, HS512 signing with the
//! client secret, isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_oidc::{ClientInput, OidcClients, OidcError, SigningAlgorithm};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

const T0: Timestamp = Timestamp(1_900_000_000);

async fn setup(db: &TestDatabase) -> (OidcClients, TenantId, TenantId) {
    let store = db.store();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap();
    let beta = store
        .create_tenant(&"beta".parse().unwrap(), "Beta", T0)
        .await
        .unwrap();
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    (OidcClients::new(store.clone(), secret), acme.id, beta.id)
}

fn events_app() -> ClientInput {
    ClientInput {
        name: "Events".into(),
        redirect_uris: vec![
            " https://events.example.org/oidc/callback ".into(),
            String::new(),
        ],
        post_logout_redirect_uris: vec!["https://events.example.org/".into()],
        ..ClientInput::default()
    }
}

#[tokio::test]
async fn secrets_are_shown_once_rotated_with_overlap_and_checked_per_tenant() {
    for_each_backend(|db| async move {
        let (clients, acme, beta) = setup(&db).await;
        let (client, shown) = clients.create(acme, events_app(), T0).await.unwrap();
        let secret = shown.client_secret.unwrap();
        assert_eq!(secret.len(), 43);
        assert_eq!(
            client.settings.redirect_uris,
            ["https://events.example.org/oidc/callback"]
        );
        assert_eq!(client.settings.algorithm, SigningAlgorithm::RS256);
        assert_eq!(client.settings.id_token_seconds, 3600);

        // The secret itself is stored nowhere.
        let stored = db.store().oidc_clients(acme).await.unwrap();
        assert!(!format!("{stored:?}").contains(&secret));

        let id = client.client_id.clone();
        let authenticated = clients.authenticate(acme, &id, &secret, T0).await.unwrap();
        assert_eq!(authenticated.name, "Events");
        for (tenant, client_id, offered) in [
            (acme, id.as_str(), "wrong"),
            (acme, "unknown", secret.as_str()),
            (beta, id.as_str(), secret.as_str()),
        ] {
            assert!(matches!(
                clients.authenticate(tenant, client_id, offered, T0).await,
                Err(OidcError::InvalidClient)
            ));
        }
        let used = clients.secrets(&client, T0).await.unwrap();
        assert_eq!(used[0].last_used_at, Some(T0));
        // "Last used" moves once a minute, not with every call.
        for (at, shown) in [(T0 + Seconds(30), T0), (T0 + Seconds(60), T0 + Seconds(60))] {
            clients.authenticate(acme, &id, &secret, at).await.unwrap();
            let used = clients.secrets(&client, at).await.unwrap();
            assert_eq!(used[0].last_used_at, Some(shown));
        }

        // Rotation: the new secret works at once, the old one until the overlap ends.
        let later = T0 + Seconds(10);
        let rotated = clients
            .rotate_secret(acme, &id, Seconds(3600), later)
            .await
            .unwrap();
        assert_ne!(rotated, secret);
        assert!(clients
            .authenticate(acme, &id, &rotated, later)
            .await
            .is_ok());
        assert!(clients
            .authenticate(acme, &id, &secret, later)
            .await
            .is_ok());
        let listed = clients.secrets(&client, later).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].expires_at, Some(later + Seconds(3600)));
        let after = later + Seconds(3600);
        assert!(clients
            .authenticate(acme, &id, &secret, after)
            .await
            .is_err());
        assert!(clients
            .authenticate(acme, &id, &rotated, after)
            .await
            .is_ok());

        // Another tenant can neither see, edit nor delete it.
        assert!(clients.list(beta).await.unwrap().is_empty());
        assert!(matches!(
            clients.update(beta, &id, events_app(), T0).await,
            Err(OidcError::NoSuchClient)
        ));
        assert!(matches!(
            clients.delete(beta, &id).await,
            Err(OidcError::NoSuchClient)
        ));
        clients.delete(acme, &id).await.unwrap();
        assert!(clients
            .authenticate(acme, &id, &rotated, after)
            .await
            .is_err());
    })
    .await;
}

#[tokio::test]
async fn hs512_apps_sign_with_their_client_secret_through_rotations_and_switches() {
    for_each_backend(|db| async move {
        let (clients, acme, _) = setup(&db).await;
        let hs512 = ClientInput {
            algorithm: "HS512".into(),
            ..events_app()
        };
        let (client, shown) = clients.create(acme, hs512.clone(), T0).await.unwrap();
        let secret = shown.client_secret.unwrap();
        assert_eq!(secret.len(), 86, "512 bits, as long as the hash");
        let id = client.client_id.clone();
        // The implicit flow signs with the newest secret; the secret is sealed, never stored
        // in the clear.
        assert_eq!(
            clients.hs512_signing_key(&client, T0).await.unwrap(),
            secret.as_bytes()
        );
        let stored = db.store().oidc_client_with_secrets(acme, &id, T0).await;
        assert!(!format!("{stored:?}").contains(&secret));

        // Editing keeps the secret.
        let renamed = ClientInput {
            name: "Events (new)".into(),
            ..hs512.clone()
        };
        let (_, shown) = clients.update(acme, &id, renamed, T0).await.unwrap();
        assert_eq!(shown.client_secret, None);
        assert!(clients.authenticate(acme, &id, &secret, T0).await.is_ok());

        // During a rotation overlap each caller's answer is signed with the secret it
        // authenticated with; the newest signs where no secret was presented.
        let rotated = clients
            .rotate_secret(acme, &id, Seconds(3600), T0)
            .await
            .unwrap();
        assert_eq!(rotated.len(), 86);
        for used in [&secret, &rotated] {
            let caller = clients.authenticate(acme, &id, used, T0).await.unwrap();
            assert_eq!(
                clients.hs512_signing_key(&caller, T0).await.unwrap(),
                used.as_bytes()
            );
        }
        let fetched = clients.get(acme, &id).await.unwrap();
        assert_eq!(
            clients.hs512_signing_key(&fetched, T0).await.unwrap(),
            rotated.as_bytes()
        );
        let verifying = clients.hs512_verifying_keys(&fetched, T0).await.unwrap();
        assert_eq!(verifying, [rotated.as_bytes(), secret.as_bytes()]);

        // Leaving HS512 forgets the sealed copies but keeps the secret working; coming back
        // issues a new secret (the old one was only hashed) and retires the old ones.
        clients.update(acme, &id, events_app(), T0).await.unwrap();
        let stored = db.store().oidc_client_with_secrets(acme, &id, T0).await;
        let (_, secrets) = stored.unwrap().unwrap();
        assert!(secrets.iter().all(|s| s.secret_sealed.is_none()));
        assert!(clients.authenticate(acme, &id, &rotated, T0).await.is_ok());
        let (back, shown) = clients.update(acme, &id, hs512, T0).await.unwrap();
        let fresh = shown.client_secret.unwrap();
        assert_eq!(fresh.len(), 86);
        assert!(clients.authenticate(acme, &id, &rotated, T0).await.is_err());
        assert_eq!(
            clients.hs512_signing_key(&back, T0).await.unwrap(),
            fresh.as_bytes()
        );

        let public_hs512 = ClientInput {
            algorithm: "HS512".into(),
            confidential: false,
            ..events_app()
        };
        assert!(matches!(
            clients.create(acme, public_hs512, T0).await,
            Err(OidcError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn public_apps_have_no_secret_and_always_need_pkce() {
    let db = sqlite().await;
    let (clients, acme, _) = setup(&db).await;
    let spa = ClientInput {
        confidential: false,
        require_pkce: false,
        ..events_app()
    };
    let (client, shown) = clients.create(acme, spa.clone(), T0).await.unwrap();
    assert!(shown.client_secret.is_none());
    assert!(client.settings.require_pkce);
    assert!(matches!(
        clients
            .rotate_secret(acme, &client.client_id, Seconds(0), T0)
            .await,
        Err(OidcError::Invalid(_))
    ));
    let switch = ClientInput {
        confidential: true,
        ..spa
    };
    assert!(matches!(
        clients.update(acme, &client.client_id, switch, T0).await,
        Err(OidcError::Invalid(_))
    ));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_nothing_is_saved() {
    let db = sqlite().await;
    let (clients, acme, _) = setup(&db).await;
    let cases = [
        (
            ClientInput {
                name: " ".into(),
                ..events_app()
            },
            "name",
        ),
        (
            ClientInput {
                redirect_uris: vec![],
                ..events_app()
            },
            "redirect_uris",
        ),
        (
            ClientInput {
                redirect_uris: vec!["http://events.example.org/cb".into()],
                ..events_app()
            },
            "redirect_uris",
        ),
        (
            ClientInput {
                post_logout_redirect_uris: vec!["https://x.example/#a".into()],
                ..events_app()
            },
            "post_logout_redirect_uris",
        ),
        (
            ClientInput {
                algorithm: "ES256".into(),
                ..events_app()
            },
            "algorithm",
        ),
        (
            ClientInput {
                id_token_minutes: 0,
                ..events_app()
            },
            "id_token_minutes",
        ),
        (
            ClientInput {
                consent_grace_days: 400,
                ..events_app()
            },
            "consent_grace_days",
        ),
    ];
    for (input, field) in cases {
        match clients.create(acme, input, T0).await {
            Err(OidcError::Invalid(invalid)) => assert_eq!(invalid.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(clients.list(acme).await.unwrap().is_empty());
}

#[tokio::test]
async fn consent_is_asked_when_on_again_after_the_grace_period_and_for_more_scopes() {
    for_each_backend(|db| async move {
        let (clients, acme, _) = setup(&db).await;
        let consents = vestibule_oidc::Consents::new(db.store().clone());
        let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (quiet, _) = clients.create(acme, events_app(), T0).await.unwrap();
        let asking = ClientInput {
            name: "Learning".into(),
            consent: true,
            consent_grace_days: 30,
            ..events_app()
        };
        let (asking, _) = clients.create(acme, asking, T0).await.unwrap();
        let openid = scopes(&["openid"]);
        let both = scopes(&["openid", "profile"]);
        let none: [vestibule_oidc::Prompt; 0] = [];

        assert!(!consents
            .needed(&quiet, "imis:1", &both, &none, T0)
            .await
            .unwrap());
        assert!(consents
            .needed(
                &quiet,
                "imis:1",
                &both,
                &[vestibule_oidc::Prompt::Consent],
                T0
            )
            .await
            .unwrap());
        assert!(consents
            .needed(&asking, "imis:1", &openid, &none, T0)
            .await
            .unwrap());
        consents
            .grant(&asking, "imis:1", &openid, T0)
            .await
            .unwrap();
        assert!(!consents
            .needed(&asking, "imis:1", &openid, &none, T0)
            .await
            .unwrap());
        assert!(consents
            .needed(&asking, "imis:2", &openid, &none, T0)
            .await
            .unwrap());
        assert!(consents
            .needed(&asking, "imis:1", &both, &none, T0)
            .await
            .unwrap());
        let later = T0 + Seconds::hours(24 * 30);
        assert!(consents
            .needed(&asking, "imis:1", &openid, &none, later)
            .await
            .unwrap());
        // Deleting the application forgets its consents.
        clients.delete(acme, &asking.client_id).await.unwrap();
        assert!(db
            .store()
            .consent(acme, &asking.client_id, "imis:1")
            .await
            .unwrap()
            .is_none());
    })
    .await;
}
