//! The listeners for tenant domains: plain HTTP (ACME HTTP-01 answers and a redirect to
//! HTTPS) and HTTPS with each tenant's certificate picked by SNI.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::set_header::SetResponseHeaderLayer;
use vestibule_domain::Timestamp;
use vestibule_provisioning::{server_config, Provisioning};
use vestibule_storage::Store;

#[derive(Clone)]
struct PlainState {
    provisioning: Provisioning,
    https_port: u16,
}

/// The plain-HTTP router: challenge answers from the database (any node can answer for any
/// order), everything else redirected to the same URL over HTTPS.
pub fn plain_http_router(provisioning: Provisioning, https_port: u16) -> Router {
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(to_https)
        .with_state(PlainState {
            provisioning,
            https_port,
        })
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

async fn to_https(
    State(state): State<PlainState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(host) = request_host(&headers) else {
        return (StatusCode::BAD_REQUEST, "This request names no host.").into_response();
    };
    let port = match state.https_port {
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

/// The host name a request was sent to, without the port, if it is a plausible DNS name.
fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| name.to_ascii_lowercase())
}

#[derive(Clone)]
struct SiteState {
    store: Store,
}

/// What a tenant's domain serves over HTTPS. Member sign-in (the hosted login pages and the
/// protocol endpoints) arrives with the identity issues; until then the domain says whose it
/// is and that it is working.
pub fn tenant_site_router(store: Store) -> Router {
    Router::new()
        .route("/", get(tenant_home))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(SiteState { store })
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

async fn tenant_home(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let Some(host) = request_host(&headers) else {
        return (StatusCode::BAD_REQUEST, "This request names no host.").into_response();
    };
    let tenant = match state.store.domain_by_name(&host).await {
        Ok(Some(domain)) => match state.store.tenant_by_id(domain.tenant).await {
            Ok(tenant) => tenant,
            Err(error) => return unavailable(error),
        },
        Ok(None) => None,
        Err(error) => return unavailable(error),
    };
    let Some(tenant) = tenant else {
        // The TLS layer only completes handshakes for names we serve; a Host header naming
        // another one is a misdirected request.
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "This address is not served here.",
        )
            .into_response();
    };
    let name = escape(&tenant.display_name);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name} sign-in</title></head><body style=\"font-family: system-ui, sans-serif; \
         max-width: 36rem; margin: 4rem auto; padding: 0 1rem\"><h1>{name}</h1>\
         <p>This is the single sign-on address of {name}. Member sign-in opens here once \
         the association has connected its membership system.</p></body></html>"
    ))
    .into_response()
}

fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "tenant site lookup failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable for a moment. Please try again.",
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Accepts TLS connections and serves `router` on them until the process ends. A client that
/// asks for a name we hold no certificate for fails the handshake.
pub async fn serve_https(
    listener: TcpListener,
    provisioning: Provisioning,
    router: Router,
) -> std::io::Result<()> {
    let config =
        server_config(provisioning.resolver()).map_err(|e| std::io::Error::other(e.to_string()))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let (tcp, peer) = match listener.accept().await {
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
        tokio::spawn(async move {
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
            let service = TowerToHyperService::new(router);
            if let Err(error) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
            }
        });
    }
}
