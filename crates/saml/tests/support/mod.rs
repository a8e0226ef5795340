//! What the SAML crate's tests and benchmark share. Included with `mod support;` (the benchmark
//! with `#[path]`).

/// A service provider's RSA key and self-signed certificate (PEM key, DER certificate).
pub fn service_provider_key(bits: u32) -> (Vec<u8>, Vec<u8>) {
    use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
    let key = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
    let mut name = x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "events.example.org")
        .unwrap();
    let name = name.build();
    let mut builder = x509::X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    (
        key.private_key_to_pem_pkcs8().unwrap(),
        builder.build().to_der().unwrap(),
    )
}
