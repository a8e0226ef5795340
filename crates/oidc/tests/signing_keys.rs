//! Tenant signing keys on SQLite and PostgreSQL: made on first use, sealed at rest, published
//! ahead of signing, kept after retirement for the tokens they signed, and per tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_oidc::{jwks, KeyPolicy, OidcError, SigningAlgorithm, SigningKeys, Verifier};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

const T0: Timestamp = Timestamp(1_900_000_000);

/// Short lifetimes so one test walks through several rotations at fixed instants.
const POLICY: KeyPolicy = KeyPolicy {
    lifetime: Seconds(1000),
    publish_ahead: Seconds(100),
    overlap: Seconds(300),
};

async fn tenants(db: &TestDatabase) -> (TenantId, TenantId) {
    let store = db.store();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap();
    let beta = store
        .create_tenant(&"beta".parse().unwrap(), "Beta", T0)
        .await
        .unwrap();
    (acme.id, beta.id)
}

fn keys(db: &TestDatabase) -> SigningKeys {
    let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    SigningKeys::new(db.store().clone(), secret, POLICY)
}

fn kids(published: &[vestibule_oidc::RsaPublicKey]) -> Vec<String> {
    published.iter().map(|k| k.kid.clone()).collect()
}

#[tokio::test]
async fn keys_rotate_with_overlap_and_stay_per_tenant() {
    for_each_backend(|db| async move {
        let (acme, beta) = tenants(&db).await;
        let keys = keys(&db);
        let rs256 = SigningAlgorithm::RS256;
        assert!(keys.published(acme, T0).await.unwrap().is_empty());

        // First use makes the first key; it signs and the JWKS publishes it.
        let first = keys.signer(acme, rs256, T0).await.unwrap();
        let token = first.sign(&json!({ "sub": "imis:23201" })).unwrap();
        let published = keys.published(acme, T0).await.unwrap();
        assert_eq!(published.len(), 1);
        let verifier = Verifier::Rsa {
            algorithm: rs256,
            keys: &published,
        };
        assert_eq!(verifier.verify(&token).unwrap()["sub"], "imis:23201");
        let jwk = &jwks(&published)["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["e"], "AQAB");
        assert!(jwk.get("d").is_none(), "no private parts: {jwk}");

        // The private key is sealed in the database.
        let stored = db
            .store()
            .signing_keys(acme, Some("RS256"), T0)
            .await
            .unwrap();
        assert!(
            stored[0].private_key_sealed.starts_with("v1:"),
            "{}",
            stored[0].private_key_sealed
        );
        assert_eq!(stored[0].modulus.len(), 256);

        // Within publish_ahead of retirement the next key is published, the first still signs.
        let soon = T0 + Seconds(950);
        let still_first = keys.signer(acme, rs256, soon).await.unwrap();
        let published = keys.published(acme, soon).await.unwrap();
        assert_eq!(published.len(), 2);
        let first_kid = published[0].kid.clone();
        let next_kid = published[1].kid.clone();
        assert!(format!("{still_first:?}").contains(&first_kid));

        // After the switch the next key signs; tokens from the first still verify during the
        // overlap, and not after it.
        let switched = T0 + Seconds(1001);
        let second = keys.signer(acme, rs256, switched).await.unwrap();
        assert!(format!("{second:?}").contains(&next_kid));
        let published = keys.published(acme, switched).await.unwrap();
        assert_eq!(kids(&published), [first_kid.clone(), next_kid.clone()]);
        let verifier = Verifier::Rsa {
            algorithm: rs256,
            keys: &published,
        };
        assert!(verifier.verify(&token).is_ok());
        let after_overlap = T0 + Seconds(1000 + 300);
        let published = keys.published(acme, after_overlap).await.unwrap();
        assert!(!kids(&published).contains(&first_kid));
        let verifier = Verifier::Rsa {
            algorithm: rs256,
            keys: &published,
        };
        assert!(matches!(
            verifier.verify(&token),
            Err(OidcError::InvalidToken)
        ));
        assert_eq!(keys.delete_retired(after_overlap).await.unwrap(), 1);

        // With nothing signing, publishing still keeps the series ahead: the key after the
        // second appears publish_ahead before it signs, and HS512 has no key to publish.
        let quiet = T0 + Seconds(1001 + 1000 - 50);
        let before = kids(&keys.published(acme, quiet).await.unwrap());
        let published = keys
            .publish(acme, &[rs256, SigningAlgorithm::HS512], quiet)
            .await
            .unwrap();
        assert_eq!(published.len(), before.len() + 1);
        let third = kids(&published).last().unwrap().clone();
        let signer = keys.signer(acme, rs256, T0 + Seconds(2002)).await.unwrap();
        assert!(
            format!("{signer:?}").contains(&third),
            "the published key signs next"
        );

        // Another tenant has its own keys, and cannot verify acme's tokens with them.
        keys.signer(beta, rs256, T0).await.unwrap();
        let beta_keys = keys.published(beta, T0).await.unwrap();
        assert_eq!(beta_keys.len(), 1);
        assert!(!kids(&beta_keys).contains(&first_kid));
        let verifier = Verifier::Rsa {
            algorithm: rs256,
            keys: &beta_keys,
        };
        assert!(verifier.verify(&token).is_err());
    })
    .await;
}

#[tokio::test]
async fn rs512_uses_a_4096_bit_key_and_hs512_has_no_tenant_key() {
    let db = sqlite().await;
    let (acme, _) = tenants(&db).await;
    let keys = keys(&db);
    let signer = keys
        .signer(acme, SigningAlgorithm::RS512, T0)
        .await
        .unwrap();
    let token = signer.sign(&json!({ "aud": "app" })).unwrap();
    let published = keys.published(acme, T0).await.unwrap();
    assert_eq!(published[0].n.len(), 512);
    let rs512 = Verifier::Rsa {
        algorithm: SigningAlgorithm::RS512,
        keys: &published,
    };
    assert_eq!(rs512.verify(&token).unwrap()["aud"], "app");
    // The same key's signature is not accepted as RS256.
    let rs256 = Verifier::Rsa {
        algorithm: SigningAlgorithm::RS256,
        keys: &published,
    };
    assert!(rs256.verify(&token).is_err());
    assert!(matches!(
        keys.signer(acme, SigningAlgorithm::HS512, T0).await,
        Err(OidcError::NotRsa("HS512"))
    ));
}
