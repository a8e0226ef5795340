//! The Single Logout protocol's messages (SAML 2.0 Core §3.7): reading `LogoutRequest` and
//! `LogoutResponse` from service providers, and writing both for them.
//!
//! samael's schema reads `SessionIndex` as an attribute, where Core §3.7.1 makes it an element,
//! so these two messages are read here, with the same guards as every incoming message: no DTD,
//! the root checked by namespace, SAML 2.0 only.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use vestibule_domain::Timestamp;

use crate::request::{check_root, RequestProblem};
use crate::response::{new_id, signature_template, ASSERTION, PROTOCOL};
use crate::xml::escape;
use crate::{SamlError, SigningKey};

const SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A service provider asks to end a member's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issuer: Option<String>,
    pub issue_instant: Timestamp,
    pub destination: Option<String>,
    pub name_id: String,
    pub session_indexes: Vec<String>,
    pub has_xml_signature: bool,
    /// Whether the engine verified a signature on it (set after reading, never by the parser).
    pub signed: bool,
}

/// A service provider's answer to our LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    pub in_response_to: Option<String>,
    pub issuer: Option<String>,
    pub status: String,
    pub has_xml_signature: bool,
}

/// What the first pass over a message found: the root's attributes and the children that
/// matter, by namespace.
#[derive(Default)]
struct Scanned {
    id: Option<String>,
    version: Option<String>,
    issue_instant: Option<String>,
    destination: Option<String>,
    in_response_to: Option<String>,
    issuer: Option<String>,
    name_id: Option<String>,
    session_indexes: Vec<String>,
    status: Option<String>,
    has_signature: bool,
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, RequestProblem> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| RequestProblem::Malformed(e.to_string()))?;
        if attribute.key.as_ref() == name {
            return crate::xml::attribute_value(&attribute).map(Some);
        }
    }
    Ok(None)
}

fn scan(xml: &str) -> Result<Scanned, RequestProblem> {
    let mut reader = NsReader::from_str(xml);
    let mut scanned = Scanned::default();
    let mut depth = 0usize;
    // The child of the root whose text is being read, and that text.
    let mut reading: Option<&'static str> = None;
    let mut text = String::new();
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|e| RequestProblem::Malformed(e.to_string()))?;
        let ns = match namespace {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::DocType(_) => return Err(RequestProblem::Dtd),
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                let local = element.local_name();
                let local = local.as_ref();
                if depth == 0 {
                    scanned.id = attribute(element, b"ID")?;
                    scanned.version = attribute(element, b"Version")?;
                    scanned.issue_instant = attribute(element, b"IssueInstant")?;
                    scanned.destination = attribute(element, b"Destination")?;
                    scanned.in_response_to = attribute(element, b"InResponseTo")?;
                } else if depth == 1 {
                    reading = match (ns.as_str(), local) {
                        (ASSERTION, b"Issuer") => Some("Issuer"),
                        (ASSERTION, b"NameID") => Some("NameID"),
                        (PROTOCOL, b"SessionIndex") => Some("SessionIndex"),
                        (SIGNATURE, b"Signature") => {
                            scanned.has_signature = true;
                            None
                        }
                        (ASSERTION, b"EncryptedID") | (ASSERTION, b"BaseID") => {
                            return Err(RequestProblem::Malformed(
                                "only a plain NameID identifies the member".to_string(),
                            ))
                        }
                        _ => None,
                    };
                    text.clear();
                } else if depth == 2
                    && ns == PROTOCOL
                    && local == b"StatusCode"
                    && scanned.status.is_none()
                {
                    scanned.status = attribute(element, b"Value")?;
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Text(t) if reading.is_some() && depth == 2 => {
                text.push_str(&crate::xml::text(&t)?);
            }
            Event::GeneralRef(r) if reading.is_some() && depth == 2 => {
                text.push_str(&crate::xml::reference(&r)?);
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    let value = text.trim().to_string();
                    match reading.take() {
                        Some("Issuer") => scanned.issuer = Some(value),
                        Some("NameID") => scanned.name_id = Some(value),
                        Some("SessionIndex") => scanned.session_indexes.push(value),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if scanned.version.as_deref() != Some("2.0") {
        return Err(RequestProblem::Version(
            scanned.version.unwrap_or_else(|| "(none)".to_string()),
        ));
    }
    Ok(scanned)
}

fn instant(value: Option<&str>) -> Result<Timestamp, RequestProblem> {
    let value = value.ok_or_else(|| RequestProblem::Malformed("IssueInstant is missing".into()))?;
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| Timestamp(t.timestamp()))
        .map_err(|_| RequestProblem::Malformed(format!("IssueInstant {value:?} is not a dateTime")))
}

fn guard(xml: &str, root: &'static str) -> Result<(), RequestProblem> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(RequestProblem::Dtd);
    }
    check_root(xml, root)
}

pub fn parse_logout_request(xml: &str) -> Result<LogoutRequest, RequestProblem> {
    guard(xml, "LogoutRequest")?;
    let scanned = scan(xml)?;
    Ok(LogoutRequest {
        id: scanned
            .id
            .ok_or_else(|| RequestProblem::Malformed("ID is missing".to_string()))?,
        issue_instant: instant(scanned.issue_instant.as_deref())?,
        issuer: scanned.issuer,
        destination: scanned.destination,
        name_id: scanned
            .name_id
            .ok_or_else(|| RequestProblem::Malformed("NameID is missing".to_string()))?,
        session_indexes: scanned.session_indexes,
        signed: false,
        has_xml_signature: scanned.has_signature,
    })
}

pub fn parse_logout_response(xml: &str) -> Result<LogoutResponse, RequestProblem> {
    guard(xml, "LogoutResponse")?;
    let scanned = scan(xml)?;
    Ok(LogoutResponse {
        in_response_to: scanned.in_response_to,
        issuer: scanned.issuer,
        status: scanned
            .status
            .ok_or_else(|| RequestProblem::Malformed("Status is missing".to_string()))?,
        has_xml_signature: scanned.has_signature,
    })
}

/// Who a logout message goes to and in answer to what.
pub struct LogoutAddress<'a> {
    /// The IdP's entity id.
    pub issuer: &'a str,
    /// The service provider's single logout URL.
    pub destination: &'a str,
    pub now: Timestamp,
}

/// A `LogoutResponse`. `signed` adds an enveloped signature (for the POST binding); the
/// Redirect binding signs the query instead.
pub fn logout_response(
    to: &LogoutAddress<'_>,
    in_response_to: &str,
    status: &str,
    key: Option<&SigningKey>,
) -> Result<String, SamlError> {
    let id = new_id();
    let signature = key
        .map(|key| signature_template(&id, &key.certificate_base64()))
        .unwrap_or_default();
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" \
         InResponseTo=\"{in_response_to}\"><saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>\
         </samlp:LogoutResponse>",
        now = to.now.to_xml_datetime(),
        destination = escape(to.destination),
        in_response_to = escape(in_response_to),
        issuer = escape(to.issuer),
        status = escape(status),
    );
    sign_if(xml, key)
}

/// A `LogoutRequest` telling a service provider the member's session has ended, with its ID.
pub fn logout_request(
    to: &LogoutAddress<'_>,
    name_id: &str,
    name_id_format: &str,
    session_index: &str,
    key: Option<&SigningKey>,
) -> Result<(String, String), SamlError> {
    let id = new_id();
    let signature = key
        .map(|key| signature_template(&id, &key.certificate_base64()))
        .unwrap_or_default();
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" \
         Reason=\"urn:oasis:names:tc:SAML:2.0:logout:user\">\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <saml:NameID Format=\"{format}\">{name_id}</saml:NameID>\
         <samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>",
        now = to.now.to_xml_datetime(),
        destination = escape(to.destination),
        issuer = escape(to.issuer),
        format = escape(name_id_format),
        name_id = escape(name_id),
        session_index = escape(session_index),
    );
    Ok((sign_if(xml, key)?, id))
}

fn sign_if(xml: String, key: Option<&SigningKey>) -> Result<String, SamlError> {
    match key {
        Some(key) => vestibule_xmldsig::sign_enveloped(&xml, &key.xml_key)
            .map_err(|e| SamlError::Signing(e.to_string())),
        None => Ok(xml),
    }
}
