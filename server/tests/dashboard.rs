//! The dashboard's HTTP surface, driven with `oneshot` on a fresh database per backend:
//! sign-in, cookies, CSRF, same-origin writes and tenant isolation.

// Helpers outside #[test] functions unwrap too: a panic is the failure report we want.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use vestibule_domain::{Role, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_server::{dashboard_router, Config};
use vestibule_staff::StaffAccounts;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

#[path = "support/form.rs"]
mod form_encoding;
mod support;
use form_encoding::{form, urlencode};
use support::http::Reply;

const PASSWORD: &str = "correct horse battery staple";

struct Dashboard {
    router: Router,
    accounts: StaffAccounts,
    _db: TestDatabase,
}

async fn dashboard(db: TestDatabase, public_url: &str) -> Dashboard {
    let config = Config {
        public_url: public_url.to_string(),
        ..support::config(&[])
    };
    let engines = support::engines(&config, db.store().clone());
    let accounts = engines.accounts.clone();
    Dashboard {
        router: dashboard_router(&config, &engines).unwrap(),
        accounts,
        _db: db,
    }
}

impl Dashboard {
    async fn send(&self, request: Request<Body>) -> Reply {
        support::http::send(&self.router, request).await
    }

    async fn call(&self, endpoint: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let body = form(fields);
        let mut request = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::HOST, "127.0.0.1:3000");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).expect("request"))
            .await
    }

    async fn page(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request =
            Request::get(path).header(header::ACCEPT, "text/html,application/xhtml+xml");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    /// Signs in and returns the `name=value` cookie pair plus the session's CSRF token.
    async fn sign_in(&self, email: &str) -> (String, String) {
        let reply = self
            .call("sign_in", &[("email", email), ("password", PASSWORD)], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let set_cookie = reply.headers[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .to_string();
        let pair = set_cookie.split(';').next().expect("pair").to_string();
        let me = self.call("me", &[], Some(&pair)).await;
        let json: serde_json::Value = serde_json::from_str(&me.body).expect("json");
        let csrf = json["csrf"].as_str().expect("csrf").to_string();
        (pair, csrf)
    }
}

/// An operator, two tenants, and a signed-up admin for `acme`.
async fn seeded(db: TestDatabase, public_url: &str) -> Dashboard {
    let dashboard = dashboard(db, public_url).await;
    let now = Timestamp::now();
    let accounts = &dashboard.accounts;
    accounts
        .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, now)
        .await
        .unwrap();
    let store = accounts.store();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme Association", now)
        .await
        .unwrap();
    store
        .create_tenant(&"beta".parse().unwrap(), "Beta Society", now)
        .await
        .unwrap();
    accounts
        .add_with_password("admin@acme.org", Role::TenantAdmin(acme.id), PASSWORD, now)
        .await
        .unwrap();
    let (_, token) = accounts
        .invite("pending@beta.org", Role::Operator, now)
        .await
        .unwrap();
    drop(token);
    dashboard
}

#[tokio::test]
async fn sign_in_sets_a_hardened_session_cookie() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let reply = dashboard
            .call(
                "sign_in",
                &[("email", "admin@acme.org"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, "\"/t/acme/domain\"");
        let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("vestibule_session="), "{cookie}");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(flag), "{flag} missing in {cookie}");
        }
        assert!(
            !cookie.contains("Secure"),
            "plain-HTTP development must still work: {cookie}"
        );
    })
    .await;
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_only() {
    let dashboard = seeded(sqlite().await, "https://dash.vestibule.test").await;
    let reply = dashboard
        .call(
            "sign_in",
            &[("email", "ops@vestibule.test"), ("password", PASSWORD)],
            None,
        )
        .await;
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-vestibule_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let page = dashboard.page("/login", None).await;
    assert!(page.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
}

#[tokio::test]
async fn sign_in_failures_look_the_same() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let wrong = dashboard
            .call(
                "sign_in",
                &[("email", "admin@acme.org"), ("password", "wrong password!")],
                None,
            )
            .await;
        let unknown = dashboard
            .call(
                "sign_in",
                &[("email", "nobody@acme.org"), ("password", PASSWORD)],
                None,
            )
            .await;
        let pending = dashboard
            .call(
                "sign_in",
                &[("email", "pending@beta.org"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.status, unknown.status);
        assert_eq!(wrong.status, pending.status);
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.body, pending.body);
        assert!(
            wrong
                .body
                .contains("The e-mail address or password is not right."),
            "{}",
            wrong.body
        );
        assert!(!wrong.headers.contains_key(header::SET_COOKIE));
    })
    .await;
}

#[tokio::test]
async fn repeated_failures_are_rate_limited() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    for _ in 0..5 {
        dashboard
            .call(
                "sign_in",
                &[("email", "admin@acme.org"), ("password", "wrong password!")],
                None,
            )
            .await;
    }
    let limited = dashboard
        .call(
            "sign_in",
            &[("email", "admin@acme.org"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert!(
        limited.body.contains("Too many sign-in attempts"),
        "{}",
        limited.body
    );
}

#[tokio::test]
async fn state_changes_need_the_session_csrf_token() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (cookie, csrf) = dashboard.sign_in("ops@vestibule.test").await;
        let form = |token: &'static str| {
            [
                ("csrf", token),
                ("cloud_id", "gamma"),
                ("display_name", "Gamma Guild"),
            ]
        };

        let missing = dashboard
            .call(
                "create_tenant",
                &[("cloud_id", "gamma"), ("display_name", "Gamma Guild")],
                Some(&cookie),
            )
            .await;
        assert_ne!(missing.status, StatusCode::OK, "{}", missing.body);
        let forged = dashboard
            .call("create_tenant", &form("forged"), Some(&cookie))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(forged.body.contains("Csrf"), "{}", forged.body);
        assert!(dashboard
            .accounts
            .store()
            .tenant_by_cloud_id(&"gamma".parse().unwrap())
            .await
            .unwrap()
            .is_none());

        let csrf: &'static str = Box::leak(csrf.into_boxed_str());
        let created = dashboard
            .call("create_tenant", &form(csrf), Some(&cookie))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert!(created.body.contains("gamma"));
        // The new Cloud ID's audit log starts with its creation and who made it.
        let log = dashboard
            .call("audit_log", &[("cloud_id", "gamma")], Some(&cookie))
            .await;
        let log: serde_json::Value = serde_json::from_str(&log.body).unwrap();
        let first = &log["events"][0];
        assert_eq!(
            (&first["action"], &first["actor"], &first["target"]),
            (
                &serde_json::json!("tenant.create"),
                &serde_json::json!("ops@vestibule.test"),
                &serde_json::json!("gamma")
            )
        );
        let duplicate = dashboard
            .call("create_tenant", &form(csrf), Some(&cookie))
            .await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT);
        assert!(
            duplicate.body.contains("already exists"),
            "{}",
            duplicate.body
        );

        let no_session = dashboard.call("create_tenant", &form(csrf), None).await;
        assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
        assert!(
            no_session.body.contains("NotSignedIn"),
            "{}",
            no_session.body
        );
    })
    .await;
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let forged = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from(format!(
            "email=ops%40vestibule.test&password={}",
            urlencode(PASSWORD)
        )))
        .unwrap();
    let reply = dashboard.send(forged).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!reply.headers.contains_key(header::SET_COOKIE));

    let same_origin = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "localhost:3000")
        .header(header::ORIGIN, "http://localhost:3000")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(format!(
            "email=ops%40vestibule.test&password={}",
            urlencode(PASSWORD)
        )))
        .unwrap();
    assert_eq!(dashboard.send(same_origin).await.status, StatusCode::OK);

    let fetch_metadata = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from("email=a%40b.org&password=x"))
        .unwrap();
    assert_eq!(
        dashboard.send(fetch_metadata).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Every server function that changes a Cloud ID refuses its read-only members, whatever
/// else the request says; what they may read still answers.
#[tokio::test]
async fn a_read_only_member_is_refused_every_change_to_their_cloud_id() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let cloud_id = "acme".parse().unwrap();
    let store = dashboard.accounts.store();
    let acme = store.tenant_by_cloud_id(&cloud_id).await.unwrap().unwrap();
    dashboard
        .accounts
        .add_with_password(
            "viewer@acme.org",
            Role::TenantViewer(acme.id),
            PASSWORD,
            Timestamp::now(),
        )
        .await
        .unwrap();
    let (cookie, csrf) = dashboard.sign_in("viewer@acme.org").await;
    for endpoint in [
        "team",
        "tenant",
        "domain",
        "settings",
        "oidc_apps",
        "saml_apps",
        "members",
    ] {
        let reply = dashboard
            .call(endpoint, &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{endpoint}: {}", reply.body);
    }
    let changes: &[(&str, &[(&str, &str)])] = &[
        (
            "invite_to_team",
            &[("email", "friend@acme.org"), ("access", "admin")],
        ),
        (
            "change_team_access",
            &[("email", "admin@acme.org"), ("access", "read_only")],
        ),
        (
            "remove_team_member",
            &[("email", "admin@acme.org"), ("confirm", "admin@acme.org")],
        ),
        ("set_tenant_second_factor_rule", &[("required", "on")]),
        ("start_provisioning", &[("domain", "sso.acme.org")]),
        ("retry_provisioning", &[]),
        ("release_domain", &[("confirm", "sso.acme.org")]),
        ("remove_logo", &[]),
        ("remove_member", &[("id", "1"), ("confirm", "jane")]),
        (
            "set_member_password",
            &[("id", "1"), ("password", "a brand new password")],
        ),
        (
            "delete_oidc_app",
            &[("client_id", "app"), ("confirm", "app")],
        ),
        (
            "rotate_oidc_secret",
            &[("client_id", "app"), ("overlap_hours", "24")],
        ),
        ("delete_saml_app", &[("app_id", "app"), ("confirm", "app")]),
        ("prepare_saml_rollover", &[("overlap_days", "30")]),
        ("reschedule_saml_rollover", &[("kid", "next")]),
        // Saves nothing, but reads an address on the web for the Cloud ID.
        (
            "preview_saml_metadata",
            &[("metadata_url", "https://sp.example.org/metadata")],
        ),
    ];
    for (endpoint, fields) in changes {
        let mut form = vec![("csrf", csrf.as_str()), ("cloud_id", "acme")];
        form.extend_from_slice(fields);
        let reply = dashboard.call(endpoint, &form, Some(&cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{endpoint}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("ReadOnly"),
            "{endpoint}: {}",
            reply.body
        );
    }
    // The admin is still on the team, as an admin.
    let team = dashboard
        .call("team", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(team.body.contains("admin@acme.org"), "{}", team.body);
    assert!(!team.body.contains("friend@acme.org"), "{}", team.body);
    assert_eq!(
        team.body.matches("\"read_only\"").count(),
        1,
        "{}",
        team.body
    );
}

#[tokio::test]
async fn a_tenant_admin_cannot_reach_another_cloud_id_by_editing_ids() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;

        let own = dashboard
            .call("team", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert!(own.body.contains("admin@acme.org"));

        for endpoint in ["team", "tenant"] {
            for other in ["beta", "nosuch", "ACME-x", "../beta"] {
                let reply = dashboard
                    .call(endpoint, &[("cloud_id", other)], Some(&cookie))
                    .await;
                assert_ne!(
                    reply.status,
                    StatusCode::OK,
                    "{endpoint} {other}: {}",
                    reply.body
                );
                assert!(!reply.body.contains("Beta Society"), "{}", reply.body);
            }
        }
        // What the new pages read of another Cloud ID: refused before any lookup.
        let reads: &[(&str, &[(&str, &str)])] = &[
            ("oidc_vendor_sheet", &[("client_id", "x")]),
            ("saml_vendor_sheet", &[("app_id", "x")]),
            ("signing_calendar", &[]),
        ];
        for (endpoint, fields) in reads {
            let mut form = vec![("cloud_id", "beta")];
            form.extend_from_slice(fields);
            let reply = dashboard.call(endpoint, &form, Some(&cookie)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{endpoint}: {}",
                reply.body
            );
        }
        let rollover = dashboard
            .call(
                "prepare_saml_rollover",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "beta"),
                    ("overlap_days", "30"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(rollover.status, StatusCode::FORBIDDEN, "{}", rollover.body);
        let invite = dashboard
            .call(
                "invite_to_team",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "beta"),
                    ("email", "mole@evil.example"),
                    ("access", "admin"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(invite.status, StatusCode::FORBIDDEN);
        assert!(invite.body.contains("Forbidden"), "{}", invite.body);
        let create = dashboard
            .call(
                "create_tenant",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "delta"),
                    ("display_name", "Delta"),
                ],
                Some(&cookie),
            )
            .await;
        assert!(create.body.contains("Forbidden"), "{}", create.body);

        let tenants = dashboard.call("tenants", &[], Some(&cookie)).await;
        assert!(
            tenants.body.contains("acme") && !tenants.body.contains("beta"),
            "{}",
            tenants.body
        );

        let store = dashboard.accounts.store();
        let beta = store
            .tenant_by_cloud_id(&"beta".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            store.list_tenant_staff(beta.id).await.unwrap().is_empty(),
            "nothing was added to beta"
        );
        assert!(store
            .tenant_by_cloud_id(&"delta".parse().unwrap())
            .await
            .unwrap()
            .is_none());

        // The page for another Cloud ID renders a refusal, not the tenant.
        let page = dashboard.page("/t/beta/team", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.body.contains("No access"), "{}", page.body);
        assert!(!page.body.contains("Beta Society"));

        let operators_only = dashboard.page("/tenants", Some(&cookie)).await;
        assert_eq!(operators_only.status, StatusCode::FORBIDDEN);
        assert!(operators_only.body.contains("No access"));

        // Inviting within their own Cloud ID works and yields a setup link.
        let invite = dashboard
            .call(
                "invite_to_team",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "acme"),
                    ("email", "second@acme.org"),
                    ("access", "admin"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(invite.status, StatusCode::OK, "{}", invite.body);
        assert!(
            invite.body.contains("http://127.0.0.1:3000/setup?token="),
            "{}",
            invite.body
        );
    })
    .await;
}

#[tokio::test]
async fn pages_redirect_visitors_without_a_session() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    for path in ["/", "/tenants", "/t/acme/domain"] {
        let reply = dashboard.page(path, None).await;
        assert!(reply.status.is_redirection(), "{path}: {}", reply.status);
        assert_eq!(reply.headers[header::LOCATION], "/login", "{path}");
    }
    let login = dashboard.page("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Sign in to Vestibule"));
    assert_eq!(login.headers[header::X_FRAME_OPTIONS], "DENY");
    let csp = login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    assert!(
        login.body.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts carry the policy's nonce"
    );
    let missing = dashboard.page("/no/such/page", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Page not found"));
}

#[tokio::test]
async fn the_operators_tenant_list_is_searched_and_paged() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let store = dashboard.accounts.store();
    for i in 0..60 {
        store
            .create_tenant(
                &format!("member-org-{i:02}").parse().unwrap(),
                &format!("Member Organisation {i}"),
                Timestamp::now(),
            )
            .await
            .unwrap();
    }
    let (cookie, _) = dashboard.sign_in("ops@vestibule.test").await;
    let rows = |body: &str| body.matches("<tr>").count() - 1;

    // 62 tenants in Cloud ID order: acme, beta, then the member organisations.
    let first = dashboard.page("/tenants", Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(rows(&first.body), 50);
    assert!(first.body.contains("1–50 of 62"), "{}", first.body);
    assert!(first.body.contains("href=\"/tenants?page=2\""));
    assert!(!first.body.contains("rel=\"prev\""));
    let acme = "href=\"/t/acme/domain\"";
    assert!(first.body.contains(acme) && !first.body.contains("member-org-59"));

    let second = dashboard.page("/tenants?page=2", Some(&cookie)).await;
    assert_eq!(rows(&second.body), 12);
    assert!(second.body.contains("51–62 of 62"), "{}", second.body);
    assert!(second.body.contains("member-org-59") && !second.body.contains(acme));
    assert!(!second.body.contains("rel=\"next\""));

    // A search by name, any case; its pages keep the search.
    let found = dashboard
        .page("/tenants?q=ORGANISATION+1", Some(&cookie))
        .await;
    assert_eq!(rows(&found.body), 11, "1 and 10 to 19");
    assert!(found.body.contains("1–11 of 11"));
    let nothing = dashboard.page("/tenants?q=nobody", Some(&cookie)).await;
    assert!(
        nothing.body.contains("No tenant matches."),
        "{}",
        nothing.body
    );
    let paged = dashboard.page("/tenants?q=org&page=2", Some(&cookie)).await;
    assert!(
        paged.body.contains("href=\"/tenants?q=org&amp;page=1\""),
        "{}",
        paged.body
    );

    // A page past the end, or not a number, is an empty page or the first, never an error.
    let beyond = dashboard.page("/tenants?page=99", Some(&cookie)).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert!(beyond.body.contains("No tenant matches."));
    let garbled = dashboard.page("/tenants?page=x", Some(&cookie)).await;
    assert_eq!(rows(&garbled.body), 50);
}

#[tokio::test]
async fn signed_in_pages_show_the_navigation_and_sign_out_ends_the_session() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    let page = dashboard.page("/t/acme/domain", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Domain Setup",
        "Settings",
        "OIDC Client Apps",
        "SAML Client Apps",
        "Not Provisioned",
        "Acme Association",
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    assert!(
        !page.body.contains("Tenants</a>"),
        "tenant admins do not see the operator's Tenants page"
    );

    let out = dashboard
        .call("sign_out", &[("csrf", &csrf)], Some(&cookie))
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let me = dashboard.call("me", &[], Some(&cookie)).await;
    assert_eq!(me.body, "null");
}

#[tokio::test]
async fn the_first_operator_sets_a_password_through_the_setup_link() {
    let db = sqlite().await;
    let dashboard = dashboard(db, "http://127.0.0.1:3000").await;
    let token = dashboard
        .accounts
        .first_operator_link(Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let info = dashboard
        .call("setup_link", &[("token", &token)], None)
        .await;
    assert_eq!(info.body, "\"FirstOperator\"");
    let mismatch = dashboard
        .call(
            "complete_setup",
            &[
                ("token", &token),
                ("email", "ops@x.org"),
                ("password", PASSWORD),
                ("confirm", "other"),
            ],
            None,
        )
        .await;
    assert!(mismatch.body.contains("do not match"), "{}", mismatch.body);
    let done = dashboard
        .call(
            "complete_setup",
            &[
                ("token", &token),
                ("email", "ops@x.org"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let reused = dashboard
        .call("setup_link", &[("token", &token)], None)
        .await;
    assert!(
        reused.body.contains("expired or has already been used"),
        "{}",
        reused.body
    );
    dashboard.sign_in("ops@x.org").await;
}

#[tokio::test]
async fn domain_setup_is_scoped_to_the_callers_cloud_id_and_explains_bad_input() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;

        let own = dashboard
            .call("domain", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert!(own.body.contains("Not Provisioned"), "{}", own.body);
        assert!(
            own.body.contains("edge.vestibule.localhost"),
            "{}",
            own.body
        );

        let peek = dashboard
            .call("domain", &[("cloud_id", "beta")], Some(&cookie))
            .await;
        assert_eq!(peek.status, StatusCode::FORBIDDEN, "{}", peek.body);
        for (endpoint, extra) in [
            ("start_provisioning", Some(("domain", "sso.beta.org"))),
            ("retry_provisioning", None),
            ("release_domain", Some(("confirm", "sso.beta.org"))),
        ] {
            let mut form = vec![("csrf", csrf.as_str()), ("cloud_id", "beta")];
            form.extend(extra);
            let reply = dashboard.call(endpoint, &form, Some(&cookie)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{endpoint}: {}",
                reply.body
            );
        }
        let store = dashboard.accounts.store();
        assert!(store
            .domain_by_name("sso.beta.org")
            .await
            .unwrap()
            .is_none());

        let pasted = dashboard
            .call(
                "start_provisioning",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "acme"),
                    ("domain", "https://sso.acme.org/"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(pasted.status, StatusCode::BAD_REQUEST, "{}", pasted.body);
        assert!(pasted.body.contains("without"), "{}", pasted.body);

        let queued = dashboard
            .call(
                "start_provisioning",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "acme"),
                    ("domain", "SSO.Acme.org"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(queued.status, StatusCode::OK, "{}", queued.body);
        assert!(queued.body.contains("Provisioning"), "{}", queued.body);
        assert!(queued.body.contains("sso.acme.org"), "{}", queued.body);
        // The address members use keeps the edge's port (8443 here), as the issuer does.
        assert!(
            queued
                .body
                .contains(r#""address":"https://sso.acme.org:8443""#),
            "{}",
            queued.body
        );

        let wrong_confirmation = dashboard
            .call(
                "release_domain",
                &[("csrf", &csrf), ("cloud_id", "acme"), ("confirm", "yes")],
                Some(&cookie),
            )
            .await;
        assert_eq!(wrong_confirmation.status, StatusCode::BAD_REQUEST);
        assert!(store
            .domain_by_name("sso.acme.org")
            .await
            .unwrap()
            .is_some());

        let released = dashboard
            .call(
                "release_domain",
                &[
                    ("csrf", &csrf),
                    ("cloud_id", "acme"),
                    ("confirm", "sso.acme.org"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(released.status, StatusCode::OK, "{}", released.body);
        assert!(store
            .domain_by_name("sso.acme.org")
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn settings_are_scoped_to_the_callers_cloud_id_and_secrets_never_come_back() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
        let form = |cloud_id: &'static str, base: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("cloud_id", cloud_id.to_string()),
                ("imis_base_url", base.to_string()),
                ("oidc_client_id", "vestibule-oidc".into()),
                ("oidc_client_secret", "very-secret-oidc".into()),
                ("oidc_sso_page", "/sso/oidc".into()),
                ("saml_client_id", String::new()),
                ("saml_client_secret", String::new()),
                ("saml_sso_page", String::new()),
                ("api_username", "vestibule-api".into()),
                ("api_password", "very-secret-password".into()),
                ("profile_iqa", "$/Vestibule/MemberProfile".into()),
                ("brand_name", "Acme".into()),
                ("brand_colour", "#1f5fbf".into()),
                ("sign_in_text", "Welcome".into()),
                ("support_contact", "help@acme.org".into()),
            ]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let dashboard = &dashboard;
            let cookie = cookie.clone();
            async move {
                let pairs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                dashboard.call("save_settings", &pairs, Some(&cookie)).await
            }
        };

        let saved = send(form("acme", "https://members.acme.org")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        let read = dashboard
            .call("settings", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        for reply in [&saved, &read] {
            assert!(reply.body.contains("members.acme.org"), "{}", reply.body);
            assert!(
                reply.body.contains("\"oidc_has_secret\":true"),
                "{}",
                reply.body
            );
            assert!(!reply.body.contains("very-secret"), "{}", reply.body);
        }

        let other = send(form("beta", "https://evil.example")).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.body);
        for endpoint in ["settings", "test_connection"] {
            let reply = dashboard
                .call(
                    endpoint,
                    &[("csrf", &csrf), ("cloud_id", "beta")],
                    Some(&cookie),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{endpoint}: {}",
                reply.body
            );
        }
        let store = dashboard.accounts.store();
        let beta = store
            .tenant_by_cloud_id(&"beta".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(store.tenant_settings(beta.id).await.unwrap().is_none());

        let invalid = send(form("acme", "http://members.acme.org")).await;
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
        assert!(invalid.body.contains("https://"), "{}", invalid.body);
        let kept = dashboard
            .call("settings", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert!(
            kept.body.contains("https://members.acme.org"),
            "{}",
            kept.body
        );

        // The audit log says which secrets were replaced, never what they are.
        let log = dashboard
            .call("audit_log", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.body);
        assert!(!log.body.contains("very-secret"), "{}", log.body);
        let log: serde_json::Value = serde_json::from_str(&log.body).unwrap();
        let events = log["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "only the saved change: {events:?}");
        assert_eq!(events[0]["action"], "settings.save");
        let after: serde_json::Value =
            serde_json::from_str(events[0]["after"].as_str().unwrap()).unwrap();
        assert_eq!(
            after["replaced"],
            serde_json::json!(["oidc_client_secret", "api_password"])
        );
        assert_eq!(after["oidc_has_secret"], true);
        assert_eq!(after["imis_base_url"], "https://members.acme.org");
    })
    .await;
}

#[tokio::test]
async fn the_member_directory_is_managed_per_cloud_id() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
        let add = |cloud_id: &'static str, password: &'static str| {
            let dashboard = &dashboard;
            let (cookie, csrf) = (cookie.clone(), csrf.clone());
            async move {
                dashboard
                    .call(
                        "add_member",
                        &[
                            ("csrf", &csrf),
                            ("cloud_id", cloud_id),
                            ("username", "Demo.Member"),
                            ("email", "demo@acme.org"),
                            ("given_name", "Demo"),
                            ("family_name", "Member"),
                            ("password", password),
                        ],
                        Some(&cookie),
                    )
                    .await
            }
        };
        let short = add("acme", "short").await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.body);
        assert!(short.body.contains("12 characters"), "{}", short.body);
        let added = add("acme", "demo-member-password").await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        assert!(added.body.contains("demo.member"));
        let again = add("acme", "demo-member-password").await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
        assert!(again.body.contains("already exists"), "{}", again.body);

        let listed = dashboard
            .call("members", &[("cloud_id", "acme")], Some(&cookie))
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert!(listed.body.contains("\"username\":\"demo.member\""));
        assert!(!listed.body.contains("argon2"), "hashes stay on the server");
        assert!(!listed.body.contains("demo-member-password"));

        // Another Cloud ID's directory is out of reach, by every route.
        assert_eq!(
            add("beta", "demo-member-password").await.status,
            StatusCode::FORBIDDEN
        );
        for (endpoint, id) in [("members", None), ("remove_member", Some("1"))] {
            let mut form = vec![("csrf", csrf.as_str()), ("cloud_id", "beta")];
            if let Some(id) = id {
                form.push(("id", id));
            }
            let reply = dashboard.call(endpoint, &form, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{endpoint}");
        }
        // An id from another tenant is not found in this one.
        let store = dashboard.accounts.store();
        let beta = store
            .tenant_by_cloud_id(&"beta".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let foreign = store
            .insert_directory_member(&vestibule_storage::DirectoryMemberRecord {
                id: 0,
                tenant: beta.id,
                subject: "directory:beta-member-subject".into(),
                username: "beta.member".into(),
                email: "b@beta.org".into(),
                given_name: String::new(),
                family_name: String::new(),
                password_hash: "$argon2id$x".into(),
                created_at: Timestamp::now(),
                updated_at: Timestamp::now(),
            })
            .await
            .unwrap();
        let foreign_id = foreign.id.to_string();
        let reply = dashboard
            .call(
                "remove_member",
                &[("csrf", &csrf), ("cloud_id", "acme"), ("id", &foreign_id)],
                Some(&cookie),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        assert_eq!(store.directory_members(beta.id).await.unwrap().len(), 1);
    })
    .await;
}

/// A multipart upload as the Settings page's logo form sends it.
fn logo_upload(cloud_id: &str, cookie: &str, csrf: &str, image: &[u8]) -> Request<Body> {
    let boundary = "XxVestibuleBoundaryxX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(image);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post(format!("/t/{cloud_id}/settings/logo"))
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn logo_uploads_are_checked_and_scoped() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    let png = b"\x89PNG\r\n\x1a\nthe rest of the image".to_vec();
    let location = |reply: &Reply| {
        reply
            .headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };

    let saved = dashboard
        .send(logo_upload("acme", &cookie, &csrf, &png))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(location(&saved), "/t/acme/branding?logo=saved");
    let settings = dashboard
        .call("settings", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(
        settings.body.contains("\"has_logo\":true"),
        "{}",
        settings.body
    );

    let svg = dashboard
        .send(logo_upload(
            "acme",
            &cookie,
            &csrf,
            b"<svg onload=alert(1)>",
        ))
        .await;
    assert!(
        location(&svg).contains("logo_error=Upload%20a%20PNG"),
        "{}",
        location(&svg)
    );
    let huge = [png.clone(), vec![0; 300 * 1024]].concat();
    let too_big = dashboard
        .send(logo_upload("acme", &cookie, &csrf, &huge))
        .await;
    assert!(
        location(&too_big).contains("logo_error="),
        "{:?}",
        too_big.status
    );

    let forged = dashboard
        .send(logo_upload("acme", &cookie, "not-the-token", &png))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let other = dashboard
        .send(logo_upload("beta", &cookie, &csrf, &png))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let anonymous = dashboard
        .send(logo_upload("acme", "vestibule_session=nobody", &csrf, &png))
        .await;
    assert_eq!(location(&anonymous), "/login");

    // The Branding page's preview reads the logo from the dashboard, for its own staff only.
    let read = |cloud_id: &str, cookie: &str| {
        Request::get(format!("/t/{cloud_id}/settings/logo"))
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let shown = dashboard.send(read("acme", &cookie)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(shown.headers[header::CACHE_CONTROL], "no-store");
    assert!(shown.body.contains("the rest of the image"));
    assert_eq!(
        dashboard.send(read("beta", &cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        dashboard
            .send(read("acme", "vestibule_session=nobody"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn oidc_client_apps_are_managed_per_cloud_id_and_secrets_are_shown_once() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    let create = |cloud_id: &'static str, redirect: &'static str| {
        let dashboard = &dashboard;
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        async move {
            dashboard
                .call(
                    "create_oidc_app",
                    &[
                        ("csrf", &csrf),
                        ("cloud_id", cloud_id),
                        ("name", "Events"),
                        ("redirect_uris", redirect),
                        ("algorithm", "RS256"),
                        ("consent", "on"),
                    ],
                    Some(&cookie),
                )
                .await
        }
    };
    let created = create("acme", "https://events.example.org/cb\n").await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let shown: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    let secret = shown["client_secret"].as_str().unwrap().to_string();
    let client_id = shown["client_id"].as_str().unwrap().to_string();

    let listed = dashboard
        .call("oidc_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(listed.body.contains(&client_id));
    assert!(listed.body.contains("\"consent\":true"));
    assert!(
        !listed.body.contains(&secret),
        "the secret is shown once only"
    );

    let invalid = create("acme", "http://events.example.org/cb").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
    assert!(invalid.body.contains("https"), "{}", invalid.body);
    assert_eq!(
        create("beta", "https://x.example/cb").await.status,
        StatusCode::FORBIDDEN
    );
    let other = dashboard
        .call("oidc_apps", &[("cloud_id", "beta")], Some(&cookie))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);

    let rotated = dashboard
        .call(
            "rotate_oidc_secret",
            &[
                ("csrf", &csrf),
                ("cloud_id", "acme"),
                ("client_id", &client_id),
                ("overlap_hours", "24"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert!(!rotated.body.contains(&secret));
    let listed = dashboard
        .call("oidc_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(listed.body.contains("\"expires_at\":\""), "{}", listed.body);

    let missing = dashboard
        .call(
            "delete_oidc_app",
            &[("csrf", &csrf), ("cloud_id", "acme"), ("client_id", "nope")],
            Some(&cookie),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Deleting cannot be undone: it takes the app's name typed again.
    let delete = |confirm: &'static str| {
        let fields = [
            ("csrf", csrf.clone()),
            ("cloud_id", "acme".to_string()),
            ("client_id", client_id.clone()),
            ("confirm", confirm.to_string()),
        ];
        let (dashboard, cookie) = (&dashboard, cookie.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            dashboard
                .call("delete_oidc_app", &fields, Some(&cookie))
                .await
        }
    };
    let unconfirmed = delete("Event").await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert!(
        unconfirmed.body.contains("Type Events to confirm"),
        "{}",
        unconfirmed.body
    );
    let listed = dashboard
        .call("oidc_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(listed.body.contains(&client_id), "{}", listed.body);
    let deleted = delete(" Events ").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let listed = dashboard
        .call("oidc_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(!listed.body.contains(&client_id), "{}", listed.body);
}

#[tokio::test]
async fn an_oidc_app_is_edited_and_its_id_token_previewed_for_a_member() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    let created = dashboard
        .call(
            "create_oidc_app",
            &[
                ("csrf", &csrf),
                ("cloud_id", "acme"),
                ("name", "Events"),
                ("redirect_uris", "https://events.example.org/cb"),
                ("algorithm", "RS256"),
            ],
            Some(&cookie),
        )
        .await;
    let shown: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    let client_id = shown["client_id"].as_str().unwrap().to_string();
    let edit = |cloud_id: &'static str, changes: &[(&'static str, &'static str)]| {
        let mut fields: Vec<(&str, String)> = vec![
            ("csrf", csrf.clone()),
            ("cloud_id", cloud_id.to_string()),
            ("client_id", client_id.clone()),
            ("name", "Events and Meetings".into()),
            (
                "redirect_uris",
                "https://events.example.org/cb\nhttps://events.example.org/cb2".into(),
            ),
            (
                "post_logout_redirect_uris",
                "https://events.example.org/bye".into(),
            ),
            ("implicit", "on".into()),
            ("algorithm", "RS512".into()),
            ("id_token_minutes", "15".into()),
            ("access_token_minutes", "30".into()),
            ("consent_grace_days", "30".into()),
            (
                "claims",
                "email = Email\nmember.type = MemberType\nname = FullName".into(),
            ),
        ];
        for (name, value) in changes {
            fields.retain(|(field, _)| field != name);
            fields.push((name, value.to_string()));
        }
        let dashboard = &dashboard;
        let cookie = cookie.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            dashboard
                .call("update_oidc_app", &pairs, Some(&cookie))
                .await
        }
    };

    let saved = edit("acme", &[]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        saved.body.contains("\"client_secret\":null"),
        "{}",
        saved.body
    );
    let read = dashboard
        .call(
            "oidc_app",
            &[("cloud_id", "acme"), ("client_id", &client_id)],
            Some(&cookie),
        )
        .await;
    let app: serde_json::Value = serde_json::from_str(&read.body).unwrap();
    assert_eq!(app["name"], "Events and Meetings");
    assert_eq!(app["algorithm"], "RS512");
    assert_eq!(app["id_token_minutes"], 15);
    assert_eq!(app["access_token_minutes"], 30);
    assert_eq!(app["implicit"], true);
    assert_eq!(app["password"], false);
    assert_eq!(
        app["claims"],
        "email = Email\nmember.type = MemberType\nname = FullName"
    );

    // Switching to HS512 issues a new client secret (it signs the ID tokens), shown once.
    let hs512 = edit("acme", &[("algorithm", "HS512")]).await;
    let shown: serde_json::Value = serde_json::from_str(&hs512.body).unwrap();
    assert!(
        shown["client_secret"]
            .as_str()
            .is_some_and(|k| k.len() == 86),
        "{}",
        hs512.body
    );

    // Bad input says what to fix and changes nothing.
    for (change, says) in [
        (("claims", "email Email"), "claim = Property"),
        (("claims", "sub = Email"), "set by the protocol"),
        (("id_token_minutes", "ten"), "whole number"),
        (("id_token_minutes", "0"), "1 to 1440 minutes"),
        (
            ("redirect_uris", "https://events.example.org/*"),
            "wildcards",
        ),
    ] {
        let refused = edit("acme", &[change]).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{change:?}: {}",
            refused.body
        );
        assert!(refused.body.contains(says), "{change:?}: {}", refused.body);
    }
    let unchanged = dashboard
        .call(
            "oidc_app",
            &[("cloud_id", "acme"), ("client_id", &client_id)],
            Some(&cookie),
        )
        .await;
    assert!(
        unchanged.body.contains("\"id_token_minutes\":15"),
        "{}",
        unchanged.body
    );
    assert_eq!(edit("beta", &[]).await.status, StatusCode::FORBIDDEN);
    let stale = edit("acme", &[("csrf", "not-the-token")]).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);

    // The preview reads the member from the identity source the tenant chose.
    let preview = |username: &'static str| {
        let dashboard = &dashboard;
        let (cookie, csrf, client_id) = (cookie.clone(), csrf.clone(), client_id.clone());
        async move {
            dashboard
                .call(
                    "preview_oidc_id_token",
                    &[
                        ("csrf", &csrf),
                        ("cloud_id", "acme"),
                        ("client_id", &client_id),
                        ("username", username),
                    ],
                    Some(&cookie),
                )
                .await
        }
    };
    let not_set_up = preview("jane").await;
    assert_eq!(
        not_set_up.status,
        StatusCode::CONFLICT,
        "{}",
        not_set_up.body
    );
    assert!(
        not_set_up.body.contains("no iMIS address"),
        "{}",
        not_set_up.body
    );
    let settings: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("cloud_id", "acme"),
        ("imis_base_url", ""),
        ("oidc_client_id", ""),
        ("oidc_client_secret", ""),
        ("oidc_sso_page", ""),
        ("saml_client_id", ""),
        ("saml_client_secret", ""),
        ("saml_sso_page", ""),
        ("api_username", ""),
        ("api_password", ""),
        ("profile_iqa", ""),
        ("brand_name", "Acme"),
        ("brand_colour", "#1f5fbf"),
        ("sign_in_text", ""),
        ("support_contact", ""),
        ("identity_source", "directory"),
    ];
    let saved = dashboard
        .call("save_settings", &settings, Some(&cookie))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let added = dashboard
        .call(
            "add_member",
            &[
                ("csrf", &csrf),
                ("cloud_id", "acme"),
                ("username", "demo.member"),
                ("email", "demo@acme.org"),
                ("given_name", "Demo"),
                ("family_name", "Member"),
                ("password", "demo-member-password"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let unknown = preview("nobody").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    assert!(
        unknown.body.contains("no member nobody"),
        "{}",
        unknown.body
    );
    let previewed = preview("Demo.Member").await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    let text: String = serde_json::from_str(&previewed.body).unwrap();
    let claims: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.starts_with("directory:") && !sub.contains("demo"),
        "{sub}"
    );
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["email"], "demo@acme.org");
    assert_eq!(claims["name"], "Demo Member");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        15 * 60
    );
    // MemberType is not a directory property: the claim is left out, not sent empty.
    assert!(claims.get("member").is_none(), "{claims}");
}

#[tokio::test]
async fn saml_apps_are_imported_previewed_saved_edited_and_deleted_per_cloud_id() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    // A real certificate for the service provider's metadata: another tenant's SAML key.
    let store = dashboard.accounts.store().clone();
    let sp_tenant = store
        .create_tenant(&"vendor".parse().unwrap(), "Vendor", Timestamp::now())
        .await
        .unwrap();
    let sp_key = vestibule_saml::SamlKeys::new(
        store,
        SecretKey::from_base64(&SecretKey::generate_base64()).unwrap(),
    )
    .signing_key(sp_tenant.id, "events.example.org", Timestamp::now())
    .await
    .unwrap();
    let metadata = format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://events.example.org/saml">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://events.example.org/saml/slo-post"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://events.example.org/saml/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://events.example.org/saml/artifact" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://events.example.org/saml/acs2" index="2"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://events.example.org/saml/acs" index="1" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#,
        certificate = sp_key.certificate_base64()
    );
    let preview = dashboard
        .call(
            "preview_saml_metadata",
            &[
                ("csrf", &csrf),
                ("cloud_id", "acme"),
                ("metadata", &metadata),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let preview: serde_json::Value = serde_json::from_str(&preview.body).unwrap();
    let form = &preview["form"];
    assert_eq!(form["entity_id"], "https://events.example.org/saml");
    assert_eq!(
        form["assertion_consumers"],
        "1 https://events.example.org/saml/acs\n2 https://events.example.org/saml/acs2"
    );
    assert_eq!(form["single_logout"], "https://events.example.org/saml/slo");
    assert_eq!(form["name_id_format"], "persistent");
    assert_eq!(form["require_signed_requests"], "on");
    assert!(form["sp_certificate"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(preview["notes"][0]
        .as_str()
        .unwrap()
        .contains("HTTP-Artifact"));
    // Nothing was saved by the preview.
    let listed = dashboard
        .call("saml_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert!(listed.body.contains("\"apps\":[]"), "{}", listed.body);

    // Hostile or wrong metadata is refused with words.
    for (bad, words) in [
        ("<!DOCTYPE x [<!ENTITY e \"e\">]><x/>", "DTD"),
        ("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>", "SPSSODescriptor"),
        ("not xml", "cannot be imported"),
    ] {
        let reply = dashboard
            .call(
                "preview_saml_metadata",
                &[("csrf", &csrf), ("cloud_id", "acme"), ("metadata", bad)],
                Some(&cookie),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains(words), "{words}: {}", reply.body);
    }

    // Saving the previewed form, as the page posts it (`form[field]`).
    let field = |name: &str| form[name].as_str().unwrap_or_default().to_string();
    let save = |endpoint: &'static str, extra: Vec<(&'static str, String)>, name: &str| {
        let mut pairs: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("cloud_id".into(), "acme".into()),
            ("form[name]".into(), name.to_string()),
        ];
        for key in [
            "entity_id",
            "assertion_consumers",
            "single_logout",
            "name_id_format",
            "attributes",
            "signed",
            "require_signed_requests",
            "sp_certificate",
            "assertion_minutes",
            "default_relay_state",
        ] {
            pairs.push((format!("form[{key}]"), field(key)));
        }
        for (key, value) in extra {
            pairs.retain(|(k, _)| k != key);
            pairs.push((key.to_string(), value));
        }
        let dashboard = &dashboard;
        let cookie = cookie.clone();
        async move {
            let borrowed: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            dashboard.call(endpoint, &borrowed, Some(&cookie)).await
        }
    };
    let created = save("create_saml_app", vec![], "Events").await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let app_id: String = serde_json::from_str(&created.body).unwrap();
    let again = save("create_saml_app", vec![], "Events again").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(
        again.body.contains("entity id already exists"),
        "{}",
        again.body
    );

    let listed = dashboard
        .call("saml_apps", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(listed.body.contains(&app_id));
    assert!(listed
        .body
        .contains("https://events.example.org/saml/acs (index 1)"));
    let html = dashboard.page("/t/acme/saml", Some(&cookie)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("Import metadata") && html.body.contains("Events"));
    let edit_page = dashboard
        .page(&format!("/t/acme/saml/{app_id}"), Some(&cookie))
        .await;
    assert_eq!(edit_page.status, StatusCode::OK);
    assert!(edit_page
        .body
        .contains("https://events.example.org/saml/acs2"));

    // Edits: a bad ACS address is explained and changes nothing; a good edit is saved.
    let bad = save(
        "update_saml_app",
        vec![
            ("app_id", app_id.clone()),
            (
                "form[assertion_consumers]",
                "http://events.example.org/acs".into(),
            ),
        ],
        "Events renamed",
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("https"), "{}", bad.body);
    let unchanged = dashboard
        .call(
            "saml_app",
            &[("cloud_id", "acme"), ("app_id", &app_id)],
            Some(&cookie),
        )
        .await;
    assert!(
        unchanged.body.contains("\"name\":\"Events\""),
        "{}",
        unchanged.body
    );
    let good = save(
        "update_saml_app",
        vec![
            ("app_id", app_id.clone()),
            ("form[signed]", "both".into()),
            (
                "form[attributes]",
                "mail = Email\nurn:oid:2.5.4.42 = FirstName".into(),
            ),
        ],
        "Events renamed",
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    let edited = dashboard
        .call(
            "saml_app",
            &[("cloud_id", "acme"), ("app_id", &app_id)],
            Some(&cookie),
        )
        .await;
    let edited: serde_json::Value = serde_json::from_str(&edited.body).unwrap();
    // The edit page's form, beside the app's metadata subscription (none).
    assert_eq!(edited["subscription"], serde_json::Value::Null);
    let edited = &edited["form"];
    assert_eq!(edited["name"], "Events renamed");
    assert_eq!(edited["signed"], "both");
    assert_eq!(
        edited["attributes"],
        "mail = Email\nurn:oid:2.5.4.42 = FirstName"
    );

    // Another Cloud ID's apps are out of reach; delete removes the app.
    let other = dashboard
        .call("saml_apps", &[("cloud_id", "beta")], Some(&cookie))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let unconfirmed = dashboard
        .call(
            "delete_saml_app",
            &[("csrf", &csrf), ("cloud_id", "acme"), ("app_id", &app_id)],
            Some(&cookie),
        )
        .await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert!(
        unconfirmed.body.contains("Type Events renamed to confirm"),
        "{}",
        unconfirmed.body
    );
    let deleted = dashboard
        .call(
            "delete_saml_app",
            &[
                ("csrf", &csrf),
                ("cloud_id", "acme"),
                ("app_id", &app_id),
                ("confirm", "Events renamed"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let gone = dashboard
        .call(
            "saml_app",
            &[("cloud_id", "acme"), ("app_id", &app_id)],
            Some(&cookie),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // The audit log has each change (the refused edit and the refused duplicate are not
    // changes), newest first, with the values before and after.
    let log = dashboard
        .call("audit_log", &[("cloud_id", "acme")], Some(&cookie))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let log: serde_json::Value = serde_json::from_str(&log.body).unwrap();
    let events = log["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["saml_app.delete", "saml_app.update", "saml_app.create"]
    );
    assert!(events.iter().all(|e| e["actor"] == "admin@acme.org"));
    assert_eq!(events[1]["target"], format!("Events renamed ({app_id})"));
    let before: serde_json::Value =
        serde_json::from_str(events[1]["before"].as_str().unwrap()).unwrap();
    let after: serde_json::Value =
        serde_json::from_str(events[1]["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (before["name"].as_str(), after["name"].as_str()),
        (Some("Events"), Some("Events renamed"))
    );
    assert_eq!(
        (before["signed"].as_str(), after["signed"].as_str()),
        (Some("assertion"), Some("both"))
    );
    assert!(events[2]["before"].is_null() && events[0]["after"].is_null());
    let filtered = dashboard
        .call(
            "audit_log",
            &[
                ("cloud_id", "acme"),
                ("action", "saml_app.upd"),
                ("actor", "ADMIN@"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(
        filtered.body.matches("\"action\"").count(),
        1,
        "{}",
        filtered.body
    );
    let page = dashboard.page("/t/acme/audit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("saml_app.update") && page.body.contains("Download CSV"));

    // The same as CSV, for this Cloud ID's admins only.
    let csv = dashboard
        .page("/t/acme/audit.csv?action=saml_app", Some(&cookie))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "time,actor,action,target,before,after");
    assert_eq!(lines.len(), 4, "{}", csv.body);
    assert!(
        lines[2].contains(",saml_app.update,Events renamed ("),
        "{}",
        lines[2]
    );
    let elsewhere = dashboard.page("/t/beta/audit.csv", Some(&cookie)).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    let anonymous = dashboard.page("/t/acme/audit.csv", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

/// `/pkg` serves the built front-end and nothing else: a path that climbs out of `pkg/` finds
/// no file beside it, whatever its spelling; content-named files go out precompressed and
/// immutable.
#[tokio::test]
async fn the_front_end_folder_serves_only_its_own_files() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(site.path().join("secret.key"), "not for the web").unwrap();
    std::fs::write(pkg.join("vestibule-0123456789abcdef.wasm"), "wasm").unwrap();
    std::fs::write(pkg.join("vestibule-0123456789abcdef.wasm.br"), "brotli").unwrap();
    std::fs::write(pkg.join("output-name"), "vestibule-0123456789abcdef\n").unwrap();
    let db = sqlite().await;
    let config = Config {
        site_root: site.path().to_path_buf(),
        ..support::config(&[])
    };
    let engines = support::engines(&config, db.store().clone());
    let router = dashboard_router(&config, &engines).unwrap();
    let get = |path: &str, encoding: &str| {
        Request::get(path)
            .header(header::ACCEPT_ENCODING, encoding)
            .body(Body::empty())
            .unwrap()
    };

    for climb in [
        "/pkg/../secret.key",
        "/pkg/%2e%2e/secret.key",
        "/pkg/..%2fsecret.key",
        "/pkg/%2e%2e%2fsecret.key",
        "/pkg/....//secret.key",
    ] {
        let reply = support::http::send(&router, get(climb, "identity")).await;
        assert!(
            !reply.body.contains("not for the web"),
            "{climb}: {}",
            reply.body
        );
        assert_ne!(reply.status, StatusCode::OK, "{climb}");
    }

    let wasm =
        support::http::send(&router, get("/pkg/vestibule-0123456789abcdef.wasm", "br")).await;
    assert_eq!(wasm.status, StatusCode::OK);
    assert_eq!(wasm.body, "brotli");
    assert_eq!(wasm.headers[header::CONTENT_ENCODING], "br");
    assert_eq!(
        wasm.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let page = support::http::send(&router, get("/login", "identity")).await;
    assert!(
        page.body.contains("/pkg/vestibule-0123456789abcdef.wasm"),
        "the page asks for the build's own name: {}",
        page.body
    );
}

#[tokio::test]
async fn a_cloud_ids_second_factor_rule_holds_its_admins_at_their_account_page() {
    for_each_backend(|db| async move {
        let dashboard = seeded(db, "http://127.0.0.1:3000").await;
        let (admin, admin_csrf) = dashboard.sign_in("admin@acme.org").await;
        let dashboard = &dashboard;
        let require = |cookie: String, csrf: String| async move {
            let fields = [
                ("csrf", csrf.as_str()),
                ("cloud_id", "acme"),
                ("required", "on"),
            ];
            dashboard
                .call("set_tenant_second_factor_rule", &fields, Some(&cookie))
                .await
        };
        // An admin without an authenticator app cannot lock themselves out.
        let refused = require(admin.clone(), admin_csrf).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(
            refused.body.contains("your own account first"),
            "{}",
            refused.body
        );
        let team = dashboard
            .call("team", &[("cloud_id", "acme")], Some(&admin))
            .await;
        assert_eq!(
            team.status,
            StatusCode::OK,
            "the rule stayed off: {}",
            team.body
        );

        // An operator may require it of the Cloud ID's admins.
        let (operator, operator_csrf) = dashboard.sign_in("ops@vestibule.test").await;
        let set = require(operator.clone(), operator_csrf).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);

        // From now on the admin reaches only what sets up the second factor.
        let held = dashboard
            .call("team", &[("cloud_id", "acme")], Some(&admin))
            .await;
        assert_eq!(held.status, StatusCode::FORBIDDEN, "{}", held.body);
        assert!(
            held.body.contains("SecondFactorSetupNeeded"),
            "{}",
            held.body
        );
        let status = dashboard.call("second_factor", &[], Some(&admin)).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        assert!(status.body.contains("\"required\":true"), "{}", status.body);
        let page = dashboard.page("/t/acme/domain", Some(&admin)).await;
        assert!(
            page.status.is_redirection() && page.headers[header::LOCATION] == "/account",
            "{} {:?}",
            page.status,
            page.headers.get(header::LOCATION)
        );
        // The operator is not bound by a Cloud ID's rule.
        let tenants = dashboard.page("/tenants", Some(&operator)).await;
        assert_eq!(tenants.status, StatusCode::OK);
    })
    .await;
}

/// Review: "Forgot your password?" from one address could make the server write to every
/// staff member. Each client address gets ten requests per fifteen minutes; past them the
/// answer is 429 with how long to wait.
#[tokio::test]
async fn one_address_cannot_make_the_dashboard_mail_every_staff_member() {
    let db = sqlite().await;
    let config = support::config(&[]);
    let mut engines = support::engines(&config, db.store().clone());
    engines.mail = Some(support::queueing_outbox(db.store()));
    let router = dashboard_router(&config, &engines).unwrap();
    let mut answers = Vec::new();
    for n in 0..12 {
        let email = format!("staff{n}@example.org");
        let request = Request::post("/api/request_password_reset")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::HOST, "127.0.0.1:3000")
            .body(Body::from(form(&[("email", email.as_str())])))
            .unwrap();
        answers.push(support::http::send(&router, request).await);
    }
    let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
    assert!(
        statuses[..10].iter().all(|s| s.is_success()),
        "{statuses:?}"
    );
    assert_eq!(statuses[10..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    assert!(
        answers[11]
            .body
            .contains("Too many password reset requests from your network"),
        "{}",
        answers[11].body
    );
}

/// Review: "Import metadata" and "Compare" read any public address the admin names, at once;
/// in a loop they would make the server send a stranger requests. Thirty a quarter hour per
/// Cloud ID, refused ones included; then 429 with the wait.
#[tokio::test]
async fn a_cloud_id_has_documents_read_at_most_thirty_times_a_quarter_hour() {
    let dashboard = seeded(sqlite().await, "http://127.0.0.1:3000").await;
    let (cookie, csrf) = dashboard.sign_in("admin@acme.org").await;
    let import = |address: &'static str| {
        let (dashboard, csrf, cookie) = (&dashboard, csrf.clone(), cookie.clone());
        async move {
            let fields = [
                ("csrf", csrf.as_str()),
                ("cloud_id", "acme"),
                ("metadata_url", address),
            ];
            let endpoint = "preview_saml_metadata";
            dashboard.call(endpoint, &fields, Some(&cookie)).await
        }
    };
    for _ in 0..30 {
        // The outbound guard refuses a loopback address without connecting.
        let refused = import("https://127.0.0.1/metadata").await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(
            refused.body.contains("could not be fetched"),
            "{}",
            refused.body
        );
    }
    let limited = import("https://sp.example.org/metadata").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(
        limited
            .body
            .contains("This Cloud ID had 30 documents read in the last 15 minutes"),
        "{}",
        limited.body
    );
}
