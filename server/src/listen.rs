//! How every listener serves HTTP — the dashboard, the tenant edge on both ports, the operator
//! endpoints — with the same explicit limits on a request's head, so none of them can be made
//! to buffer more than [`MAX_HEAD_BYTES`] before a handler runs. Bodies are limited per route
//! (the member site takes 64 KB, a logo 1 MB, everything else axum's 2 MB).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The request line and headers together: what a browser sends with the longest SAML
/// Redirect-binding URL and a full cookie jar fits with room to spare (nginx allows the same
/// order of magnitude). Larger heads get `431 Request Header Fields Too Large`.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Header fields per request; more also get `431`.
pub const MAX_HEADERS: usize = 100;
/// A client must finish sending a request's head within this, so a slow trickle cannot hold
/// a connection open.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight may finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection settings every listener uses: HTTP/1.1, and HTTP/2 where a client asks.
pub(crate) fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    builder
}

/// `router` as one connection's service; handlers see the client's address as `ConnectInfo`.
pub(crate) fn connection_service(router: &Router, peer: SocketAddr) -> TowerToHyperService<Router> {
    TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(peer))))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish (for up to thirty seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let builder = connection_builder();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
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
        let connection = builder
            .serve_connection(TokioIo::new(tcp), connection_service(&router, peer))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
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
