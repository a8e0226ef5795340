//! Signatures as the two bindings carry them (SAML 2.0 Bindings §3.4.4.1, §3.5): over the
//! Redirect binding's query string, or enveloped in the XML of the POST binding. XML signatures
//! are checked by libxmlsec1 (through samael) and only what they cover is read afterwards, so a
//! wrapped, unsigned element can never be the one acted on.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::hash::MessageDigest;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ring::signature::{self, UnparsedPublicKey};

use vestibule_xmldsig::XmlDsigError;

use crate::request::RequestProblem;
use crate::response::signature_template;
use crate::signature_shape::{inspect, SignatureShape};
use crate::{SamlError, SigningKey};

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";

/// Everything but RFC 3986's unreserved characters is escaped, as URLEncoder-style encoders do.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A Redirect-binding query, as received: the values still percent-encoded, because the
/// signature covers the encoded form the service provider produced.
#[derive(Debug, Clone, Default)]
pub struct RedirectQuery {
    pairs: Vec<(String, String)>,
}

impl RedirectQuery {
    pub fn parse(raw_query: &str) -> Self {
        let pairs = raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None => (pair.to_string(), String::new()),
            })
            .collect();
        Self { pairs }
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of `key` (`+` is a space, as in any form encoding).
    pub fn get(&self, key: &str) -> Option<String> {
        let raw = self.raw(key)?.replace('+', " ");
        Some(percent_decode_str(&raw).decode_utf8_lossy().into_owned())
    }

    pub fn is_signed(&self) -> bool {
        self.raw("Signature").is_some()
    }

    /// Checks the query's signature against the service provider's certificate. `message` is
    /// `SAMLRequest` or `SAMLResponse`.
    pub fn verify(&self, message: &str, certificate_der: &[u8]) -> Result<(), RequestProblem> {
        let signature = self.get("Signature").ok_or(RequestProblem::Unsigned)?;
        let algorithm = self
            .get("SigAlg")
            .ok_or_else(|| RequestProblem::BadSignature("SigAlg is missing".to_string()))?;
        let verification: &'static signature::RsaParameters = match algorithm.as_str() {
            RSA_SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            RSA_SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            RSA_SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            other => return Err(RequestProblem::SignatureAlgorithm(other.to_string())),
        };
        let mut signed = String::new();
        for key in [message, "RelayState", "SigAlg"] {
            if let Some(value) = self.raw(key) {
                if !signed.is_empty() {
                    signed.push('&');
                }
                signed.push_str(&format!("{key}={value}"));
            }
        }
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| RequestProblem::BadSignature("Signature is not base64".to_string()))?;
        let public_key = rsa_public_key(certificate_der)?;
        UnparsedPublicKey::new(verification, public_key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| {
                RequestProblem::BadSignature(
                    "the signature does not match the service provider's certificate".to_string(),
                )
            })
    }
}

/// The RSA public key (PKCS#1) in a certificate.
fn rsa_public_key(certificate_der: &[u8]) -> Result<Vec<u8>, RequestProblem> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).map_err(|_| {
        RequestProblem::BadSignature("the service provider's certificate is unreadable".to_string())
    })?;
    let spki = certificate.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(RequestProblem::BadSignature(
            "the service provider's certificate is not an RSA certificate".to_string(),
        ));
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// Checks the enveloped XML signature of `xml` against the service provider's certificate
/// and returns the signed element alone, as libxmlsec1 digested it. Callers read only this.
/// The message's shape is checked first (`signature_shape`), then libxmlsec1 verifies it on a
/// restricted context (crates/xmldsig). Synchronous and CPU-bound: the engine calls it through
/// its signature workers, never on an async worker.
pub fn verified_element(xml: &str, certificate_der: &[u8]) -> Result<String, RequestProblem> {
    if inspect(xml)? != SignatureShape::Enveloped {
        return Err(RequestProblem::Unsigned);
    }
    vestibule_xmldsig::verify_enveloped(xml, certificate_der).map_err(|error| match error {
        XmlDsigError::Invalid => RequestProblem::BadSignature(
            "it does not match the certificate registered for this service provider, or the \
             message was changed after it was signed"
                .to_string(),
        ),
        XmlDsigError::Key(_) => RequestProblem::BadSignature(
            "the certificate registered for this service provider cannot be read".to_string(),
        ),
        XmlDsigError::Malformed => RequestProblem::Malformed("libxml2 cannot read it".into()),
        other => RequestProblem::BadSignature(other.to_string()),
    })
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// A message for the Redirect binding, signed with the tenant's key: the query string to
/// append to the service provider's endpoint. `message` is `SAMLRequest` or `SAMLResponse`.
pub fn signed_redirect_query(
    message: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
) -> Result<String, SamlError> {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .and_then(|()| deflater.flush())
        .map_err(|e| SamlError::Signing(e.to_string()))?;
    let deflated = deflater
        .finish()
        .map_err(|e| SamlError::Signing(e.to_string()))?;
    let mut query = format!("{message}={}", encode(&STANDARD.encode(deflated)));
    if let Some(relay_state) = relay_state {
        query.push_str(&format!("&RelayState={}", encode(relay_state)));
    }
    query.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
    let failed = |e: openssl::error::ErrorStack| SamlError::Signing(e.to_string());
    let signature = openssl::sign::Signer::new(MessageDigest::sha256(), &key.query_key)
        .and_then(|mut signer| signer.sign_oneshot_to_vec(query.as_bytes()))
        .map_err(failed)?;
    query.push_str(&format!(
        "&Signature={}",
        encode(&STANDARD.encode(signature))
    ));
    Ok(query)
}

/// Signs the root element of `xml`, whose `ID` is `id`, with an enveloped RSA-SHA256
/// signature placed right after its `Issuer`, where the SAML schema puts it.
pub fn sign_enveloped(xml: &str, id: &str, key: &SigningKey) -> Result<String, SamlError> {
    let marker = "</saml:Issuer>";
    let at = xml
        .find(marker)
        .ok_or_else(|| SamlError::Signing("the message has no saml:Issuer".to_string()))?
        + marker.len();
    let mut template = xml.to_string();
    template.insert_str(at, &signature_template(id, &key.certificate_base64()));
    vestibule_xmldsig::sign_enveloped(&template, &key.xml_key)
        .map_err(|e| SamlError::Signing(e.to_string()))
}
