//! How every listener serves HTTP — the dashboard, the tenant edge on both ports, the operator
//! endpoints — with the same explicit limits on a request's head: no handler sees a head over
//! [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`], and hyper buffers at most twice that before it
//! answers on its own. Bodies are limited per route
//! (the member site takes 64 KB, a logo 1 MB, everything else axum's 2 MB).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::client_address::{accept_proxied, with_client_address, TrustedProxies};

/// The request line and headers together: what a browser sends with the longest SAML
/// Redirect-binding URL and a full cookie jar fits with room to spare (nginx allows the same
/// order of magnitude). Larger heads get `431 Request Header Fields Too Large`.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Header fields per request; more also get `431`.
pub const MAX_HEADERS: usize = 100;
/// What hyper itself buffers before answering a bare `431`: twice our limits, so that a head
/// between the two still reaches [`head_limits`] and gets a page that says what happened (on a
/// tenant's domain, its branded one).
const HYPER_HEAD_BYTES: usize = 2 * MAX_HEAD_BYTES;
const HYPER_HEADERS: usize = 2 * MAX_HEADERS;
/// The path a router answers with its own `431` page. [`head_limits`] asks it with a bodiless
/// GET that keeps only the `Host` header, so the oversized request itself never reaches a
/// handler; a router without the route gets the plain page.
pub const HEAD_TOO_LARGE_PATH: &str = "/.well-known/vestibule/head-too-large";
/// A client must finish sending a request's head within this, so a slow trickle cannot hold
/// a connection open.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight may finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What stands in front of a listener: the proxies whose word on the client's address counts,
/// and whether every connection starts with a PROXY protocol v2 header. The default trusts no
/// one: the client is the TCP peer.
#[derive(Debug, Clone, Default)]
pub struct Front {
    pub trusted: Arc<TrustedProxies>,
    pub proxy_protocol: bool,
}

impl Front {
    /// `router` with both request layers every listener applies once: the head limits and the
    /// client's address.
    pub(crate) fn prepare(&self, router: Router) -> Router {
        with_client_address(with_head_limits(router), self.trusted.clone())
    }

    /// The client a new connection is for: after its PROXY header when one is expected
    /// (`None`, and the connection is dropped, when the header is missing or malformed).
    pub(crate) async fn accept(&self, tcp: &mut TcpStream, peer: SocketAddr) -> Option<SocketAddr> {
        if !self.proxy_protocol {
            return Some(peer);
        }
        match accept_proxied(tcp, peer, &self.trusted).await {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::debug!(%peer, %error, "connection without a valid PROXY header dropped");
                None
            }
        }
    }
}

/// The connection settings every listener uses: HTTP/1.1, and HTTP/2 where a client asks.
pub(crate) fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(HYPER_HEAD_BYTES)
        .max_headers(HYPER_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(HYPER_HEAD_BYTES as u32);
    builder
}

/// `router` as one connection's service; handlers see the client's address as `ConnectInfo`.
/// `router` is already behind [`with_head_limits`] (done once per listener, not per connection).
pub(crate) fn connection_service(router: &Router, peer: SocketAddr) -> TowerToHyperService<Router> {
    TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(peer))))
}

/// `router` behind [`head_limits`]: no handler sees a head over the limits. Every listener
/// applies it once to its router.
pub fn with_head_limits(router: Router) -> Router {
    router
        .clone()
        .layer(axum::middleware::from_fn_with_state(router, head_limits))
}

/// Whether the request line and headers are over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`],
/// counted as they were sent (`name: value` and a line break per field).
pub(crate) fn head_too_large<B>(request: &Request<B>) -> bool {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |p| p.as_str().len())
        + " HTTP/1.1\r\n ".len();
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    request.headers().len() > MAX_HEADERS || line + fields > MAX_HEAD_BYTES
}

/// Answers an oversized head with `431` and a page: the router's own at
/// [`HEAD_TOO_LARGE_PATH`] (asked without the request's cookies, body or path), or a plain one.
async fn head_limits(State(router): State<Router>, request: Request, next: Next) -> Response {
    if !head_too_large(&request) {
        return next.run(request).await;
    }
    tracing::info!(
        uri_bytes = request.uri().to_string().len(),
        fields = request.headers().len(),
        "request head over the limits"
    );
    let mut ask = Request::get(HEAD_TOO_LARGE_PATH);
    if let Some(host) = request.headers().get(header::HOST) {
        ask = ask.header(header::HOST, host);
    }
    if let Some(authority) = request.uri().authority() {
        ask = ask.uri(format!("http://{authority}{HEAD_TOO_LARGE_PATH}"));
    }
    if let Ok(ask) = ask.body(Body::empty()) {
        let response = router
            .oneshot(ask)
            .await
            .unwrap_or_else(|never| match never {});
        if response.status() == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
            return response;
        }
    }
    (
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "The request's address or headers are too large. Clearing this site's cookies, or \
         following a shorter link, usually helps.",
    )
        .into_response()
}

/// Serves `router` on `listener`, behind `front`, until `shutdown` completes, then lets the
/// requests in flight finish (for up to thirty seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    front: Front,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = front.prepare(router);
    let front = Arc::new(front);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (mut tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: pause rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (router, front, watcher) = (router.clone(), front.clone(), graceful.watcher());
        tokio::spawn(async move {
            let Some(client) = front.accept(&mut tcp, peer).await else {
                return;
            };
            let connection = connection_builder()
                .serve_connection(TokioIo::new(tcp), connection_service(&router, client))
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at shutdown were cut off");
    }
    Ok(())
}
