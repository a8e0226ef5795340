//! The SAML 2.0 IdP's endpoints on a tenant's domain: metadata, single sign-on for the
//! HTTP-Redirect and HTTP-POST bindings, the IdP-initiated sign-in link, and single logout.
//! Decisions live in `vestibule-saml`; this maps HTTP to them, once.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use vestibule_domain::{SiteAddress, Tenant, Timestamp};
use vestibule_recorder::Kind;
use vestibule_saml::{
    certificate_pem, idp_metadata, logout_status, Arrival, Idp, IdpEndpoints, IncomingMessage,
    LogoutStep, MemberSession, PendingSso, PostMessage, Principal, Received, ReceivedLogout,
    SsoDecision, SsoRefusal, SsoSession,
};

use super::audit::{self, Destination};
use super::pages::{self, query_value, SamlPost};
use super::recording;
use super::site::{
    page, session_cookie_removal, unavailable, Located, Site, SiteError, SiteState, Visitor,
};
use crate::cookies;
use vestibule_members::SignInOutcome;

/// Where a SAML sign-in continues after the hosted sign-in page.
pub(crate) const CONTINUE: &str = super::site::SAML_CONTINUE;

pub(crate) fn routes() -> Router<SiteState> {
    Router::new()
        .route("/saml/metadata", get(metadata))
        .route("/saml/certificate.pem", get(certificate))
        .route("/saml/sso", get(sso_redirect).post(sso_post))
        .route(CONTINUE, get(continue_sign_in))
        .route("/saml/idp/{app_id}", get(idp_initiated))
        .route("/saml/slo", get(slo_redirect).post(slo_post))
        .route("/saml/post.js", get(post_script))
}

/// The tenant's IdP as reached at `origin` (which is its `address`): the entity id is the
/// metadata's URL.
pub(crate) fn idp(tenant: &Tenant, origin: &str, address: &SiteAddress) -> Idp {
    Idp {
        tenant: tenant.id,
        entity_id: format!("{origin}/saml/metadata"),
        single_sign_on: format!("{origin}/saml/sso"),
        single_logout: format!("{origin}/saml/slo"),
        common_name: tenant.cloud_id.to_string(),
        address: address.clone(),
    }
}

/// The file name a download of this site's `what` gets: the domain first, so an admin who
/// serves several associations (or a test and a live domain) can tell the files apart.
fn download_name(origin: &str, what: &str) -> String {
    let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let domain = host.split(':').next().unwrap_or(host);
    format!("{domain}-{what}")
}

/// `Content-Disposition` for saving this site's `what` as a file named by [`download_name`].
fn attachment(origin: &str, what: &str) -> String {
    format!("attachment; filename=\"{}\"", download_name(origin, what))
}

/// `?download` asks for the document as a file to save (the dashboard's Download buttons; the
/// `download` attribute of a link to another origin is ignored by browsers).
fn as_download(query: Option<&str>, origin: &str, what: &str) -> Option<(HeaderName, String)> {
    let asked = query.is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == "download")
    });
    asked.then(|| (header::CONTENT_DISPOSITION, attachment(origin, what)))
}

async fn metadata(
    State(state): State<SiteState>,
    located: Located,
    RawQuery(query): RawQuery,
) -> Result<Response, SiteError> {
    let idp = idp(&located.tenant, &located.origin, &located.address);
    let keys = &state.site.saml.keys;
    let now = Timestamp::now();
    // The first read of a tenant's metadata makes its signing key.
    keys.signing_key(idp.tenant, &idp.common_name, now).await?;
    let certificates = keys.certificates(idp.tenant, now).await?;
    let endpoints = IdpEndpoints {
        entity_id: &idp.entity_id,
        single_sign_on: &idp.single_sign_on,
        single_logout: &idp.single_logout,
    };
    let xml = idp_metadata(&endpoints, &certificates);
    let download = as_download(query.as_deref(), &located.origin, "idp-metadata.xml");
    Ok((
        [
            (header::CONTENT_TYPE, "application/samlmetadata+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        download.map(|header| [header]),
        xml,
    )
        .into_response())
}

/// The signing certificate alone, for service providers configured by hand.
async fn certificate(
    State(state): State<SiteState>,
    located: Located,
) -> Result<Response, SiteError> {
    let idp = idp(&located.tenant, &located.origin, &located.address);
    let keys = &state.site.saml.keys;
    let key = keys.signing_key(idp.tenant, &idp.common_name, Timestamp::now());
    let pem = certificate_pem(&key.await?.certificate_der);
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                header::CONTENT_DISPOSITION,
                attachment(&located.origin, "idp-signing-certificate.pem"),
            ),
        ],
        pem,
    )
        .into_response())
}

/// The HTTP-POST binding's form fields.
#[derive(Deserialize)]
struct SamlForm {
    #[serde(rename = "SAMLRequest")]
    request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn sso_redirect(
    State(state): State<SiteState>,
    visitor: Visitor,
    RawQuery(query): RawQuery,
) -> Response {
    let incoming = IncomingMessage::redirect(query.as_deref().unwrap_or_default(), "SAMLRequest");
    sso(state, visitor, incoming).await
}

async fn sso_post(
    State(state): State<SiteState>,
    visitor: Visitor,
    form: Result<Form<SamlForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return form_refused(&visitor.site, &rejection),
    };
    let incoming = form
        .request
        .map(|request| IncomingMessage::post(request, form.relay_state));
    sso(state, visitor, incoming).await
}

async fn sso(state: SiteState, visitor: Visitor, incoming: Option<IncomingMessage>) -> Response {
    let site = &visitor.site;
    let Some(incoming) = incoming else {
        return bad_request(site, "There is no SAML request in this address.");
    };
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let saml = &state.site.saml;
    let received = saml.receive_authn_request(&idp, &incoming, Timestamp::now());
    let received = received.await;
    let (app, accepted) = match &received {
        Ok(received) => (
            Some(received.pending.app_id.as_str()),
            Ok(received.signature.describe()),
        ),
        Err(refusal) => (None, Err(refusal)),
    };
    let (tenant, kind) = (site.tenant.id, Kind::AuthnRequest);
    recording::received(&state, tenant, kind, &incoming, app, accepted).await;
    answer_received(&state, &visitor, &idp, received).await
}

/// A request just accepted is answered at once (or sent through the sign-in page).
pub(super) async fn answer_received(
    state: &SiteState,
    visitor: &Visitor,
    idp: &Idp,
    received: Result<Received, SsoRefusal>,
) -> Response {
    match received {
        Ok(received) => {
            let (token, arrival) = (&received.token, Arrival::JustReceived);
            answer(state, visitor, idp, token, received.pending, arrival).await
        }
        Err(refusal) => refused(state, &visitor.site, idp, refusal, None).await,
    }
}

#[derive(Deserialize)]
struct RelayStateQuery {
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The IdP-initiated sign-in link an admin copies from the dashboard.
async fn idp_initiated(
    State(state): State<SiteState>,
    visitor: Visitor,
    Path(app_id): Path<String>,
    Query(query): Query<RelayStateQuery>,
) -> Response {
    let idp = idp(
        &visitor.site.tenant,
        &visitor.site.origin,
        &visitor.site.address,
    );
    let relay_state = query.relay_state.as_deref();
    let saml = &state.site.saml;
    let received = saml.start_idp_initiated(&idp, &app_id, relay_state, Timestamp::now());
    let received = received.await;
    let tenant = visitor.site.tenant.id;
    let refusal = received.as_ref().err();
    recording::idp_initiated(&state, tenant, &app_id, relay_state, refusal).await;
    answer_received(&state, &visitor, &idp, received).await
}

#[derive(Deserialize)]
struct ContinueQuery {
    #[serde(default)]
    request: String,
}

/// Back from the hosted sign-in page.
async fn continue_sign_in(
    State(state): State<SiteState>,
    visitor: Visitor,
    Query(query): Query<ContinueQuery>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let saml = &state.site.saml;
    let pending = saml.pending(site.tenant.id, &query.request, Timestamp::now());
    Ok(match pending.await? {
        Some(pending) => {
            let (token, arrival) = (&query.request, Arrival::BackFromSignIn);
            answer(&state, &visitor, &idp, token, pending, arrival).await
        }
        None => already_finished(site),
    })
}

/// Answers a pending request as the engine decides: with an assertion about the signed-in
/// member, through the hosted sign-in page (again), or `NoPassive`.
async fn answer(
    state: &SiteState,
    visitor: &Visitor,
    idp: &Idp,
    token: &str,
    pending: PendingSso,
    arrival: Arrival,
) -> Response {
    let site = &visitor.site;
    let facts = visitor.member.as_ref().map(|(session, token)| SsoSession {
        token,
        signed_in_at: session.created_at,
    });
    let saml = &state.site.saml;
    let decided = saml.decide(
        site.tenant.id,
        token,
        &pending,
        facts,
        arrival,
        Timestamp::now(),
    );
    let resume = format!("{CONTINUE}?request={token}");
    match (decided.await, &visitor.member) {
        (Ok(SsoDecision::Answer), Some((session, session_token))) => {
            assertion(state, site, idp, token, &pending, session, session_token).await
        }
        (Ok(SsoDecision::NoPassive(answer)), _) => {
            let refusal = SsoRefusal::Status(answer);
            refused(state, site, idp, refusal, Some(token)).await
        }
        // A sign-in again ends nothing: the session stays until the member signs in.
        (Ok(SsoDecision::SignIn { again: true }), _) => {
            Redirect::to(&super::site::sign_in_again_url(&resume)).into_response()
        }
        (Ok(SsoDecision::SignIn { .. }), _) => {
            Redirect::to(&format!("/login?return_to={}", query_value(&resume))).into_response()
        }
        (Ok(SsoDecision::Answer), None) => unavailable(&"an answer without a session"),
        (Err(error), _) => unavailable(&error),
    }
}

/// The signed assertion about the member for the pending request, posted on to its service
/// provider, and the sign-in recorded for the tenant's admins.
async fn assertion(
    state: &SiteState,
    site: &Site,
    idp: &Idp,
    token: &str,
    pending: &PendingSso,
    session: &vestibule_members::MemberSession,
    session_token: &str,
) -> Response {
    let member = &session.member;
    let session = saml_session(session, session_token);
    let answered = state
        .site
        .saml
        .respond(idp, token, &session, Timestamp::now());
    match answered.await {
        Ok(Some(message)) => {
            let destination = Destination::Saml {
                name: &pending.app_name,
                app_id: &pending.app_id,
            };
            let who = audit::Who::Member(&member.username);
            audit::record(
                &state.site,
                site.tenant.id,
                who,
                destination,
                SignInOutcome::SignedIn,
            )
            .await;
            let (tenant, app) = (site.tenant.id, pending.app_id.as_str());
            let member = Some(member.username.as_str());
            recording::response_sent(state, tenant, app, member, &message, None).await;
            post_page(site, &pending.app_name, &message)
        }
        Ok(None) => already_finished(site),
        Err(error) => unavailable(&error),
    }
}

/// The member's session as the SAML engine sees it: who, since when, until when.
fn saml_session<'a>(
    session: &'a vestibule_members::MemberSession,
    session_token: &'a str,
) -> MemberSession<'a> {
    let member = &session.member;
    MemberSession {
        session_token,
        principal: Principal {
            subject: &member.subject,
            id: &member.id,
            username: &member.username,
            email: &member.email,
            attributes: &member.attributes,
        },
        authn_instant: session.created_at,
        expires_at: session.expires_at,
    }
}

async fn refused(
    state: &SiteState,
    site: &Site,
    idp: &Idp,
    refusal: SsoRefusal,
    token: Option<&str>,
) -> Response {
    match refusal {
        SsoRefusal::Page(message) => bad_request(site, &sentence(&message)),
        SsoRefusal::Status(answer) => {
            tracing::info!(app = %answer.app_id, status = ?answer.sub_status, message = %answer.message, "SAML request refused with a status");
            let app_name = match state
                .site
                .saml
                .apps
                .get(site.tenant.id, &answer.app_id)
                .await
            {
                Ok(app) => app.name,
                Err(error) => return unavailable(&error),
            };
            match state
                .site
                .saml
                .refuse(idp, &answer, token, Timestamp::now())
                .await
            {
                Ok(message) => {
                    let (tenant, app) = (site.tenant.id, answer.app_id.as_str());
                    let reason = Some(answer.message.as_str());
                    recording::response_sent(state, tenant, app, None, &message, reason).await;
                    post_page(site, &app_name, &message)
                }
                Err(error) => unavailable(&error),
            }
        }
        SsoRefusal::Failed(error) => unavailable(&error),
    }
}

/// `the request is too old` → `The request is too old.`
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

/// A POST the form extractor refused (too large, or not a form), as the branded error page
/// with the extractor's status (413 or 400).
fn form_refused(site: &Site, rejection: &FormRejection) -> Response {
    let (status, message) = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The SAML message is larger than this sign-in service accepts.",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "The SAML message did not arrive as a form (SAMLRequest or SAMLResponse).",
        ),
    };
    page(
        site,
        status,
        "This sign-in request cannot be used",
        message,
        "Go back to the site you came from and try again. If it keeps happening, tell its \
         support team.",
    )
}

fn bad_request(site: &Site, message: &str) -> Response {
    page(
        site,
        StatusCode::BAD_REQUEST,
        "This sign-in request cannot be used",
        message,
        "Go back to the site you came from and try again. If it keeps happening, tell its \
         support team.",
    )
}

fn already_finished(site: &Site) -> Response {
    page(
        site,
        StatusCode::BAD_REQUEST,
        "This sign-in has already finished",
        "The sign-in this page belongs to was completed or has expired. This happens after \
         using the browser's Back button or leaving the page open for a while.",
        "Go back to the site you came from and sign in again.",
    )
}

/// The page that posts a signed message on to a service provider. Its policy lets exactly one
/// script run: our own, which submits the form.
fn post_page(site: &Site, application: &str, message: &PostMessage) -> Response {
    let html = pages::saml_post(
        &site.branding,
        application,
        &SamlPost {
            url: &message.url,
            field: message.field,
            value: &message.value,
            relay_state: message.relay_state.as_deref(),
        },
    );
    pages::with_own_scripts(html)
}

async fn post_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        "document.getElementById('saml-post').submit();\n",
    )
        .into_response()
}

async fn slo_redirect(
    State(state): State<SiteState>,
    visitor: Visitor,
    RawQuery(query): RawQuery,
) -> Result<Response, SiteError> {
    let query = query.unwrap_or_default();
    let incoming = IncomingMessage::redirect(&query, "SAMLRequest")
        .map(Slo::Request)
        .or_else(|| IncomingMessage::redirect(&query, "SAMLResponse").map(Slo::Response));
    slo(state, visitor, incoming).await
}

async fn slo_post(
    State(state): State<SiteState>,
    visitor: Visitor,
    form: Result<Form<SamlForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Ok(form_refused(&visitor.site, &rejection)),
    };
    let incoming = match (form.request, form.response) {
        (Some(request), _) => Some(Slo::Request(IncomingMessage::post(
            request,
            form.relay_state,
        ))),
        (None, Some(response)) => Some(Slo::Response(IncomingMessage::post(
            response,
            form.relay_state,
        ))),
        (None, None) => None,
    };
    slo(state, visitor, incoming).await
}

enum Slo {
    Request(IncomingMessage),
    Response(IncomingMessage),
}

/// Single logout: a service provider asks to end the member's session (and is answered after
/// the session's other service providers are told), or answers our own LogoutRequest.
async fn slo(
    state: SiteState,
    visitor: Visitor,
    incoming: Option<Slo>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let (saml, now) = (&state.site.saml, Timestamp::now());
    let incoming = match incoming {
        None => {
            return Ok(bad_request(
                site,
                "There is no SAML logout message in this address.",
            ))
        }
        Some(Slo::Response(incoming)) => {
            let step = saml.continue_logout(&idp, &incoming, now).await;
            let accepted = step.as_ref().map(|_| "");
            let (tenant, kind) = (site.tenant.id, Kind::LogoutResponse);
            recording::received(&state, tenant, kind, &incoming, None, accepted).await;
            return Ok(match step {
                Err(refusal) => refused(&state, site, &idp, refusal, None).await,
                ok => logout_step(site, ok),
            });
        }
        Some(Slo::Request(incoming)) => incoming,
    };
    logout_request(&state, &visitor, &idp, &incoming, now).await
}

/// A service provider's LogoutRequest: ends this browser's session when it names it, tells the
/// other service providers, and answers the one that asked.
async fn logout_request(
    state: &SiteState,
    visitor: &Visitor,
    idp: &Idp,
    incoming: &IncomingMessage,
    now: Timestamp,
) -> Result<Response, SiteError> {
    let (site, saml) = (&visitor.site, &state.site.saml);
    let received = saml.receive_logout_request(idp, incoming, now).await;
    let (tenant, kind) = (site.tenant.id, Kind::LogoutRequest);
    let (app, accepted) = match &received {
        Ok(received) => (
            Some(received.app.app_id.as_str()),
            Ok(received.signature.describe()),
        ),
        Err(refusal) => (None, Err(refusal)),
    };
    recording::received(state, tenant, kind, incoming, app, accepted).await;
    let ReceivedLogout {
        app,
        request,
        relay_state,
        ..
    } = match received {
        Ok(received) => received,
        Err(refusal) => return Ok(refused(state, site, idp, refusal, None).await),
    };
    // A request naming someone else leaves this browser's session alone.
    let ends = match visitor.session_token() {
        Some(token) => saml
            .logout_names_session(&app, &request, token)
            .await?
            .then_some(token),
        None => None,
    };
    let status = logout_status(visitor.session().is_some(), ends.is_some());
    if let Some(token) = ends {
        state.site.members.sign_out(token).await?;
    }
    let answer = Some((&app, &request, relay_state, status));
    let step = saml.begin_logout(idp, ends, answer, now).await;
    let mut response = logout_step(site, step.map_err(SsoRefusal::Failed));
    if ends.is_some() {
        cookies::append(&mut response, &session_cookie_removal());
    }
    Ok(response)
}

fn logout_step(site: &Site, step: Result<LogoutStep, SsoRefusal>) -> Response {
    match step {
        Ok(LogoutStep::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(LogoutStep::Post { app_name, message }) => post_page(site, &app_name, &message),
        Ok(LogoutStep::Done) => pages::signed_out(&site.branding).into_response(),
        Err(SsoRefusal::Page(message)) => bad_request(site, &sentence(&message)),
        Err(SsoRefusal::Status(_)) => unavailable(&"a logout step that is a status"),
        Err(SsoRefusal::Failed(error)) => unavailable(&error),
    }
}

/// After the member signs out on the tenant's domain: every SAML service provider the session
/// signed in to is sent a LogoutRequest, one after the other, and the signed-out page ends it.
pub(crate) async fn logout_everywhere(
    state: &SiteState,
    site: &Site,
    session_token: Option<&str>,
) -> Response {
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let step = state
        .site
        .saml
        .begin_logout(&idp, session_token, None, Timestamp::now())
        .await
        .map_err(SsoRefusal::Failed);
    logout_step(site, step)
}
