//! What a tenant's domain serves to members: the hosted, branded sign-in pages, the iMIS
//! callbacks (the RiSE client applications' Login Redirect URLs), member sessions and sign-out.
//!
//! Every page here works without JavaScript and sends none. Errors a member can hit get a
//! branded page saying what happened and what to try; the technical cause goes to the sign-in
//! events tenant admins read in the dashboard, never to the member.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;
use vestibule_domain::{web_origin, ClientAddress, CloudId, Tenant, Timestamp};
use vestibule_members::{IdentitySource, ImisFlow, Members, MembersError, SignedIn};
use vestibule_settings::TenantSettings;
use vestibule_storage::Store;

use crate::member_pages::{self, Branding, Page};
use crate::sign_in_audit::{self, Destination};

/// The session cookie: `__Host-` pins it to this exact host over a secure connection.
/// `SameSite=Lax` keeps it off other sites' requests.
pub(crate) const SESSION_COOKIE: &str = "__Host-vestibule_member";
/// The pending sign-in's cookie. iMIS returns the member with a cross-site POST, so this one
/// must be `SameSite=None` to come back with it.
const PENDING_COOKIE: &str = "__Host-vestibule_pending";
/// An iMIS sign-in this browser did not start here (or one that would replace another
/// member's session) waits in this cookie for the member to say "Continue as …". `Strict`:
/// it comes back only with the confirmation, a form on this site.
const CONFIRM_COOKIE: &str = "__Host-vestibule_confirm";
/// How long the "Continue as …" question stays open.
const CONFIRM_SECONDS: i64 = 10 * 60;

/// Test domains (`*.localhost`, plain HTTP) and the names the edge serves them on.
#[derive(Debug, Clone, Default)]
pub struct TestDomains {
    by_name: BTreeMap<String, CloudId>,
}

impl TestDomains {
    pub fn new(pairs: impl IntoIterator<Item = (String, CloudId)>) -> Self {
        Self {
            by_name: pairs.into_iter().collect(),
        }
    }

    pub fn cloud_id(&self, name: &str) -> Option<&CloudId> {
        self.by_name.get(name)
    }

    /// The test domain a tenant is reachable on, if any.
    pub fn name_of(&self, cloud_id: &CloudId) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, id)| *id == cloud_id)
            .map(|(name, _)| name.as_str())
    }
}

/// Where the member site is reachable, for links and Login Redirect URLs.
#[derive(Debug, Clone)]
pub struct SiteAddresses {
    pub test_domains: Arc<TestDomains>,
    pub http_port: u16,
    pub https_port: u16,
}

impl SiteAddresses {
    /// The origin of a tenant's site: its test domain over HTTP, or its domain over HTTPS.
    pub fn origin(&self, cloud_id: &CloudId, domain: Option<&str>) -> Option<String> {
        if let Some(domain) = domain {
            let port = match self.https_port {
                443 => String::new(),
                port => format!(":{port}"),
            };
            return Some(format!("https://{domain}{port}"));
        }
        let name = self.test_domains.name_of(cloud_id)?;
        let port = match self.http_port {
            80 => String::new(),
            port => format!(":{port}"),
        };
        Some(format!("http://{name}{port}"))
    }
}

#[derive(Clone)]
pub struct MemberSite {
    pub store: Store,
    pub members: Members,
    pub settings: TenantSettings,
    pub oidc: crate::OidcEngines,
    pub saml: vestibule_saml::SamlIdp,
    /// Where member sign-in outcomes per application are written down.
    pub audit: vestibule_audit::AuditLog,
    pub addresses: SiteAddresses,
    /// Shared by every clone, so all of this node's listeners remember the same answers.
    pub recent_tenants: Arc<RecentTenants>,
}

/// Which tenant a host names, remembered for [`TENANT_HELD`]: every request to a tenant
/// domain asks it first, and the answer only changes when a domain is released or claimed (or
/// a tenant renamed), which then reaches every node within those seconds.
#[derive(Default)]
pub struct RecentTenants {
    by_host: std::sync::Mutex<HashMap<(bool, String), (Tenant, Instant)>>,
}

const TENANT_HELD: Duration = Duration::from_secs(5);
/// Past this many hosts the memory starts over.
const HOSTS_HELD: usize = 10_000;

impl RecentTenants {
    fn get(&self, https: bool, host: &str) -> Option<Tenant> {
        let held = self.by_host.lock().ok()?;
        let (tenant, at) = held.get(&(https, host.to_string()))?;
        (at.elapsed() < TENANT_HELD).then(|| tenant.clone())
    }

    fn put(&self, https: bool, host: String, tenant: &Tenant) {
        if let Ok(mut held) = self.by_host.lock() {
            if held.len() >= HOSTS_HELD {
                held.clear();
            }
            held.insert((https, host), (tenant.clone(), Instant::now()));
        }
    }
}

/// One request's tenant, with what its pages need.
/// A request's tenant and the origin its site is reached at (also the OIDC issuer).
pub(crate) struct Located {
    pub(crate) tenant: Tenant,
    pub(crate) origin: String,
}

pub(crate) struct Site {
    pub(crate) tenant: Tenant,
    /// `https://<domain>` (or a test domain's `http://` origin): also the OIDC issuer.
    pub(crate) origin: String,
    pub(crate) branding: Branding,
    source: IdentitySource,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

#[derive(Clone)]
pub(crate) struct SiteState {
    pub(crate) site: MemberSite,
    scheme: Scheme,
}

/// The member site for tenant domains over HTTPS.
pub fn https_router(site: MemberSite) -> Router {
    router(site, Scheme::Https).layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
}

/// The member site for test domains over plain HTTP.
pub fn test_domain_router(site: MemberSite) -> Router {
    router(site, Scheme::Http)
}

/// The largest request body the member site reads; larger ones get `413`.
pub const MEMBER_SITE_BODY_LIMIT: usize = 64 * 1024;

fn router(site: MemberSite, scheme: Scheme) -> Router {
    let state = SiteState { site, scheme };
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_with_password))
        .route("/login/imis", get(login_with_imis))
        .route(
            "/imis/callback",
            post(oidc_callback).get(callback_without_sign_in),
        )
        .route(
            "/saml/imis/callback",
            post(saml_callback).get(callback_without_sign_in),
        )
        .route("/imis/continue", post(continue_imis_sign_in))
        .route("/logout", post(logout))
        .route("/branding/logo", get(logo))
        .route("/branding/site.css", get(stylesheet))
        .route("/healthz", get(|| async { "ok" }))
        .route(crate::listen::HEAD_TOO_LARGE_PATH, get(head_too_large))
        .merge(crate::oidc_site::routes())
        .merge(crate::saml_site::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::oidc_site::cors,
        ))
        .with_state(state)
        // The edge dispatches by host before this router matches a route: hand the route back
        // for the request metrics.
        .layer(axum::middleware::from_fn(crate::operator::report_route))
        // Every form a member's browser or an application sends here is a few kilobytes.
        .layer(DefaultBodyLimit::max(MEMBER_SITE_BODY_LIMIT))
        // The SAML POST page sets its own policy, which also lets its one script run.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                // No form-action: after a sign-in or consent form the answer continues to
                // the application's redirect URI, and browsers apply form-action to redirects.
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; \
                 base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// The host name a request was sent to, without the port, if it is a plausible DNS name.
pub(crate) fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| name.to_ascii_lowercase())
}

impl SiteState {
    /// The tenant this request's host belongs to, or the response to send instead.
    /// The tenant this request's host belongs to and its site's origin, or the response to
    /// send instead. What machine-to-machine endpoints need: no branding.
    pub(crate) async fn located(&self, headers: &HeaderMap) -> Result<Located, Response> {
        let Some(host) = request_host(headers) else {
            return Err((StatusCode::BAD_REQUEST, "This request names no host.").into_response());
        };
        let store = &self.site.store;
        let addresses = &self.site.addresses;
        let https = self.scheme == Scheme::Https;
        let tenant = match self.site.recent_tenants.get(https, &host) {
            Some(tenant) => Some(tenant),
            None => {
                let found = match self.scheme {
                    Scheme::Http => match addresses.test_domains.cloud_id(&host) {
                        Some(cloud_id) => store.tenant_by_cloud_id(cloud_id).await,
                        None => Ok(None),
                    },
                    Scheme::Https => store.tenant_by_domain_name(&host).await,
                }
                .map_err(|error| unavailable(&error))?;
                if let Some(tenant) = &found {
                    self.site.recent_tenants.put(https, host.clone(), tenant);
                }
                found
            }
        };
        let Some(tenant) = tenant else {
            // The TLS layer only completes handshakes for names we serve; a Host header naming
            // another one is a misdirected request.
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                "This address is not served here.",
            )
                .into_response());
        };
        let origin = match self.scheme {
            Scheme::Https => addresses.origin(&tenant.cloud_id, Some(&host)),
            Scheme::Http => addresses.origin(&tenant.cloud_id, None),
        }
        .unwrap_or_default();
        Ok(Located { tenant, origin })
    }

    /// The tenant with what its pages need: branding and how members sign in.
    pub(crate) async fn site(&self, headers: &HeaderMap) -> Result<Site, Response> {
        let Located { tenant, origin } = self.located(headers).await?;
        let settings = self
            .site
            .settings
            .get(tenant.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let logo_version = self
            .site
            .members
            .logo_version(tenant.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let branding = Branding {
            name: if settings.brand_name.is_empty() {
                tenant.display_name.clone()
            } else {
                settings.brand_name.clone()
            },
            colour: settings.brand_colour.clone(),
            sign_in_text: settings.sign_in_text.clone(),
            support_contact: settings.support_contact.clone(),
            logo_version: logo_version.map(|at| at.0),
        };
        Ok(Site {
            source: IdentitySource::parse(&settings.identity_source),
            tenant,
            origin,
            branding,
        })
    }
}

/// A branded page with a status: what happened and what to try.
pub(crate) fn page(
    site: &Site,
    status: StatusCode,
    title: &str,
    happened: &str,
    try_next: &str,
) -> Response {
    let words = Page {
        title: title.to_string(),
        happened: happened.to_string(),
        try_next: try_next.to_string(),
    };
    (status, member_pages::error(&site.branding, &words)).into_response()
}

pub(crate) fn unavailable(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "member site request failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable for a moment. Please try again.",
    )
        .into_response()
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

pub(crate) fn set_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

pub(crate) fn clear(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The browser must say the form came from this site: the member's forms post to their own
/// origin, and nothing else may sign a member in or out.
/// Whether a form post came from the tenant's iMIS site or from this site, by its `Origin`
/// (or, when a browser left that out, its `Referer`).
async fn posted_from_imis_or_here(
    state: &SiteState,
    site: &Site,
    headers: &HeaderMap,
) -> Result<bool, Response> {
    let header_value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(sent_from) = header_value(header::ORIGIN)
        .filter(|origin| *origin != "null")
        .or_else(|| header_value(header::REFERER))
        .and_then(web_origin)
    else {
        return Ok(false);
    };
    if sent_from == site.origin {
        return Ok(true);
    }
    let settings = state
        .site
        .settings
        .get(site.tenant.id)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(web_origin(&settings.imis_base_url).is_some_and(|imis| imis == sent_from))
}

pub(crate) fn same_origin(site: &Site, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == site.origin)
}

/// The client's address as the listener established it (see `client_address.rs`).
pub(crate) fn client_address(request_extensions: &Extensions) -> String {
    match request_extensions.get::<ClientAddress>() {
        Some(client) => client.0.to_string(),
        None => request_extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string()),
    }
}

#[derive(Deserialize, Default)]
struct ReturnTo {
    #[serde(default)]
    return_to: String,
    /// Set by an application's request for a fresh sign-in (`prompt=login`, `max_age`,
    /// `ForceAuthn`): the form is shown to a signed-in member too, whose session stays until
    /// they sign in again.
    #[serde(default)]
    again: Option<String>,
}

/// The hosted sign-in page for a request that needs a fresh sign-in: it shows the form even
/// to a signed-in member, and ends nothing.
pub(crate) fn sign_in_again_url(return_to: &str) -> String {
    format!(
        "/login?again=1&return_to={}",
        member_pages::query_value(return_to)
    )
}

pub(crate) async fn current_member(
    state: &SiteState,
    site: &Site,
    headers: &HeaderMap,
) -> Result<Option<vestibule_members::MemberSession>, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    state
        .site
        .members
        .session(site.tenant.id, &token, Timestamp::now())
        .await
        .map_err(|error| unavailable(&error))
}

async fn home(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    match current_member(&state, &site, &headers).await {
        Ok(Some(session)) => member_pages::signed_in(&site.branding, &session).into_response(),
        Ok(None) => login_response(&site, "/", None, StatusCode::OK),
        Err(response) => response,
    }
}

async fn login_page(
    State(state): State<SiteState>,
    headers: HeaderMap,
    Query(query): Query<ReturnTo>,
) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    let return_to = vestibule_members::safe_return_to(&query.return_to);
    match current_member(&state, &site, &headers).await {
        Ok(Some(session)) if query.again.is_some() => {
            let page = match site.source {
                IdentitySource::Imis => {
                    member_pages::imis_login(&site.branding, &return_to, Some(&session.member.name))
                }
                IdentitySource::Directory => member_pages::password_login(
                    &site.branding,
                    &return_to,
                    None,
                    Some(&session.member.name),
                ),
            };
            page.into_response()
        }
        Ok(Some(_)) => Redirect::to(&return_to).into_response(),
        Ok(None) => login_response(&site, &return_to, None, StatusCode::OK),
        Err(response) => response,
    }
}

fn login_response(
    site: &Site,
    return_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = match site.source {
        IdentitySource::Imis => member_pages::imis_login(&site.branding, return_to, None),
        IdentitySource::Directory => {
            member_pages::password_login(&site.branding, return_to, error, None)
        }
    };
    (status, page).into_response()
}

/// Starts an iMIS sign-in: remembers it in a cookie and sends the member to the SSO page.
async fn login_with_imis(
    State(state): State<SiteState>,
    headers: HeaderMap,
    Query(query): Query<ReturnTo>,
) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    if site.source != IdentitySource::Imis {
        let return_to = vestibule_members::safe_return_to(&query.return_to);
        return login_response(&site, &return_to, None, StatusCode::OK);
    }
    // A SAML sign-in goes through the RiSE client application made for SAML, when there is one.
    let prefer = query
        .return_to
        .starts_with(crate::saml_site::CONTINUE)
        .then_some(ImisFlow::Saml);
    let started = state
        .site
        .members
        .start_imis_sign_in(
            site.tenant.id,
            prefer,
            &query.return_to,
            "",
            Timestamp::now(),
        )
        .await;
    match started {
        Ok(started) => {
            let mut response = Redirect::to(&started.sso_page).into_response();
            let max_age = state.site.members.policy().pending_timeout.0;
            set_cookie(
                &mut response,
                format!(
                    "{PENDING_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={max_age}",
                    started.pending_token
                ),
            );
            response
        }
        Err(error) => error_response(&site, &error),
    }
}

#[derive(Deserialize)]
struct CallbackForm {
    #[serde(default)]
    refresh_token: String,
}

async fn oidc_callback(
    state: State<SiteState>,
    headers: HeaderMap,
    form: Form<CallbackForm>,
) -> Response {
    callback(state, headers, form, ImisFlow::OpenIdConnect).await
}

async fn saml_callback(
    state: State<SiteState>,
    headers: HeaderMap,
    form: Form<CallbackForm>,
) -> Response {
    callback(state, headers, form, ImisFlow::Saml).await
}

/// The RiSE client application's Login Redirect URL: iMIS posts `refresh_token` here.
async fn callback(
    State(state): State<SiteState>,
    headers: HeaderMap,
    Form(form): Form<CallbackForm>,
    flow: ImisFlow,
) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    // Login CSRF: a page anywhere could post its own fresh iMIS refresh token here and sign
    // the visitor in as its author. Only the tenant's iMIS site (whose SSO page posts it) and
    // this site itself may send the form.
    match posted_from_imis_or_here(&state, &site, &headers).await {
        Ok(true) => {}
        Ok(false) => return forbidden(&site),
        Err(response) => return response,
    }
    let pending = cookie(&headers, PENDING_COOKIE);
    let outcome = state
        .site
        .members
        .complete_imis_sign_in(
            site.tenant.id,
            flow,
            pending.as_deref(),
            &form.refresh_token,
            Timestamp::now(),
        )
        .await;
    let tenant = site.tenant.id;
    let current = match current_member(&state, &site, &headers).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let mut response = match outcome {
        Ok(signed_in) => {
            // Login CSRF and session swaps: a sign-in this browser did not start here (iMIS's
            // own SSO link, or a page that got the member's browser to post someone's
            // refresh token), or one that would replace another member's session, waits for
            // the member to say who they mean to be.
            let started_here = signed_in.return_to.is_some();
            let replaces_another = current
                .as_ref()
                .is_some_and(|session| session.member.subject != signed_in.member.subject);
            if !started_here || replaces_another {
                ask_to_continue(&site, &signed_in, current.as_ref())
            } else {
                // The same member signing in again (a fresh sign-in an application asked
                // for): the new session replaces the old one, which ends now.
                if let Some(previous) = cookie(&headers, SESSION_COOKIE) {
                    if let Err(error) = state.site.members.sign_out(&previous).await {
                        tracing::warn!(%error, "ending the previous member session failed");
                    }
                }
                let return_to = signed_in.return_to.as_deref().unwrap_or("/");
                let username = &signed_in.member.username;
                sign_in_audit::record_hosted_sign_in(&state.site, tenant, username, return_to)
                    .await;
                signed_in_response(&signed_in)
            }
        }
        Err(error) => {
            // Who it was and where they were going stay unknown when iMIS's answer is refused.
            let destination = Destination::HostedLogin;
            let who = sign_in_audit::Who::Typed("");
            sign_in_audit::record(&state.site, tenant, who, destination, error.outcome()).await;
            error_response(&site, &error)
        }
    };
    if pending.is_some() {
        set_cookie(&mut response, clear(PENDING_COOKIE));
    }
    response
}

/// "Continue as <name>?": the verified sign-in waits, its session token in a `Strict` cookie,
/// until the member confirms with a form on this site.
fn ask_to_continue(
    site: &Site,
    signed_in: &SignedIn,
    current: Option<&vestibule_members::MemberSession>,
) -> Response {
    let return_to = signed_in.return_to.as_deref().unwrap_or("/");
    let page = member_pages::confirm_sign_in(
        &site.branding,
        &signed_in.member,
        current.map(|session| &session.member),
        return_to,
    );
    let mut response = page.into_response();
    set_cookie(
        &mut response,
        format!(
            "{CONFIRM_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={CONFIRM_SECONDS}",
            signed_in.session_token
        ),
    );
    response
}

#[derive(Deserialize)]
struct ContinueForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    return_to: String,
}

/// The member's answer to "Continue as <name>?": the waiting session becomes this browser's
/// (ending the one it replaces), or is ended.
async fn continue_imis_sign_in(
    State(state): State<SiteState>,
    headers: HeaderMap,
    form: Result<Form<ContinueForm>, FormRejection>,
) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    if !same_origin(&site, &headers) {
        return forbidden(&site);
    }
    let Ok(Form(form)) = form else {
        return forbidden(&site);
    };
    let members = &state.site.members;
    let tenant = site.tenant.id;
    let waiting = match cookie(&headers, CONFIRM_COOKIE) {
        Some(token) => match members.session(tenant, &token, Timestamp::now()).await {
            Ok(Some(session)) => Some((token, session)),
            Ok(None) => None,
            Err(error) => return unavailable(&error),
        },
        None => None,
    };
    let Some((token, waiting)) = waiting else {
        return page(
            &site,
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "The sign-in you were asked to confirm is no longer waiting.",
            "Start again from the sign-in page.",
        );
    };
    let mut response = if form.decision == "continue" {
        if let Some(previous) = cookie(&headers, SESSION_COOKIE).filter(|p| *p != token) {
            if let Err(error) = members.sign_out(&previous).await {
                return unavailable(&error);
            }
        }
        let return_to = vestibule_members::safe_return_to(&form.return_to);
        let username = &waiting.member.username;
        sign_in_audit::record_hosted_sign_in(&state.site, tenant, username, &return_to).await;
        let mut response = Redirect::to(&return_to).into_response();
        set_cookie(&mut response, session_cookie(&token));
        response
    } else {
        if let Err(error) = members.sign_out(&token).await {
            return unavailable(&error);
        }
        Redirect::to("/").into_response()
    };
    set_cookie(&mut response, clear_strict(CONFIRM_COOKIE));
    response
}

fn clear_strict(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Sends the member on to where they were going, or to the signed-in page.
fn signed_in_response(signed_in: &SignedIn) -> Response {
    let to = signed_in.return_to.as_deref().unwrap_or("/");
    let mut response = Redirect::to(to).into_response();
    set_cookie(&mut response, session_cookie(&signed_in.session_token));
    response
}

/// Someone opened a callback address directly (a bookmark, the Back button): there is no
/// sign-in to finish.
async fn callback_without_sign_in(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    page(
        &site,
        StatusCode::BAD_REQUEST,
        "There is no sign-in to finish",
        "This address is where the membership site sends you after signing in, and it was \
         opened without a sign-in to finish.",
        "Start again from the sign-in page.",
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    return_to: String,
}

/// The member directory's sign-in form.
async fn login_with_password(
    State(state): State<SiteState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    if !same_origin(&site, &headers) {
        return forbidden(&site);
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            // Too large (413) or not a form (400): either way, the form again.
            let status = match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            return login_response(
                &site,
                "/",
                Some("Enter your username and password."),
                status,
            );
        }
    };
    let return_to = vestibule_members::safe_return_to(&form.return_to);
    let outcome = state
        .site
        .members
        .sign_in_with_password(
            site.tenant.id,
            &form.username,
            &form.password,
            &client_address(&extensions),
            Timestamp::now(),
        )
        .await;
    let tenant = site.tenant.id;
    match &outcome {
        Ok(signed_in) => {
            let username = &signed_in.member.username;
            sign_in_audit::record_hosted_sign_in(&state.site, tenant, username, &return_to).await;
        }
        Err(error) => {
            sign_in_audit::record_for_return_to(
                &state.site,
                tenant,
                &form.username,
                &return_to,
                error.outcome(),
            )
            .await;
        }
    }
    match outcome {
        Ok(signed_in) => {
            // A new session replaces the one this browser had; the old one ends now.
            if let Some(previous) = cookie(&headers, SESSION_COOKIE) {
                if let Err(error) = state.site.members.sign_out(&previous).await {
                    tracing::warn!(%error, "ending the previous member session failed");
                }
            }
            let mut response = Redirect::to(&return_to).into_response();
            set_cookie(&mut response, session_cookie(&signed_in.session_token));
            response
        }
        Err(MembersError::BadCredentials) => login_response(
            &site,
            &return_to,
            Some("That username and password do not match. Check them and try again."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(error) => error_response(&site, &error),
    }
}

async fn logout(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    if !same_origin(&site, &headers) {
        return forbidden(&site);
    }
    let token = cookie(&headers, SESSION_COOKIE);
    if let Some(token) = &token {
        if let Err(error) = state.site.members.sign_out(token).await {
            return unavailable(&error);
        }
    }
    // Then the SAML service providers this session signed in to are told, one by one.
    let mut response = crate::saml_site::logout_everywhere(&state, &site, token.as_deref()).await;
    set_cookie(&mut response, clear(SESSION_COOKIE));
    response
}

pub(crate) fn forbidden(site: &Site) -> Response {
    page(
        site,
        StatusCode::FORBIDDEN,
        "This form came from another site",
        "For your safety, sign-in and sign-out only accept forms sent from this page.",
        "Open the sign-in page and try again.",
    )
}

/// The page for each error a member can hit: what happened and what to try, in words for the
/// member. The technical cause was recorded for the tenant's admins by the engine.
fn error_response(site: &Site, error: &MembersError) -> Response {
    let support = if site.branding.support_contact.is_empty() {
        format!("{}'s membership team", site.branding.name)
    } else {
        site.branding.support_contact.clone()
    };
    let (status, title, happened, try_next) = match error {
        MembersError::NotConfigured(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is not available yet",
            format!(
                "{} has not finished setting up member sign-in.",
                site.branding.name
            ),
            format!("Please contact {support}."),
        ),
        MembersError::MissingRefreshToken => (
            StatusCode::BAD_REQUEST,
            "Sign-in did not finish",
            "The membership site sent you back without completing the sign-in.".to_string(),
            "Start again from the sign-in page.".to_string(),
        ),
        MembersError::TokenRefused(_) => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "The sign-in from the membership site was already used or is too old. This \
             happens after using the browser's Back button or leaving the page open for a \
             while."
                .to_string(),
            "Start again from the sign-in page.".to_string(),
        ),
        MembersError::ClientRefused(_) => (
            StatusCode::BAD_GATEWAY,
            "Sign-in is not working right now",
            format!(
                "{}'s membership system did not accept this sign-in service's credentials. \
                 This is not something you did.",
                site.branding.name
            ),
            format!("Please let {support} know, and try again later."),
        ),
        MembersError::ImisUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The membership system is not answering",
            "The membership system is down or very slow at the moment.".to_string(),
            "Please try again in a few minutes.".to_string(),
        ),
        MembersError::ProfileUnavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "Your membership record could not be read",
            "You signed in, but your membership record could not be read.".to_string(),
            format!("Please contact {support}."),
        ),
        MembersError::TooManyAttempts { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "There were too many unsuccessful sign-ins for this account.".to_string(),
            "Please wait a quarter of an hour and try again.".to_string(),
        ),
        MembersError::BadCredentials
        | MembersError::Invalid(_)
        | MembersError::NotFound
        | MembersError::Storage(_)
        | MembersError::Settings(_)
        | MembersError::Hashing(_) => {
            tracing::error!(%error, tenant = %site.tenant.cloud_id, "member sign-in failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side while signing you in.".to_string(),
                "Please try again. If it keeps happening, contact support.".to_string(),
            )
        }
    };
    let mut response = page(site, status, title, &happened, &try_next);
    if let MembersError::TooManyAttempts { retry_after } = error {
        if let Ok(value) = HeaderValue::from_str(&retry_after.0.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

async fn logo(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    match state.site.members.logo(site.tenant.id).await {
        Ok(Some(logo)) => (
            [
                (header::CONTENT_TYPE, logo.content_type),
                (header::CACHE_CONTROL, "public, max-age=300".to_string()),
            ],
            logo.data,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No logo.").into_response(),
        Err(error) => unavailable(&error),
    }
}

async fn stylesheet(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        member_pages::stylesheet(&site.branding),
    )
        .into_response()
}

/// The branded page for a request whose head was over the listener's limits (asked by
/// `listen::head_limits` with the request's `Host` only).
async fn head_too_large(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    page(
        &site,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "This request is too large",
        "The address or the cookies your browser sent are larger than this sign-in service \
         accepts.",
        "Follow a shorter link, or clear this site's cookies, and try again.",
    )
}

async fn not_found(State(state): State<SiteState>, headers: HeaderMap) -> Response {
    let site = match state.site(&headers).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    page(
        &site,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.",
        "Go to the sign-in page.",
    )
}
