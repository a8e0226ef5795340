//! AuthnRequests as service providers send them, and as attackers do: each hostile input is
//! refused with its own reason before anything acts on it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use vestibule_domain::Timestamp;
use vestibule_saml::{
    decode_post, decode_redirect, parse_authn_request, relay_state, RequestProblem,
    MAX_MESSAGE_BYTES,
};

const REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req-1" Version="2.0" IssueInstant="2030-03-17T17:46:40Z" Destination="https://sso.acme.test/saml/sso" AssertionConsumerServiceURL="https://events.example.org/saml/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="true"><saml:Issuer>https://events.example.org/saml</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/></samlp:AuthnRequest>"#;

fn deflate(xml: &[u8]) -> String {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(xml).unwrap();
    STANDARD.encode(encoder.finish().unwrap())
}

#[test]
fn both_bindings_decode_to_the_request_and_its_facts() {
    let redirect = decode_redirect(&deflate(REQUEST.as_bytes())).unwrap();
    let post = decode_post(&STANDARD.encode(REQUEST)).unwrap();
    assert_eq!(redirect, REQUEST);
    assert_eq!(post, REQUEST);
    // Line breaks inside POSTed base64 are tolerated, as SP libraries add them.
    let wrapped = STANDARD
        .encode(REQUEST)
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(decode_post(&wrapped).unwrap(), REQUEST);

    let request = parse_authn_request(REQUEST).unwrap();
    assert_eq!(request.id, "_req-1");
    assert_eq!(
        request.issuer.as_deref(),
        Some("https://events.example.org/saml")
    );
    assert_eq!(request.issue_instant, Timestamp(1_900_000_000));
    assert_eq!(
        request.acs_url.as_deref(),
        Some("https://events.example.org/saml/acs")
    );
    assert_eq!(
        request.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert!(request.force_authn && !request.is_passive && !request.has_xml_signature);
}

#[test]
fn hostile_encodings_are_refused() {
    assert_eq!(
        decode_post("not base64 at all!"),
        Err(RequestProblem::NotBase64)
    );
    assert_eq!(
        decode_redirect(&STANDARD.encode(REQUEST)),
        Err(RequestProblem::NotDeflated),
        "Redirect requests must be deflated"
    );
    // A deflate bomb: 50 MB of zeros in a few kilobytes stops at the limit.
    let bomb = deflate(&vec![b'<'; 50 * 1024 * 1024]);
    assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
    assert_eq!(decode_redirect(&bomb), Err(RequestProblem::TooLarge));
    let big = STANDARD.encode(vec![b' '; MAX_MESSAGE_BYTES + 1]);
    assert_eq!(decode_post(&big), Err(RequestProblem::TooLarge));
    assert_eq!(
        decode_post(&STANDARD.encode([0xff, 0xfe, 0x00])),
        Err(RequestProblem::NotUtf8)
    );
}

#[test]
fn dtds_entities_and_other_messages_are_refused() {
    let xxe = format!(
        "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        REQUEST.replace(
            "https://events.example.org/saml</saml:Issuer>",
            "&xxe;</saml:Issuer>"
        )
    );
    assert_eq!(parse_authn_request(&xxe), Err(RequestProblem::Dtd));
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>{REQUEST}"
    );
    assert_eq!(parse_authn_request(&laughs), Err(RequestProblem::Dtd));
    // An entity reference without a DTD is simply malformed.
    let undeclared = REQUEST.replace(
        "https://events.example.org/saml</saml:Issuer>",
        "&xxe;</saml:Issuer>",
    );
    assert!(matches!(
        parse_authn_request(&undeclared),
        Err(RequestProblem::Malformed(_))
    ));

    let logout = REQUEST.replace("AuthnRequest", "LogoutRequest");
    assert!(matches!(
        parse_authn_request(&logout),
        Err(RequestProblem::WrongMessage { found, .. }) if found == "LogoutRequest"
    ));
    let foreign = REQUEST.replace(
        "urn:oasis:names:tc:SAML:2.0:protocol",
        "urn:example:not-saml",
    );
    assert!(matches!(
        parse_authn_request(&foreign),
        Err(RequestProblem::WrongMessage { .. })
    ));
    let old = REQUEST.replace("Version=\"2.0\"", "Version=\"1.1\"");
    let refused = parse_authn_request(&old).unwrap_err();
    assert_eq!(refused, RequestProblem::Version("1.1".into()));
    assert!(refused.status().ends_with(":VersionMismatch"));
    assert!(matches!(
        parse_authn_request("<samlp:AuthnRequest"),
        Err(RequestProblem::Malformed(_))
    ));
    assert!(matches!(
        parse_authn_request(""),
        Err(RequestProblem::Malformed(_))
    ));
    let no_id = REQUEST.replace(" ID=\"_req-1\"", "");
    assert!(matches!(
        parse_authn_request(&no_id),
        Err(RequestProblem::Malformed(_))
    ));
}

#[test]
fn relay_state_is_at_most_80_bytes() {
    assert_eq!(relay_state(None), Ok(None));
    assert_eq!(relay_state(Some("")), Ok(None));
    assert_eq!(relay_state(Some(&"r".repeat(80))), Ok(Some("r".repeat(80))));
    assert_eq!(
        relay_state(Some(&"r".repeat(81))),
        Err(RequestProblem::RelayStateTooLong)
    );
}
