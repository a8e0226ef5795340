//! The OpenID Connect provider's engine.
//!
//! So far: the tenant's signing keys (RSA, generated here, sealed at rest, rotated with overlap
//! and published ahead of use), compact JWS signing and verification for RS256, RS512 and
//! HS512 as seed 002 ticks them, the JWKS, and the registry of client applications (exact
//! redirect URIs, enabled flows, algorithm and HS512 key, lifetimes, consent, claim mapping,
//! secrets shown once and rotated with overlap), and the checks of an authorization request
//! (which errors go to a page and which to the application, PKCE, prompt, max_age). The protocol
//! endpoints build on these.

mod algorithm;
mod authorize;
mod claims;
mod clients;
mod consent;
mod decide;
mod discovery;
mod error;
mod grants;
mod jws;
mod keys;
mod random;
mod test_sign_in;
mod token_request;

pub use algorithm::SigningAlgorithm;
pub use authorize::{
    check_request, AuthorizationRequest, AuthorizeError, ChallengeMethod, CodeChallenge, Prompt,
    ResponseMode, ResponseType, SignInNeed,
};
pub use claims::{at_hash, preview_id_token, profile_claims, userinfo, IdTokenContent, Subject};
pub use clients::{
    ClaimMapping, Client, ClientInput, ClientSettings, OidcClients, SecretInfo, ShownOnce,
    CLIENT_AUTH_FAILURES_PER_ADDRESS, CLIENT_AUTH_WINDOW,
};
pub use consent::Consents;
pub use decide::{
    decide_logout, resume_url, Authorizer, ConsentAnswer, ConsentDecision, Decision,
    LogoutDecision, RedirectError, SessionFacts,
};
pub use discovery::{discovery_document, paths};
pub use error::OidcError;
pub use grants::{
    Grant, Grants, ImplicitResponse, LogoutHint, OAuthErrorCode, TokenError, TokenResponse,
    CODE_LIFETIME,
};
pub use jws::{RsaPublicKey, RsaSigningKey, Signer, Verifier};
pub use keys::{KeyPolicy, KeyWindow, SigningKeys};
pub use test_sign_in::{test_redirect_uri, TestCheck, TestReport};
pub use token_request::{
    client_credentials, grant_request, password_grant_scopes, ClientCredentials, GrantRequest,
};

/// The JWKS document (RFC 7517) for a tenant's published keys.
pub fn jwks(keys: &[RsaPublicKey]) -> serde_json::Value {
    serde_json::json!({ "keys": keys.iter().map(RsaPublicKey::jwk).collect::<Vec<_>>() })
}
