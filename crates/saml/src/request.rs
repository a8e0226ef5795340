//! Reading what service providers send: the HTTP-Redirect and HTTP-POST encodings (SAML 2.0
//! Bindings §3.4, §3.5) and the `AuthnRequest` inside (Core §3.4.1). Everything here is hostile
//! until checked: sizes are bounded before and after inflating, DTDs are refused outright (no
//! entity is ever expanded), and the message must be the one expected, in SAML 2.0.

use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use vestibule_domain::Timestamp;

use crate::AUTHN_PASSWORD_TRANSPORT;

/// The largest SAML message accepted, decoded (and inflated): real AuthnRequests are a few
/// kilobytes, signed ones with a certificate under ten.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// SAML 2.0 Bindings §3.4.3 and §3.5.3: RelayState must not exceed 80 bytes.
pub const MAX_RELAY_STATE_BYTES: usize = 80;

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// What is wrong with an incoming SAML message, in words for the error page and the event
/// log, and as the SAML status a response would carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestProblem {
    #[error("the SAML message is not valid base64")]
    NotBase64,
    #[error("the SAML message does not inflate (the Redirect binding uses raw DEFLATE)")]
    NotDeflated,
    #[error("the SAML message is larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("the SAML message is not UTF-8")]
    NotUtf8,
    #[error("the SAML message declares a DTD; DTDs and entities are never accepted")]
    Dtd,
    #[error("the SAML message is not well-formed XML: {0}")]
    Malformed(String),
    #[error("expected {expected} in its SAML namespace, found {found}")]
    WrongMessage {
        expected: &'static str,
        found: String,
    },
    #[error("SAML version {0} is not supported; only 2.0 is")]
    Version(String),
    #[error("RelayState is longer than {MAX_RELAY_STATE_BYTES} bytes")]
    RelayStateTooLong,
    #[error("the app requires signed requests and this one is not signed")]
    Unsigned,
    #[error("the signature is not valid: {0}")]
    BadSignature(String),
    #[error("the signature algorithm {0} is not accepted (RSA with SHA-256, -384 or -512 is)")]
    SignatureAlgorithm(String),
    /// Refused before any XML-security library saw it (`signature_shape`).
    #[error("the signature is refused: {0}")]
    SignatureShape(crate::signature_shape::SignatureProblem),
    /// Too many signatures are being checked at once; the message was not looked at.
    #[error("the sign-in service is busy checking signatures; try again in a moment")]
    Busy,
}

impl RequestProblem {
    /// The top-level status code for a response to this request (Core §3.2.2.2).
    pub fn status(&self) -> &'static str {
        match self {
            RequestProblem::Version(_) => "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch",
            _ => "urn:oasis:names:tc:SAML:2.0:status:Requester",
        }
    }
}

/// An AuthnRequest, as far as the IdP acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    /// The service provider's entity id.
    pub issuer: Option<String>,
    pub issue_instant: Timestamp,
    pub destination: Option<String>,
    pub acs_url: Option<String>,
    pub acs_index: Option<usize>,
    pub protocol_binding: Option<String>,
    pub name_id_format: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    /// Whether the XML carries an enveloped signature (the POST binding's way of signing).
    pub has_xml_signature: bool,
    pub requested_context: Option<RequestedContext>,
    /// `<saml:Subject>`'s NameID: the member the service provider asks about (Core §3.4.1.4).
    pub subject: Option<String>,
    /// Whether the engine verified a signature on it (set after reading, never by the parser).
    pub signed: bool,
}

/// `RequestedAuthnContext` (Core §3.3.2.2.1): how the service provider wants the member to have
/// signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContext {
    /// `exact` (the default), `minimum`, `maximum` or `better`.
    pub comparison: String,
    pub class_refs: Vec<String>,
    /// Declarations by reference are not something this IdP can satisfy.
    pub has_decl_refs: bool,
}

impl RequestedContext {
    /// Whether a password sign-in over HTTPS satisfies the request. Nothing this IdP does is
    /// `better`; `minimum` is met by the classes it is at least as strong as.
    pub fn satisfied_by_password_transport(&self) -> bool {
        const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
        const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
        if self.has_decl_refs {
            return false;
        }
        let asks = |class: &str| self.class_refs.iter().any(|c| c == class);
        match self.comparison.as_str() {
            "better" => false,
            "minimum" => asks(AUTHN_PASSWORD_TRANSPORT) || asks(PASSWORD) || asks(UNSPECIFIED),
            _ => asks(AUTHN_PASSWORD_TRANSPORT),
        }
    }
}

fn bounded(bytes: Vec<u8>) -> Result<String, RequestProblem> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(RequestProblem::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| RequestProblem::NotUtf8)
}

fn base64(value: &str) -> Result<Vec<u8>, RequestProblem> {
    // Base64 of the largest message, with room for the line breaks some encoders add.
    if value.len() > MAX_MESSAGE_BYTES * 2 {
        return Err(RequestProblem::TooLarge);
    }
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| RequestProblem::NotBase64)
}

/// `SAMLRequest` of the HTTP-Redirect binding (already URL-decoded): base64 of raw DEFLATE.
/// Inflating stops one byte past the limit, so a deflate bomb costs at most that much.
pub fn decode_redirect(value: &str) -> Result<String, RequestProblem> {
    let deflated = base64(value)?;
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| RequestProblem::NotDeflated)?;
    bounded(inflated)
}

/// `SAMLRequest` of the HTTP-POST binding: base64 of the XML.
pub fn decode_post(value: &str) -> Result<String, RequestProblem> {
    bounded(base64(value)?)
}

/// RelayState as the bindings limit it; empty counts as absent.
pub fn relay_state(value: Option<&str>) -> Result<Option<String>, RequestProblem> {
    match value {
        Some(value) if value.len() > MAX_RELAY_STATE_BYTES => {
            Err(RequestProblem::RelayStateTooLong)
        }
        Some(value) if !value.is_empty() => Ok(Some(value.to_string())),
        _ => Ok(None),
    }
}

/// Checks that `xml` has no DTD and that its root is `expected` in the SAML protocol
/// namespace, before anything deserializes it.
pub(crate) fn check_root(xml: &str, expected: &'static str) -> Result<(), RequestProblem> {
    check_root_in(xml, PROTOCOL, expected)
}

/// Checks that `xml` is an `EntityDescriptor` in the SAML metadata namespace, without a DTD.
pub(crate) fn check_metadata_root(xml: &str) -> Result<(), RequestProblem> {
    check_root_in(
        xml,
        "urn:oasis:names:tc:SAML:2.0:metadata",
        "EntityDescriptor",
    )
}

fn check_root_in(
    xml: &str,
    namespace_uri: &str,
    expected: &'static str,
) -> Result<(), RequestProblem> {
    let mut reader = NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::DocType(_))) => return Err(RequestProblem::Dtd),
            Ok((namespace, Event::Start(element) | Event::Empty(element))) => {
                let local = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                let in_protocol = matches!(namespace, ResolveResult::Bound(ns) if ns.as_ref() == namespace_uri.as_bytes());
                return if local == expected && in_protocol {
                    Ok(())
                } else {
                    Err(RequestProblem::WrongMessage {
                        expected,
                        found: local,
                    })
                };
            }
            Ok((_, Event::Eof)) => return Err(RequestProblem::Malformed("no element".to_string())),
            Ok(_) => {}
            Err(error) => return Err(RequestProblem::Malformed(error.to_string())),
        }
    }
}

/// The AuthnRequest in `xml`. Its signature, if any, is checked by the caller, who knows the
/// service provider's certificate.
pub fn parse_authn_request(xml: &str) -> Result<AuthnRequest, RequestProblem> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(RequestProblem::Dtd);
    }
    check_root(xml, "AuthnRequest")?;
    let parsed = xml
        .parse::<samael::schema::AuthnRequest>()
        .map_err(|e| RequestProblem::Malformed(e.to_string()))?;
    if parsed.version != "2.0" {
        return Err(RequestProblem::Version(parsed.version));
    }
    Ok(AuthnRequest {
        id: parsed.id,
        issuer: parsed
            .issuer
            .and_then(|issuer| issuer.value)
            .map(|v| v.trim().to_string()),
        issue_instant: Timestamp(parsed.issue_instant.timestamp()),
        destination: parsed.destination,
        acs_url: parsed.assertion_consumer_service_url,
        acs_index: parsed.assertion_consumer_service_index,
        protocol_binding: parsed.protocol_binding,
        name_id_format: parsed.name_id_policy.and_then(|policy| policy.format),
        force_authn: parsed.force_authn.unwrap_or(false),
        is_passive: parsed.is_passive.unwrap_or(false),
        has_xml_signature: parsed.signature.is_some(),
        subject: parsed
            .subject
            .and_then(|subject| subject.name_id)
            .map(|name_id| name_id.value.trim().to_string()),
        signed: false,
        requested_context: parsed
            .requested_authn_context
            .map(|context| RequestedContext {
                comparison: context
                    .comparison
                    .map_or("exact", |comparison| comparison.value())
                    .to_string(),
                class_refs: context
                    .authn_context_class_refs
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|class| class.value.map(|v| v.trim().to_string()))
                    .collect(),
                has_decl_refs: context
                    .authn_context_decl_refs
                    .is_some_and(|refs| !refs.is_empty()),
            }),
    })
}
