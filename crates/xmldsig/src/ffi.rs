//! The unsafe layer: owned libxml2 documents and restricted libxmlsec1 contexts, freed on drop.
//! Every pointer dereferenced here comes from libxml2 or libxmlsec1 and is checked for null
//! first; every string handed to C is NUL-terminated and outlives the call.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::{null, null_mut, NonNull};
use std::sync::OnceLock;

use crate::XmlDsigError;

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

use bindings::*;

const DSIG_NS: &CStr = c"http://www.w3.org/2000/09/xmldsig#";

/// Initialises libxml2 and libxmlsec1 once per process, then removes every input callback
/// libxmlsec1 registered (file, HTTP, FTP): nothing a signature names can be read from
/// outside the document.
fn initialised() -> Result<(), XmlDsigError> {
    static INIT: OnceLock<Result<(), XmlDsigError>> = OnceLock::new();
    INIT.get_or_init(|| {
        // SAFETY: called once, before any other libxml2 or libxmlsec1 call of this process
        // (this module is the only caller of either library).
        unsafe {
            xmlInitParser();
            let version = xmlSecCheckVersionExt(
                XMLSEC_VERSION_MAJOR as c_int,
                XMLSEC_VERSION_MINOR as c_int,
                XMLSEC_VERSION_SUBMINOR as c_int,
                xmlSecCheckVersionMode_xmlSecCheckVersionABICompatible,
            );
            if version != 1 {
                return Err(XmlDsigError::Init(
                    "the installed libxmlsec1 is not ABI-compatible",
                ));
            }
            if xmlSecInit() < 0 {
                return Err(XmlDsigError::Init("xmlSecInit failed"));
            }
            if xmlSecOpenSSLAppInit(null()) < 0 || xmlSecOpenSSLInit() < 0 {
                return Err(XmlDsigError::Init("the OpenSSL backend failed to start"));
            }
            xmlSecIOCleanupCallbacks();
            // Refusals are reported through our error type; libxmlsec1 would print each to
            // standard error, where a stranger's requests could fill the log.
            xmlSecErrorsDefaultCallbackEnableOutput(0);
        }
        Ok(())
    })
    .clone()
}

/// A parsed document, freed on drop.
struct Document(*mut xmlDoc);

impl Drop for Document {
    fn drop(&mut self) {
        // SAFETY: the pointer came from xmlReadMemory, is non-null and is freed only here.
        unsafe { xmlFreeDoc(self.0) }
    }
}

impl Document {
    /// Parses without network access, DTD loading or entity substitution, quietly.
    fn parse(xml: &str) -> Result<Self, XmlDsigError> {
        let length = c_int::try_from(xml.len()).map_err(|_| XmlDsigError::Malformed)?;
        let options = xmlParserOption_XML_PARSE_NONET
            | xmlParserOption_XML_PARSE_NOERROR
            | xmlParserOption_XML_PARSE_NOWARNING;
        // SAFETY: the buffer and its length describe `xml`, alive for the call; libxml2 copies
        // what it keeps.
        let doc = unsafe {
            xmlReadMemory(
                xml.as_ptr().cast::<c_char>(),
                length,
                null(),
                null(),
                options as c_int,
            )
        };
        if doc.is_null() {
            return Err(XmlDsigError::Malformed);
        }
        let document = Document(doc);
        // SAFETY: `doc` is a valid document.
        let has_dtd = unsafe { !(*doc).intSubset.is_null() || !(*doc).extSubset.is_null() };
        if has_dtd {
            return Err(XmlDsigError::Shape("comes in a document with a DTD"));
        }
        Ok(document)
    }

    /// The root element, with its `ID` registered as the document's only ID: a reference can
    /// resolve to the root and to nothing else.
    fn root_with_id(&self) -> Result<(*mut xmlNode, String), XmlDsigError> {
        // SAFETY: `self.0` is a valid document.
        let root = unsafe { xmlDocGetRootElement(self.0) };
        if root.is_null() {
            return Err(XmlDsigError::Malformed);
        }
        let id = attribute(root, c"ID").ok_or(XmlDsigError::NoRootId)?;
        if !is_ncname(&id) {
            return Err(XmlDsigError::Shape(
                "is on a root whose ID is not an XML name",
            ));
        }
        let id_c = CString::new(id.clone()).map_err(|_| XmlDsigError::NoRootId)?;
        // SAFETY: `root` is an element of this document and the attribute is its own.
        unsafe {
            let attr = xmlHasProp(root, c"ID".as_ptr().cast());
            if attr.is_null() || xmlAddID(null_mut(), self.0, id_c.as_ptr().cast(), attr).is_null()
            {
                return Err(XmlDsigError::NoRootId);
            }
        }
        Ok((root, id))
    }

    fn serialise(&self) -> Result<String, XmlDsigError> {
        let mut buffer: *mut xmlChar = null_mut();
        let mut size: c_int = 0;
        // SAFETY: libxml2 allocates `buffer` and sets `size`; both are read only if non-null.
        unsafe {
            xmlDocDumpMemoryEnc(self.0, &mut buffer, &mut size, c"UTF-8".as_ptr());
            if buffer.is_null() {
                return Err(XmlDsigError::Signing);
            }
            let length = usize::try_from(size).unwrap_or(0);
            let text =
                String::from_utf8_lossy(std::slice::from_raw_parts(buffer, length)).into_owned();
            free(buffer.cast());
            Ok(text)
        }
    }
}

/// A signature context restricted as the crate documentation says, freed on drop (with the
/// key and the list of allowed reference transforms, which the context owns).
struct Context {
    ctx: xmlSecDSigCtxPtr,
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created in `restricted`, non-null, freed only here.
        unsafe { xmlSecDSigCtxDestroy(self.ctx) }
    }
}

impl Context {
    fn restricted() -> Result<Self, XmlDsigError> {
        initialised()?;
        // SAFETY: a context without keys manager; the transform ids are libxmlsec1's own
        // static klasses; the reference transform list is handed to the context at once, which
        // destroys it with itself.
        unsafe {
            let ctx = xmlSecDSigCtxCreate(null_mut());
            if ctx.is_null() {
                return Err(XmlDsigError::Init("no signature context"));
            }
            let context = Context { ctx };
            let reference_transforms = xmlSecPtrListCreate(xmlSecTransformIdListGetKlass());
            if reference_transforms.is_null() {
                return Err(XmlDsigError::Init("no transform list"));
            }
            (*ctx).enabledReferenceTransforms = reference_transforms;
            let in_references = [
                xmlSecTransformEnvelopedGetKlass(),
                xmlSecTransformExclC14NGetKlass(),
                xmlSecTransformExclC14NWithCommentsGetKlass(),
                xmlSecOpenSSLTransformSha256GetKlass(),
                xmlSecOpenSSLTransformSha384GetKlass(),
                xmlSecOpenSSLTransformSha512GetKlass(),
            ];
            for id in in_references {
                if xmlSecPtrListAdd(reference_transforms, id as *mut c_void) < 0 {
                    return Err(XmlDsigError::Init("transform list"));
                }
            }
            let in_signed_info = [
                xmlSecTransformExclC14NGetKlass(),
                xmlSecTransformExclC14NWithCommentsGetKlass(),
                xmlSecOpenSSLTransformRsaSha256GetKlass(),
                xmlSecOpenSSLTransformRsaSha384GetKlass(),
                xmlSecOpenSSLTransformRsaSha512GetKlass(),
            ];
            for id in in_signed_info {
                if xmlSecPtrListAdd(
                    &mut (*ctx).transformCtx.enabledTransforms,
                    id as *mut c_void,
                ) < 0
                {
                    return Err(XmlDsigError::Init("transform list"));
                }
            }
            (*ctx).flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES;
            (*ctx).enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
            (*ctx).transformCtx.enabledUris = xmlSecTransformUriTypeNone;
            (*ctx).keyInfoReadCtx.maxRetrievalMethodLevel = 0;
            Ok(context)
        }
    }

    fn set_key(&mut self, data: &[u8], format: xmlSecKeyDataFormat) -> Result<(), XmlDsigError> {
        self.adopt_key(load_key(data, format)?);
        Ok(())
    }

    /// A copy of `key` for this context: libxmlsec1 shares the OpenSSL key underneath by
    /// reference count, so this costs no parsing.
    fn use_key(&mut self, key: &SigningKey) -> Result<(), XmlDsigError> {
        // SAFETY: `key.key` is a valid key for as long as `key` lives; duplicating only reads it.
        let copy = unsafe { xmlSecKeyDuplicate(key.key.as_ptr()) };
        let copy = NonNull::new(copy).ok_or(XmlDsigError::Key("could not be copied"))?;
        self.adopt_key(copy);
        Ok(())
    }

    fn adopt_key(&mut self, key: NonNull<_xmlSecKey>) {
        // SAFETY: the context owns the key from here on and destroys it with itself; a key it
        // held before is destroyed here, once.
        unsafe {
            if !(*self.ctx).signKey.is_null() {
                xmlSecKeyDestroy((*self.ctx).signKey);
            }
            (*self.ctx).signKey = key.as_ptr();
        }
    }
}

fn load_key(data: &[u8], format: xmlSecKeyDataFormat) -> Result<NonNull<_xmlSecKey>, XmlDsigError> {
    initialised()?;
    let size = data
        .len()
        .try_into()
        .map_err(|_| XmlDsigError::Key("too large"))?;
    // SAFETY: `data` is alive for the call and copied by libxmlsec1, which returns a key the
    // caller owns, or null.
    let key = unsafe {
        xmlSecOpenSSLAppKeyLoadMemory(data.as_ptr(), size, format, null(), null_mut(), null_mut())
    };
    NonNull::new(key).ok_or(XmlDsigError::Key("not a key libxmlsec1 can read"))
}

/// A private key read once and kept for signing many messages: reading a PKCS#8 key costs
/// about as much as a signature, on every message otherwise.
pub struct SigningKey {
    key: NonNull<_xmlSecKey>,
}

// SAFETY: the key is never changed after loading; signing works on a copy per context
// (`xmlSecKeyDuplicate`, which only reads this one), and OpenSSL's keys may sign from several
// threads at once.
unsafe impl Send for SigningKey {}
// SAFETY: as for `Send`: shared references only read the key.
unsafe impl Sync for SigningKey {}

impl SigningKey {
    /// Reads an RSA private key (PKCS#8 DER).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, XmlDsigError> {
        let key = load_key(der, xmlSecKeyDataFormat_xmlSecKeyDataFormatDer)?;
        Ok(Self { key })
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        // SAFETY: loaded in `from_pkcs8`, owned by this value only, destroyed once.
        unsafe { xmlSecKeyDestroy(self.key.as_ptr()) }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey")
    }
}

/// Checks the enveloped signature on the root of `xml` with the certificate (DER) and returns
/// what it covers: the root element, canonicalized, without the signature — the only part of
/// the message a caller may read afterwards.
pub fn verify_enveloped(xml: &str, certificate_der: &[u8]) -> Result<String, XmlDsigError> {
    initialised()?;
    // Declared before the context, so the context (which points into it) is freed first.
    let document = Document::parse(xml)?;
    let mut context = Context::restricted()?;
    context.set_key(
        certificate_der,
        xmlSecKeyDataFormat_xmlSecKeyDataFormatCertDer,
    )?;
    let (root, id) = document.root_with_id()?;
    let signature = the_signature(root, &id)?;
    verify_signature_node(&context, signature, &id)
}

/// libxmlsec1's part of [`verify_enveloped`], on its restricted context: kept apart so the
/// tests can show the context refuses by itself what `the_signature` already refused.
fn verify_signature_node(
    context: &Context,
    signature: *mut xmlNode,
    id: &str,
) -> Result<String, XmlDsigError> {
    // SAFETY: the context and signature node are valid; the document outlives the call.
    unsafe {
        if xmlSecDSigCtxVerify(context.ctx, signature) < 0 {
            return Err(XmlDsigError::Invalid);
        }
        if (*context.ctx).status != xmlSecDSigStatus_xmlSecDSigStatusSucceeded {
            return Err(XmlDsigError::Invalid);
        }
        let references = &mut (*context.ctx).signedInfoReferences as *mut xmlSecPtrList;
        if xmlSecPtrListGetSize(references) != 1 {
            return Err(XmlDsigError::Shape("must have exactly one reference"));
        }
        let reference = xmlSecPtrListGetItem(references, 0).cast::<xmlSecDSigReferenceCtx>();
        if reference.is_null() || (*reference).status != xmlSecDSigStatus_xmlSecDSigStatusSucceeded
        {
            return Err(XmlDsigError::Invalid);
        }
        let expected = format!("#{id}");
        if (*reference).uri.is_null()
            || CStr::from_ptr((*reference).uri.cast()).to_bytes() != expected.as_bytes()
        {
            return Err(XmlDsigError::Shape("must reference the root element"));
        }
        let buffer = xmlSecDSigReferenceCtxGetPreDigestBuffer(reference);
        if buffer.is_null() {
            return Err(XmlDsigError::Invalid);
        }
        let data = xmlSecBufferGetData(buffer);
        let size = usize::try_from(xmlSecBufferGetSize(buffer)).unwrap_or(0);
        if data.is_null() || size == 0 {
            return Err(XmlDsigError::Invalid);
        }
        String::from_utf8(std::slice::from_raw_parts(data, size).to_vec())
            .map_err(|_| XmlDsigError::Malformed)
    }
}

/// Fills in the enveloped signature template that is a direct child of the root of `xml`
/// (its one reference names the root's `ID`) with `key`. Returns the
/// signed document, with its XML declaration.
pub fn sign_enveloped(xml: &str, key: &SigningKey) -> Result<String, XmlDsigError> {
    initialised()?;
    // Declared before the context, so the context (which points into it) is freed first.
    let document = Document::parse(xml)?;
    let mut context = Context::restricted()?;
    context.use_key(key)?;
    let (root, id) = document.root_with_id()?;
    let signature = the_signature(root, &id)?;
    // SAFETY: the context and signature node are valid; the document outlives the call.
    if unsafe { xmlSecDSigCtxSign(context.ctx, signature) } < 0 {
        return Err(XmlDsigError::Signing);
    }
    document.serialise()
}

/// The `ds:Signature` that is a direct child of `root`, after checking on libxml2's own tree
/// that it has no `Object` (so no `Manifest`) and exactly one `Reference`, to `#` + `id`.
fn the_signature(root: *mut xmlNode, id: &str) -> Result<*mut xmlNode, XmlDsigError> {
    // SAFETY: `root` is a valid element; xmlSecFindChild only walks its children.
    let signature =
        unsafe { xmlSecFindChild(root, c"Signature".as_ptr().cast(), DSIG_NS.as_ptr().cast()) };
    if signature.is_null() {
        return Err(XmlDsigError::NoSignature);
    }
    let children = child_elements(signature);
    if children.iter().any(|&child| is_dsig(child, "Object")) {
        return Err(XmlDsigError::Shape("carries an Object"));
    }
    let signed_info = children
        .iter()
        .copied()
        .find(|&child| is_dsig(child, "SignedInfo"))
        .ok_or(XmlDsigError::Shape("has no SignedInfo"))?;
    let references: Vec<_> = child_elements(signed_info)
        .into_iter()
        .filter(|&child| is_dsig(child, "Reference"))
        .collect();
    let [reference] = references.as_slice() else {
        return Err(XmlDsigError::Shape("must have exactly one reference"));
    };
    if attribute(*reference, c"URI").as_deref() != Some(&format!("#{id}")) {
        return Err(XmlDsigError::Shape("must reference the root element"));
    }
    Ok(signature)
}

fn child_elements(node: *mut xmlNode) -> Vec<*mut xmlNode> {
    let mut elements = Vec::new();
    // SAFETY: `node` is a valid node; its children form a null-terminated list.
    unsafe {
        let mut child = (*node).children;
        while !child.is_null() {
            if (*child).type_ == xmlElementType_XML_ELEMENT_NODE {
                elements.push(child);
            }
            child = (*child).next;
        }
    }
    elements
}

fn is_dsig(node: *mut xmlNode, local_name: &str) -> bool {
    // SAFETY: `node` is a valid element; its name and namespace are null or NUL-terminated.
    unsafe {
        !(*node).name.is_null()
            && CStr::from_ptr((*node).name.cast()).to_bytes() == local_name.as_bytes()
            && !(*node).ns.is_null()
            && !(*(*node).ns).href.is_null()
            && CStr::from_ptr((*(*node).ns).href.cast()) == DSIG_NS
    }
}

/// An attribute without namespace, copied out of libxml2.
fn attribute(node: *mut xmlNode, name: &CStr) -> Option<String> {
    // SAFETY: `node` is a valid element; xmlGetProp returns a copy we free.
    unsafe {
        let value = xmlGetProp(node, name.as_ptr().cast());
        if value.is_null() {
            return None;
        }
        let text = CStr::from_ptr(value.cast()).to_string_lossy().into_owned();
        free(value.cast());
        Some(text)
    }
}

/// Frees memory libxml2 allocated, with libxml2's own deallocator.
///
/// # Safety
/// `pointer` was allocated by libxml2 and is not used afterwards.
unsafe fn free(pointer: *mut c_void) {
    // SAFETY: xmlFree is set once by xmlInitParser and never changed by this process.
    if let Some(free) = unsafe { xmlFree } {
        // SAFETY: see the function's contract.
        unsafe { free(pointer) }
    }
}

/// XML's NCName, restricted to ASCII (every SAML library makes IDs of ASCII letters, digits,
/// `_`, `-` and `.`): no `(`, `/` or `:` that an XPointer could hide in.
fn is_ncname(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The context alone, without the tree check in front of it: a reference outside the
    //! document or a transform outside the two allowed fails inside libxmlsec1, before any
    //! read. (The key does not matter: the context refuses before it checks a value.)
    use std::net::TcpListener;

    use super::*;

    const MESSAGE: &str = "<r xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_r\">\
        <ds:Signature><ds:SignedInfo>\
        <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
        <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
        <ds:Reference URI=\"REFERENCE\"><ds:Transforms>TRANSFORMS</ds:Transforms>\
        <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
        <ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>\
        <ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature></r>";

    fn verify_unchecked(reference: &str, transforms: &str) -> Result<String, XmlDsigError> {
        let xml = MESSAGE
            .replace("REFERENCE", reference)
            .replace("TRANSFORMS", transforms);
        initialised()?;
        let document = Document::parse(&xml)?;
        let context = Context::restricted()?;
        let (root, id) = document.root_with_id()?;
        // SAFETY: `root` is a valid element of `document`.
        let signature =
            unsafe { xmlSecFindChild(root, c"Signature".as_ptr().cast(), DSIG_NS.as_ptr().cast()) };
        assert!(!signature.is_null());
        verify_signature_node(&context, signature, &id)
    }

    fn no_connection_to(listener: &TcpListener) {
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "libxmlsec1 connected");
    }

    #[test]
    fn the_context_refuses_references_outside_the_document() {
        assert!(verify_unchecked("file:///dev/zero", "").is_err());
        assert!(verify_unchecked("/etc/hostname", "").is_err());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        assert!(verify_unchecked(&format!("http://{address}/"), "").is_err());
        no_connection_to(&listener);
    }

    #[test]
    fn the_context_refuses_xslt_even_one_that_would_fetch() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let xslt = format!(
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">\
             <xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
             <xsl:template match=\"/\"><xsl:copy-of select=\"document('http://{address}/x')\"/>\
             </xsl:template></xsl:stylesheet></ds:Transform>"
        );
        assert!(verify_unchecked("#_r", &xslt).is_err());
        no_connection_to(&listener);
    }

    #[test]
    fn the_context_accepts_the_allowed_shape_up_to_the_signature_value() {
        let allowed =
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
        // No key is set, so it cannot succeed; it must get as far as wanting one.
        assert_eq!(verify_unchecked("#_r", allowed), Err(XmlDsigError::Invalid));
    }
}
