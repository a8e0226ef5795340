//! A real TLS handshake to our own edge, as a member's browser would make it, to prove the
//! edge serves the domain's current certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::certificates::provider;

/// Accepts exactly one leaf certificate: the one we stored for the domain. Handshake
/// signatures are still verified, so the peer must hold that certificate's key.
#[derive(Debug)]
struct ExpectLeaf {
    leaf: Vec<u8>,
    provider: CryptoProvider,
}

impl ServerCertVerifier for ExpectLeaf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the edge served a different certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A PROXY protocol v2 `LOCAL` header: "this connection is the proxy's own", which an edge
/// expecting PROXY headers accepts and attributes to the connecting address.
pub const LOCAL_PROXY_HEADER: [u8; 16] = *b"\r\n\r\n\0\r\nQUIT\n\x20\0\0\0";

/// Connects to `edge` asking for `domain` and checks the certificate is `expected_leaf`.
/// `proxy_protocol`: the edge expects a PROXY header first.
pub async fn handshake(
    edge: SocketAddr,
    proxy_protocol: bool,
    domain: &str,
    expected_leaf: Vec<u8>,
) -> Result<(), String> {
    let verifier = Arc::new(ExpectLeaf {
        leaf: expected_leaf,
        provider: provider(),
    });
    let config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(domain.to_string()).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut tcp = TcpStream::connect(edge)
            .await
            .map_err(|e| format!("cannot connect to the edge at {edge}: {e}"))?;
        if proxy_protocol {
            tcp.write_all(&LOCAL_PROXY_HEADER)
                .await
                .map_err(|e| format!("cannot write to the edge at {edge}: {e}"))?;
        }
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| "the TLS handshake timed out".to_string())?
}
