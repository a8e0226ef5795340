//! The OpenID Connect endpoints on a tenant's (test) domain, driven with `oneshot` as a relying
//! party and a member's browser would: discovery, the code flow with PKCE through the hosted
//! sign-in, tokens checked against the published JWKS, userinfo, replay, consent, introspection,
//! revocation, RP-initiated logout, and the spec's errors for what is not offered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use tower::ServiceExt;
use vestibule_domain::Timestamp;
use vestibule_members::NewDirectoryMember;
use vestibule_oidc::{ClientInput, RsaPublicKey, SigningAlgorithm, Verifier};
use vestibule_provisioning::Provisioning;
use vestibule_secrets::SecretKey;
use vestibule_server::{tenant_edge, Config, Engines};
use vestibule_settings::SettingsInput;
use vestibule_staff::PasswordHasher;
use vestibule_storage::testing::{sqlite, TestDatabase};

const HOST: &str = "sso.acme.localhost:8080";
const ISSUER: &str = "http://sso.acme.localhost:8080";
const REDIRECT: &str = "https://events.example.org/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Provider {
    router: Router,
    client_id: String,
    secret: String,
    _db: TestDatabase,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// A query parameter of a URL (or fragment).
fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once(['?', '#'])?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            let mut out = Vec::new();
            let bytes = value.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn provider(adjust: impl FnOnce(&mut ClientInput)) -> Provider {
    let db = sqlite().await;
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    let config = Config {
        secret_key: Some(SecretKey::generate_base64()),
        edge: vestibule_server::config::EdgeConfig {
            test_domains: vec!["sso.acme.localhost=acme".into()],
            ..Default::default()
        },
        ..Config::default()
    };
    let secret = config.load_secret_key().unwrap();
    let provisioning = Provisioning::new(
        config.provisioning_settings(),
        store.clone(),
        secret.clone(),
    )
    .unwrap();
    let engines = Engines::with_hasher(
        &config,
        store,
        secret,
        provisioning.clone(),
        PasswordHasher::new(1024, 1, 2),
    );
    let settings = SettingsInput {
        identity_source: "directory".into(),
        brand_name: "Acme Association".into(),
        ..SettingsInput::default()
    };
    engines
        .settings
        .save(acme, settings, Timestamp::now())
        .await
        .unwrap();
    engines
        .members
        .add_directory_member(
            acme,
            NewDirectoryMember {
                username: "jane".into(),
                email: "jane@acme.test".into(),
                given_name: "Jane".into(),
                family_name: "Member".into(),
                password: "jane-member-password".into(),
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
    let mut input = ClientInput {
        name: "Events".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec!["https://events.example.org/bye".into()],
        allow_password: true,
        ..ClientInput::default()
    };
    adjust(&mut input);
    let (client, shown) = engines
        .oidc
        .clients
        .create(acme, input, Timestamp::now())
        .await
        .unwrap();
    let router =
        tenant_edge::plain_http_router(provisioning, 8443, engines.member_site(&config).unwrap());
    Provider {
        router,
        client_id: client.client_id,
        secret: shown.client_secret.unwrap_or_default(),
        _db: db,
    }
}

impl Provider {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>, bearer: Option<&str>) -> Reply {
        let mut request = Request::get(path).header(header::HOST, HOST);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A form post from the member's browser on the tenant's site.
    async fn browser_post(&self, path: &str, body: String, cookie: Option<&str>) -> Reply {
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ISSUER)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// A back-channel call from the application's server, authenticated with HTTP Basic.
    async fn backchannel(&self, path: &str, body: String, basic: Option<(&str, &str)>) -> Reply {
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            request = request.header(
                header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            );
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    fn basic(&self) -> Option<(&str, &str)> {
        Some((&self.client_id, &self.secret))
    }

    async fn sign_in(&self) -> String {
        self.sign_in_to("/").await.0
    }

    /// Signs in on the hosted form; returns the session cookie and where the member goes next.
    async fn sign_in_to(&self, return_to: &str) -> (String, String) {
        let reply = self
            .browser_post(
                "/login",
                form(&[
                    ("username", "jane"),
                    ("password", "jane-member-password"),
                    ("return_to", return_to),
                ]),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        (
            cookie.split(';').next().unwrap().to_string(),
            reply.location(),
        )
    }

    fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st-1"),
            ("nonce", "no-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (key, value) in extra {
            pairs.retain(|(k, _)| k != key);
            pairs.push((key, value));
        }
        format!("/oidc/authorize?{}", form(&pairs))
    }

    async fn jwks(&self) -> Vec<RsaPublicKey> {
        let jwks = self.get("/oidc/jwks", None, None).await.json();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| RsaPublicKey {
                kid: key["kid"].as_str().unwrap().to_string(),
                algorithm: SigningAlgorithm::parse(key["alg"].as_str().unwrap()).unwrap(),
                n: URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap(),
                e: URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap(),
            })
            .collect()
    }

    async fn code(&self, session: &str) -> String {
        let reply = self
            .get(&self.authorize_url(&[]), Some(session), None)
            .await;
        assert!(
            reply.location().starts_with(&format!("{REDIRECT}?")),
            "{} {}",
            reply.status,
            reply.body
        );
        assert_eq!(param(&reply.location(), "state").as_deref(), Some("st-1"));
        param(&reply.location(), "code").unwrap()
    }

    async fn redeem(&self, code: &str) -> Reply {
        self.backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]),
            self.basic(),
        )
        .await
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_through_the_hosted_sign_in() {
    let op = provider(|_| {}).await;
    let discovery = op
        .get("/.well-known/openid-configuration", None, None)
        .await
        .json();
    assert_eq!(discovery["issuer"], ISSUER);
    assert_eq!(discovery["token_endpoint"], format!("{ISSUER}/oidc/token"));

    // Not signed in: the hosted sign-in, then back to the same request.
    let first = op.get(&op.authorize_url(&[]), None, None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert!(
        first
            .location()
            .starts_with("/login?return_to=/oidc/authorize%3F"),
        "{}",
        first.location()
    );
    let return_to = param(&first.location(), "return_to").unwrap();
    let (session, next) = op.sign_in_to(&return_to).await;
    assert_eq!(next, return_to);
    let resumed = op.get(&next, Some(&session), None).await;
    let code = param(&resumed.location(), "code").expect("a code after signing in");
    assert_eq!(param(&resumed.location(), "state").as_deref(), Some("st-1"));
    let tokens = op.redeem(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.headers[header::CACHE_CONTROL], "no-store");
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let keys = op.jwks().await;
    let claims = Verifier::Rsa {
        algorithm: SigningAlgorithm::RS256,
        keys: &keys,
    }
    .verify(tokens["id_token"].as_str().unwrap())
    .unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], op.client_id.as_str());
    assert_eq!(claims["sub"], "directory:jane");
    assert_eq!(claims["nonce"], "no-1");
    assert_eq!(claims["email"], "jane@acme.test");

    let access = tokens["access_token"].as_str().unwrap();
    let info = op.get("/oidc/userinfo", None, Some(access)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.json()["sub"], "directory:jane");

    // Introspection for the owner; then a replayed code revokes the token.
    let facts = op
        .backchannel("/oidc/introspect", form(&[("token", access)]), op.basic())
        .await
        .json();
    assert_eq!(facts["active"], true);
    let replay = op.redeem(&code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    let revoked = op.get("/oidc/userinfo", None, Some(access)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(revoked.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // RP-initiated logout with a verified hint returns to the registered address.
    let logout = op
        .get(
            &format!(
                "/oidc/logout?{}",
                form(&[
                    ("id_token_hint", tokens["id_token"].as_str().unwrap()),
                    ("post_logout_redirect_uri", "https://events.example.org/bye"),
                    ("state", "bye-1"),
                ])
            ),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(
        logout.location(),
        "https://events.example.org/bye?state=bye-1"
    );
    let after = op
        .get(
            &op.authorize_url(&[("prompt", "none")]),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(
        param(&after.location(), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn errors_go_to_a_page_or_to_the_application_as_the_spec_says() {
    let op = provider(|_| {}).await;
    let session = op.sign_in().await;

    let mismatch = op
        .get(
            &op.authorize_url(&[("redirect_uri", "https://evil.example/cb")]),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(
        mismatch.location().is_empty(),
        "never sent to an unregistered address"
    );
    assert!(mismatch.body.contains("Acme Association"));

    for (extra, error) in [
        (
            ("response_type", "code id_token"),
            "unsupported_response_type",
        ),
        (("response_type", "token"), "unauthorized_client"),
        (("scope", "profile"), "invalid_scope"),
        (("code_challenge_method", "S512"), "invalid_request"),
    ] {
        let reply = op
            .get(&op.authorize_url(&[extra]), Some(&session), None)
            .await;
        assert!(
            reply.location().starts_with(REDIRECT),
            "{extra:?}: {}",
            reply.body
        );
        assert_eq!(
            param(&reply.location(), "error").as_deref(),
            Some(error),
            "{extra:?}"
        );
        assert_eq!(param(&reply.location(), "state").as_deref(), Some("st-1"));
    }

    // The authorization endpoint takes a form post too.
    let posted = op
        .browser_post(
            "/oidc/authorize",
            op.authorize_url(&[]).split_once('?').unwrap().1.to_string(),
            Some(&session),
        )
        .await;
    assert!(
        param(&posted.location(), "code").is_some(),
        "{}",
        posted.body
    );

    let code = op.code(&session).await;
    let wrong_secret = op
        .backchannel(
            "/oidc/token",
            form(&[("grant_type", "authorization_code"), ("code", &code)]),
            Some((&op.client_id, "wrong")),
        )
        .await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");
    assert!(wrong_secret.headers.contains_key(header::WWW_AUTHENTICATE));
    for (grant, error) in [
        ("client_credentials", "unsupported_grant_type"),
        (
            "urn:ietf:params:oauth:grant-type:device_code",
            "unsupported_grant_type",
        ),
    ] {
        let reply = op
            .backchannel("/oidc/token", form(&[("grant_type", grant)]), op.basic())
            .await;
        assert_eq!(reply.json()["error"], error);
    }
    // PKCE mismatch.
    let mismatch = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
                ),
            ]),
            op.basic(),
        )
        .await;
    assert_eq!(mismatch.json()["error"], "invalid_grant");

    // The password grant, enabled for this application, checks the member directory.
    let ropc = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "password"),
                ("username", "jane"),
                ("password", "jane-member-password"),
            ]),
            op.basic(),
        )
        .await;
    assert_eq!(ropc.status, StatusCode::OK, "{}", ropc.body);
    let access = ropc.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        op.get("/oidc/userinfo", None, Some(&access)).await.status,
        StatusCode::OK
    );
    let revoked = op
        .backchannel("/oidc/revoke", form(&[("token", &access)]), op.basic())
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        op.get("/oidc/userinfo", None, Some(&access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let unauthenticated = op
        .backchannel("/oidc/revoke", form(&[("token", &access)]), None)
        .await;
    assert_eq!(unauthenticated.json()["error"], "invalid_client");
    let wrong = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "password"),
                ("username", "jane"),
                ("password", "nope"),
            ]),
            op.basic(),
        )
        .await;
    assert_eq!(wrong.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn consent_is_asked_once_and_a_refusal_goes_back_as_access_denied() {
    let op = provider(|input| input.consent = true).await;
    let session = op.sign_in().await;
    let asked = op.get(&op.authorize_url(&[]), Some(&session), None).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Share your details?"));
    let request = asked
        .body
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");

    let denied = op
        .browser_post(
            "/oidc/consent",
            form(&[("request", &request), ("decision", "deny")]),
            Some(&session),
        )
        .await;
    assert_eq!(
        param(&denied.location(), "error").as_deref(),
        Some("access_denied")
    );
    let none = op
        .get(
            &op.authorize_url(&[("prompt", "none")]),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(
        param(&none.location(), "error").as_deref(),
        Some("consent_required")
    );

    let allowed = op
        .browser_post(
            "/oidc/consent",
            form(&[("request", &request), ("decision", "allow")]),
            Some(&session),
        )
        .await;
    assert!(allowed.location().starts_with("/oidc/authorize?"));
    // Consent is remembered: the next request goes straight through.
    op.code(&session).await;
}
