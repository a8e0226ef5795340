//! The hosted pages members see on a tenant's domain: sign-in (member directory or iMIS),
//! the iMIS callbacks (the RiSE client applications' Login Redirect URLs), "Continue as …",
//! sign-out, the branding assets and the error pages.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use cookie::SameSite;
use serde::Deserialize;
use vestibule_domain::{web_origin, Seconds, Timestamp};
use vestibule_members::{
    IdentitySource, ImisFlow, MemberSession, MembersError, SignInAttempt, SignedIn,
};

use super::audit::{self, Destination};
use super::pages;
use super::site::{
    client_address, forbidden, page, session_cookie, session_cookie_removal, unavailable,
    FromThisSite, Site, SiteError, SiteState, Visitor,
};
use crate::cookies;

/// The hosted pages' routes.
pub(super) fn routes() -> Router<SiteState> {
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
        .route("/local-time.js", get(local_time_script))
        .route("/healthz", get(|| async { "ok" }))
        .route(crate::listen::HEAD_TOO_LARGE_PATH, get(head_too_large))
}

/// The pending sign-in's cookie. iMIS returns the member with a cross-site POST, so this one
/// must be `SameSite=None` to come back with it.
const PENDING_COOKIE: &str = "__Host-vestibule_pending";
/// An iMIS sign-in this browser did not start here (or one that would replace another
/// member's session) waits in this cookie for the member to say "Continue as …". `Strict`:
/// it comes back only with the confirmation, a form on this site.
const CONFIRM_COOKIE: &str = "__Host-vestibule_confirm";
/// How long the "Continue as …" question stays open.
const CONFIRM_FOR: Seconds = Seconds(10 * 60);

/// Whether a form post came from the tenant's iMIS site or from this site, by its `Origin`
/// (or, when a browser left that out, its `Referer`).
async fn posted_from_imis_or_here(
    state: &SiteState,
    site: &Site,
    headers: &HeaderMap,
) -> Result<bool, SiteError> {
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
    let settings = state.site.settings.get(site.tenant.id).await;
    let settings = settings.map_err(|error| SiteError::Unavailable(error.to_string()))?;
    Ok(web_origin(&settings.imis_base_url).is_some_and(|imis| imis == sent_from))
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

async fn local_time_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::LOCAL_TIME_SCRIPT,
    )
        .into_response()
}

async fn home(State(state): State<SiteState>, visitor: Visitor) -> Response {
    match visitor.session() {
        Some(session) => {
            let launcher = launcher(&state, &visitor.site).await;
            pages::with_own_scripts(pages::signed_in(
                &visitor.site.branding,
                session,
                &launcher,
                Timestamp::now(),
            ))
        }
        None => login_response(&visitor.site, "/", None, StatusCode::OK),
    }
}

/// The applications the tenant's admins chose to list on the signed-in page, by name: each
/// OIDC app with a login initiation endpoint (OpenID Connect Core §4: it is sent `iss`, and
/// starts its own authorization request), and each SAML app by its IdP-initiated link. Only
/// the apps used on this domain: the others would refuse a sign-in started here. A listing that
/// cannot be read leaves the launcher empty rather than the page broken.
async fn launcher(state: &SiteState, site: &Site) -> Vec<pages::LauncherApp> {
    let tenant = site.tenant.id;
    let mut apps = Vec::new();
    match state.site.oidc.clients.list(tenant).await {
        Ok(clients) => apps.extend(clients.into_iter().filter_map(|client| {
            if !site.address.serves(client.settings.domain.as_deref()) {
                return None;
            }
            let start = client.settings.initiate_login_uri?;
            let separator = if start.contains('?') { '&' } else { '?' };
            Some(pages::LauncherApp {
                name: client.name,
                href: format!("{start}{separator}iss={}", pages::query_value(&site.origin)),
            })
        })),
        Err(error) => tracing::error!(%error, "listing OIDC apps for the launcher failed"),
    }
    match state.site.saml.apps.list(tenant).await {
        Ok(saml_apps) => apps.extend(
            saml_apps
                .into_iter()
                .filter(|app| app.settings.show_in_launcher)
                .filter(|app| site.address.serves(app.settings.domain.as_deref()))
                .map(|app| pages::LauncherApp {
                    href: format!("/saml/idp/{}", app.app_id),
                    name: app.name,
                }),
        ),
        Err(error) => tracing::error!(%error, "listing SAML apps for the launcher failed"),
    }
    apps.sort_by_key(|app| app.name.to_lowercase());
    apps
}

async fn login_page(visitor: Visitor, Query(query): Query<ReturnTo>) -> Response {
    let return_to = vestibule_members::safe_return_to(&query.return_to);
    let site = &visitor.site;
    match visitor.session() {
        Some(session) if query.again.is_some() => {
            let name = Some(session.member.name.as_str());
            let page = match site.source {
                IdentitySource::Imis => pages::imis_login(&site.branding, &return_to, name),
                IdentitySource::Directory => {
                    pages::password_login(&site.branding, &return_to, None, name)
                }
            };
            page.into_response()
        }
        Some(_) => Redirect::to(&return_to).into_response(),
        None => login_response(site, &return_to, None, StatusCode::OK),
    }
}

fn login_response(
    site: &Site,
    return_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = match site.source {
        IdentitySource::Imis => pages::imis_login(&site.branding, return_to, None),
        IdentitySource::Directory => pages::password_login(&site.branding, return_to, error, None),
    };
    (status, page).into_response()
}

/// Starts an iMIS sign-in: remembers it in a cookie and sends the member to the SSO page.
async fn login_with_imis(
    State(state): State<SiteState>,
    site: Site,
    Query(query): Query<ReturnTo>,
) -> Response {
    if site.source != IdentitySource::Imis {
        let return_to = vestibule_members::safe_return_to(&query.return_to);
        return login_response(&site, &return_to, None, StatusCode::OK);
    }
    // A SAML sign-in goes through the RiSE client application made for SAML, when there is one.
    let prefer = query
        .return_to
        .starts_with(super::saml::CONTINUE)
        .then_some(ImisFlow::Saml);
    let members = &state.site.members;
    let (tenant, return_to, now) = (site.tenant.id, &query.return_to, Timestamp::now());
    let application = audit::application_for_return_to(&state.site, tenant, return_to).await;
    let application = application.as_deref().unwrap_or_default();
    let started = members.start_imis_sign_in(tenant, prefer, return_to, "", application, now);
    match started.await {
        Ok(started) => {
            let mut response = Redirect::to(&started.sso_page).into_response();
            let max_age = members.policy().pending_timeout;
            let pending = &started.pending_token;
            let value = cookies::host_only(PENDING_COOKIE, pending, SameSite::None, Some(max_age));
            cookies::append(&mut response, &value);
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
    visitor: Visitor,
    headers: HeaderMap,
    form: Form<CallbackForm>,
) -> Result<Response, SiteError> {
    callback(state, visitor, headers, form, ImisFlow::OpenIdConnect).await
}

async fn saml_callback(
    state: State<SiteState>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Form<CallbackForm>,
) -> Result<Response, SiteError> {
    callback(state, visitor, headers, form, ImisFlow::Saml).await
}

/// The RiSE client application's Login Redirect URL: iMIS posts `refresh_token` here.
async fn callback(
    State(state): State<SiteState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<CallbackForm>,
    flow: ImisFlow,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    // Login CSRF: a page anywhere could post its own fresh iMIS refresh token here and sign
    // the visitor in as its author. Only the tenant's iMIS site (whose SSO page posts it) and
    // this site itself may send the form.
    if !posted_from_imis_or_here(&state, site, &headers).await? {
        return Ok(forbidden(site));
    }
    let pending = cookies::read(&headers, PENDING_COOKIE);
    let (tenant, token, now) = (site.tenant.id, &form.refresh_token, Timestamp::now());
    let members = &state.site.members;
    let outcome = members.complete_imis_sign_in(tenant, flow, pending.as_deref(), token, now);
    let mut response = match outcome.await {
        Ok(signed_in) => signed_in_from_imis(&state, &visitor, &signed_in).await,
        Err(error) => {
            // Who it was and where they were going stay unknown when iMIS's answer is refused.
            let who = audit::Who::Typed("");
            let destination = Destination::HostedLogin;
            audit::record(&state.site, tenant, who, destination, error.outcome()).await;
            error_response(site, &error)
        }
    };
    if pending.is_some() {
        let removal = cookies::removal(PENDING_COOKIE, SameSite::None);
        cookies::append(&mut response, &removal);
    }
    Ok(response)
}

/// iMIS vouched for a member. Login CSRF and session swaps: a sign-in this browser did not
/// start here (iMIS's own SSO link, or a page that got the member's browser to post someone's
/// refresh token), or one that would replace another member's session, waits for the member
/// to say who they mean to be. Otherwise the member goes on, and a session of theirs this
/// browser had (a fresh sign-in an application asked for) ends now.
async fn signed_in_from_imis(
    state: &SiteState,
    visitor: &Visitor,
    signed_in: &SignedIn,
) -> Response {
    let current = visitor.session();
    let started_here = signed_in.return_to.is_some();
    let replaces_another =
        current.is_some_and(|session| session.member.subject != signed_in.member.subject);
    if !started_here || replaces_another {
        return ask_to_continue(&visitor.site, signed_in, current);
    }
    if let Some(previous) = visitor.session_token() {
        if let Err(error) = state.site.members.sign_out(previous).await {
            tracing::warn!(%error, "ending the previous member session failed");
        }
    }
    let return_to = signed_in.return_to.as_deref().unwrap_or("/");
    let (tenant, username) = (visitor.site.tenant.id, &signed_in.member.username);
    audit::record_hosted_sign_in(&state.site, tenant, username, return_to).await;
    signed_in_response(signed_in)
}

/// "Continue as <name>?": the verified sign-in waits, its session token in a `Strict` cookie,
/// until the member confirms with a form on this site.
fn ask_to_continue(site: &Site, signed_in: &SignedIn, current: Option<&MemberSession>) -> Response {
    let return_to = signed_in.return_to.as_deref().unwrap_or("/");
    let current = current.map(|session| &session.member);
    let page = pages::confirm_sign_in(&site.branding, &signed_in.member, current, return_to);
    let mut response = page.into_response();
    let waiting = &signed_in.session_token;
    let value = cookies::host_only(CONFIRM_COOKIE, waiting, SameSite::Strict, Some(CONFIRM_FOR));
    cookies::append(&mut response, &value);
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
    _: FromThisSite,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<ContinueForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let Ok(Form(form)) = form else {
        return Ok(forbidden(site));
    };
    let members = &state.site.members;
    let waiting = match cookies::read(&headers, CONFIRM_COOKIE) {
        Some(token) => members
            .session(site.tenant.id, &token, Timestamp::now())
            .await?
            .map(|session| (token, session)),
        None => None,
    };
    let Some((token, waiting)) = waiting else {
        return Ok(page(
            site,
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "The sign-in you were asked to confirm is no longer waiting.",
            "Start again from the sign-in page.",
        ));
    };
    let mut response = if form.decision == "continue" {
        if let Some(previous) = visitor.session_token().filter(|p| *p != token) {
            members.sign_out(previous).await?;
        }
        let return_to = vestibule_members::safe_return_to(&form.return_to);
        let (tenant, username) = (site.tenant.id, &waiting.member.username);
        audit::record_hosted_sign_in(&state.site, tenant, username, &return_to).await;
        let mut response = Redirect::to(&return_to).into_response();
        cookies::append(&mut response, &session_cookie(&token));
        response
    } else {
        members.sign_out(&token).await?;
        Redirect::to("/").into_response()
    };
    let removal = cookies::removal(CONFIRM_COOKIE, SameSite::Strict);
    cookies::append(&mut response, &removal);
    Ok(response)
}

/// Sends the member on to where they were going, or to the signed-in page.
fn signed_in_response(signed_in: &SignedIn) -> Response {
    let to = signed_in.return_to.as_deref().unwrap_or("/");
    let mut response = Redirect::to(to).into_response();
    cookies::append(&mut response, &session_cookie(&signed_in.session_token));
    response
}

/// Someone opened a callback address directly (a bookmark, the Back button): there is no
/// sign-in to finish.
async fn callback_without_sign_in(site: Site) -> Response {
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
    _: FromThisSite,
    visitor: Visitor,
    extensions: Extensions,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Ok(password_form_refused(site, &rejection)),
    };
    let return_to = vestibule_members::safe_return_to(&form.return_to);
    let (tenant, address) = (site.tenant.id, client_address(&extensions));
    let members = &state.site.members;
    let (username, password) = (&form.username, &form.password);
    let application = audit::application_for_return_to(&state.site, tenant, &return_to).await;
    let attempt = SignInAttempt::by(&address).to_application(application.as_deref().unwrap_or(""));
    let outcome =
        members.sign_in_with_password(tenant, username, password, attempt, Timestamp::now());
    let signed_in = match outcome.await {
        Ok(signed_in) => signed_in,
        Err(error) => {
            let (application, outcome) = (application.as_deref(), error.outcome());
            audit::record_refused_at_login(&state.site, tenant, username, application, outcome)
                .await;
            return Ok(match error {
                MembersError::BadCredentials => login_response(
                    site,
                    &return_to,
                    Some("That username and password do not match. Check them and try again."),
                    StatusCode::UNAUTHORIZED,
                ),
                error => error_response(site, &error),
            });
        }
    };
    let username = &signed_in.member.username;
    audit::record_hosted_sign_in(&state.site, tenant, username, &return_to).await;
    // A new session replaces the one this browser had; the old one ends now.
    if let Some(previous) = visitor.session_token() {
        if let Err(error) = members.sign_out(previous).await {
            tracing::warn!(%error, "ending the previous member session failed");
        }
    }
    let mut response = Redirect::to(&return_to).into_response();
    cookies::append(&mut response, &session_cookie(&signed_in.session_token));
    Ok(response)
}

/// A sign-in post that is too large (413) or not a form (400): the form again.
fn password_form_refused(site: &Site, rejection: &FormRejection) -> Response {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    login_response(site, "/", Some("Enter your username and password."), status)
}

async fn logout(
    State(state): State<SiteState>,
    _: FromThisSite,
    visitor: Visitor,
) -> Result<Response, SiteError> {
    let token = visitor.session_token();
    if let Some(token) = token {
        state.site.members.sign_out(token).await?;
    }
    // Then the SAML service providers this session signed in to are told, one by one.
    let mut response = super::saml::logout_everywhere(&state, &visitor.site, token).await;
    cookies::append(&mut response, &session_cookie_removal());
    Ok(response)
}

/// The page for each error a member can hit: what happened and what to try, in words for the
/// member. The technical cause was recorded for the tenant's admins by the engine.
pub(super) fn error_response(site: &Site, error: &MembersError) -> Response {
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
        MembersError::ResetLinkInvalid => (
            StatusCode::GONE,
            "This link does not work any more",
            "Password reset links work once, for an hour, and only the newest one sent works."
                .to_string(),
            "Ask for a new link from the sign-in page.".to_string(),
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

async fn logo(State(state): State<SiteState>, site: Site) -> Response {
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

async fn stylesheet(site: Site) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        pages::stylesheet(&site.branding),
    )
        .into_response()
}

/// The branded page for a request whose head was over the listener's limits (asked by
/// `listen::head_limits` with the request's `Host` only).
async fn head_too_large(site: Site) -> Response {
    page(
        &site,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "This request is too large",
        "The address or the cookies your browser sent are larger than this sign-in service \
         accepts.",
        "Follow a shorter link, or clear this site's cookies, and try again.",
    )
}

pub(super) async fn not_found(site: Site) -> Response {
    page(
        &site,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.",
        "Go to the sign-in page.",
    )
}
