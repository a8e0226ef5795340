//! Compact JWS (RFC 7515) for ID tokens: signing with a tenant RSA key or an application's
//! shared HS512 key, and verification that accepts only the algorithm the caller expects.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use ring::hmac;
use ring::signature::{self, RsaPublicKeyComponents};
use serde_json::{json, Value};

use crate::{OidcError, SigningAlgorithm};

/// A key that signs: a tenant RSA key (with its `kid`) or an application's HS512 secret.
pub enum Signer {
    Rsa {
        algorithm: SigningAlgorithm,
        kid: String,
        key: Arc<RsaSigningKey>,
    },
    Hs512 {
        key: hmac::Key,
    },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Rsa { algorithm, kid, .. } => f
                .debug_struct("Signer::Rsa")
                .field("algorithm", algorithm)
                .field("kid", kid)
                .finish_non_exhaustive(),
            Signer::Hs512 { .. } => f.write_str("Signer::Hs512"),
        }
    }
}

impl Signer {
    /// A signer for an application's shared HS512 secret.
    pub fn hs512(secret: &[u8]) -> Self {
        Signer::Hs512 {
            key: hmac::Key::new(hmac::HMAC_SHA512, secret),
        }
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            Signer::Rsa { algorithm, .. } => *algorithm,
            Signer::Hs512 { .. } => SigningAlgorithm::HS512,
        }
    }

    /// `claims` as a compact JWS with `typ: JWT`, and `kid` for RSA keys.
    pub fn sign(&self, claims: &Value) -> Result<String, OidcError> {
        let header = match self {
            Signer::Rsa { algorithm, kid, .. } => {
                json!({ "alg": algorithm.as_str(), "kid": kid, "typ": "JWT" })
            }
            Signer::Hs512 { .. } => json!({ "alg": "HS512", "typ": "JWT" }),
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self {
            Signer::Rsa { algorithm, key, .. } => key.sign(*algorithm, input.as_bytes())?,
            Signer::Hs512 { key } => hmac::sign(key, input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// A tenant's RSA private key, parsed once, signing PKCS#1 v1.5 with OpenSSL: on this machine
/// kind OpenSSL 3 makes 2.1-2.2 times as many RSA-2048 signatures a second as ring
/// (docs/decisions.md, docs/benchmarks.md). Verification stays with ring.
pub struct RsaSigningKey {
    key: PKey<Private>,
}

impl RsaSigningKey {
    /// Reads a PKCS#8 DER private key and checks it is a consistent RSA key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, OidcError> {
        let invalid = |why: &str| OidcError::Key(format!("not a usable RSA key: {why}"));
        let key = PKey::private_key_from_pkcs8(der).map_err(|_| invalid("unreadable"))?;
        let rsa = key.rsa().map_err(|_| invalid("not RSA"))?;
        if !rsa.check_key().unwrap_or(false) {
            return Err(invalid("its parts do not agree"));
        }
        Ok(Self { key })
    }

    /// The RSASSA-PKCS1-v1_5 signature of `message` for `algorithm` (SHA-512 for RS512,
    /// SHA-256 otherwise).
    pub fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, OidcError> {
        let digest = match algorithm {
            SigningAlgorithm::RS512 => MessageDigest::sha512(),
            _ => MessageDigest::sha256(),
        };
        let failed = |_| OidcError::Key("RSA signing failed".to_string());
        let mut signer = openssl::sign::Signer::new(digest, &self.key).map_err(failed)?;
        signer.sign_oneshot_to_vec(message).map_err(failed)
    }
}

/// A public RSA key as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// Big-endian modulus and exponent.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl RsaPublicKey {
    /// The key as a JWK (RFC 7517) for the JWKS endpoint.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": self.algorithm.as_str(),
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }
}

/// What may verify a token: the tenant's published RSA keys for one algorithm, or one
/// application's HS512 secret. The algorithm comes from the caller's configuration, never from
/// the token, so `alg: none` or an HMAC made with a public key cannot pass.
pub enum Verifier<'a> {
    Rsa {
        algorithm: SigningAlgorithm,
        keys: &'a [RsaPublicKey],
    },
    Hs512 {
        secret: &'a [u8],
    },
}

struct Parts<'a> {
    header: Value,
    claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, OidcError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(OidcError::InvalidToken)?;
    let (header, claims) = signing_input
        .split_once('.')
        .ok_or(OidcError::InvalidToken)?;
    let decode = |part: &str| -> Result<Value, OidcError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| OidcError::InvalidToken)?;
        serde_json::from_slice(&bytes).map_err(|_| OidcError::InvalidToken)
    };
    Ok(Parts {
        header: decode(header)?,
        claims: decode(claims)?,
        signing_input,
        signature: URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| OidcError::InvalidToken)?,
    })
}

/// A string claim of a token whose signature has not been checked: only for choosing the key
/// that will check it.
pub(crate) fn unverified_claim(token: &str, name: &str) -> Option<String> {
    let parts = split(token).ok()?;
    parts.claims.get(name)?.as_str().map(str::to_string)
}

impl Verifier<'_> {
    /// The claims of `token` if its signature verifies with this verifier's algorithm and keys.
    /// Expiry and audience are the caller's to check: they depend on what the token is for.
    pub fn verify(&self, token: &str) -> Result<Value, OidcError> {
        let parts = split(token)?;
        let alg = parts.header.get("alg").and_then(Value::as_str);
        match self {
            Verifier::Rsa { algorithm, keys } => {
                if alg != Some(algorithm.as_str()) {
                    return Err(OidcError::InvalidToken);
                }
                let kid = parts.header.get("kid").and_then(Value::as_str);
                let parameters = match algorithm {
                    SigningAlgorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    SigningAlgorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    SigningAlgorithm::HS512 => return Err(OidcError::NotRsa("HS512")),
                };
                let verified = keys
                    .iter()
                    .filter(|key| key.algorithm == *algorithm)
                    .filter(|key| kid.is_none_or(|kid| kid == key.kid))
                    .any(|key| {
                        RsaPublicKeyComponents {
                            n: &key.n,
                            e: &key.e,
                        }
                        .verify(parameters, parts.signing_input.as_bytes(), &parts.signature)
                        .is_ok()
                    });
                if !verified {
                    return Err(OidcError::InvalidToken);
                }
            }
            Verifier::Hs512 { secret } => {
                if alg != Some("HS512") {
                    return Err(OidcError::InvalidToken);
                }
                let key = hmac::Key::new(hmac::HMAC_SHA512, secret);
                // Constant-time comparison inside ring.
                hmac::verify(&key, parts.signing_input.as_bytes(), &parts.signature)
                    .map_err(|_| OidcError::InvalidToken)?;
            }
        }
        Ok(parts.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs512_round_trips_and_refuses_tampering() {
        let secret = b"a shared secret of sixty-four bytes for the application's tokens!!";
        let token = Signer::hs512(secret)
            .sign(&json!({ "sub": "imis:23201" }))
            .unwrap();
        let verifier = Verifier::Hs512 { secret };
        assert_eq!(verifier.verify(&token).unwrap()["sub"], "imis:23201");

        let other = Verifier::Hs512 {
            secret: b"another secret",
        };
        assert!(other.verify(&token).is_err());
        let (input, _) = token.rsplit_once('.').unwrap();
        let tampered = format!("{}x.{}", input, token.rsplit_once('.').unwrap().1);
        assert!(verifier.verify(&tampered).is_err());
    }

    #[test]
    fn unsigned_and_mislabelled_tokens_are_refused() {
        let secret = b"secret";
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
        );
        assert!(Verifier::Hs512 { secret }.verify(&none).is_err());
        assert!(Verifier::Rsa {
            algorithm: SigningAlgorithm::RS256,
            keys: &[]
        }
        .verify(&none)
        .is_err());
        // An HS512 token offered where RS256 is expected.
        let hs = Signer::hs512(secret).sign(&json!({})).unwrap();
        assert!(Verifier::Rsa {
            algorithm: SigningAlgorithm::RS256,
            keys: &[]
        }
        .verify(&hs)
        .is_err());
        for garbage in ["", "a.b", "a.b.c", "...."] {
            assert!(Verifier::Hs512 { secret }.verify(garbage).is_err());
        }
    }
}

#[cfg(test)]
mod signing_key_tests {
    use super::*;
    use openssl::rsa::Rsa;
    use ring::signature::RsaKeyPair;

    fn pkcs8(bits: u32) -> Vec<u8> {
        let key = PKey::from_rsa(Rsa::generate(bits).expect("generate")).expect("key");
        key.private_key_to_pkcs8().expect("pkcs8")
    }

    /// PKCS#1 v1.5 signatures are deterministic: OpenSSL's must be ring's, byte for byte, for
    /// both hashes, so nothing a relying party checks can change with the signer.
    #[test]
    fn openssl_signs_exactly_as_ring_does() {
        let der = pkcs8(2048);
        let ours = RsaSigningKey::from_pkcs8(&der).expect("our key");
        let ring_key = RsaKeyPair::from_pkcs8(&der).expect("ring key");
        let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZW1iZXIifQ";
        for (algorithm, padding) in [
            (SigningAlgorithm::RS256, &signature::RSA_PKCS1_SHA256),
            (SigningAlgorithm::RS512, &signature::RSA_PKCS1_SHA512),
        ] {
            let mut expected = vec![0; ring_key.public().modulus_len()];
            let rng = ring::rand::SystemRandom::new();
            ring_key
                .sign(padding, &rng, message, &mut expected)
                .expect("ring signs");
            assert_eq!(ours.sign(algorithm, message).expect("signs"), expected);
        }
    }

    #[test]
    fn only_a_consistent_rsa_key_is_accepted() {
        assert!(RsaSigningKey::from_pkcs8(b"not a key").is_err());
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                .expect("curve"),
        )
        .expect("ec key");
        let ec = PKey::from_ec_key(ec).expect("pkey").private_key_to_pkcs8();
        assert!(RsaSigningKey::from_pkcs8(&ec.expect("pkcs8")).is_err());
    }
}
