//! The front-end's files under `/pkg`, as `scripts/build-frontend` leaves them: the script,
//! wasm and stylesheet named after a hash of their content (`vestibule-<hash>.*`), each stored
//! beside its brotli and gzip compressions.
//!
//! A hashed name never changes content, so browsers keep those files for a year without asking
//! again (`immutable`); anything else under `/pkg` is revalidated on each use. The compressed
//! copies are sent as they are, to browsers that accept them: nothing is compressed per request.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::ServeDir;

/// The file `scripts/build-frontend` writes the hashed name into.
const OUTPUT_NAME_FILE: &str = "output-name";

/// The front-end's name for Leptos (`<name>.js`, `<name>.wasm`, `<name>.css`): the hashed name
/// of the last build under `site_root`, or plain `vestibule` for a tree built otherwise
/// (e.g. by cargo-leptos).
pub(crate) fn output_name(site_root: &Path) -> String {
    std::fs::read_to_string(site_root.join("pkg").join(OUTPUT_NAME_FILE))
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty() && name.chars().all(is_name_char))
        .unwrap_or_else(|| "vestibule".to_string())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Serves `site_root/pkg` at `/pkg`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let files = ServeDir::new(site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service("/pkg", files)
        .layer(middleware::from_fn(caching))
}

async fn caching(request: Request, next: Next) -> Response {
    let immutable = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(is_content_named);
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().as_u16() == 304 {
        let policy = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(policy));
        // The same URL answers in three encodings: caches keep them apart.
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// `vestibule-<16 hex digits>.<extension>`: a name `scripts/build-frontend` gave from content.
fn is_content_named(file: &str) -> bool {
    let Some(rest) = file.strip_prefix("vestibule-") else {
        return false;
    };
    let Some((hash, extension)) = rest.split_once('.') else {
        return false;
    };
    hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(extension, "js" | "wasm" | "css")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_are_immutable() {
        assert!(is_content_named("vestibule-0123456789abcdef.wasm"));
        assert!(is_content_named("vestibule-0123456789abcdef.css"));
        assert!(!is_content_named("vestibule.wasm"));
        assert!(!is_content_named("vestibule-0123456789abcde.js"));
        assert!(!is_content_named("vestibule-0123456789abcdeg.js"));
        assert!(!is_content_named("vestibule-0123456789abcdef.html"));
        assert!(!is_content_named("output-name"));
    }
}
