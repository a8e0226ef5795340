use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::network::{is_public, Network, PublicAddresses};
use crate::profile::{parse_iqa, row_of};
use crate::token::{classify, parse};
use crate::{AccessToken, ImisError, Profile};

/// A RiSE Client Application's credentials, as entered in Settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .finish()
    }
}

/// One tenant's iMIS, reached at its base URL.
#[derive(Clone)]
pub struct Imis {
    base: Arc<str>,
    http: HttpClient,
    timeout: Duration,
}

/// The HTTP client for either network; the public one resolves through [`PublicAddresses`].
#[derive(Clone)]
enum HttpClient {
    Public(Client<HttpsConnector<HttpConnector<PublicAddresses>>, Full<Bytes>>),
    Development(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

impl HttpClient {
    fn request(&self, request: Request<Full<Bytes>>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            HttpClient::Public(client) => client.request(request),
            HttpClient::Development(client) => client.request(request),
        }
    }
}

fn tls<R>(http: HttpConnector<R>) -> Result<HttpsConnector<HttpConnector<R>>, String> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(rustls::crypto::ring::default_provider())
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// The HTTP client every tenant's iMIS is reached with, one per network. Building one reads
/// and parses the platform's trusted roots (a quarter of a sign-in's CPU time when it was done
/// per call), and sharing it keeps connections to each iMIS alive from one sign-in to the next.
fn shared_client(network: Network) -> Result<HttpClient, ImisError> {
    static PUBLIC: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    static DEVELOPMENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    let build = || -> Result<HttpClient, String> {
        let executor = Client::builder(TokioExecutor::new());
        Ok(match network {
            Network::PublicOnly => {
                let mut http = HttpConnector::new_with_resolver(PublicAddresses);
                http.enforce_http(false);
                HttpClient::Public(executor.build(tls(http)?))
            }
            Network::Development => {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                HttpClient::Development(executor.build(tls(http)?))
            }
        })
    };
    match network {
        Network::PublicOnly => PUBLIC.get_or_init(build),
        Network::Development => DEVELOPMENT.get_or_init(build),
    }
    .clone()
    .map_err(|e| ImisError::InvalidBaseUrl(format!("TLS set-up failed: {e}")))
}

/// Answers larger than this are not iMIS answers we want to read.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The address rules of the guard (network.rs) for an address a tenant admin typed: on
/// [`Network::PublicOnly`], HTTPS to a public host (an IP literal must be public; names are
/// checked when they resolve). Never a `#` part or `user@`; a `?` part only when `query`.
/// Whether the guard lets a document be fetched from `address` (checked again, with the names
/// resolved, when it is fetched): for an address kept to be read later.
pub fn check_document_address(address: &str, network: Network) -> Result<(), String> {
    guarded_address(address.trim(), network, true).map(|_| ())
}

pub(crate) fn guarded_address(
    address: &str,
    network: Network,
    query: bool,
) -> Result<http::Uri, String> {
    if address.contains('#') || address.contains('@') {
        return Err(format!(
            "{address}: leave out any # part and any user@ part"
        ));
    }
    let uri: http::Uri = address.parse().map_err(|e| format!("{address}: {e}"))?;
    let scheme_ok = match network {
        Network::PublicOnly => uri.scheme_str() == Some("https"),
        Network::Development => matches!(uri.scheme_str(), Some("https" | "http")),
    };
    if !scheme_ok || uri.host().is_none() {
        return Err(format!(
            "{address}: use an https:// address, like https://members.example.org"
        ));
    }
    let host = uri.host().unwrap_or_default();
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>();
    if let (Network::PublicOnly, Ok(ip)) = (network, literal) {
        if !is_public(ip) {
            return Err(format!(
                "{address}: {ip} is a private, loopback or link-local address, which Vestibule \
                 does not call"
            ));
        }
    }
    if uri.query().is_some() && !query {
        return Err(format!("{address}: leave out the part after ?"));
    }
    Ok(uri)
}

/// A document larger than this is not a metadata document.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// A document a tenant admin names by address (a service provider's SAML metadata), fetched
/// through the same guard as every call to iMIS: the address rules above, public addresses
/// only (resolved once, no rebinding), no redirects, at most 1 MB, within `timeout`.
pub async fn fetch_document(
    address: &str,
    network: Network,
    timeout: Duration,
) -> Result<String, ImisError> {
    let address = address.trim();
    guarded_address(address, network, true).map_err(ImisError::AddressRefused)?;
    let client = Imis {
        base: Arc::from(address),
        http: shared_client(network)?,
        timeout,
    };
    let request = Request::get(address)
        .header(
            header::ACCEPT,
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| ImisError::AddressRefused(e.to_string()))?;
    // The same client and limits as iMIS calls; the words name the document, not iMIS.
    let (status, body) = client
        .send(address, request)
        .await
        .map_err(|error| match error {
            ImisError::Unreachable { url, detail } => {
                ImisError::DocumentUnreachable { url, detail }
            }
            ImisError::Timeout { url, seconds } => ImisError::DocumentUnreachable {
                url,
                detail: format!("no answer within {seconds} seconds"),
            },
            other => other,
        })?;
    if status != StatusCode::OK {
        return Err(ImisError::DocumentStatus {
            url: address.to_string(),
            status: status.as_u16(),
        });
    }
    if body.len() > MAX_DOCUMENT {
        return Err(ImisError::DocumentTooLarge(address.to_string()));
    }
    String::from_utf8(body.to_vec()).map_err(|_| ImisError::DocumentTooLarge(address.to_string()))
}

impl Imis {
    /// `base_url` is the iMIS site root, e.g. `https://members.acme.org` (a path prefix such as
    /// `/imis` is kept). On [`Network::PublicOnly`] it must be HTTPS at a public address; plain
    /// HTTP and private addresses are for [`Network::Development`] only.
    pub fn new(base_url: &str, timeout: Duration, network: Network) -> Result<Self, ImisError> {
        let base = base_url.trim().trim_end_matches('/');
        guarded_address(base, network, false).map_err(ImisError::InvalidBaseUrl)?;
        Ok(Self {
            base: Arc::from(base),
            http: shared_client(network)?,
            timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Exchanges the `refresh_token` iMIS posted to our callback for an access token.
    pub async fn refresh_token_grant(
        &self,
        client: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<AccessToken, ImisError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs in a user by name and password (the background account for REST calls).
    pub async fn password_grant(
        &self,
        username: &str,
        password: &str,
    ) -> Result<AccessToken, ImisError> {
        self.token(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<AccessToken, ImisError> {
        let url = format!("{}/token", self.base);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ImisError::InvalidBaseUrl(e.to_string()))?;
        let (status, body) = self.send(&url, request).await?;
        parse(&url, status.as_u16(), &body)
    }

    /// The row of the IQA query `query` that belongs to `username` (exactly one, see
    /// `profile::row_of`), as a profile.
    pub async fn profile(
        &self,
        token: &AccessToken,
        query: &str,
        username: &str,
    ) -> Result<Profile, ImisError> {
        let parameters = form_urlencoded::Serializer::new(String::new())
            .append_pair("QueryName", query)
            .append_pair("parameter", username)
            .finish();
        let body = self
            .get_json(&format!("{}/api/IQA?{parameters}", self.base), token)
            .await?;
        row_of(parse_iqa(&body)?, username)
    }

    /// `GET /api/Party/{id}`, as iMIS's JSON.
    pub async fn party(&self, token: &AccessToken, id: &str) -> Result<Value, ImisError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get_json(&format!("{}/api/Party/{id}", self.base), token)
            .await
    }

    /// Fetches a page of the iMIS site (the SSO page, for Test connection) and returns the
    /// status it answered with.
    pub async fn page_status(&self, url: &str) -> Result<u16, ImisError> {
        let request = Request::get(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| ImisError::InvalidBaseUrl(e.to_string()))?;
        let (status, _) = self.send(url, request).await?;
        Ok(status.as_u16())
    }

    async fn get_json(&self, url: &str, token: &AccessToken) -> Result<Value, ImisError> {
        let request = Request::get(url)
            .header(header::AUTHORIZATION, format!("Bearer {}", token.token))
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| ImisError::InvalidBaseUrl(e.to_string()))?;
        let (status, body) = self.send(url, request).await?;
        match status {
            StatusCode::UNAUTHORIZED => return Err(ImisError::Unauthorized),
            StatusCode::FORBIDDEN => return Err(ImisError::Forbidden),
            StatusCode::NOT_FOUND => return Err(ImisError::NotFound),
            status if !status.is_success() => {
                return Err(ImisError::Unexpected {
                    url: url.to_string(),
                    status: status.as_u16(),
                    detail: classify(&body),
                })
            }
            _ => {}
        }
        serde_json::from_slice(&body).map_err(|_| ImisError::Unexpected {
            url: url.to_string(),
            status: status.as_u16(),
            detail: format!("not JSON: {}", classify(&body)),
        })
    }

    async fn send(
        &self,
        url: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), ImisError> {
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| ImisError::Unreachable {
                        url: url.to_string(),
                        detail: describe(&e),
                    })?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| ImisError::Unreachable {
                    url: url.to_string(),
                    detail: format!("the answer broke off: {e}"),
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ImisError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs().max(1),
            })?
    }
}

/// The innermost cause of a connection error: that is where "certificate expired" or
/// "connection refused" is.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn documents_are_fetched_from_public_https_addresses_only() {
        let second = Duration::from_secs(1);
        for (address, words) in [
            ("http://sp.example.org/metadata", "use an https:// address"),
            (
                "https://127.0.0.1/metadata",
                "private, loopback or link-local",
            ),
            ("https://[::1]/metadata", "private, loopback or link-local"),
            (
                "https://169.254.169.254/latest",
                "private, loopback or link-local",
            ),
            ("https://user@sp.example.org/metadata", "user@"),
            ("https://sp.example.org/metadata#top", "# part"),
        ] {
            // An address kept to be read later (a metadata subscription) is judged the same.
            let kept = check_document_address(address, Network::PublicOnly).unwrap_err();
            assert!(kept.contains(words), "{address}: {kept}");
            let refused = fetch_document(address, Network::PublicOnly, second).await;
            match refused {
                Err(ImisError::AddressRefused(message)) => {
                    assert!(message.contains(words), "{address}: {message}")
                }
                other => panic!("{address}: {other:?}"),
            }
        }
        // A name that resolves only to private addresses is refused when it resolves.
        let local = fetch_document("https://localhost:9/metadata", Network::PublicOnly, second);
        match local.await {
            Err(ImisError::DocumentUnreachable { detail, .. }) => {
                assert!(
                    detail.contains("private, loopback or link-local"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
