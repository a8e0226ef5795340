//! The SAML 2.0 identity provider's engine, one per deployment, serving every tenant.
//!
//! - [`SamlKeys`]: each tenant's signing key and self-signed certificate, made on first use and
//!   sealed at rest.
//! - [`idp_metadata`]: the IdP metadata service providers import.
//! - [`signed_response`]: a `Response` with its `Assertion`, signed with RSA-SHA256 over
//!   exclusive C14N by libxmlsec1 (through our restricted wrapper, crates/xmldsig): the assertion, the response, or both.
//!
//! It knows nothing of HTTP or Leptos: the server's member site turns requests into calls here.

mod apps;
mod attention;
mod binding;
mod encryption;
mod error;
mod keys;
mod logout;
mod metadata;
mod metadata_changes;
mod metadata_subscriptions;
mod request;
mod response;
mod signature_shape;
mod sp_metadata;
mod sso;
mod test_sp;
mod workers;
mod xml;

pub use apps::{
    certificate_not_after, AssertionConsumer, AttributeMapping, LogoutBinding, NameIdFormat,
    SamlApp, SamlAppInput, SamlAppSettings, SamlApps, SignedPartsSetting, SpCertificateUse,
};
pub use attention::{needing_attention, AppAttention, SP_CERTIFICATE_WARNING};
pub use binding::{sign_enveloped, signed_redirect_query, verified_element, RedirectQuery};
pub use encryption::EncryptionKey;
pub use error::SamlError;
pub use keys::{certificate_pem, CalendarEntry, KeyCalendar, SamlKeys, SigningKey};
pub use logout::{
    logout_request, logout_response, parse_logout_request, parse_logout_response, LogoutAddress,
    LogoutRequest, LogoutResponse, STATUS_SUCCESS,
};
pub use metadata::{idp_metadata, IdpEndpoints};
pub use metadata_changes::MetadataChange;
pub use metadata_subscriptions::{
    ApplyChanges, MetadataCheck, MetadataSubscription, MetadataSubscriptions, REFRESH_EVERY,
};
pub use request::{
    decode_post, decode_redirect, parse_authn_request, relay_state, AuthnRequest, RequestProblem,
    RequestedContext, MAX_MESSAGE_BYTES, MAX_RELAY_STATE_BYTES,
};
pub use response::{
    signed_response, signed_status_response, Attribute, NameId, ResponseContent, SignedParts,
    StatusContent, AUTHN_PASSWORD_TRANSPORT,
};
pub use signature_shape::{inspect as inspect_signature, SignatureProblem, SignatureShape};
pub use sp_metadata::{parse_sp_metadata, SpMetadata};
pub use sso::*;
pub use test_sp::{check_test_response, test_acs_url, ResponseFacts, SpCheck, SpReport};
pub use workers::SignatureWorkers;
