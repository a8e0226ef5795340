//! The built-in test service provider: what an admin's "Test sign-in" of a SAML app runs. The
//! IdP answers it with the app's exact configuration (NameID format, attributes, what is
//! signed, encryption) but addressed to the test's own assertion consumer service on the
//! tenant's domain, so the response is useless to the real service provider (its Destination
//! and Recipient are not the app's). The test service provider then checks what a service
//! provider checks and shows the verified assertion.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use vestibule_domain::Timestamp;
use vestibule_xmldsig::XmlDsigError;

use crate::sso::{Idp, PendingSso, Received};
use crate::xml::{attribute_value, reference, text};
use crate::{SamlIdp, SsoRefusal};

/// Where the test service provider takes responses on a tenant's domain.
pub fn test_acs_url(origin: &str) -> String {
    format!("{origin}/test-sign-in/saml/acs")
}

/// One check a service provider makes, and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpCheck {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// What the test service provider read from a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseFacts {
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub status: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub recipient: Option<String>,
    pub not_on_or_after: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub encrypted: bool,
}

/// What the test service provider saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpReport {
    pub checks: Vec<SpCheck>,
    pub facts: ResponseFacts,
}

fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}

/// The facts of a response (as verified), read with quick-xml.
fn read_facts(xml: &str) -> ResponseFacts {
    let mut facts = ResponseFacts::default();
    let mut reader = Reader::from_str(xml);
    // The local names of the open elements, outermost first.
    let mut path: Vec<Vec<u8>> = Vec::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Eof => break,
            Event::Start(start) => {
                let name = local(start.name().as_ref()).to_vec();
                opened(&mut facts, &name, &start, path.is_empty());
                path.push(name);
            }
            Event::Empty(start) => {
                let name = local(start.name().as_ref()).to_vec();
                opened(&mut facts, &name, &start, path.is_empty());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(content) => {
                if let Ok(content) = text(&content) {
                    add_text(&mut facts, &path, &content);
                }
            }
            Event::GeneralRef(entity) => {
                if let Ok(content) = reference(&entity) {
                    add_text(&mut facts, &path, &content);
                }
            }
            _ => {}
        }
    }
    facts
}

/// What an element's start says (its attributes), for the facts.
fn opened(facts: &mut ResponseFacts, name: &[u8], start: &BytesStart<'_>, root: bool) {
    let value = |key: &[u8]| {
        start
            .attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == key)
            .and_then(|a| attribute_value(&a).ok())
    };
    match name {
        b"Response" if root => {
            facts.destination = value(b"Destination");
            facts.in_response_to = value(b"InResponseTo");
        }
        b"StatusCode" if facts.status.is_none() => facts.status = value(b"Value"),
        b"SubjectConfirmationData" => {
            facts.recipient = value(b"Recipient");
            facts.not_on_or_after = value(b"NotOnOrAfter");
        }
        b"NameID" => facts.name_id_format = value(b"Format"),
        b"Attribute" => facts
            .attributes
            .push((value(b"Name").unwrap_or_default(), Vec::new())),
        b"AttributeValue" => {
            if let Some((_, values)) = facts.attributes.last_mut() {
                values.push(String::new());
            }
        }
        b"EncryptedAssertion" => facts.encrypted = true,
        _ => {}
    }
}

fn add_text(facts: &mut ResponseFacts, path: &[Vec<u8>], content: &str) {
    let Some(current) = path.last() else {
        return;
    };
    let parent = path
        .len()
        .checked_sub(2)
        .map(|index| path[index].as_slice());
    let field = match current.as_slice() {
        // The response's issuer; the assertion's when the response names none.
        b"Issuer" if parent == Some(b"Response") || facts.issuer.is_none() => &mut facts.issuer,
        b"Audience" => &mut facts.audience,
        b"NameID" => &mut facts.name_id,
        b"AttributeValue" => {
            if let Some(value) = facts
                .attributes
                .last_mut()
                .and_then(|(_, values)| values.last_mut())
            {
                value.push_str(content);
            }
            return;
        }
        _ => return,
    };
    field.get_or_insert_with(String::new).push_str(content);
}

/// The element `<prefix:Assertion …>…</prefix:Assertion>` of a response, as text.
fn assertion_element(xml: &str) -> Option<&str> {
    let start = xml.find("<saml:Assertion")?;
    let end = xml.find("</saml:Assertion>")? + "</saml:Assertion>".len();
    xml.get(start..end)
}

/// Verifies a response the IdP sent to the test service provider: its signatures with the
/// tenant's IdP certificates (the response's, the assertion's, or both), then what it says
/// against what the test asked for. CPU-bound (libxmlsec1): run it off the async executor.
pub fn check_test_response(
    xml: &str,
    certificates: &[Vec<u8>],
    idp: &Idp,
    app_entity_id: &str,
    request_id: Option<&str>,
    now: Timestamp,
) -> SpReport {
    let verify = |element: &str| -> Result<String, XmlDsigError> {
        let mut last = XmlDsigError::NoSignature;
        for certificate in certificates {
            match vestibule_xmldsig::verify_enveloped(element, certificate) {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    };
    let mut signed = Vec::new();
    let mut problems = Vec::new();
    let mut verified_xml = None;
    match verify(xml) {
        Ok(verified) => {
            signed.push("the response");
            verified_xml = Some(verified);
        }
        Err(XmlDsigError::NoSignature) => {}
        Err(error) => problems.push(format!("the response's signature: {error}")),
    }
    let within = verified_xml.clone().unwrap_or_else(|| xml.to_string());
    if let Some(assertion) = assertion_element(&within) {
        match verify(assertion) {
            Ok(verified) => {
                signed.push("the assertion");
                if verified_xml.is_none() {
                    // Only the signed assertion is read, inside the unsigned envelope's facts.
                    verified_xml = Some(within.replace(assertion, &verified));
                }
            }
            Err(XmlDsigError::NoSignature) => {}
            Err(error) => problems.push(format!("the assertion's signature: {error}")),
        }
    }
    // A service provider reads nothing of a message whose signature fails.
    let facts = if problems.is_empty() {
        read_facts(verified_xml.as_deref().unwrap_or(xml))
    } else {
        ResponseFacts::default()
    };
    let signature_detail = match (signed.is_empty(), problems.is_empty()) {
        (false, true) => format!(
            "{} signed by this IdP, verified with the certificate in its metadata",
            signed.join(" and ")
        ),
        (_, false) => problems.join("; "),
        (true, true) if facts.encrypted => "the assertion is encrypted: its signature is \
                                             inside, which only the service provider can \
                                             decrypt and check"
            .to_string(),
        (true, true) => "nothing is signed".to_string(),
    };
    let expected_acs = test_acs_url(idp.single_sign_on.trim_end_matches("/saml/sso"));
    let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_string());
    let mut checks = vec![
        SpCheck {
            name: "Signature",
            // An encrypted assertion carries its signature inside, out of the test's reach.
            passed: (!signed.is_empty() || facts.encrypted) && problems.is_empty(),
            detail: signature_detail,
        },
        SpCheck {
            name: "Status",
            passed: facts.status.as_deref() == Some(crate::STATUS_SUCCESS),
            detail: text(&facts.status),
        },
        SpCheck {
            name: "Destination",
            passed: facts.destination.as_deref() == Some(expected_acs.as_str()),
            detail: format!(
                "{} — the test's own address, never the app's",
                text(&facts.destination)
            ),
        },
        SpCheck {
            name: "InResponseTo",
            passed: request_id.is_some() && facts.in_response_to.as_deref() == request_id,
            detail: format!("{} — the test's request", text(&facts.in_response_to)),
        },
    ];
    if facts.encrypted {
        checks.push(SpCheck {
            name: "Encrypted assertion",
            passed: true,
            detail: "encrypted for the service provider's certificate: only it can read the \
                     NameID and attributes"
                .to_string(),
        });
    } else {
        let expiry = facts.not_on_or_after.as_deref().and_then(|at| {
            chrono::DateTime::parse_from_rfc3339(at.trim())
                .ok()
                .map(|at| Timestamp(at.timestamp()))
        });
        checks.extend([
            SpCheck {
                name: "Issuer",
                passed: facts.issuer.as_deref() == Some(idp.entity_id.as_str()),
                detail: text(&facts.issuer),
            },
            SpCheck {
                name: "Audience",
                passed: facts.audience.as_deref() == Some(app_entity_id),
                detail: format!("{} — the app's entity ID", text(&facts.audience)),
            },
            SpCheck {
                name: "Recipient",
                passed: facts.recipient.as_deref() == Some(expected_acs.as_str()),
                detail: text(&facts.recipient),
            },
            SpCheck {
                name: "Not on or after",
                passed: expiry.is_some_and(|expiry| expiry > now),
                detail: text(&facts.not_on_or_after),
            },
        ]);
    }
    SpReport { checks, facts }
}

impl SamlIdp {
    /// [`check_test_response`] with this tenant's IdP certificates, on the bounded signature
    /// workers like every other signature check (anyone can post to the test's address).
    /// `None` when the workers are too busy to check it in time.
    pub async fn check_test_response(
        &self,
        xml: String,
        idp: Idp,
        app_entity_id: String,
        request_id: String,
        now: Timestamp,
    ) -> Result<Option<SpReport>, crate::SamlError> {
        let certificates = self.keys.certificates(idp.tenant, now).await?;
        let checked = self.workers.run(move || {
            check_test_response(
                &xml,
                &certificates,
                &idp,
                &app_entity_id,
                Some(&request_id),
                now,
            )
        });
        Ok(checked.await.ok())
    }

    /// A sign-in for `app_id` answered to the test service provider at `acs_url` (see the
    /// module): the app's configuration, another address. The request id it gets is in
    /// [`PendingSso::request_id`].
    pub async fn start_test(
        &self,
        idp: &Idp,
        app_id: &str,
        acs_url: &str,
        now: Timestamp,
    ) -> Result<Received, SsoRefusal> {
        let app = self.apps.get(idp.tenant, app_id).await?;
        idp.check_serves(&app)?;
        let request_id = format!("_test-{}", vestibule_secrets::token::random_token());
        let pending = PendingSso {
            app_id: app.app_id.clone(),
            app_name: app.name.clone(),
            request_id: Some(request_id.clone()),
            acs_url: acs_url.to_string(),
            // The test service provider reads which request it answers, for which app, here.
            relay_state: Some(format!("{request_id} {}", app.app_id)),
            name_id_format: app.settings.name_id_format,
            force_authn: false,
            is_passive: false,
            received_at: now,
            requested_subject: None,
            replaced_session: None,
        };
        Ok(self.remember(idp.tenant, pending, now).await?)
    }
}
