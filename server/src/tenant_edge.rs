//! The listeners for tenant domains: plain HTTP (ACME HTTP-01 answers, test domains, and a
//! redirect to HTTPS) and HTTPS with each tenant's certificate picked by SNI.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use vestibule_domain::Timestamp;
use vestibule_provisioning::{server_config, Provisioning};

use crate::listen::Front;
use crate::member_site::{self, request_host, MemberSite, TestDomains};

#[derive(Clone)]
struct PlainState {
    provisioning: Provisioning,
    https_port: u16,
    test_domains: Arc<TestDomains>,
    test_domain_site: Router,
}

/// The plain-HTTP router: challenge answers from the database (any node can answer for any
/// order), the member site for configured test domains, and everything else redirected to the
/// same URL over HTTPS.
pub fn plain_http_router(provisioning: Provisioning, https_port: u16, site: MemberSite) -> Router {
    let test_domains = site.addresses.test_domains.clone();
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(test_domain_or_https)
        .with_state(PlainState {
            provisioning,
            https_port,
            test_domains,
            test_domain_site: member_site::test_domain_router(site),
        })
}

async fn test_domain_or_https(State(state): State<PlainState>, request: Request) -> Response {
    let is_test_domain = request_host(request.headers())
        .is_some_and(|host| state.test_domains.cloud_id(&host).is_some());
    if is_test_domain {
        return match state.test_domain_site.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let (parts, _) = request.into_parts();
    to_https(state.https_port, &parts.method, &parts.headers, &parts.uri)
}

async fn challenge(State(state): State<PlainState>, Path(token): Path<String>) -> Response {
    match state
        .provisioning
        .challenge_answer(&token, Timestamp::now())
        .await
    {
        Ok(Some(answer)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, "No such challenge.").into_response(),
        Err(error) => {
            tracing::error!(%error, "reading a challenge failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn to_https(https_port: u16, method: &Method, headers: &HeaderMap, uri: &Uri) -> Response {
    let Some(host) = request_host(headers) else {
        return (StatusCode::BAD_REQUEST, "This request names no host.").into_response();
    };
    let port = match https_port {
        443 => String::new(),
        port => format!(":{port}"),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    // 301 for links and bookmarks; 308 makes clients repeat a POST as a POST.
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    (status, [(header::LOCATION, location)]).into_response()
}

/// `421 Misdirected Request` (RFC 9110 §15.5.20) for a request whose host is not the name the
/// connection's certificate was chosen by (SNI): one tenant's pages, issuer and metadata must
/// never be served under another tenant's certificate. HTTP/2 requests name their host in
/// `:authority` only; it is copied to `Host`, where the member site reads it.
async fn host_is_sni(
    State(sni): State<Option<String>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(header::HOST) {
        if let Some(value) = request
            .uri()
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
        {
            request.headers_mut().insert(header::HOST, value);
        }
    }
    let host = request_host(request.headers());
    if sni.is_none() || host != sni {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "This connection was made for another address; open the link again.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Accepts TLS connections and serves `router` on them until the process ends. A client that
/// asks for a name we hold no certificate for fails the handshake.
pub async fn serve_https(
    listener: TcpListener,
    provisioning: Provisioning,
    router: Router,
    front: Front,
) -> std::io::Result<()> {
    let config =
        server_config(provisioning.resolver()).map_err(|e| std::io::Error::other(e.to_string()))?;
    let router = front.prepare(router);
    let front = Arc::new(front);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let (mut tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors: pause rather than spin.
                tracing::warn!(%error, "accepting a TLS connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let front = front.clone();
        tokio::spawn(async move {
            let Some(client) = front.accept(&mut tcp, peer).await else {
                return;
            };
            let tls = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            // The name the certificate was chosen by: every request on this connection must be
            // for it, or a tenant's pages would be served under another tenant's certificate.
            let sni = tls.get_ref().1.server_name().map(str::to_ascii_lowercase);
            let router = router.layer(axum::middleware::from_fn_with_state(sni, host_is_sni));
            let service = crate::listen::connection_service(&router, client);
            if let Err(error) = crate::listen::connection_builder()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
            }
        });
    }
}
