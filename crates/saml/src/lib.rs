//! The SAML 2.0 identity provider's engine, one per deployment, serving every tenant.
//!
//! - [`SamlKeys`]: each tenant's signing key and self-signed certificate, made on first use and
//!   sealed at rest.
//! - [`idp_metadata`]: the IdP metadata service providers import.
//! - [`signed_response`]: a `Response` with its `Assertion`, signed with RSA-SHA256 over
//!   exclusive C14N by libxmlsec1 (through samael): the assertion, the response, or both.
//!
//! It knows nothing of HTTP or Leptos: the server's member site turns requests into calls here.

mod apps;
mod error;
mod keys;
mod metadata;
mod request;
mod response;
mod xml;

pub use apps::{
    AssertionConsumer, AttributeMapping, NameIdFormat, SamlApp, SamlAppInput, SamlAppSettings,
    SamlApps, SignedPartsSetting,
};
pub use error::SamlError;
pub use keys::{SamlKeys, SigningKey};
pub use metadata::{idp_metadata, IdpEndpoints};
pub use request::{
    decode_post, decode_redirect, parse_authn_request, relay_state, AuthnRequest, RequestProblem,
    MAX_MESSAGE_BYTES, MAX_RELAY_STATE_BYTES,
};
pub use response::{
    signed_response, Attribute, NameId, ResponseContent, SignedParts, AUTHN_PASSWORD_TRANSPORT,
};
