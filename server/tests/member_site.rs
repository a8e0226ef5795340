//! The hosted member pages on a tenant's (test) domain, driven with `oneshot` against the iMIS
//! emulator over real HTTP: the sign-in round trip at the HTTP level (the browser's part is in
//! end2end/), each error page, cookies, same-origin forms, isolation, and that no secret or
//! token ever reaches a page or a log line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use imis_emulator::{Behaviour, Directory, Emulator, FailMode};
use vestibule_domain::{TenantId, Timestamp};
use vestibule_members::NewDirectoryMember;
use vestibule_server::{tenant_edge, Engines};
use vestibule_settings::SettingsInput;
use vestibule_storage::testing::{sqlite, TestDatabase};

mod support;
use support::http::Reply;

const ACME: &str = "sso.acme.localhost:8080";
const ORIGIN: &str = "http://sso.acme.localhost:8080";
const SECRETS: [&str; 3] = ["demo-oidc-secret", "demo-saml-secret", "demo-api-password"];

struct Site {
    router: Router,
    engines: Engines,
    emulator: Emulator,
    imis: String,
    acme: TenantId,
    _db: TestDatabase,
}

fn settings(imis: &str) -> SettingsInput {
    SettingsInput {
        imis_base_url: imis.to_string(),
        oidc_client_id: "vestibule-oidc".into(),
        oidc_client_secret: "demo-oidc-secret".into(),
        oidc_sso_page: "/sso/oidc".into(),
        saml_client_id: "vestibule-saml".into(),
        saml_client_secret: "demo-saml-secret".into(),
        saml_sso_page: "/sso/saml".into(),
        api_username: "vestibule-api".into(),
        api_password: "demo-api-password".into(),
        profile_iqa: "$/Vestibule/MemberProfile".into(),
        brand_name: "Acme Association".into(),
        brand_colour: "#7a1f5c".into(),
        sign_in_text: "Welcome, <members>!".into(),
        support_contact: "help@acme.test".into(),
        identity_source: "imis".into(),
        imis_sign_out_url: "/sign-out-page".into(),
    }
}

async fn site() -> Site {
    let db = sqlite().await;
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", Timestamp::now())
        .await
        .unwrap()
        .id;
    store
        .create_tenant(&"beta".parse().unwrap(), "Beta", Timestamp::now())
        .await
        .unwrap();
    let config = support::config(&["sso.acme.localhost=acme", "sso.beta.localhost=beta"]);
    let engines = support::engines(&config, store);
    let provisioning = engines.provisioning.clone();
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let imis = emulator.serve_on_loopback().await.unwrap();
    engines
        .settings
        .save(acme, settings(&imis), Timestamp::now())
        .await
        .unwrap();
    let member_site = engines.member_site(&config).unwrap();
    // Through the plain listener, exactly as `serve` wires it.
    let router = tenant_edge::plain_http_router(provisioning, 8443, member_site);
    Site {
        router,
        engines,
        emulator,
        imis,
        acme,
        _db: db,
    }
}

impl Site {
    /// Members of Acme sign in with the built-in directory instead of iMIS.
    async fn use_the_member_directory(&self) {
        let mut directory = settings(&self.imis);
        directory.identity_source = "directory".into();
        self.engines
            .settings
            .save(self.acme, directory, Timestamp::now())
            .await
            .unwrap();
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let reply = support::http::send(&self.router, request).await;
        for secret in SECRETS {
            assert!(
                !reply.body.contains(secret),
                "{secret} in a page: {}",
                reply.body
            );
        }
        reply
    }

    async fn get(&self, host: &str, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path).header(header::HOST, host);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A form post; `origin` is what the browser names as the sending page.
    async fn post(
        &self,
        path: &str,
        form: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Reply {
        let mut request = Request::post(path)
            .header(header::HOST, ACME)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// What the iMIS SSO page does in the member's browser: POST a fresh refresh token.
    async fn imis_returns(&self, pending: Option<&str>, username: &str) -> Reply {
        let token = self
            .emulator
            .issue_refresh_token(username, "vestibule-oidc")
            .unwrap();
        self.callback(pending, &token).await
    }

    async fn callback(&self, pending: Option<&str>, token: &str) -> Reply {
        let cookie = pending.map(|p| format!("__Host-vestibule_pending={p}"));
        // iMIS posts from its own site.
        let imis_origin = self.imis.trim_end_matches('/').to_string();
        self.post(
            "/imis/callback",
            &format!("refresh_token={token}"),
            cookie.as_deref(),
            Some(&imis_origin),
        )
        .await
    }
}

/// Review finding (login CSRF): any page could post its author's fresh iMIS refresh token to
/// the callback and sign the visitor in as that author. Only the tenant's iMIS site and this
/// site may post it; anything else is refused before the token is even exchanged.
#[tokio::test]
async fn the_imis_callback_takes_posts_from_imis_only() {
    let site = site().await;
    let token = site
        .emulator
        .issue_refresh_token("omar", "vestibule-oidc")
        .unwrap();
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let forged = site
            .post(
                "/imis/callback",
                &format!("refresh_token={token}"),
                None,
                origin,
            )
            .await;
        assert_eq!(
            forged.status,
            StatusCode::FORBIDDEN,
            "{origin:?}: {}",
            forged.body
        );
        assert!(forged.set_cookie("__Host-vestibule_member").is_none());
    }
    // The token was never exchanged: from iMIS it still works (and, as this browser did not
    // start the sign-in here, the member is asked before it takes effect).
    let genuine = site.callback(None, &token).await;
    assert!(
        genuine.set_cookie("__Host-vestibule_confirm").is_some(),
        "{}",
        genuine.body
    );
    assert!(genuine.body.contains("Continue as Omar Fellow"));
}

/// Review finding (login CSRF): a refresh token posted without a sign-in this browser started
/// signed the visitor in silently, replacing whoever was signed in. Now the member is asked
/// "Continue as …?" with a form on this site; nothing changes until they answer, and another
/// member's session is only ended by that answer.
#[tokio::test]
async fn a_sign_in_this_browser_did_not_start_waits_for_the_member_to_continue() {
    let site = site().await;
    // Jane is signed in, through a sign-in she started here.
    let start = site.get(ACME, "/login/imis", None).await;
    let pending = start.cookie_value("__Host-vestibule_pending");
    let jane = site.imis_returns(Some(&pending), "jane").await;
    assert_eq!(jane.status, StatusCode::SEE_OTHER, "{}", jane.body);
    let jane = format!(
        "__Host-vestibule_member={}",
        jane.cookie_value("__Host-vestibule_member")
    );

    // Omar's refresh token arrives without a pending sign-in, in Jane's browser.
    let token = site
        .emulator
        .issue_refresh_token("omar", "vestibule-oidc")
        .unwrap();
    let cookie = jane.clone();
    let imis_origin = site.imis.trim_end_matches('/').to_string();
    let asked = site
        .post(
            "/imis/callback",
            &format!("refresh_token={token}"),
            Some(&cookie),
            Some(&imis_origin),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(
        asked.body.contains("Continue as Omar Fellow?"),
        "{}",
        asked.body
    );
    assert!(
        asked.body.contains("signed in as Jane Member"),
        "{}",
        asked.body
    );
    assert!(asked.set_cookie("__Host-vestibule_member").is_none());
    let confirm_cookie = asked.set_cookie("__Host-vestibule_confirm").unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Max-Age=600"] {
        assert!(confirm_cookie.contains(attribute), "{confirm_cookie}");
    }
    let waiting = format!(
        "__Host-vestibule_confirm={}",
        asked.cookie_value("__Host-vestibule_confirm")
    );
    // Jane is still signed in.
    assert!(site
        .get(ACME, "/", Some(&jane))
        .await
        .body
        .contains("Jane Member"));

    // The answer must come from this site.
    let both = format!("{jane}; {waiting}");
    for origin in [
        Some("https://evil.example"),
        Some(imis_origin.as_str()),
        None,
    ] {
        let forged = site
            .post("/imis/continue", "decision=continue", Some(&both), origin)
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{origin:?}");
    }
    // Cancel: Omar's waiting session ends, Jane stays.
    let cancelled = site
        .post(
            "/imis/continue",
            "decision=cancel",
            Some(&both),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert!(cancelled
        .set_cookie("__Host-vestibule_confirm")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(site
        .get(ACME, "/", Some(&jane))
        .await
        .body
        .contains("Jane Member"));
    let again = site
        .post(
            "/imis/continue",
            "decision=continue",
            Some(&both),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("This sign-in has expired"));

    // Asked again, the member continues: Omar is signed in, Jane's session has ended.
    let token = site
        .emulator
        .issue_refresh_token("omar", "vestibule-oidc")
        .unwrap();
    let asked = site
        .post(
            "/imis/callback",
            &format!("refresh_token={token}"),
            Some(&jane),
            Some(&imis_origin),
        )
        .await;
    let both = format!(
        "{jane}; __Host-vestibule_confirm={}",
        asked.cookie_value("__Host-vestibule_confirm")
    );
    let continued = site
        .post(
            "/imis/continue",
            "decision=continue&return_to=/account",
            Some(&both),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(
        continued.status,
        StatusCode::SEE_OTHER,
        "{}",
        continued.body
    );
    assert_eq!(continued.location(), "/account");
    let omar = format!(
        "__Host-vestibule_member={}",
        continued.cookie_value("__Host-vestibule_member")
    );
    assert!(site
        .get(ACME, "/", Some(&omar))
        .await
        .body
        .contains("Omar Fellow"));
    assert!(!site
        .get(ACME, "/", Some(&jane))
        .await
        .body
        .contains("Jane Member"));

    // A sign-in Omar's browser started here that comes back as someone else is asked too.
    let start = site.get(ACME, "/login/imis", None).await;
    let pending = start.cookie_value("__Host-vestibule_pending");
    let token = site
        .emulator
        .issue_refresh_token("jane", "vestibule-oidc")
        .unwrap();
    let swapped = site
        .post(
            "/imis/callback",
            &format!("refresh_token={token}"),
            Some(&format!("{omar}; __Host-vestibule_pending={pending}")),
            Some(&imis_origin),
        )
        .await;
    assert_eq!(swapped.status, StatusCode::OK, "{}", swapped.body);
    assert!(swapped.body.contains("Continue as Jane Member?"));
    assert!(site
        .get(ACME, "/", Some(&omar))
        .await
        .body
        .contains("Omar Fellow"));
}

#[tokio::test]
async fn a_member_signs_in_through_imis_and_lands_where_they_were_going() {
    let site = site().await;

    // The branded sign-in page, escaped, with the tenant's stylesheet and no script.
    let login = site.get(ACME, "/login?return_to=/account", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Acme Association"), "{}", login.body);
    assert!(login.body.contains("Welcome, &lt;members&gt;!"));
    assert!(login.body.contains("help@acme.test"));
    assert!(!login.body.contains("<script"));
    assert!(login.body.contains("/login/imis?return_to=/account"));
    let csp = login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let css = site.get(ACME, "/branding/site.css", None).await;
    assert!(css.body.contains("--brand: #7a1f5c"));

    // Starting sends the member to the SSO page with a pending sign-in cookie that can come
    // back on iMIS's cross-site POST.
    let start = site.get(ACME, "/login/imis?return_to=/account", None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    assert_eq!(start.location(), format!("{}/sso/oidc", site.imis));
    let pending_cookie = start.set_cookie("__Host-vestibule_pending").unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=None", "Path=/"] {
        assert!(pending_cookie.contains(attribute), "{pending_cookie}");
    }
    let pending = start.cookie_value("__Host-vestibule_pending");

    // iMIS posts the refresh token back: session cookie, pending cleared, on to /account.
    let back = site.imis_returns(Some(&pending), "jane").await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location(), "/account");
    let session_cookie = back.set_cookie("__Host-vestibule_member").unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    assert!(back
        .set_cookie("__Host-vestibule_pending")
        .unwrap()
        .contains("Max-Age=0"));
    let session = format!(
        "__Host-vestibule_member={}",
        back.cookie_value("__Host-vestibule_member")
    );

    // Signed in: the branded page greets the member.
    let home = site.get(ACME, "/", Some(&session)).await;
    assert!(home.body.contains("You are signed in"), "{}", home.body);
    // Its times are written in UTC and read in the member's zone by the site's own script,
    // which the page's policy lets run (and nothing else).
    assert!(
        home.body.contains("<time datetime=\"")
            && home.body.contains("<script src=\"/local-time.js\">"),
        "{}",
        home.body
    );
    let policy = home.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let script = site.get(ACME, "/local-time.js", None).await;
    assert!(script.body.contains("toLocaleString"), "{}", script.body);
    assert!(home.body.contains("Jane Member"));
    assert!(home.body.contains("jane@members.acme.test"));
    // The sign-in page sends a signed-in member straight on.
    let again = site
        .get(ACME, "/login?return_to=/next", Some(&session))
        .await;
    assert_eq!(again.location(), "/next");

    // Another tenant's domain does not know this session.
    let beta = site
        .get("sso.beta.localhost:8080", "/", Some(&session))
        .await;
    assert!(!beta.body.contains("Jane"), "{}", beta.body);
    assert!(beta.body.contains("Sign in"));

    // Sign-out needs a form from this site, then ends the session.
    let forged = site
        .post("/logout", "", Some(&session), Some("https://evil.example"))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(site
        .get(ACME, "/", Some(&session))
        .await
        .body
        .contains("Jane"));
    let out = site.post("/logout", "", Some(&session), Some(ORIGIN)).await;
    assert!(out.body.contains("You are signed out"));
    // The iMIS session is not ours to end: the page says so and links to iMIS's own sign-out
    // page, which Settings name (a path on the iMIS site).
    assert!(
        out.body
            .contains(&format!("href=\"{}/sign-out-page\"", site.imis)),
        "{}",
        out.body
    );
    assert!(out.body.contains("Sign out of the member site"));
    assert!(out
        .set_cookie("__Host-vestibule_member")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(!site
        .get(ACME, "/", Some(&session))
        .await
        .body
        .contains("Jane"));
}

#[tokio::test]
async fn a_member_who_starts_at_imis_gets_the_signed_in_page() {
    let site = site().await;
    let asked = site.imis_returns(None, "omar").await;
    assert!(
        asked.body.contains("Continue as Omar Fellow?"),
        "{}",
        asked.body
    );
    let waiting = format!(
        "__Host-vestibule_confirm={}",
        asked.cookie_value("__Host-vestibule_confirm")
    );
    let back = site
        .post(
            "/imis/continue",
            "decision=continue",
            Some(&waiting),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.location(), "/");
    let session = format!(
        "__Host-vestibule_member={}",
        back.cookie_value("__Host-vestibule_member")
    );
    let home = site.get(ACME, "/", Some(&session)).await;
    assert!(home.body.contains("Omar Fellow"), "{}", home.body);
}

#[tokio::test]
async fn every_member_facing_failure_has_a_branded_page() {
    let site = site().await;

    // Expired or replayed refresh token.
    let token = site
        .emulator
        .issue_refresh_token("jane", "vestibule-oidc")
        .unwrap();
    assert_eq!(site.callback(None, &token).await.status, StatusCode::OK);
    let replay = site.callback(None, &token).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(
        replay.body.contains("This sign-in has expired"),
        "{}",
        replay.body
    );
    assert!(replay.body.contains("Acme Association"));
    assert!(replay.set_cookie("__Host-vestibule_member").is_none());

    // The callback opened without a sign-in.
    let opened = site.get(ACME, "/imis/callback", None).await;
    assert_eq!(opened.status, StatusCode::BAD_REQUEST);
    assert!(opened.body.contains("There is no sign-in to finish"));
    let empty = site
        .post(
            "/imis/callback",
            "",
            None,
            Some(site.imis.trim_end_matches('/')),
        )
        .await;
    assert!(
        empty.body.contains("Sign-in did not finish"),
        "{}",
        empty.body
    );

    // iMIS down, then slow.
    site.emulator.set_behaviour(Behaviour {
        fail: FailMode::All,
        ..Behaviour::default()
    });
    let down = site.imis_returns(None, "jane").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.body.contains("The membership system is not answering"));
    assert!(down.body.contains("try again in a few minutes"));
    site.emulator.set_behaviour(Behaviour::default());

    // The client secret in Settings no longer matches RiSE.
    let mut wrong = settings(&site.imis);
    wrong.oidc_client_secret = "rotated-in-imis".into();
    site.engines
        .settings
        .save(site.acme, wrong, Timestamp::now())
        .await
        .unwrap();
    let misconfigured = site.imis_returns(None, "jane").await;
    assert_eq!(misconfigured.status, StatusCode::BAD_GATEWAY);
    assert!(misconfigured.body.contains("This is not something you did"));
    assert!(misconfigured.body.contains("help@acme.test"));
    assert!(!misconfigured.body.contains("invalid_client"));

    // Tenant admins read the technical causes, newest first.
    let events = site
        .engines
        .members
        .sign_in_events(site.acme, None, 10)
        .await
        .unwrap();
    let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "client secret refused",
            "iMIS unavailable",
            "no refresh token",
            "refresh token refused",
            "signed in"
        ]
    );
    assert!(
        events[0].detail.contains("client id and secret"),
        "{}",
        events[0].detail
    );
    assert!(events[1].detail.contains("503"), "{}", events[1].detail);
    for event in &events {
        assert!(!event.detail.contains(&token));
        for secret in SECRETS.iter().chain(&["rotated-in-imis"]) {
            assert!(!event.detail.contains(secret));
        }
    }

    // A name that is not a test domain is only redirected to HTTPS, never served here.
    let unknown = site.get("sso.other.localhost:8080", "/", None).await;
    assert_eq!(unknown.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(unknown.location(), "https://sso.other.localhost:8443/");
}

#[tokio::test]
async fn directory_members_sign_in_with_a_form_from_this_site() {
    let site = site().await;
    site.use_the_member_directory().await;
    site.engines
        .members
        .add_directory_member(
            site.acme,
            NewDirectoryMember {
                username: "demo.member".into(),
                email: "demo@acme.test".into(),
                given_name: "Demo".into(),
                family_name: "Member".into(),
                password: "demo-member-password".into(),
            },
            Timestamp::now(),
        )
        .await
        .unwrap();

    let login = site.get(ACME, "/login?return_to=/after", None).await;
    assert!(login.body.contains("name=\"password\""), "{}", login.body);
    assert!(login.body.contains("value=\"/after\""));

    let form = "username=demo.member&password=demo-member-password&return_to=/after";
    let cross_site = site
        .post("/login", form, None, Some("https://evil.example"))
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(cross_site.set_cookie("__Host-vestibule_member").is_none());

    let wrong = site
        .post(
            "/login",
            "username=demo.member&password=nope-nope-nope&return_to=/after",
            None,
            Some(ORIGIN),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("do not match"));

    let hostile = "username=demo.member&password=demo-member-password&return_to=//evil.example";
    let signed_in = site.post("/login", hostile, None, Some(ORIGIN)).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/", "no open redirect");
    let ok = site.post("/login", form, None, Some(ORIGIN)).await;
    assert_eq!(ok.location(), "/after");
    let session = format!(
        "__Host-vestibule_member={}",
        ok.cookie_value("__Host-vestibule_member")
    );
    assert!(site
        .get(ACME, "/", Some(&session))
        .await
        .body
        .contains("Demo Member"));

    // Signing in again in the same browser ends the session it had.
    let again = site
        .post("/login", form, Some(&session), Some(ORIGIN))
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(!site
        .get(ACME, "/", Some(&session))
        .await
        .body
        .contains("Demo Member"));
}

#[tokio::test]
async fn the_logo_is_served_with_its_sniffed_type() {
    let site = site().await;
    assert_eq!(
        site.get(ACME, "/branding/logo", None).await.status,
        StatusCode::NOT_FOUND
    );
    let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
    site.engines
        .members
        .set_logo(site.acme, png.clone(), Timestamp::now())
        .await
        .unwrap();
    let logo = site.get(ACME, "/branding/logo", None).await;
    assert_eq!(logo.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(logo.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(site
        .get(ACME, "/login", None)
        .await
        .body
        .contains("/branding/logo?v="));
}

/// Everything the server logs during sign-ins, failures included, is free of secrets and tokens.
#[tokio::test]
async fn secrets_and_tokens_never_reach_the_logs() {
    let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let lines = lines.clone();
        move || LogWriter(lines.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let site = site().await;
    let token = site
        .emulator
        .issue_refresh_token("jane", "vestibule-oidc")
        .unwrap();
    let start = site.get(ACME, "/login/imis", None).await;
    let pending = start.cookie_value("__Host-vestibule_pending");
    let back = site.callback(Some(&pending), &token).await;
    let session = back.cookie_value("__Host-vestibule_member");
    site.callback(None, &token).await;
    site.emulator.set_behaviour(Behaviour {
        fail: FailMode::Api,
        ..Behaviour::default()
    });
    site.imis_returns(None, "jane").await;

    let logged = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("iMIS sign-in failed"),
        "the failures were logged: {logged}"
    );
    for secret in SECRETS
        .iter()
        .chain([&token.as_str(), &pending.as_str(), &session.as_str()])
    {
        assert!(!logged.contains(secret), "{secret} in the log:\n{logged}");
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Review: "forgot password" from one address could make the server write to every member of
/// a tenant. Each client address gets ten requests per fifteen minutes, however many arrive at
/// once; past them the page says how long to wait (429 with Retry-After), and other addresses
/// are not held up.
#[tokio::test]
async fn one_address_cannot_make_the_server_mail_every_member() {
    let site = site().await;
    site.use_the_member_directory().await;
    // E-mail on, so resets are offered.
    let mut engines = site.engines.clone();
    engines.mail = Some(support::queueing_outbox(&engines.store));
    let config = support::config(&["sso.acme.localhost=acme", "sso.beta.localhost=beta"]);
    let router = tenant_edge::plain_http_router(
        engines.provisioning.clone(),
        8443,
        engines.member_site(&config).unwrap(),
    );
    let forgot = |n: usize, from: [u8; 4]| {
        let router = router.clone();
        async move {
            let mut request = Request::post("/password/forgot")
                .header(header::HOST, ACME)
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("who=member{n}&return_to=/")))
                .unwrap();
            let address = std::net::IpAddr::from(from);
            request
                .extensions_mut()
                .insert(vestibule_domain::ClientAddress(address));
            support::http::send(&router, request).await
        }
    };
    let attacker = [203, 0, 113, 9];
    let mut at_once = tokio::task::JoinSet::new();
    for n in 0..25 {
        at_once.spawn(forgot(n, attacker));
    }
    let mut answers = Vec::new();
    while let Some(answer) = at_once.join_next().await {
        answers.push(answer.unwrap());
    }
    let answered = |status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(answered(StatusCode::OK), 10);
    assert_eq!(answered(StatusCode::TOO_MANY_REQUESTS), 15);
    let refused = answers
        .iter()
        .find(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert!(refused
        .body
        .contains("Too many reset requests from your network"));
    let wait: i64 = refused.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert_eq!(forgot(99, [198, 51, 100, 7]).await.status, StatusCode::OK);
}
