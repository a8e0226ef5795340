//! Driving a router the way a browser or an application would, one request at a time, and
//! reading its answer: what every HTTP-level test shares.

// Each test file uses the part it needs.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Location` header, or an empty string.
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    /// The `Set-Cookie` header for `name`, with its attributes.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value the response sets for the cookie `name`.
    pub fn cookie_value(&self, name: &str) -> String {
        let cookie = self.set_cookie(name).expect(name);
        cookie[name.len() + 1..]
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }
}

/// `request` through `router`; bodies up to 4 MiB are read.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 4 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A form post from a browser on the page at `origin` (whose authority is also the `Host`).
pub async fn browser_post(
    router: &Router,
    origin: &str,
    path: &str,
    body: String,
    cookie: Option<&str>,
) -> Reply {
    let host = origin.split_once("://").map_or(origin, |(_, host)| host);
    let mut request = Request::post(path)
        .header(header::HOST, host)
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(router, request.body(Body::from(body)).unwrap()).await
}

/// Signs a directory member in on the hosted form of the site at `origin`, going on to
/// `return_to`: the session cookie (`name=value`) and where the member goes next.
pub async fn sign_in_on_hosted_form(
    router: &Router,
    origin: &str,
    (username, password): (&str, &str),
    return_to: &str,
) -> (String, String) {
    let value = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let body = format!(
        "username={}&password={}&return_to={}",
        value(username),
        value(password),
        value(return_to)
    );
    let reply = browser_post(router, origin, "/login", body, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    (
        cookie.split(';').next().unwrap().to_string(),
        reply.location(),
    )
}
