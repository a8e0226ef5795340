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
use vestibule_domain::{Seconds, Timestamp};
use vestibule_members::NewDirectoryMember;
use vestibule_oidc::{ClientInput, RsaPublicKey, SigningAlgorithm, Verifier};
use vestibule_server::tenant_edge;
use vestibule_settings::SettingsInput;
use vestibule_storage::testing::{sqlite, TestDatabase};

#[path = "support/form.rs"]
mod form_encoding;
mod support;
use form_encoding::form;
use support::http::Reply;

const HOST: &str = "sso.acme.localhost:8080";
const ISSUER: &str = "http://sso.acme.localhost:8080";
const REDIRECT: &str = "https://events.example.org/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Provider {
    router: Router,
    client_id: String,
    secret: String,
    db: TestDatabase,
    tenant: vestibule_domain::TenantId,
    members: vestibule_members::Members,
    engines: vestibule_server::Engines,
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

async fn provider(adjust: impl FnOnce(&mut ClientInput)) -> Provider {
    let db = sqlite().await;
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    let config = support::config(&["sso.acme.localhost=acme"]);
    let engines = support::engines(&config, store);
    let provisioning = engines.provisioning.clone();
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
        db,
        tenant: acme,
        members: engines.members.clone(),
        engines: engines.clone(),
    }
}

impl Provider {
    async fn send(&self, request: Request<Body>) -> Reply {
        support::http::send(&self.router, request).await
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
        support::http::browser_post(&self.router, ISSUER, path, body, cookie).await
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
        let jane = ("jane", "jane-member-password");
        support::http::sign_in_on_hosted_form(&self.router, ISSUER, jane, return_to).await
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
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

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
    let jane = op.members.directory(op.tenant).await.unwrap().remove(0);
    assert_eq!(claims["sub"], jane.subject.as_str());
    assert_eq!(claims["nonce"], "no-1");
    assert_eq!(claims["email"], "jane@acme.test");

    let access = tokens["access_token"].as_str().unwrap();
    let info = op.get("/oidc/userinfo", None, Some(access)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.json()["sub"], jane.subject.as_str());

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

/// Review finding: `GET /oidc/logout` with no parameters (an `<img>` on any page), or with
/// another member's hint, signed the member out. RP-Initiated Logout 1.0 §2: ask unless a
/// valid hint for the current member came with the request.
#[tokio::test]
async fn logout_without_proof_of_the_member_asks_first() {
    let op = provider(|_| {}).await;
    // An ID token for another member of the same tenant.
    op.members
        .add_directory_member(
            op.tenant,
            NewDirectoryMember {
                username: "omar".into(),
                email: "omar@acme.test".into(),
                given_name: "Omar".into(),
                family_name: "Member".into(),
                password: "omar-member-password".into(),
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
    let omar_tokens = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "password"),
                ("username", "omar"),
                ("password", "omar-member-password"),
                ("scope", "openid"),
            ]),
            op.basic(),
        )
        .await
        .json();
    let omar_hint = omar_tokens["id_token"].as_str().unwrap().to_string();
    let session = op.sign_in().await;
    let still_signed_in = |reply: &Reply| {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.body.contains("Sign out?"), "{}", reply.body);
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    };
    for path in [
        "/oidc/logout".to_string(),
        format!("/oidc/logout?{}", form(&[("id_token_hint", "not.a.token")])),
        format!(
            "/oidc/logout?{}",
            form(&[
                ("id_token_hint", &omar_hint),
                ("post_logout_redirect_uri", "https://events.example.org/bye"),
            ])
        ),
    ] {
        still_signed_in(&op.get(&path, Some(&session), None).await);
        assert!(
            op.code(&session).await.len() > 10,
            "{path}: the session survives"
        );
    }
    // A cross-site POST of the confirmation ends nothing.
    let forged = op
        .send(
            Request::post("/oidc/logout")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, "https://evil.example")
                .header(header::COOKIE, &session)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[("decision", "sign_out")])))
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    op.code(&session).await;
    // The member's own answer signs them out.
    let confirmed = op
        .browser_post(
            "/oidc/logout",
            form(&[("decision", "sign_out")]),
            Some(&session),
        )
        .await;
    assert!(
        confirmed.body.contains("You are signed out"),
        "{}",
        confirmed.body
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
        // PKCE plain is not offered (OAuth 2.1), by name or by leaving the method out.
        (("code_challenge_method", "plain"), "invalid_request"),
        (("code_challenge_method", ""), "invalid_request"),
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

/// The authorization request a consent page's form sends back.
fn consent_request(page: &str) -> String {
    page.split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test]
async fn consent_is_asked_once_and_a_refusal_goes_back_as_access_denied() {
    let op = provider(|input| input.consent = true).await;
    let session = op.sign_in().await;
    let asked = op.get(&op.authorize_url(&[]), Some(&session), None).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Share your details?"));
    let request = consent_request(&asked.body);

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
    // Consenting answers the request at once, with its code and state.
    assert!(
        allowed.location().starts_with(REDIRECT),
        "{}",
        allowed.location()
    );
    assert!(param(&allowed.location(), "code").is_some());
    assert_eq!(param(&allowed.location(), "state").as_deref(), Some("st-1"));
    // Consent is remembered: the next request goes straight through.
    op.code(&session).await;
}

/// Review finding: with consent remembered for 0 days the consent page came back forever.
/// Now 0 means "ask on every sign-in": each consent answers its own request.
impl Provider {
    /// Jane signs in and holds a session, a redeemed access token and an unredeemed code.
    async fn holdings(&self) -> (String, String, String) {
        let session = self.sign_in().await;
        let tokens = self.redeem(&self.code(&session).await).await.json();
        let access = tokens["access_token"].as_str().unwrap().to_string();
        let unredeemed = self.code(&session).await;
        (session, access, unredeemed)
    }

    /// None of what [`Self::holdings`] gave works any more.
    async fn all_ended(&self, session: String, access: String, unredeemed: String) {
        let info = self.get("/oidc/userinfo", None, Some(&access)).await;
        assert_eq!(info.status, StatusCode::UNAUTHORIZED, "{}", info.body);
        let facts = self
            .backchannel(
                "/oidc/introspect",
                form(&[("token", &access)]),
                self.basic(),
            )
            .await
            .json();
        assert_eq!(facts["active"], false);
        assert_eq!(
            self.redeem(&unredeemed).await.json()["error"],
            "invalid_grant"
        );
        // The session is gone: authorizing asks for the sign-in again.
        let again = self
            .get(&self.authorize_url(&[]), Some(&session), None)
            .await;
        assert!(
            again.location().starts_with("/login?"),
            "{}",
            again.location()
        );
    }
}

/// Review finding: removing a member, or an admin resetting their password, left their access
/// tokens (userinfo 200, introspection active) and sessions alive until they expired.
#[tokio::test]
async fn a_reset_password_or_a_removed_member_ends_every_token_and_session() {
    let op = provider(|_| {}).await;
    let jane = op.members.directory(op.tenant).await.unwrap().remove(0);
    let (session, access, unredeemed) = op.holdings().await;
    let info = op.get("/oidc/userinfo", None, Some(&access)).await;
    assert_eq!(info.status, StatusCode::OK);
    op.members
        .set_directory_password(
            op.tenant,
            jane.id,
            "an admin's new password",
            Timestamp::now(),
        )
        .await
        .unwrap();
    op.all_ended(session, access, unredeemed).await;

    // Signed in again with the new password, then removed.
    op.members
        .set_directory_password(op.tenant, jane.id, "jane-member-password", Timestamp::now())
        .await
        .unwrap();
    let (session, access, unredeemed) = op.holdings().await;
    op.members
        .remove_directory_member(op.tenant, jane.id, Timestamp::now())
        .await
        .unwrap();
    op.all_ended(session, access, unredeemed).await;
}

#[tokio::test]
async fn consent_remembered_for_no_days_is_asked_every_time_and_answers_each_request() {
    let op = provider(|input| {
        input.consent = true;
        input.consent_grace_days = 0;
    })
    .await;
    let session = op.sign_in().await;
    for _ in 0..2 {
        let asked = op.get(&op.authorize_url(&[]), Some(&session), None).await;
        assert!(asked.body.contains("Share your details?"), "{}", asked.body);
        let allowed = op
            .browser_post(
                "/oidc/consent",
                form(&[
                    ("request", &consent_request(&asked.body)),
                    ("decision", "allow"),
                ]),
                Some(&session),
            )
            .await;
        assert!(
            allowed.location().starts_with(REDIRECT),
            "{}",
            allowed.location()
        );
        assert!(param(&allowed.location(), "code").is_some());
    }
}

impl Provider {
    /// The tenant's member sign-in outcomes in its audit log, oldest first:
    /// (who, action, application, outcome).
    async fn sign_ins(&self) -> Vec<(String, String, String, String)> {
        let filter = vestibule_storage::AuditFilter {
            action: Some("sign_in".into()),
            ..Default::default()
        };
        let mut events = self
            .db
            .store()
            .audit_events(self.tenant, &filter, 100)
            .await
            .unwrap();
        events.reverse();
        events
            .into_iter()
            .map(|event| {
                let after: Value = serde_json::from_str(&event.after.unwrap()).unwrap();
                (
                    event.actor,
                    event.action,
                    event.target,
                    after["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn each_member_sign_in_outcome_is_in_the_audit_log_with_its_application() {
    let op = provider(|input| input.consent = true).await;
    let app = format!("OIDC app Events ({})", op.client_id);
    let row = |who: &str, action: &str, target: &str, outcome: &str| {
        (
            who.to_string(),
            action.to_string(),
            target.to_string(),
            outcome.to_string(),
        )
    };

    // A wrong password on the sign-in page shown for the application.
    let first = op.get(&op.authorize_url(&[]), None, None).await;
    let return_to = param(&first.location(), "return_to").unwrap();
    let wrong = op
        .browser_post(
            "/login",
            form(&[
                ("username", "jane"),
                ("password", "guess"),
                ("return_to", &return_to),
            ]),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Then the right one; the consent page is refused, then given.
    let (session, next) = op.sign_in_to(&return_to).await;
    let asked = op.get(&next, Some(&session), None).await;
    let request = consent_request(&asked.body);
    for decision in ["deny", "allow"] {
        op.browser_post(
            "/oidc/consent",
            form(&[("request", &request), ("decision", decision)]),
            Some(&session),
        )
        .await;
    }
    op.code(&session).await;
    // The password grant, wrong and right.
    for password in ["guess", "jane-member-password"] {
        op.backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "password"),
                ("username", "jane"),
                ("password", password),
                ("scope", "openid"),
            ]),
            op.basic(),
        )
        .await;
    }
    // A sign-in with no application waiting is the hosted page's own.
    op.sign_in().await;

    assert_eq!(
        op.sign_ins().await,
        vec![
            // A failed attempt proves nobody's identity: no actor, the typed name as data.
            row("", "sign_in.failed", &app, "wrong password"),
            row("jane", "sign_in.failed", &app, "access_denied"),
            // The consent answers its request, then the next request goes straight through.
            row("jane", "sign_in.succeeded", &app, "signed in"),
            row("jane", "sign_in.succeeded", &app, "signed in"),
            row("", "sign_in.failed", &app, "wrong password"),
            row("jane", "sign_in.succeeded", &app, "signed in"),
            row(
                "jane",
                "sign_in.succeeded",
                "Hosted sign-in page",
                "signed in"
            ),
        ]
    );
    let failures = op
        .db
        .store()
        .audit_events(
            op.tenant,
            &vestibule_storage::AuditFilter {
                action: Some("sign_in.failed".into()),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
    assert!(
        failures.iter().any(|event| event.actor.is_empty()
            && event
                .after
                .as_deref()
                .is_some_and(|after| after.contains("\"typed_username\":\"jane\""))),
        "{failures:?}"
    );
}

/// What an authorization request leads to, as the OpenID Foundation's OP tests judge it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// A code, with the state, at the registered redirect URI.
    Code,
    /// This error, with the state, at the registered redirect URI.
    ToApplication(&'static str),
    /// An error page on our site; the browser is sent nowhere.
    Page,
    /// The hosted sign-in form first.
    SignIn,
}

impl Provider {
    /// `extra` replaces parameters of the standard request; a value of `None` removes one.
    fn authorize_with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut pairs: Vec<(String, String)> = [
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st-1"),
            ("nonce", "no-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if let Some(value) = value {
                pairs.push((key.to_string(), value.to_string()));
            }
        }
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        format!("/oidc/authorize?{}", form(&borrowed))
    }

    async fn outcome(&self, url: &str, session: Option<&str>) -> Outcome {
        let reply = self.get(url, session, None).await;
        let location = reply.location();
        if location.starts_with("/login?") {
            return Outcome::SignIn;
        }
        if location.starts_with(REDIRECT) {
            assert_eq!(
                param(&location, "state").as_deref(),
                Some("st-1"),
                "{url}: state echoed"
            );
            return match param(&location, "error") {
                Some(error) => Outcome::ToApplication(match error.as_str() {
                    "invalid_request" => "invalid_request",
                    "invalid_scope" => "invalid_scope",
                    "login_required" => "login_required",
                    "unsupported_response_type" => "unsupported_response_type",
                    "unauthorized_client" => "unauthorized_client",
                    "request_not_supported" => "request_not_supported",
                    "request_uri_not_supported" => "request_uri_not_supported",
                    "registration_not_supported" => "registration_not_supported",
                    other => panic!("{url}: unexpected error {other}"),
                }),
                None if param(&location, "code").is_some() => Outcome::Code,
                None => panic!("{url}: neither code nor error in {location}"),
            };
        }
        assert!(location.is_empty(), "{url}: sent to {location}");
        assert!(
            reply.status.is_client_error(),
            "{url}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.body.contains("Acme Association"), "a branded page");
        Outcome::Page
    }
}

/// A named authorization request (changes to the standard one) and what it must lead to.
type Case<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)], Outcome);

/// The authorization requests of the OpenID Foundation's Basic OP test plan (and the errors
/// seed 002 asks for what it crosses out), one row each, against a signed-in member.
#[tokio::test]
async fn oidf_basic_op_authorization_requests() {
    let op = provider(|_| {}).await;
    let session = op.sign_in().await;
    use Outcome::*;
    let cases: &[Case] = &[
        ("OP-Response-code", &[], Code),
        (
            "OP-Response-Missing",
            &[("response_type", None)],
            ToApplication("invalid_request"),
        ),
        (
            "OP-Response-id_token (seed: not offered)",
            &[("response_type", Some("id_token"))],
            ToApplication("unsupported_response_type"),
        ),
        (
            "hybrid code id_token (seed: crossed out)",
            &[("response_type", Some("code id_token"))],
            ToApplication("unsupported_response_type"),
        ),
        (
            "hybrid code token (seed: crossed out)",
            &[("response_type", Some("code token"))],
            ToApplication("unsupported_response_type"),
        ),
        (
            "implicit not enabled for the app",
            &[("response_type", Some("id_token token"))],
            ToApplication("unauthorized_client"),
        ),
        (
            "form_post (seed: crossed out)",
            &[("response_mode", Some("form_post"))],
            ToApplication("invalid_request"),
        ),
        (
            "OP-redirect_uri-NotReg",
            &[("redirect_uri", Some("https://attacker.example/cb"))],
            Page,
        ),
        ("OP-redirect_uri-Missing", &[("redirect_uri", None)], Page),
        (
            "OP-redirect_uri-Query-Added",
            &[(
                "redirect_uri",
                Some("https://events.example.org/cb?foo=bar"),
            )],
            Page,
        ),
        (
            "redirect_uri differing in case",
            &[("redirect_uri", Some("https://events.example.org/CB"))],
            Page,
        ),
        (
            "unknown client_id",
            &[("client_id", Some("no-such-app"))],
            Page,
        ),
        ("client_id missing", &[("client_id", None)], Page),
        (
            "OP-scope-openid missing",
            &[("scope", Some("profile"))],
            ToApplication("invalid_scope"),
        ),
        ("OP-Req-NotUnderstood", &[("extra", Some("foobar"))], Code),
        ("OP-Req-ui_locales", &[("ui_locales", Some("se"))], Code),
        (
            "OP-Req-claims_locales",
            &[("claims_locales", Some("se"))],
            Code,
        ),
        ("OP-Req-acr_values", &[("acr_values", Some("1 2"))], Code),
        ("OP-Req-login_hint", &[("login_hint", Some("jane"))], Code),
        ("OP-nonce-NoReq-code", &[("nonce", None)], Code),
        ("OP-prompt-none-LoggedIn", &[("prompt", Some("none"))], Code),
        ("OP-prompt-login", &[("prompt", Some("login"))], SignIn),
        (
            "prompt none with login",
            &[("prompt", Some("none login"))],
            ToApplication("invalid_request"),
        ),
        ("OP-Req-max_age=10000", &[("max_age", Some("10000"))], Code),
        (
            "max_age=0 is a fresh sign-in",
            &[("max_age", Some("0"))],
            SignIn,
        ),
        (
            "max_age not a number",
            &[("max_age", Some("soon"))],
            ToApplication("invalid_request"),
        ),
        (
            "request object",
            &[("request", Some("eyJhbGciOiJub25lIn0.e30."))],
            ToApplication("request_not_supported"),
        ),
        (
            "request_uri",
            &[("request_uri", Some("https://events.example.org/r"))],
            ToApplication("request_uri_not_supported"),
        ),
        (
            "registration",
            &[("registration", Some("{}"))],
            ToApplication("registration_not_supported"),
        ),
        (
            "PKCE method unknown",
            &[("code_challenge_method", Some("S512"))],
            ToApplication("invalid_request"),
        ),
        (
            "PKCE method without challenge",
            &[("code_challenge", None)],
            ToApplication("invalid_request"),
        ),
    ];
    for (name, changes, expected) in cases {
        let url = op.authorize_with(changes);
        assert_eq!(op.outcome(&url, Some(&session)).await, *expected, "{name}");
    }
    // Review finding: a forced sign-in ended the member's session before they did anything,
    // so any page could sign them out with an <img> of such a request. It asks for a fresh
    // sign-in (showing the form to the signed-in member) and ends nothing.
    let forced = op
        .get(
            &op.authorize_with(&[("prompt", Some("login"))]),
            Some(&session),
            None,
        )
        .await;
    assert!(
        forced.location().starts_with("/login?again=1&"),
        "{}",
        forced.location()
    );
    assert!(forced.headers.get(header::SET_COOKIE).is_none());
    let form = op.get(&forced.location(), Some(&session), None).await;
    assert!(form.body.contains("sign in again"), "{}", form.body);
    assert_eq!(
        op.outcome(&op.authorize_with(&[]), Some(&session)).await,
        Code,
        "the session stays"
    );
    // A forced sign-in happens once: the request it resumes then gives a code.
    let fresh = op.authorize_with(&[("max_age", Some("0"))]);
    let first = op.get(&fresh, Some(&op.sign_in().await), None).await;
    let return_to = param(&first.location(), "return_to").unwrap();
    let (again, next) = op.sign_in_to(&return_to).await;
    assert!(!next.contains("max_age"), "{next}");
    assert_eq!(op.outcome(&next, Some(&again)).await, Code);

    // The state parameter given twice is refused (and so cannot be echoed).
    let twice = format!("{}&state=st-2", op.authorize_with(&[]));
    let reply = op.get(&twice, Some(&session), None).await;
    assert_eq!(
        param(&reply.location(), "error").as_deref(),
        Some("invalid_request")
    );

    // Without a session.
    assert_eq!(op.outcome(&op.authorize_with(&[]), None).await, SignIn);
    assert_eq!(
        op.outcome(&op.authorize_with(&[("prompt", Some("none"))]), None)
            .await,
        ToApplication("login_required"),
        "OP-prompt-none-NotLoggedIn"
    );
}

/// The token, userinfo and ID token checks of the Basic OP plan: client authentication,
/// code binding, replay, headers, and the ID token's claims and signature.
#[tokio::test]
async fn oidf_basic_op_token_and_userinfo_requests() {
    let op = provider(|_| {}).await;
    let session = op.sign_in().await;
    let redeem = |code: String, changes: Vec<(&'static str, &'static str)>| {
        let op = &op;
        async move {
            let mut pairs = vec![
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ];
            for (key, value) in &changes {
                pairs.retain(|(k, _)| k != key);
                if !value.is_empty() {
                    pairs.push((key, value));
                }
            }
            pairs.push(("code", &code));
            op.backchannel("/oidc/token", form(&pairs), op.basic())
                .await
        }
    };
    for (name, changes, error) in [
        (
            "redirect_uri differs from the request",
            vec![("redirect_uri", "https://events.example.org/other")],
            "invalid_grant",
        ),
        (
            "redirect_uri missing",
            vec![("redirect_uri", "")],
            "invalid_grant",
        ),
        (
            "PKCE verifier missing",
            vec![("code_verifier", "")],
            "invalid_grant",
        ),
        (
            "PKCE verifier wrong",
            vec![(
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            )],
            "invalid_grant",
        ),
        (
            "grant_type missing",
            vec![("grant_type", "")],
            "invalid_request",
        ),
        (
            "OP-OAuth-2nd-30s (not a code)",
            vec![("grant_type", "authorization_code")],
            "invalid_grant",
        ),
    ] {
        let code = if name.starts_with("OP-OAuth-2nd-30s") {
            "a-code-we-never-issued".to_string()
        } else {
            op.code(&session).await
        };
        let reply = redeem(code, changes).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        assert_eq!(reply.json()["error"], error, "{name}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store", "{name}");
    }

    // OP-ClientAuth-SecretPost-Static: the secret in the form instead of Basic.
    let redeemed_code = op.code(&session).await;
    let code = redeemed_code.clone();
    let posted = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &op.client_id),
                ("client_secret", &op.secret),
            ]),
            None,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.headers[header::PRAGMA], "no-cache");
    assert!(posted.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // Both methods at once is ambiguous (RFC 6749 §2.3).
    let code = op.code(&session).await;
    let both = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &op.client_id),
                ("client_secret", &op.secret),
            ]),
            op.basic(),
        )
        .await;
    assert_eq!(both.json()["error"], "invalid_request", "{}", both.body);
    // A code redeemed by another application's credentials is refused.
    let code = op.code(&session).await;
    let stranger = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]),
            Some(("no-such-app", "whatever")),
        )
        .await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.json()["error"], "invalid_client");

    // OP-IDToken-kid, OP-IDToken-RS256, OP-nonce-code, auth_time.
    let tokens = posted.json();
    let id_token = tokens["id_token"].as_str().unwrap();
    let header_json: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header_json["alg"], "RS256");
    let keys = op.jwks().await;
    assert!(
        keys.iter().any(|k| k.kid == header_json["kid"]),
        "kid is in the JWKS"
    );
    let claims = Verifier::Rsa {
        algorithm: SigningAlgorithm::RS256,
        keys: &keys,
    }
    .verify(id_token)
    .unwrap();
    assert_eq!(claims["nonce"], "no-1");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    // A token signed for RS256 does not pass as RS512 (alg is fixed per app, never read from
    // the token).
    assert!(Verifier::Rsa {
        algorithm: SigningAlgorithm::RS512,
        keys: &keys,
    }
    .verify(id_token)
    .is_err());

    // OP-UserInfo-Header, OP-UserInfo-Body, and a bad token.
    let access = tokens["access_token"].as_str().unwrap();
    let in_header = op.get("/oidc/userinfo", None, Some(access)).await;
    assert_eq!(in_header.json()["sub"], claims["sub"]);
    let in_body = op
        .backchannel("/oidc/userinfo", form(&[("access_token", access)]), None)
        .await;
    assert_eq!(in_body.status, StatusCode::OK, "{}", in_body.body);
    assert_eq!(in_body.json()["sub"], claims["sub"]);
    let twice = op
        .send(
            Request::post("/oidc/userinfo")
                .header(header::HOST, HOST)
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[("access_token", access)])))
                .unwrap(),
        )
        .await;
    assert_eq!(
        twice.status,
        StatusCode::BAD_REQUEST,
        "one method per request"
    );
    let forged = op.get("/oidc/userinfo", None, Some("not-a-token")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(forged.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let missing = op.get("/oidc/userinfo", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);

    // OP-OAuth-2nd-Revokes: replaying the code revokes the access token it gave.
    let replay = op
        .backchannel(
            "/oidc/token",
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &redeemed_code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]),
            op.basic(),
        )
        .await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(
        op.get("/oidc/userinfo", None, Some(access)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// The Implicit OP plan for an application that enabled it: tokens in the fragment, at_hash,
/// nonce required.
#[tokio::test]
async fn oidf_implicit_op_requests() {
    let op = provider(|input| input.allow_implicit = true).await;
    let session = op.sign_in().await;
    let implicit = |changes: &[(&str, Option<&str>)]| {
        let mut all = vec![
            ("response_type", Some("id_token token")),
            ("code_challenge", None),
            ("code_challenge_method", None),
        ];
        all.extend_from_slice(changes);
        op.authorize_with(&all)
    };

    // OP-Response-id_token+token.
    let reply = op.get(&implicit(&[]), Some(&session), None).await;
    let location = reply.location();
    assert!(location.starts_with(&format!("{REDIRECT}#")), "{location}");
    let fragment = |name| param(&location, name);
    assert_eq!(fragment("state").as_deref(), Some("st-1"));
    assert_eq!(fragment("token_type").as_deref(), Some("Bearer"));
    assert!(fragment("expires_in").is_some());
    let access = fragment("access_token").unwrap();
    let claims = Verifier::Rsa {
        algorithm: SigningAlgorithm::RS256,
        keys: &op.jwks().await,
    }
    .verify(&fragment("id_token").unwrap())
    .unwrap();
    assert_eq!(claims["nonce"], "no-1");
    assert_eq!(
        claims["at_hash"],
        vestibule_oidc::at_hash(SigningAlgorithm::RS256, &access)
    );
    assert_eq!(
        op.get("/oidc/userinfo", None, Some(&access)).await.status,
        StatusCode::OK
    );

    // OP-Response-token: an access token alone.
    let reply = op
        .get(
            &implicit(&[("response_type", Some("token"))]),
            Some(&session),
            None,
        )
        .await;
    assert!(param(&reply.location(), "access_token").is_some());
    assert!(param(&reply.location(), "id_token").is_none());

    // OP-nonce-NoReq-noncode: the nonce is required; the error goes in the fragment.
    for (name, changes, error) in [
        (
            "OP-nonce-NoReq-noncode",
            vec![("nonce", None)],
            "invalid_request",
        ),
        (
            "tokens in the query",
            vec![("response_mode", Some("query"))],
            "invalid_request",
        ),
        (
            "OP-prompt-none-NotLoggedIn",
            vec![("prompt", Some("none"))],
            "login_required",
        ),
    ] {
        let signed_in = (name != "OP-prompt-none-NotLoggedIn").then_some(session.as_str());
        let reply = op.get(&implicit(&changes), signed_in, None).await;
        let location = reply.location();
        assert!(
            location.starts_with(&format!("{REDIRECT}#")),
            "{name}: {location}"
        );
        assert_eq!(param(&location, "error").as_deref(), Some(error), "{name}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-1"), "{name}");
        assert!(param(&location, "access_token").is_none(), "{name}");
    }
}

/// The Config OP plan: the discovery document and the JWKS.
#[tokio::test]
async fn oidf_config_op_discovery_and_jwks() {
    let op = provider(|_| {}).await;
    let reply = op
        .get("/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let document = reply.json();
    // OP-Discovery-Config: the issuer exactly, every endpoint on it.
    assert_eq!(document["issuer"], ISSUER);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ] {
        let url = document[endpoint].as_str().unwrap();
        assert!(url.starts_with(&format!("{ISSUER}/")), "{endpoint}: {url}");
        let path = url.strip_prefix(ISSUER).unwrap();
        let answered = op.get(path, None, None).await.status;
        assert_ne!(answered, StatusCode::NOT_FOUND, "{endpoint} is served");
    }
    let strings = |name: &str| -> Vec<String> {
        document[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(strings("subject_types_supported"), ["public"]);
    assert_eq!(
        strings("response_types_supported"),
        ["code", "token", "id_token token"]
    );
    assert!(strings("scopes_supported").contains(&"openid".to_string()));
    assert!(!strings("grant_types_supported").contains(&"client_credentials".to_string()));
    assert_eq!(
        strings("id_token_signing_alg_values_supported"),
        ["RS256", "RS512", "HS512"]
    );
    for auth in ["client_secret_basic", "client_secret_post"] {
        assert!(strings("token_endpoint_auth_methods_supported").contains(&auth.to_string()));
    }
    // Dynamic registration and the session-management drafts are not offered.
    for absent in [
        "registration_endpoint",
        "check_session_iframe",
        "frontchannel_logout_supported",
        "backchannel_logout_supported",
    ] {
        assert!(document.get(absent).is_none(), "{absent}");
    }

    // OP-Discovery-jwks_uri: public RSA signing keys only, each with a distinct kid.
    let jwks = op.get("/oidc/jwks", None, None).await.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    kids.dedup();
    assert_eq!(kids.len(), keys.len());
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} is never published");
        }
    }
    // OP-Discovery-WebFinger is not offered: nothing there.
    assert_eq!(
        op.get(
            "/.well-known/webfinger?resource=acct:jane@acme.test",
            None,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// Failed client authentications are limited per calling address, with 429 and Retry-After;
/// the application itself is never locked out from elsewhere.
#[tokio::test]
async fn hs512_id_tokens_are_signed_with_the_secret_the_client_authenticated_with() {
    let mut op = provider(|input| input.algorithm = "HS512".into()).await;
    let first = op.secret.clone();
    assert_eq!(first.len(), 86, "512 bits for HS512");
    let session = op.sign_in().await;
    let verify = |token: &str, secret: &str| {
        Verifier::Hs512 {
            secret: secret.as_bytes(),
        }
        .verify(token)
        .is_ok()
    };
    let code = op.code(&session).await;
    let tokens = op.redeem(&code).await.json();
    let id_token = tokens["id_token"].as_str().unwrap();
    // OpenID Connect Core §10.1: the client secret's octets are the HMAC key.
    assert!(verify(id_token, &first), "{id_token}");

    // During a rotation overlap each secret gets tokens it can verify itself.
    let rotated = op
        .engines
        .oidc
        .clients
        .rotate_secret(op.tenant, &op.client_id, Seconds(3600), Timestamp::now())
        .await
        .unwrap();
    for secret in [&first, &rotated] {
        op.secret = secret.clone();
        let code = op.code(&session).await;
        let tokens = op.redeem(&code).await.json();
        let id_token = tokens["id_token"].as_str().unwrap();
        assert!(verify(id_token, secret));
        let other = if secret == &first { &rotated } else { &first };
        assert!(!verify(id_token, other));
    }
}

#[tokio::test]
async fn failed_client_authentication_is_limited_per_address() {
    let op = provider(|_| {}).await;
    let introspect = |secret: &'static str| {
        let op = &op;
        async move {
            op.backchannel(
                "/oidc/introspect",
                form(&[("token", "anything")]),
                Some((&op.client_id, secret)),
            )
            .await
        }
    };
    for _ in 0..vestibule_oidc::CLIENT_AUTH_FAILURES_PER_ADDRESS {
        assert_eq!(introspect("wrong").await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = introspect("wrong").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    let wait: i64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        wait > 0 && wait <= vestibule_oidc::CLIENT_AUTH_WINDOW.0,
        "{wait}"
    );
    assert_eq!(limited.json()["error"], "temporarily_unavailable");
    // The token endpoint shares the count: the same address waits there too.
    let code_attempt = op
        .backchannel(
            "/oidc/token",
            form(&[("grant_type", "authorization_code"), ("code", "x")]),
            op.basic(),
        )
        .await;
    assert_eq!(code_attempt.status, StatusCode::TOO_MANY_REQUESTS);
    // The application, calling from its own server, is unaffected.
    let mut request = Request::post("/oidc/introspect")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", op.client_id, op.secret))
            ),
        )
        .body(Body::from(form(&[("token", "anything")])))
        .unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [192, 0, 2, 10],
            40000,
        ))));
    let elsewhere = op.send(request).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
    assert_eq!(elsewhere.json()["active"], false);

    // Review finding: the bucket was the address alone, so these failures locked every
    // application of every tenant. Another application, from the same address, is unaffected.
    let (other, shown) = op
        .engines
        .oidc
        .clients
        .create(
            op.tenant,
            ClientInput {
                name: "Learning".into(),
                redirect_uris: vec![REDIRECT.into()],
                ..ClientInput::default()
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
    let secret = shown.client_secret.unwrap();
    let other_app = op
        .backchannel(
            "/oidc/introspect",
            form(&[("token", "anything")]),
            Some((&other.client_id, &secret)),
        )
        .await;
    assert_eq!(other_app.status, StatusCode::OK, "{}", other_app.body);
}

/// One request over TCP to a listener, with a PROXY protocol v2 header naming `client` first
/// when there is one, and extra header lines; the status code, or None when the listener
/// dropped the connection.
async fn raw_status(
    listener: std::net::SocketAddr,
    proxied_for: Option<std::net::Ipv4Addr>,
    extra_headers: &str,
    request_line_and_body: (&str, &str, &str),
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(listener).await.unwrap();
    if let Some(client) = proxied_for {
        let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        header.extend_from_slice(&client.octets());
        header.extend_from_slice(&[127, 0, 0, 1, 0x9c, 0x40, 0x1f, 0x90]);
        tcp.write_all(&header).await.unwrap();
    }
    let (path, authorization, body) = request_line_and_body;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut response = String::new();
    let _ = tcp.read_to_string(&mut response).await;
    response.get(9..12).and_then(|code| code.parse().ok())
}

/// Review finding: behind the TCP load balancer docs/operations.md describes, every request
/// had the balancer's address, so one client's failures locked everyone out. With the PROXY
/// protocol and a trusted-proxy list, limits count per real client; a header from a peer not
/// on the list is ignored, and a connection without one is dropped.
#[tokio::test]
async fn behind_a_trusted_load_balancer_limits_count_per_real_client() {
    use vestibule_server::client_address::TrustedProxies;
    use vestibule_server::listen::{serve, Front};
    let op = provider(|_| {}).await;
    let start = |front: Front| {
        let router = op.router.clone();
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(serve(listener, router, front, std::future::pending()));
            address
        }
    };
    let loopback = std::sync::Arc::new(TrustedProxies::parse(&["127.0.0.1/32".into()]).unwrap());
    let balancer = start(Front {
        trusted: loopback.clone(),
        proxy_protocol: true,
    })
    .await;
    let wrong = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:not-the-secret", op.client_id))
    );
    let introspect = ("/oidc/introspect", wrong.as_str(), "token=x");
    let (first, second) = (
        std::net::Ipv4Addr::new(198, 51, 100, 1),
        std::net::Ipv4Addr::new(198, 51, 100, 2),
    );

    assert_eq!(raw_status(balancer, None, "", introspect).await, None);
    for _ in 0..vestibule_oidc::CLIENT_AUTH_FAILURES_PER_ADDRESS {
        assert_eq!(
            raw_status(balancer, Some(first), "", introspect).await,
            Some(401)
        );
    }
    assert_eq!(
        raw_status(balancer, Some(first), "", introspect).await,
        Some(429)
    );
    assert_eq!(
        raw_status(balancer, Some(second), "", introspect).await,
        Some(401)
    );

    // An HTTP proxy on the trusted list names the client in X-Forwarded-For; the entry a client
    // wrote itself (left of what the proxy appended) counts for nothing.
    let proxy = start(Front {
        trusted: loopback,
        proxy_protocol: false,
    })
    .await;
    let forwarded = |client: &str| format!("X-Forwarded-For: 203.0.113.77, {client}\r\n");
    assert_eq!(
        raw_status(proxy, None, &forwarded("198.51.100.1"), introspect).await,
        Some(429)
    );
    assert_eq!(
        raw_status(proxy, None, &forwarded("198.51.100.3"), introspect).await,
        Some(401)
    );

    // Off the list, the PROXY header's and X-Forwarded-For's word counts for nothing: the
    // limit is the peer's.
    let untrusted = start(Front {
        trusted: Default::default(),
        proxy_protocol: true,
    })
    .await;
    for _ in 0..vestibule_oidc::CLIENT_AUTH_FAILURES_PER_ADDRESS {
        raw_status(untrusted, Some(first), "", introspect).await;
    }
    assert_eq!(
        raw_status(
            untrusted,
            Some(second),
            &forwarded("198.51.100.4"),
            introspect
        )
        .await,
        Some(429)
    );
}

/// Review finding: preflights got 405 without CORS headers, so a single-page application could
/// not send its Bearer token, while the token endpoint told every origin `*`. Now the origins
/// of the tenant's registered redirect URIs, and only they, may call from a browser.
#[tokio::test]
async fn browser_applications_on_registered_origins_may_call_the_back_channel() {
    let op = provider(|_| {}).await;
    let cors_request = |method: &str, path: &str, origin: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    };
    for path in ["/oidc/userinfo", "/oidc/token"] {
        let allowed = op
            .send(cors_request("OPTIONS", path, "https://events.example.org"))
            .await;
        assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://events.example.org"
        );
        assert!(allowed.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("Authorization"));
        let refused = op
            .send(cors_request("OPTIONS", path, "https://evil.example"))
            .await;
        assert!(refused
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
    }
    // The answers themselves: the registered origin is named, nobody gets `*`.
    let session = op.sign_in().await;
    let tokens = op.redeem(&op.code(&session).await).await;
    assert!(tokens
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    let mut from_spa = cors_request("GET", "/oidc/userinfo", "https://events.example.org");
    from_spa.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {access}").parse().unwrap(),
    );
    let info = op.send(from_spa).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(
        info.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://events.example.org"
    );
}

/// Oversized bodies are refused before anything reads them.
#[tokio::test]
async fn oversized_bodies_are_refused() {
    let op = provider(|_| {}).await;
    let huge = "a".repeat(vestibule_server::member_site::MEMBER_SITE_BODY_LIMIT + 1);
    let token = op
        .backchannel(
            "/oidc/token",
            form(&[("grant_type", "password"), ("username", &huge)]),
            op.basic(),
        )
        .await;
    assert_eq!(
        token.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        token.body
    );
    assert_eq!(token.json()["error"], "invalid_request");
    let sign_in = op
        .browser_post("/login", form(&[("username", &huge)]), None)
        .await;
    assert_eq!(sign_in.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_flight_recorder_keeps_each_exchange_with_its_exact_reason_and_no_credential() {
    use vestibule_recorder::{AppRef, Kind, Reveal};
    let op = provider(|_| {}).await;
    let session = op.sign_in().await;
    let code = op.code(&session).await;
    let tokens = op.redeem(&code).await.json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    // The same code again, a wrong secret, and a redirect URI one letter off.
    assert_eq!(op.redeem(&code).await.status, StatusCode::BAD_REQUEST);
    let wrong_secret = op
        .backchannel(
            "/oidc/token",
            form(&[("grant_type", "authorization_code"), ("code", "x")]),
            Some((&op.client_id, "not-the-secret")),
        )
        .await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    let off_by_one = "https://events.example.org/cB";
    let page = op
        .get(
            &op.authorize_url(&[("redirect_uri", off_by_one)]),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // A client that is not the tenant's leaves nothing behind.
    let stranger = op
        .get(
            &op.authorize_url(&[("client_id", "not-a-client")]),
            None,
            None,
        )
        .await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST);

    let recorder = &op.engines.recorder;
    let app = AppRef::oidc(&op.client_id);
    let now = Timestamp::now();
    let recent = recorder.recent(op.tenant, &app, now).await.unwrap();
    let seen: Vec<(Option<Kind>, bool)> = recent.iter().map(|e| (e.kind, e.answered)).collect();
    assert_eq!(
        seen,
        [
            (Some(Kind::Authorization), false),
            (Some(Kind::Token), false),
            (Some(Kind::Token), false),
            (Some(Kind::Token), true),
            (Some(Kind::Authorization), true),
        ]
    );
    assert_eq!(
        recent[0].reason,
        "redirect_uri differs from the registered one (\"https://events.example.org/cb\") at \
         character 29: 'B' where the registered one has 'b'"
    );
    assert!(
        recent[1].reason.starts_with("invalid_client"),
        "{}",
        recent[1].reason
    );
    assert!(
        recent[2].reason.starts_with("invalid_grant"),
        "{}",
        recent[2].reason
    );
    let jane = op.members.directory(op.tenant).await.unwrap().remove(0);
    assert_eq!(recent[3].member, jane.subject);
    assert!(
        recent[3].signature.contains("RS256"),
        "{}",
        recent[3].signature
    );
    assert_eq!(recent[4].member, "jane");

    // Everything kept, opened in full: the ID token's claims, never a credential.
    for entry in &recent {
        let opened = recorder.open(op.tenant, &app, entry.id, Reveal::Full, now);
        let opened = opened.await.unwrap().unwrap();
        let full = opened.full.unwrap().text;
        for credential in [
            code.as_str(),
            access.as_str(),
            op.secret.as_str(),
            VERIFIER,
            "not-the-secret",
        ] {
            assert!(!full.contains(credential), "{credential} kept: {full}");
            assert!(!opened.redacted.text.contains(credential));
        }
    }
    let token = recorder.open(op.tenant, &app, recent[3].id, Reveal::Full, now);
    let token = token.await.unwrap().unwrap();
    assert!(token.full.unwrap().text.contains(&jane.subject));
    assert!(!token.redacted.text.contains(&jane.subject));
}

#[tokio::test]
async fn the_test_relying_party_signs_in_with_the_apps_settings_and_keeps_no_token() {
    let op = provider(|_| {}).await;
    let ticket = |client: &str, until: i64| {
        let payload = format!("{}:oidc:{client}", op.tenant.0);
        let expires = Timestamp::now().0 + until;
        op.engines
            .secret
            .seal_expiring("test-sign-in", &payload, expires)
            .unwrap()
    };
    let start = format!(
        "/test-sign-in/oidc/{}?ticket={}",
        op.client_id,
        ticket(&op.client_id, 600)
    );
    // Not signed in: the hosted sign-in first, back to the test.
    let first = op.get(&start, None, None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let return_to = param(&first.location(), "return_to").unwrap();
    assert_eq!(return_to, start);
    let (session, next) = op.sign_in_to(&return_to).await;
    let report = op.get(&next, Some(&session), None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert!(
        report.body.contains("Every check passed."),
        "{}",
        report.body
    );
    for check in [
        "Signature",
        "Issuer (iss)",
        "Audience (aud)",
        "Nonce",
        "Expiry (exp)",
    ] {
        assert!(report.body.contains(check), "{check}: {}", report.body);
    }
    assert!(report
        .body
        .contains("RS256 verified with the keys published at /oidc/jwks"));
    assert!(report.body.contains("jane@acme.test"));
    // About the member signed in, and never a token itself.
    assert!(!report.body.contains("access_token"));
    let jane = op.members.directory(op.tenant).await.unwrap().remove(0);
    assert!(report.body.contains(&jane.subject));
    // Another app's link, and a late one, are refused.
    let other = format!(
        "/test-sign-in/oidc/{}?ticket={}",
        op.client_id,
        ticket("other", 600)
    );
    assert_eq!(
        op.get(&other, Some(&session), None).await.status,
        StatusCode::FORBIDDEN
    );
    let late = format!(
        "/test-sign-in/oidc/{}?ticket={}",
        op.client_id,
        ticket(&op.client_id, -1)
    );
    assert_eq!(
        op.get(&late, Some(&session), None).await.status,
        StatusCode::FORBIDDEN
    );
}
