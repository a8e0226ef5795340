use serde::{Deserialize, Serialize};

/// How a client application's ID tokens are signed. Seed 002 ticks these three; ECDSA and
/// RSASSA-PSS are crossed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, a 2048-bit tenant key.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-512, a 4096-bit tenant key.
    RS512,
    /// HMAC with SHA-512 and a key shared with the one client application.
    HS512,
}

impl SigningAlgorithm {
    /// The JOSE name, as in the JWS header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::RS512 => "RS512",
            SigningAlgorithm::HS512 => "HS512",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(SigningAlgorithm::RS256),
            "RS512" => Some(SigningAlgorithm::RS512),
            "HS512" => Some(SigningAlgorithm::HS512),
            _ => None,
        }
    }

    /// The RSA modulus size of the tenant key this algorithm signs with.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            SigningAlgorithm::RS256 => Some(2048),
            SigningAlgorithm::RS512 => Some(4096),
            SigningAlgorithm::HS512 => None,
        }
    }
}
