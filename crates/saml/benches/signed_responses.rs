//! Signed SAML responses per second on one core, beside the raw RSA-2048 signing rate of the
//! library that signs them, measured in one run:
//!
//! ```text
//! cargo bench -p vestibule-saml --bench signed_responses
//! ```
//!
//! A response is what `/saml/continue` posts to a service provider: an assertion with a subject,
//! conditions, an AuthnStatement and three attributes, signed by libxmlsec1 (exclusive C14N,
//! RSA-SHA256) as the app asks: the assertion, the response, or both; and the assertion
//! encrypted (AES-256-GCM, RSA-OAEP) on top. The floor is one RSA-2048 PKCS#1 v1.5 SHA-256
//! signature over a SignedInfo's worth of bytes by OpenSSL, which libxmlsec1 calls: the work no
//! signed response can avoid (two of them when both parts are signed). ring's rate for the same
//! signature is printed beside it. Medians of several rounds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use vestibule_domain::{Seconds, Timestamp};
use vestibule_saml::{
    signed_response, Attribute, EncryptionKey, NameId, ResponseContent, SamlKeys, SignedParts,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::sqlite;

#[path = "../tests/support/mod.rs"]
mod support;
use support::service_provider_key;

#[path = "../../../bench/support/figures.rs"]
mod figures;
use figures::median;

const ROUNDS: usize = 5;
const COUNT: usize = 300;

/// Operations per second of `work`, median of the rounds.
fn rate_of(mut work: impl FnMut()) -> f64 {
    median(
        (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..COUNT {
                    work();
                }
                COUNT as f64 / started.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = runtime.block_on(async {
        let db = sqlite().await;
        let tenant = db
            .store()
            .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
            .await
            .unwrap()
            .id;
        SamlKeys::new(
            db.store().clone(),
            SecretKey::from_base64(&SecretKey::generate_base64()).unwrap(),
        )
        .signing_key(tenant, "acme", Timestamp::now())
        .await
        .unwrap()
    });
    let encryption = EncryptionKey::from_certificate(&service_provider_key(2048).1).unwrap();
    let attributes = [
        ("email", "jane@members.acme.test"),
        ("firstName", "Jane"),
        ("lastName", "Member"),
    ]
    .map(|(name, value)| Attribute {
        name: name.into(),
        values: vec![value.into()],
    });
    let content = |signed, encrypt_to| ResponseContent {
        issuer: "https://sso.acme.test/saml/metadata",
        destination: "https://events.example.org/saml/acs",
        in_response_to: Some("_3f8a7c2e9b1d4f6a8c0e2b4d6f8a0c2e"),
        audience: "https://events.example.org/saml",
        name_id: NameId {
            format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            value: "k3Jd9sLq0vTz8wXy2AbCdEfGhIjKlMnO",
            sp_name_qualifier: Some("https://events.example.org/saml"),
        },
        session_index: "_b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7",
        authn_instant: Timestamp::now(),
        attributes: &attributes,
        now: Timestamp::now(),
        lifetime: Seconds(300),
        skew: Seconds(60),
        signed,
        encrypt_to,
    };

    // What libxmlsec1 signs: a SignedInfo, about 600 bytes once canonicalized.
    let message = vec![b's'; 600];
    // A key of the same size as the tenant's (which stays inside the engine).
    let pkey = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let openssl_floor = rate_of(|| {
        let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        std::hint::black_box(signer.sign_oneshot_to_vec(&message).unwrap());
    });
    let ring_key = RsaKeyPair::from_pkcs8(&pkey.private_key_to_pkcs8().unwrap()).unwrap();
    let random = SystemRandom::new();
    let mut signature = vec![0; ring_key.public().modulus_len()];
    let ring_floor = rate_of(|| {
        ring_key
            .sign(&RSA_PKCS1_SHA256, &random, &message, &mut signature)
            .unwrap();
    });

    // What keeping the parsed key saves on every response (the engine reads each tenant's key
    // once; it used to be decoded for every message).
    let der = pkey.private_key_to_pkcs8().unwrap();
    let key_decoding = rate_of(|| {
        std::hint::black_box(PKey::private_key_from_pkcs8(&der).unwrap());
    });

    println!("Signed SAML responses vs raw RSA-2048 SHA-256 signing, one core");
    let (fastest, fastest_floor) = if openssl_floor >= ring_floor {
        ("OpenSSL", openssl_floor)
    } else {
        ("ring", ring_floor)
    };
    println!(
        "raw signatures/s: OpenSSL {openssl_floor:.0}, ring {ring_floor:.0}; the floor is the \
         faster, {fastest}"
    );
    println!("private key decodings/s (OpenSSL, PKCS#8 DER): {key_decoding:.0}");
    println!(
        "{:<22} {:>12} {:>12} {:>8}",
        "signed", "responses/s", "floor/s", "ratio"
    );
    for (label, signed, signatures, encrypted) in [
        ("assertion", SignedParts::Assertion, 1.0, false),
        ("response", SignedParts::Response, 1.0, false),
        ("both", SignedParts::Both, 2.0, false),
        ("assertion, encrypted", SignedParts::Assertion, 1.0, true),
    ] {
        let content = content(signed, encrypted.then_some(&encryption));
        // Warm up (libxml2 and libxmlsec1 initialize on first use).
        for _ in 0..20 {
            signed_response(&content, &key).unwrap();
        }
        let rate = rate_of(|| {
            std::hint::black_box(signed_response(&content, &key).unwrap());
        });
        // Signing twice halves what the floor allows.
        let floor = fastest_floor / signatures;
        println!(
            "{label:<22} {rate:>12.0} {floor:>12.0} {:>7.0}%",
            100.0 * rate / floor
        );
    }
}
