//! What an XML signature from a service provider may look like, checked on every incoming
//! message before any XML-security library sees it (docs/decisions.md, "What a signature may
//! reference"). A SAML message is signed over itself and nothing else, so its signature has
//! one shape:
//!
//! - at most one `ds:Signature` in the whole message, and only as a direct child of the root
//!   (anywhere else it is signature wrapping: a signed element hidden in `Extensions`);
//! - exactly one `ds:Reference`, whose URI is `#` + the root's `ID`;
//! - transforms: enveloped-signature and exclusive C14N (with or without comments) only;
//! - canonicalization: exclusive C14N; signature: RSA with SHA-256/384/512; digest: SHA-2;
//! - no `ds:Object`, `ds:Manifest` or `ds:RetrievalMethod`, and `KeyInfo` carries at most the
//!   certificate, a key name or a key value: nothing that points anywhere.
//!
//! libxmlsec1 is then called with a context restricted to the same rules (crates/xmldsig), so a
//! disagreement between the two parsers cannot reopen what this refuses.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use vestibule_xmldsig::{
    DIGEST_ALGORITHMS, ENVELOPED_SIGNATURE, EXCLUSIVE_C14N, SIGNATURE_ALGORITHMS,
};

use crate::request::RequestProblem;

const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &[u8] = b"http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Why a signature's shape is refused, in the integrator's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error(
        "a signature sits inside the message rather than directly in its root element \
         (the shape of a signature-wrapping attack)"
    )]
    Misplaced,
    #[error("the message carries more than one signature")]
    Several,
    #[error("the signed message has no ID on its root element")]
    RootWithoutId,
    #[error("the signature must have exactly one Reference; it has {0}")]
    References(usize),
    #[error(
        "the signature's Reference points to {0:?}; only \"#\" followed by the message's own ID \
         is accepted"
    )]
    ReferenceTarget(String),
    #[error("the transform {0} is not accepted (only enveloped-signature and exclusive C14N are)")]
    Transform(String),
    #[error("the canonicalization {0} is not accepted (only exclusive C14N is)")]
    Canonicalization(String),
    #[error(
        "SHA-1 signatures are refused: its collisions are practical. Ask the service provider \
         to sign with RSA-SHA256"
    )]
    Sha1,
    #[error("the signature algorithm {0} is not accepted (RSA with SHA-256, -384 or -512 is)")]
    SignatureAlgorithm(String),
    #[error("the digest algorithm {0} is not accepted (SHA-256, -384 or -512 is)")]
    DigestAlgorithm(String),
    #[error("the signature carries {0}, which is never accepted")]
    Forbidden(&'static str),
    #[error(
        "the signature's KeyInfo carries {0}; only the certificate (X509Data), KeyName or \
         KeyValue may be there"
    )]
    KeyInfo(String),
}

/// What the shape check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureShape {
    Unsigned,
    /// One enveloped signature over the root, in the accepted shape.
    Enveloped,
}

/// Where the reader is relative to the signature.
#[derive(Debug, Default)]
struct Walk {
    depth: usize,
    root_id: Option<String>,
    signature_depth: Option<usize>,
    signatures: usize,
    /// Local names of the dsig elements open inside the signature, outermost first.
    open: Vec<Vec<u8>>,
    references: Vec<String>,
}

/// Checks every `ds:Signature` in `xml` as the module documentation says.
pub fn inspect(xml: &str) -> Result<SignatureShape, RequestProblem> {
    let mut reader = NsReader::from_str(xml);
    let mut walk = Walk::default();
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|e| RequestProblem::Malformed(e.to_string()))?;
        let in_dsig = matches!(namespace, ResolveResult::Bound(ns) if ns.as_ref() == DSIG);
        let in_exc_c14n =
            matches!(namespace, ResolveResult::Bound(ns) if ns.as_ref() == EXC_C14N_NS);
        match event {
            Event::DocType(_) => return Err(RequestProblem::Dtd),
            Event::Start(element) => {
                walk.open(&element, in_dsig, in_exc_c14n)?;
                walk.depth += 1;
            }
            Event::Empty(element) => {
                walk.open(&element, in_dsig, in_exc_c14n)?;
                walk.close();
            }
            Event::End(_) => {
                walk.depth = walk.depth.saturating_sub(1);
                walk.close();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if walk.signatures == 0 {
        return Ok(SignatureShape::Unsigned);
    }
    let root_id = walk.root_id.ok_or(RequestProblem::SignatureShape(
        SignatureProblem::RootWithoutId,
    ))?;
    match walk.references.as_slice() {
        [uri] if *uri == format!("#{root_id}") => Ok(SignatureShape::Enveloped),
        [uri] => Err(SignatureProblem::ReferenceTarget(uri.clone()).into()),
        references => Err(SignatureProblem::References(references.len()).into()),
    }
}

impl From<SignatureProblem> for RequestProblem {
    fn from(problem: SignatureProblem) -> Self {
        RequestProblem::SignatureShape(problem)
    }
}

impl Walk {
    fn in_signature(&self) -> bool {
        self.signature_depth.is_some()
    }

    fn parent(&self) -> Option<&[u8]> {
        self.open.last().map(Vec::as_slice)
    }

    /// An element starts at `self.depth` (its parent's depth + 1 for the root's children).
    fn open(
        &mut self,
        element: &BytesStart<'_>,
        in_dsig: bool,
        in_exc_c14n: bool,
    ) -> Result<(), RequestProblem> {
        let local = element.local_name().as_ref().to_vec();
        if self.depth == 0 {
            self.root_id = attribute(element, b"ID")?;
        }
        if in_dsig {
            match local.as_slice() {
                b"Signature" => {
                    if self.in_signature() || self.depth != 1 {
                        return Err(SignatureProblem::Misplaced.into());
                    }
                    self.signatures += 1;
                    if self.signatures > 1 {
                        return Err(SignatureProblem::Several.into());
                    }
                    self.signature_depth = Some(self.depth);
                }
                b"Object" => return Err(SignatureProblem::Forbidden("an Object").into()),
                b"Manifest" => return Err(SignatureProblem::Forbidden("a Manifest").into()),
                b"RetrievalMethod" => {
                    return Err(SignatureProblem::Forbidden("a RetrievalMethod").into())
                }
                _ if !self.in_signature() => {
                    // A dsig element outside any signature (a stray Reference or SignedInfo):
                    // nothing legitimate puts one there.
                    return Err(SignatureProblem::Misplaced.into());
                }
                _ => self.check_signature_part(element, &local)?,
            }
        } else if self.in_signature() {
            let inclusive_namespaces = in_exc_c14n
                && local == b"InclusiveNamespaces"
                && matches!(
                    self.parent(),
                    Some(b"Transform" | b"CanonicalizationMethod")
                );
            if !inclusive_namespaces {
                return Err(
                    SignatureProblem::Forbidden("an element from another vocabulary").into(),
                );
            }
        }
        if self.in_signature() {
            self.open.push(local);
        }
        Ok(())
    }

    fn close(&mut self) {
        if self.in_signature() {
            self.open.pop();
            if self.open.is_empty() {
                self.signature_depth = None;
            }
        }
    }

    fn check_signature_part(
        &mut self,
        element: &BytesStart<'_>,
        local: &[u8],
    ) -> Result<(), RequestProblem> {
        let algorithm = || attribute(element, b"Algorithm").map(Option::unwrap_or_default);
        if local != b"Reference" && attribute(element, b"URI")?.is_some() {
            return Err(SignatureProblem::Forbidden("a URI outside its Reference").into());
        }
        match (self.parent(), local) {
            (Some(b"Signature"), b"SignedInfo" | b"SignatureValue" | b"KeyInfo") => {}
            (Some(b"SignedInfo"), b"CanonicalizationMethod") => {
                let algorithm = algorithm()?;
                if !EXCLUSIVE_C14N.contains(&algorithm.as_str()) {
                    return Err(SignatureProblem::Canonicalization(algorithm).into());
                }
            }
            (Some(b"SignedInfo"), b"SignatureMethod") => {
                let algorithm = algorithm()?;
                if algorithm == RSA_SHA1 {
                    return Err(SignatureProblem::Sha1.into());
                }
                if !SIGNATURE_ALGORITHMS.contains(&algorithm.as_str()) {
                    return Err(SignatureProblem::SignatureAlgorithm(algorithm).into());
                }
            }
            (Some(b"SignedInfo"), b"Reference") => {
                self.references
                    .push(attribute(element, b"URI")?.unwrap_or_default());
            }
            (Some(b"Reference"), b"Transforms" | b"DigestValue") => {}
            (Some(b"Reference"), b"DigestMethod") => {
                let algorithm = algorithm()?;
                if algorithm == SHA1 {
                    return Err(SignatureProblem::Sha1.into());
                }
                if !DIGEST_ALGORITHMS.contains(&algorithm.as_str()) {
                    return Err(SignatureProblem::DigestAlgorithm(algorithm).into());
                }
            }
            (Some(b"Transforms"), b"Transform") => {
                let algorithm = algorithm()?;
                if algorithm != ENVELOPED_SIGNATURE && !EXCLUSIVE_C14N.contains(&algorithm.as_str())
                {
                    return Err(SignatureProblem::Transform(algorithm).into());
                }
            }
            (Some(b"KeyInfo"), b"X509Data" | b"KeyName" | b"KeyValue") => {}
            (Some(b"KeyInfo"), other) => {
                return Err(SignatureProblem::KeyInfo(String::from_utf8_lossy(other).into()).into())
            }
            // Inside X509Data and KeyValue: certificates, names, serials, RSA key parts; none
            // of them has a URI (checked above).
            (Some(b"X509Data" | b"X509IssuerSerial" | b"KeyValue" | b"RSAKeyValue"), _) => {}
            (_, other) => {
                return Err(SignatureProblem::Forbidden(match other {
                    b"Reference" => "a Reference outside SignedInfo",
                    b"Transform" => "a Transform outside its Reference",
                    _ => "an element out of place",
                })
                .into())
            }
        }
        Ok(())
    }
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
