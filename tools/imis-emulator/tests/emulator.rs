//! The emulator behaves as the iMIS documentation describes, over its real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use imis_emulator::{Behaviour, Directory, Emulator, FailMode};
use serde_json::Value;
use tower::ServiceExt;

fn emulator() -> (Emulator, Router) {
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let router = emulator.router();
    (emulator, router)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn form(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str, extra: Option<(header::HeaderName, String)>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some((name, value)) = extra {
        request = request.header(name, value);
    }
    request.body(Body::empty()).unwrap()
}

/// Signs in on the emulator's own page and returns the session cookie.
async fn signed_in(router: &Router, username: &str, password: &str) -> String {
    let reply = send(
        router,
        form(
            "/sign-in",
            &format!("username={username}&password={password}&returnUrl=%2Fsso%2Foidc"),
        ),
    )
    .await;
    assert!(
        reply.status.is_redirection(),
        "{} {}",
        reply.status,
        reply.body
    );
    assert_eq!(reply.headers[header::LOCATION], "/sso/oidc");
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// Opens the OIDC SSO page as a signed-in user and returns the refresh token it posts.
async fn refresh_token_from_sso_page(router: &Router, cookie: &str) -> String {
    let page = send(
        router,
        get("/sso/oidc", Some((header::COOKIE, cookie.to_string()))),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("action=\"http://sso.demo.localhost:8080/imis/callback\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("method=\"post\""));
    let marker = "name=\"refresh_token\" value=\"";
    let start = page.body.find(marker).unwrap() + marker.len();
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_string()
}

async fn exchange(router: &Router, secret: &str, refresh_token: &str) -> Reply {
    send(
        router,
        form(
            "/token",
            &format!(
                "grant_type=refresh_token&client_id=vestibule-oidc&client_secret={secret}&refresh_token={refresh_token}"
            ),
        ),
    )
    .await
}

#[tokio::test]
async fn an_unsigned_in_visitor_of_the_sso_page_signs_in_first() {
    let (_, router) = emulator();
    let reply = send(&router, get("/sso/oidc", None)).await;
    assert!(reply.status.is_redirection());
    assert_eq!(
        reply.headers[header::LOCATION],
        "/sign-in?returnUrl=/sso/oidc"
    );
    let wrong = send(&router, form("/sign-in", "username=jane&password=nope")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Invalid username or password"));
    let open_redirect = send(
        &router,
        form(
            "/sign-in",
            "username=jane&password=jane-demo-password&returnUrl=https%3A%2F%2Fevil.example",
        ),
    )
    .await;
    assert_eq!(open_redirect.headers[header::LOCATION], "/");
}

#[tokio::test]
async fn the_refresh_token_from_the_sso_page_works_once() {
    let (_, router) = emulator();
    let cookie = signed_in(&router, "jane", "jane-demo-password").await;
    let refresh_token = refresh_token_from_sso_page(&router, &cookie).await;

    let wrong_secret = exchange(&router, "not-the-secret", &refresh_token).await;
    assert_eq!(wrong_secret.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");

    let granted = exchange(&router, "demo-oidc-secret", &refresh_token).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let body = granted.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["userName"], "jane");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["access_token"].as_str().unwrap().len() > 20);

    let replayed = exchange(&router, "demo-oidc-secret", &refresh_token).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert_eq!(replayed.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn the_password_grant_and_the_profile_calls() {
    let (_, router) = emulator();
    let bad = send(
        &router,
        form(
            "/token",
            "grant_type=password&username=vestibule-api&password=x",
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "invalid_grant");
    let unsupported = send(&router, form("/token", "grant_type=client_credentials")).await;
    assert_eq!(unsupported.json()["error"], "unsupported_grant_type");

    let token = send(
        &router,
        form(
            "/token",
            "grant_type=password&username=vestibule-api&password=demo-api-password",
        ),
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = Some((header::AUTHORIZATION, format!("Bearer {token}")));

    let unauthenticated = send(
        &router,
        get(
            "/api/IQA?QueryName=$/Vestibule/MemberProfile&parameter=jane",
            None,
        ),
    )
    .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);

    let iqa = send(
        &router,
        get(
            "/api/IQA?QueryName=$/Vestibule/MemberProfile&parameter=jane",
            auth.clone(),
        ),
    )
    .await;
    assert_eq!(iqa.status, StatusCode::OK, "{}", iqa.body);
    let body = iqa.json();
    assert_eq!(
        body["$type"],
        "Asi.Soa.Core.DataContracts.PagedResult, Asi.Contracts"
    );
    assert_eq!(body["HasNext"], false);
    let properties = &body["Items"]["$values"][0]["Properties"]["$values"];
    let value = |name: &str| {
        properties
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["Name"] == name)
            .map(|p| p["Value"].clone())
            .unwrap()
    };
    assert_eq!(value("ID"), "23201");
    assert_eq!(value("Email"), "jane@members.acme.test");

    let unknown_query = send(
        &router,
        get("/api/IQA?QueryName=$/Nope&parameter=jane", auth.clone()),
    )
    .await;
    assert_eq!(unknown_query.status, StatusCode::BAD_REQUEST);

    let paged = send(
        &router,
        get(
            "/api/IQA?QueryName=$/Vestibule/MemberProfile&Limit=2",
            auth.clone(),
        ),
    )
    .await
    .json();
    assert_eq!(paged["HasNext"], true);
    assert_eq!(paged["NextOffset"], 2);

    let user = send(&router, get("/api/User/23201", auth.clone()))
        .await
        .json();
    assert_eq!(user["UserName"], "jane");
    let party = send(&router, get("/api/Party/23201", auth.clone()))
        .await
        .json();
    assert_eq!(party["PersonName"]["FirstName"], "Jane");
    assert_eq!(
        party["Emails"]["$values"][0]["Address"],
        "jane@members.acme.test"
    );
    assert_eq!(
        send(&router, get("/api/Party/999", auth)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn members_read_only_themselves() {
    let (_, router) = emulator();
    let cookie = signed_in(&router, "omar", "omar-demo-password").await;
    let refresh_token = refresh_token_from_sso_page(&router, &cookie).await;
    let token = exchange(&router, "demo-oidc-secret", &refresh_token)
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = Some((header::AUTHORIZATION, format!("Bearer {token}")));
    assert_eq!(
        send(&router, get("/api/Party/23202", auth.clone()))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&router, get("/api/Party/23201", auth)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn it_can_be_made_to_fail_and_to_be_slow() {
    let (emulator, router) = emulator();
    let set = |behaviour: &str| {
        Request::post("/_emulator/behaviour")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(behaviour.to_string()))
            .unwrap()
    };
    send(&router, set(r#"{"fail":"token"}"#)).await;
    let down = send(
        &router,
        form(
            "/token",
            "grant_type=password&username=jane&password=jane-demo-password",
        ),
    )
    .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        send(&router, get("/sign-in", None)).await.status,
        StatusCode::OK
    );

    send(&router, set(r#"{"delay_ms":300}"#)).await;
    let started = std::time::Instant::now();
    let slow = send(
        &router,
        form(
            "/token",
            "grant_type=password&username=jane&password=jane-demo-password",
        ),
    )
    .await;
    assert_eq!(slow.status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    let all = Emulator::new(
        Directory::demo(),
        Behaviour {
            fail: FailMode::All,
            ..Behaviour::default()
        },
    );
    assert_eq!(
        send(&all.router(), get("/sign-in", None)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    drop(emulator);
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let text = imis_emulator::DEMO_DATA.replace(
        "refresh_token_lifetime_minutes = 5",
        "refresh_token_lifetime_minutes = 0",
    );
    let router = Emulator::new(Directory::parse(&text).unwrap(), Behaviour::default()).router();
    let cookie = signed_in(&router, "jane", "jane-demo-password").await;
    let refresh_token = refresh_token_from_sso_page(&router, &cookie).await;
    let expired = exchange(&router, "demo-oidc-secret", &refresh_token).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.json()["error"], "invalid_grant");
}
