//! Secrets at rest (certificate private keys, ACME account keys, iMIS client secrets), sealed
//! with ChaCha20-Poly1305 under the deployment's secret key. The purpose and owner are bound in
//! as associated data, so a sealed value copied onto another row does not open. And the
//! random tokens every crate makes, with their stored form ([`token`]).

pub mod token;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// A key that cannot be used, or a sealed value that does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SealError(String);

/// The 32-byte key that seals secrets in the database. Every node of a deployment shares it.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub const ENCODED_LEN: usize = 44;

    /// Reads the base64 form used in configuration.
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SealError("the secret key is not base64".into()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            SealError("the secret key must be 32 bytes (44 base64 characters)".into())
        })?;
        Ok(Self { bytes })
    }

    /// A fresh random key, base64-encoded, for `vestibule` to write on first start.
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        // The system RNG failing is not recoverable and happens only on a broken host.
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random number generator works");
        STANDARD.encode(bytes)
    }

    fn key(&self) -> LessSafeKey {
        // 32 bytes is always a valid ChaCha20-Poly1305 key.
        #[allow(clippy::expect_used)]
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.bytes).expect("32-byte key"))
    }

    /// Seals `plaintext` for `context` (for example `"certificate-key:sso.acme.org"`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError("no randomness for a nonce".into()))?;
        let mut data = plaintext.to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError("sealing failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(format!("v1:{}", STANDARD.encode(sealed)))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed
            .strip_prefix("v1:")
            .ok_or_else(|| SealError("unknown format".into()))?;
        let mut data = STANDARD
            .decode(encoded)
            .map_err(|_| SealError("not base64".into()))?;
        if data.len() < NONCE_LEN {
            return Err(SealError("too short".into()));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&data[..NONCE_LEN]);
        let plaintext = self
            .key()
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data[NONCE_LEN..],
            )
            .map_err(|_| {
                SealError("the secret key does not match the one it was sealed with".into())
            })?;
        Ok(plaintext.to_vec())
    }
}

impl SecretKey {
    /// A short-lived ticket for `purpose` carrying `payload`, readable by every node until
    /// `expires_at` (Unix seconds): what the dashboard hands the member site (a test sign-in)
    /// without a database row. URL-safe.
    pub fn seal_expiring(
        &self,
        purpose: &str,
        payload: &str,
        expires_at: i64,
    ) -> Result<String, SealError> {
        let sealed = self.seal(purpose, format!("{expires_at}:{payload}").as_bytes())?;
        let bytes = STANDARD
            .decode(sealed.trim_start_matches("v1:"))
            .map_err(|_| SealError("not base64".into()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The payload of a ticket [`SecretKey::seal_expiring`] made for `purpose`, if it has not
    /// expired at `now`.
    pub fn open_expiring(
        &self,
        purpose: &str,
        ticket: &str,
        now: i64,
    ) -> Result<String, SealError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(ticket.trim())
            .map_err(|_| SealError("the ticket is not readable".into()))?;
        let opened = self.open(purpose, &format!("v1:{}", STANDARD.encode(bytes)))?;
        let opened = String::from_utf8(opened).map_err(|_| SealError("not text".into()))?;
        let (expires_at, payload) = opened
            .split_once(':')
            .ok_or_else(|| SealError("the ticket is not readable".into()))?;
        match expires_at.parse::<i64>() {
            Ok(expires_at) if now < expires_at => Ok(payload.to_string()),
            _ => Err(SealError("the ticket has expired".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_context() {
        let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let sealed = key
            .seal("certificate-key:a.example.org", b"secret")
            .unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            key.open("certificate-key:a.example.org", &sealed).unwrap(),
            b"secret"
        );
        assert!(key.open("certificate-key:b.example.org", &sealed).is_err());
        let other = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        assert!(other
            .open("certificate-key:a.example.org", &sealed)
            .is_err());
        assert_ne!(
            sealed,
            key.seal("certificate-key:a.example.org", b"secret")
                .unwrap()
        );
    }

    #[test]
    fn tickets_open_for_their_purpose_until_they_expire() {
        let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let ticket = key
            .seal_expiring("test-sign-in", "7:oidc:abc", 1_000)
            .unwrap();
        assert!(ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            key.open_expiring("test-sign-in", &ticket, 999).unwrap(),
            "7:oidc:abc"
        );
        assert!(key.open_expiring("test-sign-in", &ticket, 1_000).is_err());
        assert!(key.open_expiring("other", &ticket, 999).is_err());
        assert!(key.open_expiring("test-sign-in", "garbage", 999).is_err());
    }

    #[test]
    fn refuses_keys_of_the_wrong_size() {
        assert!(SecretKey::from_base64("c2hvcnQ=").is_err());
        assert!(SecretKey::from_base64("not base64!").is_err());
    }
}
