//! The IdP metadata a tenant's service providers import (SAML 2.0 Metadata, §2.4.3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::xml::escape;

/// Where a tenant's IdP is reached. The entity id is the metadata's own URL, as is usual.
pub struct IdpEndpoints<'a> {
    pub entity_id: &'a str,
    pub single_sign_on: &'a str,
    pub single_logout: &'a str,
}

const BINDINGS: [&str; 2] = [
    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
];

const NAME_ID_FORMATS: [&str; 4] = [
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
];

/// The `EntityDescriptor`: one signing `KeyDescriptor` per certificate (a rotation publishes
/// the next beside the current), SSO and SLO for both bindings, the NameID formats offered.
pub fn idp_metadata(endpoints: &IdpEndpoints<'_>, certificates: &[Vec<u8>]) -> String {
    let keys: String = certificates
        .iter()
        .map(|der| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
                 </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                STANDARD.encode(der)
            )
        })
        .collect();
    let services = |element: &str, location: &str| -> String {
        BINDINGS
            .iter()
            .map(|binding| {
                format!(
                    "<md:{element} Binding=\"{binding}\" Location=\"{}\"/>",
                    escape(location)
                )
            })
            .collect()
    };
    let formats: String = NAME_ID_FORMATS
        .iter()
        .map(|format| format!("<md:NameIDFormat>{format}</md:NameIDFormat>"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
         <md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         {keys}{slo}{formats}{sso}</md:IDPSSODescriptor></md:EntityDescriptor>",
        entity = escape(endpoints.entity_id),
        slo = services("SingleLogoutService", endpoints.single_logout),
        sso = services("SingleSignOnService", endpoints.single_sign_on),
    )
}
