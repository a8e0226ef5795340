//! Enveloped XML signatures (XML-DSig) over SAML messages, made and checked by libxmlsec1 —
//! with its permissive defaults turned off.
//!
//! libxmlsec1's default signature context dereferences whatever a `<ds:Reference>` names
//! (files, HTTP, any XPointer), runs any transform it knows (XSLT, XPath), and digests every
//! reference before it checks the signature value. A signature arriving from a stranger must
//! do none of that, so every context made here is restricted before use:
//!
//! - references: same-document only (`#id`), exactly one per signature, and it must name the
//!   root element's `ID` — the only ID registered with libxml2;
//! - reference transforms: enveloped-signature and exclusive C14N (with or without comments),
//!   plus the SHA-2 digests; `SignedInfo` itself: exclusive C14N and RSA with SHA-2 only;
//! - no key is looked up from `KeyInfo` (no keys manager; the key is the one registered);
//! - no input callbacks at all: libxmlsec1's default file, HTTP and FTP readers are removed
//!   once, when the library is initialised, so no future parser bug can open a file or a socket;
//! - libxml2 parses with `XML_PARSE_NONET` and never loads a DTD or substitutes entities.
//!
//! The SAML engine checks the message's structure before it calls here (`crates/saml`,
//! `signature_shape.rs`); this crate re-checks the reference on the tree libxmlsec1 actually
//! processes, so the two parsers cannot disagree about what was verified.
//!
//! Calls are synchronous and may take milliseconds: callers run them off the async workers.

mod ffi;

pub use ffi::{sign_enveloped, verify_enveloped, SigningKey};

/// Why a signature was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlDsigError {
    /// libxmlsec1 could not be initialised (a broken installation).
    #[error("the XML-security library could not be initialised: {0}")]
    Init(&'static str),
    #[error("the document is not well-formed XML")]
    Malformed,
    #[error("the document has no ID on its root element")]
    NoRootId,
    #[error("the root element carries no enveloped signature")]
    NoSignature,
    /// The signature's shape is outside what we accept (checked on libxml2's tree).
    #[error("the signature {0}")]
    Shape(&'static str),
    #[error("the key could not be read: {0}")]
    Key(&'static str),
    /// The signature does not verify with the key (or uses what the context refuses).
    #[error("the signature does not verify")]
    Invalid,
    #[error("the document could not be signed")]
    Signing,
}

/// The signature algorithms and digests the restricted context accepts.
pub const SIGNATURE_ALGORITHMS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
];
pub const DIGEST_ALGORITHMS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// Exclusive C14N, for `SignedInfo` and as a reference transform.
pub const EXCLUSIVE_C14N: [&str; 2] = [
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
];
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
