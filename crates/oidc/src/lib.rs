//! The OpenID Connect provider's engine.
//!
//! This first part holds what every token needs: the tenant's signing keys (RSA, generated
//! here, sealed at rest, rotated with overlap and published ahead of use), compact JWS signing
//! and verification for RS256, RS512 and HS512 as seed 002 ticks them, and the JWKS. The
//! protocol endpoints and the OIDC Client Apps build on it.

mod algorithm;
mod error;
mod jws;
mod keys;

pub use algorithm::SigningAlgorithm;
pub use error::OidcError;
pub use jws::{RsaPublicKey, Signer, Verifier};
pub use keys::{KeyPolicy, SigningKeys};

/// The JWKS document (RFC 7517) for a tenant's published keys.
pub fn jwks(keys: &[RsaPublicKey]) -> serde_json::Value {
    serde_json::json!({ "keys": keys.iter().map(RsaPublicKey::jwk).collect::<Vec<_>>() })
}
