//! Cookies as this server reads and writes them, with the `cookie` crate: a value from the
//! request's `Cookie` headers, and `Set-Cookie` values for host-only cookies (`__Host-` names:
//! `Path=/`, `Secure`, no `Domain`), always `HttpOnly`.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use vestibule_domain::Seconds;

/// The value of the cookie `name` the request carries.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

/// A host-only cookie: for the browser session when `max_age` is `None`.
pub fn host_only(name: &str, value: &str, same_site: SameSite, max_age: Option<Seconds>) -> String {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(same_site);
    if let Some(age) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(age.0));
    }
    cookie.build().to_string()
}

/// Tells the browser to forget the host-only cookie `name`.
pub fn removal(name: &str, same_site: SameSite) -> String {
    host_only(name, "", same_site, Some(Seconds(0)))
}

/// Adds a `Set-Cookie` header to `response`.
pub fn append(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_from_every_cookie_header_and_written_host_only() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=two"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(read(&headers, "b").as_deref(), Some("two"));
        assert_eq!(read(&headers, "c").as_deref(), Some("3"));
        assert_eq!(read(&headers, "d"), None);

        let written = host_only("__Host-x", "v", SameSite::Strict, Some(Seconds(600)));
        for part in [
            "__Host-x=v",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(written.contains(part), "{written}");
        }
        assert!(written.contains("Max-Age=600"), "{written}");
        assert!(removal("__Host-x", SameSite::Lax).contains("Max-Age=0"));
    }
}
