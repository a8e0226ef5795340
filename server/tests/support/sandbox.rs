//! Pebble (the ACME CA) and pebble-challtestsrv (the DNS server) for one test, started by
//! `scripts/acme-sandbox`, and a TLS client that checks what the edge serves against Pebble's
//! root. Included with `#[path = "support/sandbox.rs"] mod sandbox;` by the tests that provision.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vestibule_provisioning::provider;

const REQUIRE_VAR: &str = "VESTIBULE_REQUIRE_SANDBOX";

/// A running sandbox, stopped when dropped.
pub struct AcmeSandbox {
    folder: tempfile::TempDir,
    /// What `scripts/acme-sandbox` printed: `VESTIBULE_*` settings and `SANDBOX_*` addresses.
    pub env: Vec<(String, String)>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/acme-sandbox")
}

impl AcmeSandbox {
    /// Pebble validating HTTP-01 on `http_port`; `None` when Pebble is not installed and the
    /// test command did not ask for it.
    pub fn start(http_port: u16, cert_seconds: Option<u32>) -> Option<Self> {
        if Command::new("pebble").arg("-h").output().is_err() {
            if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_VAR}=1 but pebble is not installed");
            }
            eprintln!("note: pebble is not installed; skipping this test");
            return None;
        }
        let folder = tempfile::tempdir().unwrap();
        let mut command = Command::new(script());
        command
            .arg("start")
            .arg(folder.path())
            .arg(http_port.to_string());
        if let Some(seconds) = cert_seconds {
            command.env("SANDBOX_CERT_SECONDS", seconds.to_string());
        }
        let output = command.output().expect("run scripts/acme-sandbox");
        assert!(
            output.status.success(),
            "sandbox: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Self { folder, env })
    }

    pub fn var(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("sandbox did not print {name}"))
    }

    /// Calls the DNS server's management API (`/set-cname`, `/add-a`, `/add-caa`, …).
    pub fn dns(&self, endpoint: &str, body: serde_json::Value) {
        let url = format!("{}/{endpoint}", self.var("SANDBOX_DNS_API"));
        let status = Command::new("curl")
            .args(["-sf", "-X", "POST", &url, "-d", &body.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "{endpoint} {body}");
    }

    pub fn point_cname(&self, domain: &str, target: &str) {
        self.dns(
            "set-cname",
            serde_json::json!({ "host": format!("{domain}."), "target": format!("{target}.") }),
        );
    }

    /// Pebble's issuing root, to verify served chains the way a browser would.
    pub fn issuing_root(&self) -> Vec<u8> {
        let url = format!("{}/roots/0", self.var("SANDBOX_ACME_API"));
        let output = Command::new("curl")
            .args(["-sf", "--cacert", &self.var("VESTIBULE_ACME_ROOT"), &url])
            .output()
            .unwrap();
        assert!(output.status.success());
        output.stdout
    }
}

impl Drop for AcmeSandbox {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.folder.path())
            .status();
    }
}

/// A TLS connection to `edge` asking for `name`, verified against `root`: the response to
/// `GET /` and the leaf certificate the edge presented.
pub async fn https_exchange(
    edge: std::net::SocketAddr,
    name: &str,
    root: &[u8],
) -> Result<(String, Vec<u8>), String> {
    https_request(edge, name, root, "").await
}

/// Like [`https_exchange`], with `extra_headers` (each line ending in CRLF) in the request.
pub async fn https_request(
    edge: std::net::SocketAddr,
    name: &str,
    root: &[u8],
    extra_headers: &str,
) -> Result<(String, Vec<u8>), String> {
    https_request_to_host(edge, name, name, root, extra_headers).await
}

fn client_config(root: &[u8], alpn: &[&[u8]]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut &root[..]) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    config
}

/// The application protocol the edge picks for `name` when a client offers `offered`.
#[allow(dead_code)] // domains.rs asks; nodes.rs, which shares this module, does not.
pub async fn negotiated_protocol(
    edge: std::net::SocketAddr,
    name: &str,
    root: &[u8],
    offered: &[&[u8]],
) -> Result<Option<Vec<u8>>, String> {
    let tcp = TcpStream::connect(edge).await.map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config(root, offered)))
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
}

/// A request whose TLS server name is `sni` and whose `Host` header is `host`.
pub async fn https_request_to_host(
    edge: std::net::SocketAddr,
    sni: &str,
    host: &str,
    root: &[u8],
    extra_headers: &str,
) -> Result<(String, Vec<u8>), String> {
    https_request_after(edge, &[], sni, host, root, extra_headers).await
}

/// Like [`https_request_to_host`], with `prefix` written on the connection before TLS starts
/// (a load balancer's PROXY protocol header).
pub async fn https_request_after(
    edge: std::net::SocketAddr,
    prefix: &[u8],
    sni: &str,
    host: &str,
    root: &[u8],
    extra_headers: &str,
) -> Result<(String, Vec<u8>), String> {
    https_request_full(edge, prefix, sni, host, "/", root, extra_headers, None).await
}

/// `GET path` over TLS to `name`, verified against `root`: the response and the leaf
/// certificate the edge presented.
#[allow(dead_code)] // domains.rs asks; nodes.rs, which shares this module, does not.
pub async fn https_get_path(
    edge: std::net::SocketAddr,
    name: &str,
    path: &str,
    root: &[u8],
) -> Result<(String, Vec<u8>), String> {
    https_request_full(edge, &[], name, name, path, root, "", None).await
}

/// `GET path` with `extra_headers` (each line ending in CRLF) over TLS to `name`, verified
/// against `root`: the response.
#[allow(dead_code)] // domains.rs asks; nodes.rs, which shares this module, does not.
pub async fn https_get_with_headers(
    edge: std::net::SocketAddr,
    name: &str,
    path: &str,
    extra_headers: &str,
    root: &[u8],
) -> Result<String, String> {
    let got = https_request_full(edge, &[], name, name, path, root, extra_headers, None).await;
    got.map(|(response, _)| response)
}

/// `POST path` of a form `body` over TLS to `name`, verified against `root`: the response.
#[allow(dead_code)] // domains.rs asks; nodes.rs, which shares this module, does not.
pub async fn https_post_form(
    edge: std::net::SocketAddr,
    name: &str,
    path: &str,
    body: &str,
    root: &[u8],
) -> Result<String, String> {
    let posted = https_request_full(edge, &[], name, name, path, root, "", Some(body)).await;
    posted.map(|(response, _)| response)
}

// One request of any shape the helpers above need; each of them names what it varies.
#[allow(clippy::too_many_arguments)]
async fn https_request_full(
    edge: std::net::SocketAddr,
    prefix: &[u8],
    sni: &str,
    host: &str,
    path: &str,
    root: &[u8],
    extra_headers: &str,
    form: Option<&str>,
) -> Result<(String, Vec<u8>), String> {
    let name = sni;
    let mut tcp = TcpStream::connect(edge).await.map_err(|e| e.to_string())?;
    if !prefix.is_empty() {
        tcp.write_all(prefix).await.map_err(|e| e.to_string())?;
    }
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client_config(root, &[])))
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = match form {
        Some(body) => format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}Content-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: \
             close\r\n\r\n{body}",
            body.len()
        ),
        None => format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}Connection: close\r\n\r\n"
        ),
    };
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let mut response = String::new();
    tls.read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    Ok((response, leaf))
}
