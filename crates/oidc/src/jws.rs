//! Compact JWS (RFC 7515) for ID tokens: signing with a tenant RSA key or an application's
//! shared HS512 key, and verification that accepts only the algorithm the caller expects.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{json, Value};

use crate::{OidcError, SigningAlgorithm};

/// A key that signs: a tenant RSA key (with its `kid`) or an application's HS512 secret.
pub enum Signer {
    Rsa {
        algorithm: SigningAlgorithm,
        kid: String,
        key: Arc<RsaKeyPair>,
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
            Signer::Rsa { algorithm, key, .. } => {
                let padding = match algorithm {
                    SigningAlgorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut out)
                    .map_err(|_| OidcError::Key("RSA signing failed".to_string()))?;
                out
            }
            Signer::Hs512 { key } => hmac::sign(key, input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
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
