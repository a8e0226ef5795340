//! Encrypted assertions (XML Encryption 1.1, SAML 2.0 Core §2.3.4): the signed assertion is
//! encrypted with a fresh AES-256-GCM key, and that key with the service provider's RSA key by
//! RSA-OAEP, so only the service provider can read what its members' profiles say.
//!
//! The plaintext is the assertion element's serialization as signed (`Type="…#Element"`): no
//! canonicalization is involved, and the service provider checks the signature after it
//! decrypts. The primitives are OpenSSL's, which libxmlsec1 already links.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::pkey::{PKey, Public};
use openssl::rand::rand_bytes;
use openssl::rsa::Padding;
use openssl::symm::{encrypt_aead, Cipher};
use openssl::x509::X509;

use crate::SamlError;

const AES_256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
/// RSA-OAEP with SHA-1 and MGF1-SHA-1, the key transport every SAML library decrypts. SHA-1's
/// collision weakness does not reach OAEP, which only needs it as a random oracle.
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// RSA keys shorter than this are refused as encryption keys.
const MIN_RSA_BITS: u32 = 2048;

/// The service provider's encryption key, read from its certificate.
#[derive(Clone)]
pub struct EncryptionKey {
    public: PKey<Public>,
}

impl EncryptionKey {
    /// An RSA key of at least 2048 bits from an X.509 certificate (DER), or why not.
    pub fn from_certificate(der: &[u8]) -> Result<Self, String> {
        let certificate =
            X509::from_der(der).map_err(|_| "it is not an X.509 certificate".to_string())?;
        let public = certificate
            .public_key()
            .map_err(|_| "its public key cannot be read".to_string())?;
        let rsa = public
            .rsa()
            .map_err(|_| "its key is not an RSA key (RSA-OAEP needs one)".to_string())?;
        let bits = rsa.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "its RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed"
            ));
        }
        Ok(Self { public })
    }
}

/// `<saml:EncryptedAssertion>` holding `assertion` (a serialized, self-contained
/// `saml:Assertion` element).
pub fn encrypted_assertion(assertion: &str, key: &EncryptionKey) -> Result<String, SamlError> {
    let failed = |what: &str, error: openssl::error::ErrorStack| {
        SamlError::Encryption(format!("{what}: {error}"))
    };
    let mut content_key = [0u8; 32];
    let mut iv = [0u8; 12];
    rand_bytes(&mut content_key).map_err(|e| failed("random key", e))?;
    rand_bytes(&mut iv).map_err(|e| failed("random IV", e))?;
    let mut tag = [0u8; 16];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        &content_key,
        Some(&iv),
        &[],
        assertion.as_bytes(),
        &mut tag,
    )
    .map_err(|e| failed("AES-GCM", e))?;
    // XML Encryption 1.1 §5.2.4: the IV, then the ciphertext, then the tag.
    let mut cipher_value = Vec::with_capacity(iv.len() + ciphertext.len() + tag.len());
    cipher_value.extend_from_slice(&iv);
    cipher_value.extend_from_slice(&ciphertext);
    cipher_value.extend_from_slice(&tag);

    let rsa = key.public.rsa().map_err(|e| failed("RSA key", e))?;
    let mut wrapped = vec![0u8; usize::try_from(rsa.size()).unwrap_or(512)];
    let length = rsa
        .public_encrypt(&content_key, &mut wrapped, Padding::PKCS1_OAEP)
        .map_err(|e| failed("RSA-OAEP", e))?;
    wrapped.truncate(length);

    Ok(format!(
        "<saml:EncryptedAssertion><xenc:EncryptedData \
         xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
         Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
         <xenc:EncryptionMethod Algorithm=\"{AES_256_GCM}\"/>\
         <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
         <xenc:EncryptionMethod Algorithm=\"{RSA_OAEP_MGF1P}\">\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/>\
         </xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue>\
         </xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData></saml:EncryptedAssertion>",
        key = STANDARD.encode(wrapped),
        value = STANDARD.encode(cipher_value),
    ))
}
