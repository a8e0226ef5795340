//! SAML signing keys on SQLite and PostgreSQL, and signed responses checked by the reference
//! verifier, `xmlsec1 --verify` (Debian's xmlsec1), as a service provider's library would check
//! them: each signing mode verifies, and any change to a signed element does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use samael::crypto::{CertificateDer, CryptoProvider, XmlSec};
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_saml::{
    idp_metadata, logout_request, logout_response, signed_response, signed_status_response,
    Attribute, IdpEndpoints, LogoutAddress, NameId, ResponseContent, SamlKeys, SignedParts,
    SigningKey, StatusContent, STATUS_SUCCESS,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

mod support;
use support::service_provider_key;

const T0: Timestamp = Timestamp(1_900_000_000);
const ISSUER: &str = "https://sso.acme.test/saml/metadata";
const ACS: &str = "https://events.example.org/saml/acs";

async fn tenant(db: &TestDatabase, cloud_id: &str) -> TenantId {
    db.store()
        .create_tenant(&cloud_id.parse().unwrap(), cloud_id, T0)
        .await
        .unwrap()
        .id
}

fn keys(db: &TestDatabase) -> SamlKeys {
    SamlKeys::new(
        db.store().clone(),
        SecretKey::from_base64(&SecretKey::generate_base64()).unwrap(),
    )
}

#[tokio::test]
async fn each_tenant_gets_one_sealed_key_and_certificate_on_first_use() {
    for_each_backend(|db| async move {
        let (acme, beta) = (tenant(&db, "acme").await, tenant(&db, "beta").await);
        let keys = keys(&db);
        assert!(keys.certificates(acme, T0).await.unwrap().is_empty());
        let first = keys.signing_key(acme, "sso.acme.test", T0).await.unwrap();
        let again = keys
            .signing_key(acme, "sso.acme.test", T0 + Seconds(60))
            .await
            .unwrap();
        assert_eq!(first.kid, again.kid);
        assert_eq!(
            keys.certificates(acme, T0).await.unwrap(),
            std::slice::from_ref(&first.certificate_der)
        );
        let beta_key = keys.signing_key(beta, "sso.beta.test", T0).await.unwrap();
        assert_ne!(beta_key.certificate_der, first.certificate_der);
        assert!(!format!("{first:?}").contains("private"), "{first:?}");

        let stored = db.store().saml_keys(acme, T0).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(stored[0].private_key_sealed.starts_with("v1:"));
        // Valid for ten years, and then no longer offered.
        assert!(keys
            .certificates(acme, T0 + Seconds(11 * 365 * 86_400))
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_next_certificate_is_published_ahead_then_signs_and_can_roll_over_now_or_later() {
    for_each_backend(|db| async move {
        let acme = tenant(&db, "acme").await;
        let keys = keys(&db);
        let first = keys.signing_key(acme, "sso.acme.test", T0).await.unwrap();
        let overlap = Seconds(30 * 86_400);
        let next = keys
            .prepare_rollover(acme, "sso.acme.test", overlap, T0)
            .await
            .unwrap();
        assert_eq!(next.signs_from, T0 + overlap);
        // Published beside the current one at once; the current one still signs, here and
        // (without waiting for this node's memory) on a node that never saw the change.
        assert_eq!(
            keys.certificates(acme, T0).await.unwrap(),
            [first.certificate_der.clone(), next.certificate_der.clone()]
        );
        assert_eq!(
            keys.signing_key(acme, "sso.acme.test", T0)
                .await
                .unwrap()
                .kid,
            first.kid
        );
        // One next certificate at a time.
        assert!(matches!(
            keys.prepare_rollover(acme, "sso.acme.test", overlap, T0)
                .await,
            Err(vestibule_saml::SamlError::Invalid(_))
        ));
        // At its moment it signs, even on a node that held the old key a moment before; the
        // old certificate is no longer published.
        let just_before = T0 + overlap - Seconds(1);
        assert_eq!(
            keys.signing_key(acme, "sso.acme.test", just_before)
                .await
                .unwrap()
                .kid,
            first.kid
        );
        let at = T0 + overlap;
        assert_eq!(
            keys.signing_key(acme, "sso.acme.test", at)
                .await
                .unwrap()
                .kid,
            next.kid
        );
        assert_eq!(
            keys.certificates(acme, at).await.unwrap(),
            std::slice::from_ref(&next.certificate_der)
        );

        // Postponing, then rolling over at once.
        let third = keys
            .prepare_rollover(acme, "sso.acme.test", overlap, at)
            .await
            .unwrap();
        let later = at + overlap + Seconds(7 * 86_400);
        assert!(keys
            .reschedule_rollover(acme, &third.kid, later, at)
            .await
            .unwrap());
        assert_eq!(
            keys.calendar(acme, at)
                .await
                .unwrap()
                .next
                .unwrap()
                .signs_from,
            later
        );
        assert_eq!(
            keys.signing_key(acme, "sso.acme.test", at + overlap)
                .await
                .unwrap()
                .kid,
            next.kid
        );
        let now = at + Seconds(3600);
        assert!(keys
            .reschedule_rollover(acme, &third.kid, now, now)
            .await
            .unwrap());
        assert_eq!(
            keys.signing_key(acme, "sso.acme.test", now)
                .await
                .unwrap()
                .kid,
            third.kid
        );
        // A key that signs already cannot be moved.
        assert!(!keys
            .reschedule_rollover(acme, &third.kid, later, now)
            .await
            .unwrap());
        let calendar = keys.calendar(acme, now).await.unwrap();
        assert_eq!(calendar.current.unwrap().kid, third.kid);
        assert!(calendar.next.is_none());
    })
    .await;
}

fn content<'a>(signed: SignedParts, attributes: &'a [Attribute]) -> ResponseContent<'a> {
    ResponseContent {
        issuer: ISSUER,
        destination: ACS,
        in_response_to: Some("_request-1"),
        audience: "https://events.example.org/saml",
        name_id: NameId {
            format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            value: "jane@members.acme.test",
            sp_name_qualifier: None,
        },
        session_index: "_session-1",
        authn_instant: T0 - Seconds(30),
        attributes,
        now: T0,
        lifetime: Seconds(300),
        skew: Seconds(60),
        signed,
        encrypt_to: None,
    }
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// `xmlsec1 --verify` of the signature on `element` (`Response`, `Assertion`, `LogoutRequest`
/// or `LogoutResponse`), trusting only
/// `certificate`; `None` when xmlsec1 is not installed and not required.
fn xmlsec1_verifies(folder: &Path, xml: &str, certificate: &[u8], element: &str) -> Option<bool> {
    if Command::new("xmlsec1").arg("--version").output().is_err() {
        assert!(
            std::env::var("VESTIBULE_REQUIRE_SANDBOX").is_err(),
            "xmlsec1 is missing: scripts/prerequisites test installs it"
        );
        eprintln!("note: xmlsec1 is not installed; skipping the reference verification");
        return None;
    }
    let document = folder.join("response.xml");
    let cert = folder.join("idp.pem");
    std::fs::write(&document, xml).unwrap();
    std::fs::write(&cert, pem(certificate)).unwrap();
    let xpath = format!("//*[local-name()='{element}']/*[local-name()='Signature']");
    let output = Command::new("xmlsec1")
        .args(["--verify", "--enabled-reference-uris", "same-doc"])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
        ])
        .args(["--node-xpath", &xpath])
        .arg("--pubkey-cert-pem")
        .arg(&cert)
        .arg(&document)
        .output()
        .unwrap();
    Some(output.status.success())
}

/// Each signing mode and the elements it signs.
const SIGNING_MODES: [(SignedParts, &[&str]); 3] = [
    (SignedParts::Assertion, &["Assertion"]),
    (SignedParts::Response, &["Response"]),
    (SignedParts::Both, &["Response", "Assertion"]),
];

/// A response signed as `signed` asks, once the signature on each of `elements` verified with
/// xmlsec1 and the document with samael's verifier (which service providers built on it use).
fn signed_and_verified(
    folder: &Path,
    key: &SigningKey,
    signed: SignedParts,
    elements: &[&str],
    attributes: &[Attribute],
) -> String {
    let xml = signed_response(&content(signed, attributes), key).unwrap();
    for element in elements {
        if let Some(verified) = xmlsec1_verifies(folder, &xml, &key.certificate_der, element) {
            assert!(
                verified,
                "{signed:?}: the {element} signature verifies\n{xml}"
            );
        }
    }
    XmlSec::verify_signed_xml(
        &xml,
        &CertificateDer::from(key.certificate_der.clone()),
        Some("ID"),
    )
    .unwrap();
    xml
}

async fn acme_key() -> (TestDatabase, SigningKey) {
    let db = sqlite().await;
    let acme = tenant(&db, "acme").await;
    let key = keys(&db)
        .signing_key(acme, "sso.acme.test", T0)
        .await
        .unwrap();
    (db, key)
}

#[tokio::test]
async fn responses_are_signed_as_asked_and_verify_with_xmlsec1() {
    let (_db, key) = acme_key().await;
    let folder = tempfile::tempdir().unwrap();
    let attributes = [
        Attribute {
            name: "email".into(),
            values: vec!["jane@members.acme.test".into()],
        },
        Attribute {
            name: "urn:oid:2.5.4.42".into(),
            values: vec!["Jane".into()],
        },
    ];
    for (signed, elements) in SIGNING_MODES {
        let xml = signed_and_verified(folder.path(), &key, signed, elements, &attributes);
        let signatures = xml.matches("<ds:SignatureValue>").count();
        assert_eq!(signatures, elements.len(), "{signed:?}: {xml}");

        // The protocol's fields are where a service provider looks for them.
        for expected in [
            "Destination=\"https://events.example.org/saml/acs\"",
            "InResponseTo=\"_request-1\"",
            "Recipient=\"https://events.example.org/saml/acs\"",
            "<saml:Audience>https://events.example.org/saml</saml:Audience>",
            "NotBefore=\"2030-03-17T17:45:40Z\"",
            "NotOnOrAfter=\"2030-03-17T17:51:40Z\"",
            "SessionIndex=\"_session-1\"",
            "PasswordProtectedTransport",
            "Name=\"urn:oid:2.5.4.42\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\"",
            "Name=\"email\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        ] {
            assert!(xml.contains(expected), "{signed:?}: {expected} in {xml}");
        }

        // Changing who the assertion is about breaks every signature that covers it.
        let forged = xml.replace(
            "jane@members.acme.test</saml:NameID>",
            "mallory@evil.test</saml:NameID>",
        );
        assert_ne!(forged, xml);
        for element in elements {
            if let Some(verified) =
                xmlsec1_verifies(folder.path(), &forged, &key.certificate_der, element)
            {
                assert!(!verified, "{signed:?}: a forged {element} must not verify");
            }
        }
        assert!(XmlSec::verify_signed_xml(
            &forged,
            &CertificateDer::from(key.certificate_der.clone()),
            Some("ID")
        )
        .is_err());
    }
}

#[tokio::test]
async fn profile_values_cannot_inject_markup() {
    let (_db, key) = acme_key().await;
    let attributes = [Attribute {
        name: "displayName".into(),
        values: vec!["</saml:AttributeValue><saml:Attribute Name=\"role\">admin & co".into()],
    }];
    let xml = signed_response(&content(SignedParts::Assertion, &attributes), &key).unwrap();
    assert!(xml.contains("&lt;/saml:AttributeValue&gt;&lt;saml:Attribute Name=\"role\"&gt;admin &amp; co")
        || xml.contains("&lt;/saml:AttributeValue&gt;&lt;saml:Attribute Name=&quot;role&quot;&gt;admin &amp; co"), "{xml}");
    assert_eq!(xml.matches("<saml:Attribute ").count(), 1);
    XmlSec::verify_signed_xml(
        &xml,
        &CertificateDer::from(key.certificate_der.clone()),
        Some("ID"),
    )
    .unwrap();
}

/// Canonical XML writes some characters differently from how this crate escapes them (quotes,
/// `>`, whitespace in attributes, carriage returns): each signature still verifies.
#[tokio::test]
async fn signatures_cover_quotes_whitespace_and_non_ascii_in_values() {
    let (_db, key) = acme_key().await;
    let folder = tempfile::tempdir().unwrap();
    let attributes = [
        Attribute {
            name: "display\tName 'quoted' \"double\" > & <".into(),
            values: vec![
                "O'Brien \"Jr.\" > 3 & < 4".into(),
                "line one\r\nline two\rthree\ttabbed".into(),
                "Zoë Ünïcødé 日本 🙂".into(),
            ],
        },
        Attribute {
            name: "urn:oid:2.5.4.42".into(),
            values: vec![" leading and trailing ".into()],
        },
    ];
    for (signed, elements) in SIGNING_MODES {
        signed_and_verified(folder.path(), &key, signed, elements, &attributes);
    }
}

/// The other messages the IdP signs: a response that signs no one in, and both logout messages.
#[tokio::test]
async fn status_responses_and_logout_messages_verify_with_xmlsec1() {
    let (_db, key) = acme_key().await;
    let folder = tempfile::tempdir().unwrap();
    let to = LogoutAddress {
        issuer: ISSUER,
        destination: "https://events.example.org/saml/slo?a=1&b='2'",
        now: T0,
    };
    let status = signed_status_response(
        &StatusContent {
            issuer: ISSUER,
            destination: ACS,
            in_response_to: Some("_request-1"),
            status: "urn:oasis:names:tc:SAML:2.0:status:Responder",
            sub_status: Some("urn:oasis:names:tc:SAML:2.0:status:NoPassive"),
            message: "the member must sign in \"first\" & then <retry>",
            now: T0,
        },
        &key,
    )
    .unwrap();
    let (request, _) = logout_request(
        &to,
        "jane@members.acme.test",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "_session-1",
        Some(&key),
    )
    .unwrap();
    let response = logout_response(&to, "_logout-1", STATUS_SUCCESS, Some(&key)).unwrap();
    for (xml, element) in [
        (&status, "Response"),
        (&request, "LogoutRequest"),
        (&response, "LogoutResponse"),
    ] {
        if let Some(verified) = xmlsec1_verifies(folder.path(), xml, &key.certificate_der, element)
        {
            assert!(verified, "the {element} signature verifies\n{xml}");
        }
        let forged = xml.replace(ISSUER, "https://evil.test/saml/metadata");
        assert_ne!(&forged, xml);
        if let Some(verified) =
            xmlsec1_verifies(folder.path(), &forged, &key.certificate_der, element)
        {
            assert!(!verified, "a forged {element} must not verify");
        }
    }
}

#[tokio::test]
async fn metadata_names_the_endpoints_and_the_signing_certificate() {
    let (_db, key) = acme_key().await;
    let xml = idp_metadata(
        &IdpEndpoints {
            entity_id: ISSUER,
            single_sign_on: "https://sso.acme.test/saml/sso",
            single_logout: "https://sso.acme.test/saml/slo",
        },
        std::slice::from_ref(&key.certificate_der),
    );
    let parsed = samael::metadata::EntityDescriptor::from_str(&xml).unwrap();
    assert_eq!(parsed.entity_id.as_deref(), Some(ISSUER));
    let idp = &parsed.idp_sso_descriptors.unwrap()[0];
    assert_eq!(idp.single_sign_on_services.len(), 2);
    assert_eq!(idp.single_logout_services.len(), 2);
    assert_eq!(idp.name_id_formats.len(), 4);
    let certificate = &idp.key_descriptors[0]
        .key_info
        .x509_data
        .as_ref()
        .unwrap()
        .certificates[0];
    assert_eq!(STANDARD.decode(certificate).unwrap(), key.certificate_der);
}

/// `xmlsec1 --decrypt` with the service provider's private key: the decrypted document, or
/// `Err` with xmlsec1's complaint.
fn xmlsec1_decrypts(folder: &Path, xml: &str, private_key_pem: &[u8]) -> Result<String, String> {
    let document = folder.join("encrypted.xml");
    let key = folder.join("sp.key");
    std::fs::write(&document, xml).unwrap();
    std::fs::write(&key, private_key_pem).unwrap();
    let output = Command::new("xmlsec1")
        .args(["--decrypt", "--privkey-pem"])
        .arg(&key)
        .arg(&document)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn encrypted_assertions_decrypt_with_the_service_providers_key_only_and_stay_signed() {
    if Command::new("xmlsec1").arg("--version").output().is_err() {
        assert!(
            std::env::var("VESTIBULE_REQUIRE_SANDBOX").is_err(),
            "xmlsec1 is missing: scripts/prerequisites test installs it"
        );
        return;
    }
    let (_db, key) = acme_key().await;
    let folder = tempfile::tempdir().unwrap();
    let (sp_key, sp_certificate) = service_provider_key(2048);
    let (other_key, _) = service_provider_key(2048);
    let encryption = vestibule_saml::EncryptionKey::from_certificate(&sp_certificate).unwrap();
    let attributes = [Attribute {
        name: "email".into(),
        values: vec!["jane@members.acme.test".into()],
    }];
    for (signed, elements) in [
        (SignedParts::Assertion, &["Assertion"][..]),
        (SignedParts::Response, &["Response"][..]),
        (SignedParts::Both, &["Response", "Assertion"][..]),
    ] {
        let content = ResponseContent {
            encrypt_to: Some(&encryption),
            ..content(signed, &attributes)
        };
        let xml = signed_response(&content, &key).unwrap();
        // Nothing about the member is readable on the way.
        assert!(!xml.contains("jane@members.acme.test"), "{signed:?}: {xml}");
        assert!(xml.contains("<saml:EncryptedAssertion>"));
        assert!(xml.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
        assert!(xml.contains("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"));
        if elements.contains(&"Response") {
            let verified = xmlsec1_verifies(folder.path(), &xml, &key.certificate_der, "Response");
            assert_eq!(
                verified,
                Some(true),
                "{signed:?}: the response verifies encrypted"
            );
        }

        let decrypted = xmlsec1_decrypts(folder.path(), &xml, &sp_key).unwrap();
        assert!(
            decrypted.contains(">jane@members.acme.test</saml:NameID>"),
            "{decrypted}"
        );
        if elements.contains(&"Assertion") {
            let verified =
                xmlsec1_verifies(folder.path(), &decrypted, &key.certificate_der, "Assertion");
            assert_eq!(
                verified,
                Some(true),
                "{signed:?}: the decrypted assertion verifies\n{decrypted}"
            );
        }

        assert!(
            xmlsec1_decrypts(folder.path(), &xml, &other_key).is_err(),
            "{signed:?}: another key cannot decrypt"
        );
    }
}

#[test]
fn encryption_needs_an_rsa_key_of_2048_bits() {
    let (_, small) = service_provider_key(1024);
    let error = vestibule_saml::EncryptionKey::from_certificate(&small)
        .err()
        .unwrap();
    assert!(error.contains("1024 bits"), "{error}");
    assert!(vestibule_saml::EncryptionKey::from_certificate(b"not a certificate").is_err());
}

/// Review: every next certificate is a new RSA key made on the server's CPU, and "Roll over
/// now" then "Publish the next certificate" could be pressed in a loop. Three a quarter of an
/// hour per Cloud ID; another Cloud ID is not held up.
#[tokio::test]
async fn next_certificates_are_made_at_most_three_times_a_quarter_hour() {
    let db = vestibule_storage::testing::sqlite().await;
    let (acme, beta) = (tenant(&db, "acme").await, tenant(&db, "beta").await);
    let keys = keys(&db);
    keys.signing_key(acme, "sso.acme.test", T0).await.unwrap();
    let overlap = Seconds(86_400);
    let mut at = T0;
    for _ in 0..3 {
        let next = keys
            .prepare_rollover(acme, "sso.acme.test", overlap, at)
            .await
            .unwrap();
        assert!(keys
            .reschedule_rollover(acme, &next.kid, at, at)
            .await
            .unwrap());
        at = at + Seconds(60);
    }
    match keys
        .prepare_rollover(acme, "sso.acme.test", overlap, at)
        .await
    {
        Err(vestibule_saml::SamlError::Invalid(invalid)) => assert_eq!(
            invalid.message,
            "3 next certificates were made in the last 15 minutes: try again in 12 minutes."
        ),
        other => panic!("{:?}", other.map(|entry| entry.kid)),
    }
    keys.prepare_rollover(beta, "sso.beta.test", overlap, at)
        .await
        .unwrap();
    let later = T0 + Seconds::minutes(15);
    keys.prepare_rollover(acme, "sso.acme.test", overlap, later)
        .await
        .unwrap();
}
