//! The response headers every page this server sends carries, in one place for the dashboard
//! and the member site: no content sniffing, the referrer kept to our own origin, and on HTTPS,
//! HSTS. Each router adds what is its own (the dashboard `X-Frame-Options`, the member site its
//! content security policy).

use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// `router` with the common headers; `https` adds `Strict-Transport-Security` for a year.
pub fn common(router: Router, https: bool) -> Router {
    let router = router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    if https {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        router
    }
}
