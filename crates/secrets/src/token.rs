//! Random tokens (session cookies, CSRF tokens, setup links, pending sign-ins, codes, client
//! secrets) and the form they are stored in, for every crate that makes one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// `bytes` random bytes from the operating system, base64url.
pub fn random(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // The system RNG failing is not recoverable and happens only on a broken host.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(&mut buffer)
        .expect("the system random number generator works");
    URL_SAFE_NO_PAD.encode(buffer)
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    random(32)
}

/// A token as stored: its SHA-256, hex. A copy of the database cannot be replayed as a cookie
/// or a link, and a fast hash is right here: the input already has 256 bits of entropy.
pub fn token_hash(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_hashed_to_sha256_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(random(64).len(), 86);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
