//! A signed SAML `Response` carrying one `Assertion` (SAML 2.0 Core §2, §3.2.2; the Web Browser
//! SSO profile's rules for bearer assertions, Profiles §4.1.4.2).

use rand::RngCore;
use vestibule_domain::{Seconds, Timestamp};

use crate::encryption::{encrypted_assertion, EncryptionKey};
use crate::xml::escape;
use crate::{SamlError, SigningKey};

/// The member signed in with a password over HTTPS.
pub const AUTHN_PASSWORD_TRANSPORT: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// Which elements carry a signature. Service providers differ in which they check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedParts {
    Assertion,
    Response,
    Both,
}

/// The subject as the service provider knows them.
pub struct NameId<'a> {
    /// A NameID format URI.
    pub format: &'a str,
    pub value: &'a str,
    /// For persistent identifiers: the service provider they were made for.
    pub sp_name_qualifier: Option<&'a str>,
}

/// A profile attribute. Names starting with `urn:oid:` use the `uri` name format, others
/// `basic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<String>,
}

/// Everything a response says.
pub struct ResponseContent<'a> {
    /// The IdP's entity id.
    pub issuer: &'a str,
    /// The assertion consumer service URL the response is posted to.
    pub destination: &'a str,
    /// The AuthnRequest's ID; `None` for IdP-initiated sign-in.
    pub in_response_to: Option<&'a str>,
    /// The service provider's entity id.
    pub audience: &'a str,
    pub name_id: NameId<'a>,
    pub session_index: &'a str,
    pub authn_instant: Timestamp,
    pub attributes: &'a [Attribute],
    pub now: Timestamp,
    /// How long the assertion may be used.
    pub lifetime: Seconds,
    /// How far back `NotBefore` reaches, for service providers whose clocks run behind.
    pub skew: Seconds,
    pub signed: SignedParts,
    /// The service provider's key, when it wants the assertion encrypted.
    pub encrypt_to: Option<&'a EncryptionKey>,
}

pub(crate) const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    // IDs are xs:ID: they must not start with a digit.
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

/// An enveloped-signature template for the element with `id`: RSA-SHA256, SHA-256 digest,
/// exclusive C14N, the certificate in `KeyInfo`. libxmlsec1 fills in the values.
pub(crate) fn signature_template(id: &str, certificate_base64: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate_base64}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
}

fn attribute_statement(attributes: &[Attribute]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let body: String = attributes
        .iter()
        .map(|attribute| {
            let format = if attribute.name.starts_with("urn:oid:") {
                "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
            } else {
                "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
            };
            let values: String = attribute
                .values
                .iter()
                .map(|value| {
                    format!(
                        "<saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
                         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                         xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                        escape(value)
                    )
                })
                .collect();
            format!(
                "<saml:Attribute Name=\"{}\" NameFormat=\"{format}\">{values}</saml:Attribute>",
                escape(&attribute.name)
            )
        })
        .collect();
    format!("<saml:AttributeStatement>{body}</saml:AttributeStatement>")
}

/// The response, signed as `content.signed` asks, ready to be base64-encoded into the
/// HTTP-POST binding's form.
pub fn signed_response(
    content: &ResponseContent<'_>,
    key: &SigningKey,
) -> Result<String, SamlError> {
    let response_id = new_id();
    let assertion_id = new_id();
    let certificate = key.certificate_base64();
    let issue_instant = content.now.to_xml_datetime();
    let not_on_or_after = (content.now + content.lifetime).to_xml_datetime();
    let in_response_to = content
        .in_response_to
        .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
        .unwrap_or_default();
    let issuer = escape(content.issuer);
    let destination = escape(content.destination);
    let name_qualifier = content
        .name_id
        .sp_name_qualifier
        .map(|sp| format!(" SPNameQualifier=\"{}\"", escape(sp)))
        .unwrap_or_default();
    let sign_assertion = matches!(content.signed, SignedParts::Assertion | SignedParts::Both);
    let assertion = format!(
        "<saml:Assertion xmlns:saml=\"{ASSERTION}\" ID=\"{assertion_id}\" Version=\"2.0\" \
         IssueInstant=\"{issue_instant}\"><saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <saml:Subject><saml:NameID Format=\"{format}\"{name_qualifier}>{name}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData{in_response_to} NotOnOrAfter=\"{not_on_or_after}\" \
         Recipient=\"{destination}\"/></saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_on_or_after}\">\
         <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>\
         </saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{authn_instant}\" SessionIndex=\"{session_index}\">\
         <saml:AuthnContext><saml:AuthnContextClassRef>{AUTHN_PASSWORD_TRANSPORT}\
         </saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
         {attributes}</saml:Assertion>",
        signature = if sign_assertion {
            signature_template(&assertion_id, &certificate)
        } else {
            String::new()
        },
        format = escape(content.name_id.format),
        name = escape(content.name_id.value),
        not_before = (content.now - content.skew).to_xml_datetime(),
        audience = escape(content.audience),
        authn_instant = content.authn_instant.to_xml_datetime(),
        session_index = escape(content.session_index),
        attributes = attribute_statement(content.attributes),
    );
    let response = |signature: &str, assertion: &str| {
        format!(
            "<samlp:Response xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" \
             ID=\"{response_id}\" Version=\"2.0\" IssueInstant=\"{issue_instant}\" \
             Destination=\"{destination}\"{in_response_to}><saml:Issuer>{issuer}</saml:Issuer>\
             {signature}<samlp:Status><samlp:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>{assertion}\
             </samlp:Response>"
        )
    };
    let sign = |xml: &str| {
        vestibule_xmldsig::sign_enveloped(xml, &key.xml_key)
            .map(|signed| without_declaration(&signed).to_string())
            .map_err(|e| SamlError::Signing(e.to_string()))
    };
    // The assertion is signed on its own (it declares every namespace it uses, so exclusive
    // C14N gives the same digest wherever it is placed), then encrypted if the service provider
    // asked, then placed in the response. Signing the response last means its digest covers
    // the assertion's signature or ciphertext too.
    let assertion = if sign_assertion {
        sign(&assertion)?
    } else {
        assertion
    };
    let assertion = match content.encrypt_to {
        Some(encryption_key) => encrypted_assertion(&assertion, encryption_key)?,
        None => assertion,
    };
    match content.signed {
        SignedParts::Assertion => Ok(response("", &assertion)),
        SignedParts::Response | SignedParts::Both => sign(&response(
            &signature_template(&response_id, &certificate),
            &assertion,
        )),
    }
}

/// libxml2 writes documents with an `<?xml …?>` declaration, which an element placed inside
/// another document must not carry.
fn without_declaration(xml: &str) -> &str {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(xml, |(_, body)| body.trim_start()),
        None => xml,
    }
}

/// A response that signs no one in: the status says why (Core §3.2.2.2), in words for the
/// service provider's logs too. The response itself is signed.
pub struct StatusContent<'a> {
    pub issuer: &'a str,
    pub destination: &'a str,
    pub in_response_to: Option<&'a str>,
    /// A top-level status code: `Requester`, `Responder` or `VersionMismatch`.
    pub status: &'a str,
    /// A second-level code such as `NoPassive` or `InvalidNameIDPolicy`.
    pub sub_status: Option<&'a str>,
    pub message: &'a str,
    pub now: Timestamp,
}

pub fn signed_status_response(
    content: &StatusContent<'_>,
    key: &SigningKey,
) -> Result<String, SamlError> {
    let id = new_id();
    let in_response_to = content
        .in_response_to
        .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
        .unwrap_or_default();
    let code = match content.sub_status {
        Some(sub) => format!(
            "<samlp:StatusCode Value=\"{}\"><samlp:StatusCode Value=\"{}\"/></samlp:StatusCode>",
            escape(content.status),
            escape(sub)
        ),
        None => format!("<samlp:StatusCode Value=\"{}\"/>", escape(content.status)),
    };
    let xml = format!(
        "<samlp:Response xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\"{in_response_to}>\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status>{code}\
         <samlp:StatusMessage>{message}</samlp:StatusMessage></samlp:Status></samlp:Response>",
        now = content.now.to_xml_datetime(),
        destination = escape(content.destination),
        issuer = escape(content.issuer),
        signature = signature_template(&id, &key.certificate_base64()),
        message = escape(content.message),
    );
    vestibule_xmldsig::sign_enveloped(&xml, &key.xml_key)
        .map_err(|e| SamlError::Signing(e.to_string()))
}
