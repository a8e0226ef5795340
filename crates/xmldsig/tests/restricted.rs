#![allow(clippy::unwrap_used)]
//! The restricted context: what verifies, and what is refused before libxmlsec1 reads
//! anything outside the document.

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use vestibule_xmldsig::{sign_enveloped, verify_enveloped, SigningKey, XmlDsigError};

struct Keys {
    private_pkcs8: Vec<u8>,
    certificate_der: Vec<u8>,
}

fn new_keys() -> Keys {
    let rsa = Rsa::generate(2048).unwrap();
    let key: PKey<Private> = PKey::from_rsa(rsa).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "sp.test").unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    Keys {
        private_pkcs8: key.private_key_to_pkcs8().unwrap(),
        certificate_der: builder.build().to_der().unwrap(),
    }
}

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn signature(reference_uri: &str, transforms: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"{reference_uri}\"><ds:Transforms>{transforms}</ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
    )
}

const STANDARD_TRANSFORMS: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
     <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";

fn message(id: &str, signature: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"{id}\" \
         Version=\"2.0\"><Issuer>https://sp.test</Issuer>{signature}<Extensions ID=\"other\">x</Extensions>\
         </samlp:AuthnRequest>"
    )
}

#[test]
fn a_signature_made_here_verifies_and_yields_the_root_without_it() {
    let keys = new_keys();
    let signed = sign_enveloped(
        &message("_r1", &signature("#_r1", STANDARD_TRANSFORMS)),
        &SigningKey::from_pkcs8(&keys.private_pkcs8).unwrap(),
    )
    .unwrap();
    let covered = verify_enveloped(&signed, &keys.certificate_der).unwrap();
    assert!(covered.starts_with("<samlp:AuthnRequest"), "{covered}");
    assert!(!covered.contains("Signature"), "{covered}");

    let tampered = signed.replace("https://sp.test", "https://evil.test");
    assert_eq!(
        verify_enveloped(&tampered, &keys.certificate_der),
        Err(XmlDsigError::Invalid)
    );
    let other = new_keys();
    assert_eq!(
        verify_enveloped(&signed, &other.certificate_der),
        Err(XmlDsigError::Invalid)
    );
}

/// Signs a legitimate message, then swaps the reference (and transforms) for the attack: the
/// signature value no longer matters, because the context must refuse before digesting.
fn attack(reference_uri: &str, transforms: &str) -> Result<String, XmlDsigError> {
    let keys = new_keys();
    let signed = sign_enveloped(
        &message("_a", &signature("#_a", STANDARD_TRANSFORMS)),
        &SigningKey::from_pkcs8(&keys.private_pkcs8).unwrap(),
    )
    .unwrap();
    let hostile = signed
        .replace("URI=\"#_a\"", &format!("URI=\"{reference_uri}\""))
        .replacen(STANDARD_TRANSFORMS, transforms, 1);
    verify_enveloped(&hostile, &keys.certificate_der)
}

#[test]
fn references_outside_the_document_are_refused_without_reading_them() {
    let started = Instant::now();
    assert!(matches!(
        attack("file:///dev/zero", STANDARD_TRANSFORMS),
        Err(XmlDsigError::Shape(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(5));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let result = attack(&format!("http://{address}/probe"), STANDARD_TRANSFORMS);
    assert!(matches!(result, Err(XmlDsigError::Shape(_))), "{result:?}");
    let connected = Arc::new(AtomicBool::new(false));
    if let Ok((mut stream, _)) = listener.accept() {
        let mut buffer = [0; 64];
        let _ = stream.read(&mut buffer);
        connected.store(true, Ordering::SeqCst);
    }
    assert!(
        !connected.load(Ordering::SeqCst),
        "the IdP connected to {address}"
    );
}

#[test]
fn a_reference_to_another_element_is_refused() {
    assert!(matches!(
        attack("#other", STANDARD_TRANSFORMS),
        Err(XmlDsigError::Shape(_))
    ));
    assert!(matches!(
        attack("#xpointer(/)", STANDARD_TRANSFORMS),
        Err(XmlDsigError::Shape(_))
    ));
}

#[test]
fn transforms_other_than_the_two_allowed_are_refused() {
    let xslt = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">\
        <xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
        <xsl:template match=\"/\"><xsl:value-of select=\"'x'\"/></xsl:template></xsl:stylesheet>\
        </ds:Transform>";
    assert_eq!(attack("#_a", xslt), Err(XmlDsigError::Invalid));
    let xpath = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\
        <ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform>";
    assert_eq!(attack("#_a", xpath), Err(XmlDsigError::Invalid));
    let inclusive = "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>";
    assert_eq!(attack("#_a", inclusive), Err(XmlDsigError::Invalid));
}

#[test]
fn objects_and_second_references_are_refused() {
    let keys = new_keys();
    let signed = sign_enveloped(
        &message("_o", &signature("#_o", STANDARD_TRANSFORMS)),
        &SigningKey::from_pkcs8(&keys.private_pkcs8).unwrap(),
    )
    .unwrap();
    let with_object = signed.replace(
        "</ds:Signature>",
        "<ds:Object><ds:Manifest><ds:Reference URI=\"file:///etc/hostname\"/></ds:Manifest></ds:Object></ds:Signature>",
    );
    assert!(matches!(
        verify_enveloped(&with_object, &keys.certificate_der),
        Err(XmlDsigError::Shape(_))
    ));
    let two_references = signed.replace(
        "</ds:SignedInfo>",
        "<ds:Reference URI=\"#_o\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>",
    );
    assert!(matches!(
        verify_enveloped(&two_references, &keys.certificate_der),
        Err(XmlDsigError::Shape(_))
    ));
}

#[test]
fn sha1_and_documents_with_a_dtd_are_refused() {
    let keys = new_keys();
    let signed = sign_enveloped(
        &message("_s", &signature("#_s", STANDARD_TRANSFORMS)),
        &SigningKey::from_pkcs8(&keys.private_pkcs8).unwrap(),
    )
    .unwrap();
    let sha1 = signed.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert_eq!(
        verify_enveloped(&sha1, &keys.certificate_der),
        Err(XmlDsigError::Invalid)
    );
    let body = signed.trim_start_matches(|c| c != '\n').trim_start();
    let dtd = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/hostname\">]>{body}");
    assert!(matches!(
        verify_enveloped(&dtd, &keys.certificate_der),
        Err(XmlDsigError::Shape(_))
    ));
}

/// One key read once signs on many threads at once, each signature its own and valid, and
/// outlives none of them: what the SAML engine does with a tenant's key under load.
#[test]
fn one_parsed_key_signs_from_many_threads() {
    let keys = new_keys();
    let key = std::sync::Arc::new(SigningKey::from_pkcs8(&keys.private_pkcs8).unwrap());
    let signers: Vec<_> = (0..8)
        .map(|n| {
            let key = key.clone();
            std::thread::spawn(move || {
                let id = format!("_t{n}");
                let xml = message(&id, &signature(&format!("#{id}"), STANDARD_TRANSFORMS));
                (0..5)
                    .map(|_| sign_enveloped(&xml, &key).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for signer in signers {
        for signed in signer.join().unwrap() {
            verify_enveloped(&signed, &keys.certificate_der).unwrap();
        }
    }
    drop(key);
    assert_eq!(
        SigningKey::from_pkcs8(b"not a key").unwrap_err(),
        XmlDsigError::Key("not a key libxmlsec1 can read")
    );
}
