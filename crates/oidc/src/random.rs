//! Random values and their stored form, for codes, tokens, secrets and key ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;

/// `bytes` random bytes, base64url: 32 bytes (256 bits) for codes, tokens and client secrets.
pub(crate) use vestibule_secrets::token::random;

/// How a random value is stored: its SHA-256, base64url. A fast hash suffices for values with
/// 256 bits of entropy, and a copy of the database cannot be replayed. (Base64url rather than
/// the hex of `vestibule_secrets::token::token_hash`: stored client secrets have this form.)
pub(crate) fn stored_hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}
