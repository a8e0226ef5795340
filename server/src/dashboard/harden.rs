//! What every dashboard response and request passes through: a same-origin check on
//! state-changing requests and the security headers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn harden(router: Router, public_origin: Arc<str>, https: bool) -> Router {
    let router = router
        .layer(middleware::from_fn_with_state(
            public_origin,
            same_origin_writes,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    crate::security_headers::common(router, https)
}

/// Refuses state-changing requests sent by another site.
///
/// The session cookie is `SameSite=Lax` and every signed-in change also carries the session's
/// CSRF token; this check adds protection for the requests made before a session exists
/// (sign-in, setup links) and for same-site attackers on sibling subdomains. A browser names the
/// page that sent a request in `Origin`; it must be our public origin or the host the request
/// was sent to. Without `Origin`, `Sec-Fetch-Site: cross-site` is refused too.
async fn same_origin_writes(
    State(public_origin): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let allowed = match header_text(header::ORIGIN.as_str()) {
        Some(origin) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            origin == &*public_origin
                || (authority.is_some() && authority == header_text(header::HOST.as_str()))
        }
        None => header_text("sec-fetch-site") != Some("cross-site"),
    };
    if allowed {
        next.run(request).await
    } else {
        tracing::warn!(path = %request.uri().path(), "cross-origin write refused");
        (
            StatusCode::FORBIDDEN,
            "This request came from another site and was refused.",
        )
            .into_response()
    }
}
