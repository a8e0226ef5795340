//! The certificates the TLS edge serves: loaded from the database, picked by SNI, refreshed
//! without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use vestibule_domain::Timestamp;
use vestibule_storage::{CertificateRecord, Store};

use vestibule_secrets::SecretKey;

use crate::ProvisioningError;

/// The context a certificate's private key is sealed under.
pub(crate) fn key_context(domain: &str) -> String {
    format!("certificate-key:{domain}")
}

/// `notBefore` and `notAfter` of the first (leaf) certificate in a PEM chain.
pub fn validity(chain_pem: &str) -> Result<(Timestamp, Timestamp), ProvisioningError> {
    let leaf = parse_chain(chain_pem)?
        .into_iter()
        .next()
        .ok_or_else(|| ProvisioningError::Certificate("the chain is empty".into()))?;
    let (_, certificate) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| ProvisioningError::Certificate(format!("unreadable certificate: {e}")))?;
    let validity = certificate.validity();
    Ok((
        Timestamp(validity.not_before.timestamp()),
        Timestamp(validity.not_after.timestamp()),
    ))
}

fn parse_chain(chain_pem: &str) -> Result<Vec<CertificateDer<'static>>, ProvisioningError> {
    rustls_pemfile::certs(&mut chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProvisioningError::Certificate(format!("unreadable chain: {e}")))
}

/// Builds what rustls serves from a stored certificate, opening its sealed key.
fn certified_key(
    record: &CertificateRecord,
    secret: &SecretKey,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ProvisioningError> {
    let chain = parse_chain(&record.chain_pem)?;
    let key_pem = secret.open(&key_context(&record.domain), &record.key_sealed)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ProvisioningError::Certificate(format!("unreadable key: {e}")))?
        .ok_or_else(|| ProvisioningError::Certificate("no private key".into()))?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| ProvisioningError::Certificate(format!("key does not fit: {e}")))
}

/// Picks each tenant's certificate by the name the client asks for (SNI). A name we hold no
/// certificate for gets none, and the handshake fails: never another tenant's certificate.
#[derive(Debug)]
pub struct CertificateResolver {
    by_name: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    store: Store,
    secret: SecretKey,
    provider: Arc<CryptoProvider>,
}

impl CertificateResolver {
    pub fn new(store: Store, secret: SecretKey) -> Arc<Self> {
        Arc::new(Self {
            by_name: RwLock::new(HashMap::new()),
            store,
            secret,
            provider: Arc::new(provider()),
        })
    }

    /// Reloads every certificate from the database. Called after issuance on this node and
    /// periodically, so certificates issued or renewed by another node appear too. A
    /// certificate that cannot be loaded is skipped with a log line; the others still serve.
    pub async fn reload(&self) -> Result<usize, ProvisioningError> {
        let records = self.store.all_certificates().await?;
        let mut loaded = HashMap::with_capacity(records.len());
        for record in &records {
            match certified_key(record, &self.secret, &self.provider) {
                Ok(key) => {
                    loaded.insert(record.domain.clone(), Arc::new(key));
                }
                Err(error) => {
                    tracing::error!(domain = %record.domain, %error, "certificate not loaded");
                }
            }
        }
        let count = loaded.len();
        if let Ok(mut by_name) = self.by_name.write() {
            *by_name = loaded;
        }
        Ok(count)
    }

    pub fn serves(&self, name: &str) -> bool {
        self.by_name
            .read()
            .map(|by_name| by_name.contains_key(&name.to_ascii_lowercase()))
            .unwrap_or(false)
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name()?.to_ascii_lowercase();
        self.by_name.read().ok()?.get(&name).cloned()
    }
}

/// The edge's crypto: ring, with exactly seed 000's suites in its order, less the two CBC
/// suites rustls never offers: the three TLS 1.3 suites, and for TLS 1.2 ECDHE-ECDSA with
/// AES-GCM (tenant certificates are ECDSA P-256, so no RSA suite could ever be used).
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ],
        ..default_provider()
    }
}

/// TLS 1.3 and 1.2 only, the server's suite order, certificates from `resolver`.
///
/// Sessions resume from stateless tickets (sealed by a key this process rotates every six
/// hours) rather than from rustls' default cache of the last 256 sessions, which members of
/// thousands of tenants would churn through long before they come back.
pub fn server_config(
    resolver: Arc<CertificateResolver>,
) -> Result<ServerConfig, ProvisioningError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ProvisioningError::Config(format!("TLS settings: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.ignore_client_order = true;
    // HTTP/2 first, for clients that speak only it; the listener serves both.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| ProvisioningError::Config(format!("TLS session tickets: {e}")))?;
    Ok(config)
}

/// The leaf certificate a stored chain starts with, for comparing with what the edge serves.
pub fn leaf_der(chain_pem: &str) -> Result<Vec<u8>, ProvisioningError> {
    parse_chain(chain_pem)?
        .into_iter()
        .next()
        .map(|der| der.as_ref().to_vec())
        .ok_or_else(|| ProvisioningError::Certificate("the chain is empty".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::Resumption;
    use rustls::{ClientConfig, HandshakeKind, RootCertStore};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector};
    use vestibule_domain::Seconds;

    const DOMAIN: &str = "sso.acme.test";

    /// The edge's configuration with one tenant's certificate, accepting on loopback; the
    /// certificate, for clients to trust.
    async fn edge() -> (std::net::SocketAddr, CertificateDer<'static>) {
        let db = vestibule_storage::testing::sqlite().await;
        let store = db.store().clone();
        let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let now = Timestamp::now();
        let tenant = store
            .create_tenant(&"acme".parse().unwrap(), "Acme", now)
            .await
            .unwrap();
        let domain = store.claim_domain(tenant.id, DOMAIN, now).await.unwrap();
        let issued = rcgen::generate_simple_self_signed(vec![DOMAIN.to_string()]).unwrap();
        let key_pem = issued.signing_key.serialize_pem();
        store
            .put_certificate(&CertificateRecord {
                domain_id: domain.id,
                domain: DOMAIN.into(),
                chain_pem: issued.cert.pem(),
                key_sealed: secret
                    .seal(&key_context(DOMAIN), key_pem.as_bytes())
                    .unwrap(),
                not_before: now,
                not_after: now + Seconds(86_400),
                issued_at: now,
            })
            .await
            .unwrap();
        let resolver = CertificateResolver::new(store, secret);
        assert_eq!(resolver.reload().await.unwrap(), 1);
        let acceptor = TlsAcceptor::from(Arc::new(server_config(resolver).unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // The database lives as long as the edge does.
            let _db = db;
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        (address, issued.cert.der().clone())
    }

    /// A client that trusts `root` and remembers its sessions.
    fn client(root: &CertificateDer<'static>) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::in_memory_sessions(8);
        TlsConnector::from(Arc::new(config))
    }

    /// One handshake to the tenant's domain, reading the session tickets that follow it.
    async fn handshake(edge: std::net::SocketAddr, connector: &TlsConnector) -> HandshakeKind {
        let tcp = TcpStream::connect(edge).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from(DOMAIN).unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let kind = tls.get_ref().1.handshake_kind().unwrap();
        let mut rest = Vec::new();
        let _ = tls.read_to_end(&mut rest).await;
        kind
    }

    #[tokio::test]
    async fn a_member_resumes_their_session_after_hundreds_of_others_began() {
        let (edge, root) = edge().await;
        let member = client(&root);
        assert_eq!(handshake(edge, &member).await, HandshakeKind::Full);
        // More new sessions than rustls' default server cache holds (256).
        for _ in 0..300 {
            let other = client(&root);
            assert_eq!(handshake(edge, &other).await, HandshakeKind::Full);
        }
        assert_eq!(handshake(edge, &member).await, HandshakeKind::Resumed);
    }
}
