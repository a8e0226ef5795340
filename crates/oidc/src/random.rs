//! Random values and their stored form, for codes, tokens, secrets and key ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::digest;

/// `bytes` random bytes from the operating system, base64url: 32 bytes (256 bits) for codes,
/// tokens and client secrets.
pub(crate) fn random(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// How a random value is stored: its SHA-256, base64url. A fast hash suffices for values with
/// 256 bits of entropy, and a copy of the database cannot be replayed.
pub(crate) fn stored_hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}
