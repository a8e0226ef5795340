//! The OpenID Connect provider's endpoints on a tenant's domain: discovery, JWKS, authorization
//! (with the hosted sign-in and consent), token, userinfo, introspection, revocation and
//! RP-initiated logout. Decisions live in `vestibule-oidc`; this maps HTTP to them, once.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use vestibule_domain::{web_origin, TenantId, Timestamp};
use vestibule_members::{Member, MemberSession, MembersError, SignInAttempt};
use vestibule_oidc::{
    client_credentials, decide_logout, discovery_document, grant_request, jwks,
    password_grant_scopes, paths, AuthorizationRequest, Client, ConsentAnswer, ConsentDecision,
    Decision, GrantRequest, ImplicitResponse, LogoutDecision, LogoutHint, OAuthErrorCode,
    OidcError, RedirectError, ResponseMode, ResponseType, SessionFacts, Subject, TokenError,
};

use super::audit::{self, Destination};
use super::pages::{self, query_value};
use super::recording;
use super::site::{
    client_address, forbidden, page, session_cookie_removal, unavailable, FromThisSite, Located,
    Site, SiteError, SiteState, Visitor,
};
use crate::cookies;
use vestibule_members::SignInOutcome;

type Params = Vec<(String, String)>;

pub(crate) fn routes() -> Router<SiteState> {
    Router::new()
        .route(paths::DISCOVERY, get(discovery))
        .route(paths::JWKS, get(jwks_document))
        .route(paths::AUTHORIZE, get(authorize).post(authorize_form))
        .route("/oidc/consent", post(consent))
        .route(paths::TOKEN, post(token))
        .route(paths::USERINFO, get(userinfo).post(userinfo_form))
        .route(paths::INTROSPECT, post(introspect))
        .route(paths::REVOKE, post(revoke))
        .route(
            paths::END_SESSION,
            get(end_session).post(end_session_confirmed),
        )
}

/// The endpoints a single-page application calls from the browser with a token or code.
const CORS_PATHS: [&str; 4] = [
    paths::TOKEN,
    paths::USERINFO,
    paths::INTROSPECT,
    paths::REVOKE,
];

/// CORS for the back-channel endpoints (Fetch standard): a browser application may call them
/// from an origin one of the tenant's applications registered a redirect URI on, and from no
/// other. Preflights are answered here (they used to get 405, so a single-page application
/// could not send its Bearer token); an origin not registered gets no CORS headers, and the
/// browser keeps the answer from the page.
pub(crate) async fn cors(
    State(state): State<SiteState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !CORS_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let allowed = match &origin {
        Some(origin) => registered_origin(&state, request.headers(), origin).await,
        None => false,
    };
    let preflight = request.method() == axum::http::Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (true, Some(origin)) = (allowed, origin) {
        allow_origin(headers, &origin, preflight);
    }
    response
}

/// The CORS headers that let a registered application's page at `origin` read the answer.
fn allow_origin(headers: &mut HeaderMap, origin: &str, preflight: bool) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    if preflight {
        let allow = [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ];
        for (name, value) in allow {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Whether `origin` is the origin of a redirect URI one of the tenant's applications used on
/// this domain registered.
async fn registered_origin(state: &SiteState, headers: &HeaderMap, origin: &str) -> bool {
    let Ok(site) = state.located(headers).await else {
        return false;
    };
    let Ok(clients) = state.site.oidc.clients.list(site.tenant.id).await else {
        return false;
    };
    let served = |client: &&Client| site.address.serves(client.settings.domain.as_deref());
    clients.iter().filter(served).any(|client| {
        client
            .settings
            .redirect_uris
            .iter()
            .filter_map(|uri| web_origin(uri))
            .any(|registered| registered == origin)
    })
}

/// Metadata and keys are public and read by browsers' JavaScript too.
fn public_json(value: Value) -> Response {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        Json(value),
    )
        .into_response()
}

async fn discovery(located: Located) -> Response {
    public_json(discovery_document(&located.origin))
}

/// The keys of the algorithms the tenant's applications use (see `SigningKeys::publish`).
async fn jwks_document(
    State(state): State<SiteState>,
    located: Located,
) -> Result<Response, SiteError> {
    let oidc = &state.site.oidc;
    let clients = oidc.clients.list(located.tenant.id).await?;
    let mut in_use: Vec<_> = clients.iter().map(|c| c.settings.algorithm).collect();
    in_use.sort_by_key(|algorithm| algorithm.as_str());
    in_use.dedup();
    let keys = oidc
        .keys
        .publish(located.tenant.id, &in_use, Timestamp::now());
    Ok(public_json(jwks(&keys.await?)))
}

fn subject(member: &Member) -> Subject {
    Subject {
        sub: member.subject.clone(),
        attributes: member.attributes.clone(),
    }
}

fn encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends the answer to the application's redirect URI, in the query or the fragment.
fn to_application(
    redirect_uri: &str,
    mode: ResponseMode,
    mut pairs: Vec<(&str, String)>,
    state: Option<&str>,
) -> Response {
    if let Some(state) = state {
        pairs.push(("state", state.to_string()));
    }
    let encoded = encode(&pairs);
    if encoded.is_empty() {
        return Redirect::to(redirect_uri).into_response();
    }
    let location = match mode {
        ResponseMode::Query if redirect_uri.contains('?') => format!("{redirect_uri}&{encoded}"),
        ResponseMode::Query => format!("{redirect_uri}?{encoded}"),
        ResponseMode::Fragment => format!("{redirect_uri}#{encoded}"),
    };
    Redirect::to(&location).into_response()
}

/// An error for the application's redirect URI.
fn redirect_error(error: RedirectError) -> Response {
    to_application(
        &error.redirect_uri,
        error.response_mode,
        vec![
            ("error", error.error.to_string()),
            ("error_description", error.description),
        ],
        error.state.as_deref(),
    )
}

fn invalid_link(site: &Site, message: &str) -> Response {
    page(
        site,
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        message,
        "Go back to the site you came from and try again, or tell its support team.",
    )
}

async fn authorize(
    State(state): State<SiteState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, SiteError> {
    authorize_with(state, visitor, params).await
}

/// OpenID Connect Core §3.1.2.1: the authorization endpoint takes POST (form) as well as GET.
async fn authorize_form(
    State(state): State<SiteState>,
    visitor: Visitor,
    Form(params): Form<Params>,
) -> Result<Response, SiteError> {
    authorize_with(state, visitor, params).await
}

/// The member's session as the engine's decisions see it.
fn facts(session: Option<&vestibule_members::MemberSession>) -> Option<SessionFacts<'_>> {
    session.map(|session| SessionFacts {
        subject: &session.member.subject,
        signed_in_at: session.created_at,
    })
}

/// The authorization endpoint: the engine decides, this translates.
async fn authorize_with(
    state: SiteState,
    visitor: Visitor,
    params: Params,
) -> Result<Response, SiteError> {
    let (site, now) = (&visitor.site, Timestamp::now());
    let facts = facts(visitor.session());
    let authorizer = &state.site.oidc.authorizer;
    let decision = authorizer
        .decide(site.tenant.id, &site.address, &params, facts, now)
        .await?;
    recording::refused_authorization(&state, site.tenant.id, &params, &decision).await;
    Ok(match (decision, visitor.session()) {
        (Decision::Issue { client, request }, Some(session)) => {
            answer_signed_in(&state, site, &client, &request, session, now).await
        }
        (decision, session) => {
            let name = session.map(|s| s.member.name.as_str());
            respond_otherwise(site, decision, name)
        }
    })
}

/// Every decision but issuing: a page, an error for the application, the sign-in page or the
/// consent page.
fn respond_otherwise(site: &Site, decision: Decision, member: Option<&str>) -> Response {
    match decision {
        Decision::ErrorPage(message) => invalid_link(site, &message),
        Decision::ErrorRedirect(error) => redirect_error(error),
        // A forced sign-in ends nothing: the session stays until the member signs in again.
        // The ID token's auth_time tells the application which sign-in it got.
        Decision::SignIn {
            resume,
            again: true,
        } => Redirect::to(&super::site::sign_in_again_url(&resume)).into_response(),
        Decision::SignIn { resume, .. } => {
            Redirect::to(&format!("/login?return_to={}", query_value(&resume))).into_response()
        }
        Decision::AskConsent {
            client,
            scopes,
            resume,
        } => pages::consent(
            &site.branding,
            &client.name,
            member.unwrap_or_default(),
            &scopes,
            &resume,
        )
        .into_response(),
        Decision::Issue { .. } => unavailable(&"an answer without a session"),
    }
}

/// Issues what the request asked for to the signed-in member and records the sign-in.
async fn answer_signed_in(
    state: &SiteState,
    site: &Site,
    client: &Client,
    request: &AuthorizationRequest,
    session: &vestibule_members::MemberSession,
    now: Timestamp,
) -> Response {
    let answer = respond(
        state,
        site,
        client,
        request,
        &session.member,
        session.created_at,
        now,
    );
    let answer = answer.await;
    if answer.status().is_redirection() {
        let destination = Destination::Oidc {
            name: &client.name,
            client_id: &client.client_id,
        };
        let member = &session.member.username;
        let who = audit::Who::Member(member);
        audit::record(
            &state.site,
            site.tenant.id,
            who,
            destination,
            SignInOutcome::SignedIn,
        )
        .await;
    }
    answer
}

/// Issues what the request asked for to `member` and sends it to the application.
async fn respond(
    state: &SiteState,
    site: &Site,
    client: &Client,
    request: &AuthorizationRequest,
    member: &Member,
    auth_time: Timestamp,
    now: Timestamp,
) -> Response {
    let (grants, subject) = (&state.site.oidc.grants, subject(member));
    let pairs = match request.response_type {
        ResponseType::Code => {
            match grants
                .issue_code(site.tenant.id, request, subject, auth_time, now)
                .await
            {
                Ok(code) => vec![("code", code)],
                Err(error) => return unavailable(&error),
            }
        }
        ResponseType::Token | ResponseType::IdTokenToken => {
            match grants
                .issue_implicit(&site.origin, client, request, subject, auth_time, now)
                .await
            {
                Ok(issued) => implicit_pairs(issued),
                Err(error) => return unavailable(&error),
            }
        }
    };
    recording::answered_authorization(state, site.tenant.id, request, &member.username, &pairs)
        .await;
    to_application(
        &request.redirect_uri,
        request.response_mode,
        pairs,
        request.state.as_deref(),
    )
}

/// The implicit flow's answer: the tokens themselves, in the fragment (OAuth 2.0 §4.2.2).
fn implicit_pairs(issued: ImplicitResponse) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("access_token", issued.access_token),
        ("token_type", "Bearer".to_string()),
        ("expires_in", issued.expires_in.to_string()),
    ];
    if let Some(id_token) = issued.id_token {
        pairs.push(("id_token", id_token));
    }
    pairs
}

#[derive(serde::Deserialize)]
struct ConsentForm {
    /// The authorization request to resume (`/oidc/authorize?…`).
    request: String,
    decision: String,
}

/// The consent page's answer. The engine checks the request again from scratch: the form is
/// only a member's yes or no, never a way around the checks.
async fn consent(
    State(state): State<SiteState>,
    _: FromThisSite,
    visitor: Visitor,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let Ok(Form(form)) = form else {
        return Ok(page(
            site,
            StatusCode::BAD_REQUEST,
            "The answer did not arrive",
            "The consent form came back incomplete.",
            "Go back to the site you came from and sign in again.",
        ));
    };
    let answer = match form.decision.as_str() {
        "allow" => ConsentAnswer::Allow,
        _ => ConsentAnswer::Deny,
    };
    let (tenant, now) = (site.tenant.id, Timestamp::now());
    let authorizer = &state.site.oidc.authorizer;
    let facts = facts(visitor.session());
    let address = &site.address;
    let decided = authorizer.decide_consent(tenant, address, &form.request, answer, facts, now);
    Ok(match (decided.await?, visitor.session()) {
        (ConsentDecision::Refused(decision), _) => respond_otherwise(site, decision, None),
        (ConsentDecision::Denied { client, refusal }, session) => {
            record_denial(&state, tenant, session, &client).await;
            let member = session.map(|session| session.member.username.as_str());
            recording::consent_denied(&state, tenant, &client, member, &refusal).await;
            redirect_error(refusal)
        }
        (ConsentDecision::Again { to }, _) => Redirect::to(&to).into_response(),
        (ConsentDecision::Issue { client, request }, Some(session)) => {
            answer_signed_in(&state, site, &client, &request, session, now).await
        }
        (ConsentDecision::Issue { .. }, None) => unavailable(&"consent without a session"),
    })
}

/// A member said no to sharing their details: their admins see it beside the sign-ins.
async fn record_denial(
    state: &SiteState,
    tenant: TenantId,
    session: Option<&MemberSession>,
    client: &Client,
) {
    let who = match session {
        Some(session) => audit::Who::Member(&session.member.username),
        None => audit::Who::Typed(""),
    };
    let destination = Destination::Oidc {
        name: &client.name,
        client_id: &client.client_id,
    };
    audit::record(
        &state.site,
        tenant,
        who,
        destination,
        SignInOutcome::AccessDenied,
    )
    .await;
}

// --- the back channel: JSON endpoints for the applications' servers --------------------------

/// A back-channel answer other than success: an OAuth error (RFC 6749 §5.2), the wait after
/// too many failed client authentications (RFC 6585 §4), or the site's own failure.
enum BackChannelError {
    /// `basic`: the client authenticated with HTTP Basic, so `invalid_client` asks for
    /// credentials again, as the RFC says.
    OAuth {
        error: TokenError,
        basic: bool,
    },
    TooManyAttempts(vestibule_domain::Seconds),
    Site(SiteError),
}

impl IntoResponse for BackChannelError {
    fn into_response(self) -> Response {
        match self {
            BackChannelError::OAuth { error, basic } => oauth_error(&error, basic),
            BackChannelError::TooManyAttempts(retry_after) => too_many_attempts(retry_after),
            BackChannelError::Site(error) => error.into_response(),
        }
    }
}

impl From<TokenError> for BackChannelError {
    fn from(error: TokenError) -> Self {
        BackChannelError::OAuth {
            error,
            basic: false,
        }
    }
}

impl<E: Into<SiteError>> From<E> for BackChannelError {
    fn from(error: E) -> Self {
        BackChannelError::Site(error.into())
    }
}

/// An OAuth error answer with the status its code calls for.
fn oauth_error(error: &TokenError, basic: bool) -> Response {
    let status = match error.error {
        OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let code = error.error.as_str();
    let mut response = (
        status,
        Json(json!({ "error": code, "error_description": error.description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED && basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"token\""),
        );
    }
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn token_error(error: OAuthErrorCode, description: &str) -> TokenError {
    TokenError::new(error, description)
}

/// Who is calling a back-channel endpoint. `require_secret`: introspection and revocation are
/// for confidential applications only.
async fn calling_client(
    state: &SiteState,
    located: &Located,
    headers: &HeaderMap,
    extensions: &Extensions,
    form: &Params,
    require_secret: bool,
) -> Result<Client, BackChannelError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let basic = authorization.is_some();
    let credentials = client_credentials(authorization, form)
        .map_err(|error| BackChannelError::OAuth { error, basic })?;
    // A public application identifies itself by its id alone; PKCE protects its codes.
    let address = client_address(extensions);
    let caller = state.site.oidc.clients.authenticate_caller(
        located.tenant.id,
        &credentials.client_id,
        credentials.secret.as_deref(),
        require_secret,
        &address,
        Timestamp::now(),
    );
    match caller.await {
        // An application used on another of the tenant's domains is unknown here, like one
        // of another tenant: its codes and tokens carry that domain's issuer.
        Ok(client) if located.address.serves(client.settings.domain.as_deref()) => Ok(client),
        Ok(_) | Err(OidcError::InvalidClient) => Err(BackChannelError::OAuth {
            error: token_error(
                OAuthErrorCode::InvalidClient,
                "client authentication failed",
            ),
            basic,
        }),
        Err(OidcError::TooManyAttempts { retry_after }) => {
            Err(BackChannelError::TooManyAttempts(retry_after))
        }
        Err(error) => Err(error.into()),
    }
}

/// The form body of a back-channel request, or the OAuth error for what arrived instead.
fn form_body(form: Result<Form<Params>, FormRejection>) -> Result<Params, BackChannelError> {
    let rejection = match form {
        Ok(Form(params)) => return Ok(params),
        Err(rejection) => rejection,
    };
    let (status, description) = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (rejection.status(), "the request body is too large"),
        _ => (
            StatusCode::BAD_REQUEST,
            "send an application/x-www-form-urlencoded body",
        ),
    };
    let mut response = oauth_error(
        &token_error(OAuthErrorCode::InvalidRequest, description),
        false,
    );
    *response.status_mut() = status;
    Err(BackChannelError::Site(SiteError::Respond(Box::new(
        response,
    ))))
}

/// RFC 6585 §4: wait `retry_after` before authenticating again from this address.
fn too_many_attempts(retry_after: vestibule_domain::Seconds) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "error": "temporarily_unavailable",
            "error_description": format!(
                "too many failed client authentications from this address; retry after {} seconds",
                retry_after.0
            ),
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.0));
    no_store(response)
}

async fn token(
    State(state): State<SiteState>,
    located: Located,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<Params>, FormRejection>,
) -> Result<Response, BackChannelError> {
    let form = form_body(form)?;
    let mut member = None;
    let answered = token_answer(&state, &located, &headers, &extensions, &form, &mut member).await;
    let recorded = match &answered {
        Ok(issued) => Ok(serde_json::to_value(issued).unwrap_or_default()),
        Err(error) => Err(token_refusal(error)),
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let named = client_credentials(authorization, &form).ok();
    let client_id = named.as_ref().map(|named| named.client_id.as_str());
    let tenant = located.tenant.id;
    recording::token(
        &state,
        tenant,
        client_id,
        &form,
        member.as_deref(),
        recorded,
    )
    .await;
    Ok(no_store(Json(answered?).into_response()))
}

/// Why a token request was refused and what it was answered, for the flight recorder.
fn token_refusal(error: &BackChannelError) -> (String, Value) {
    match error {
        BackChannelError::OAuth { error, .. } => (
            format!("{}: {}", error.error.as_str(), error.description),
            json!({ "error": error.error.as_str(), "error_description": error.description }),
        ),
        BackChannelError::TooManyAttempts(retry_after) => (
            format!(
                "too many failed client authentications from this address; retry after {} \
                 seconds",
                retry_after.0
            ),
            json!({ "error": "temporarily_unavailable" }),
        ),
        BackChannelError::Site(_) => (
            "the server could not answer (see its log)".to_string(),
            Value::Null,
        ),
    }
}

/// The token endpoint's answer to a form; `member` is set to the username a password grant
/// named.
async fn token_answer(
    state: &SiteState,
    located: &Located,
    headers: &HeaderMap,
    extensions: &Extensions,
    form: &Params,
    member: &mut Option<String>,
) -> Result<vestibule_oidc::TokenResponse, BackChannelError> {
    let client = calling_client(state, located, headers, extensions, form, false).await?;
    let (grants, now) = (&state.site.oidc.grants, Timestamp::now());
    let issued = match grant_request(form)? {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let (redirect_uri, verifier) = (redirect_uri.as_deref(), code_verifier.as_deref());
            let redeemed =
                grants.redeem_code(&located.origin, &client, &code, redirect_uri, verifier, now);
            redeemed.await??
        }
        GrantRequest::Password {
            username,
            password,
            scope,
        } => {
            *member = Some(username.clone());
            let member = password_member(state, located, &client, extensions, username, password);
            let (member, scopes) = member.await.map(|member| (member, scope))?;
            let scopes = password_grant_scopes(scopes.as_deref())?;
            let issued =
                grants.issue_for_password(&located.origin, &client, subject(&member), scopes, now);
            issued.await?
        }
    };
    Ok(issued)
}

/// The member a password grant names, with their password checked and the attempt recorded
/// for the tenant's admins. Only applications that enable the grant may use it.
async fn password_member(
    state: &SiteState,
    located: &Located,
    client: &Client,
    extensions: &Extensions,
    username: String,
    password: String,
) -> Result<Member, BackChannelError> {
    if !client.settings.allow_password {
        let why = "the password grant is not enabled for this application";
        return Err(token_error(OAuthErrorCode::UnauthorizedClient, why).into());
    }
    let (tenant, address) = (located.tenant.id, client_address(extensions));
    let members = &state.site.members;
    let destination = Destination::Oidc {
        name: &client.name,
        client_id: &client.client_id,
    };
    let application = destination.label();
    let attempt = SignInAttempt::by(&address).to_application(&application);
    let verified = members.verify_password(tenant, &username, &password, attempt, Timestamp::now());
    let verified = verified.await;
    let (who, outcome) = match &verified {
        Ok(member) => (
            audit::Who::Member(&member.username),
            SignInOutcome::SignedIn,
        ),
        Err(error) => (audit::Who::Typed(&username), error.outcome()),
    };
    audit::record(&state.site, tenant, who, destination, outcome).await;
    verified.map_err(password_grant_error)
}

/// Why a password grant was refused, in the token endpoint's words (RFC 6749 §5.2). A wrong
/// password and a locked-out username read the same, so neither can be told apart.
fn password_grant_error(error: MembersError) -> BackChannelError {
    match error {
        MembersError::BadCredentials | MembersError::TooManyAttempts { .. } => token_error(
            OAuthErrorCode::InvalidGrant,
            "the username or password is not right",
        )
        .into(),
        MembersError::ImisUnavailable(_)
        | MembersError::NotConfigured(_)
        | MembersError::ProfileUnavailable(_)
        | MembersError::ClientRefused(_) => token_error(
            OAuthErrorCode::TemporarilyUnavailable,
            "the membership system cannot verify passwords right now",
        )
        .into(),
        error => error.into(),
    }
}

/// RFC 6750 §3: a missing or bad bearer token is a 401 that says so.
fn bearer_refused(error: Option<&str>) -> Response {
    bearer_error(StatusCode::UNAUTHORIZED, error)
}

/// RFC 6750 §3: the challenge, with the error code when the request carried a token.
fn bearer_error(status: StatusCode, error: Option<&str>) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer error=\"{error}\""),
        None => "Bearer".to_string(),
    };
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

async fn userinfo(
    State(state): State<SiteState>,
    located: Located,
    headers: HeaderMap,
) -> Result<Response, SiteError> {
    userinfo_for(state, located, headers, None).await
}

/// POST: the token may come in the form body instead (RFC 6750 §2.2), as OpenID Connect Core
/// §5.3.1 allows.
async fn userinfo_form(
    State(state): State<SiteState>,
    located: Located,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, SiteError> {
    let in_body = form.ok().and_then(|Form(pairs)| {
        pairs
            .into_iter()
            .find(|(name, _)| name == "access_token")
            .map(|(_, token)| token)
    });
    userinfo_for(state, located, headers, in_body).await
}

async fn userinfo_for(
    state: SiteState,
    located: Located,
    headers: HeaderMap,
    in_body: Option<String>,
) -> Result<Response, SiteError> {
    let in_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = match (in_header, in_body) {
        // RFC 6750 §2: a client uses one method per request.
        (Some(_), Some(_)) => {
            return Ok(bearer_error(
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
            ))
        }
        (Some(token), None) | (None, Some(token)) => token,
        (None, None) => return Ok(bearer_refused(None)),
    };
    let (oidc, tenant) = (&state.site.oidc, located.tenant.id);
    let grant = oidc
        .grants
        .access_grant(tenant, token.trim(), Timestamp::now());
    let Some((client_id, grant)) = grant.await? else {
        return Ok(bearer_refused(Some("invalid_token")));
    };
    match oidc.clients.get(tenant, &client_id).await {
        Ok(client) if !located.address.serves(client.settings.domain.as_deref()) => {
            Ok(bearer_refused(Some("invalid_token")))
        }
        Ok(client) => {
            let claims = vestibule_oidc::userinfo(&client, &grant.subject, &grant.scopes);
            Ok(no_store(Json(claims).into_response()))
        }
        Err(OidcError::NoSuchClient) => Ok(bearer_refused(Some("invalid_token"))),
        Err(error) => Err(error.into()),
    }
}

/// The confidential client calling introspection or revocation, and the token it asks about.
async fn about_a_token(
    state: &SiteState,
    located: &Located,
    headers: &HeaderMap,
    extensions: &Extensions,
    form: Result<Form<Params>, FormRejection>,
) -> Result<(Client, String), BackChannelError> {
    let form = form_body(form)?;
    let client = calling_client(state, located, headers, extensions, &form, true).await?;
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| token_error(OAuthErrorCode::InvalidRequest, "token is missing"))?;
    Ok((client, token))
}

async fn introspect(
    State(state): State<SiteState>,
    located: Located,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<Params>, FormRejection>,
) -> Result<Response, BackChannelError> {
    let (client, token) = about_a_token(&state, &located, &headers, &extensions, form).await?;
    let grants = &state.site.oidc.grants;
    let facts = grants.introspect(&client, &token, Timestamp::now()).await?;
    Ok(no_store(Json(facts).into_response()))
}

async fn revoke(
    State(state): State<SiteState>,
    located: Located,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<Params>, FormRejection>,
) -> Result<Response, BackChannelError> {
    let (client, token) = about_a_token(&state, &located, &headers, &extensions, form).await?;
    let grants = &state.site.oidc.grants;
    grants.revoke(&client, &token, Timestamp::now()).await?;
    // RFC 7009 §2.2: 200 whether or not there was such a token.
    Ok(no_store(StatusCode::OK.into_response()))
}

#[derive(serde::Deserialize, Default)]
struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// Present when the member pressed "Sign out" on the confirmation page.
    decision: Option<String>,
}

/// RP-initiated logout (GET): ends the member's session at once only when an `id_token_hint`
/// proves the request comes from an application the signed-in member uses, for that member.
/// Anything else (no hint, a hint for someone else, a forged one: an `<img>` on any page) asks
/// the member first (RP-Initiated Logout 1.0 §2); nothing ends before they answer.
async fn end_session(
    State(state): State<SiteState>,
    visitor: Visitor,
    Query(query): Query<LogoutQuery>,
) -> Result<Response, SiteError> {
    logout_request(state, visitor, query, false).await
}

/// The confirmation page's answer (POST, same origin only).
async fn end_session_confirmed(
    State(state): State<SiteState>,
    _: FromThisSite,
    visitor: Visitor,
    Form(query): Form<LogoutQuery>,
) -> Result<Response, SiteError> {
    if query.decision.as_deref() != Some("sign_out") {
        return Ok(forbidden(&visitor.site));
    }
    logout_request(state, visitor, query, true).await
}

/// RP-initiated logout: the engine decides whether to ask, and where the member goes after.
async fn logout_request(
    state: SiteState,
    visitor: Visitor,
    query: LogoutQuery,
    confirmed: bool,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let hint = match query.id_token_hint.as_deref() {
        Some(hint) => {
            let grants = &state.site.oidc.grants;
            let now = Timestamp::now();
            grants
                .logout_hint(site.tenant.id, &site.origin, hint, now)
                .await?
        }
        None => None,
    };
    let member = visitor
        .session()
        .map(|session| session.member.subject.as_str());
    let return_to = query.post_logout_redirect_uri.as_deref();
    let decision = decide_logout(hint.as_ref(), member, confirmed, return_to);
    if let Some(hint) = &hint {
        record_end_session(&state, &visitor, hint, &query, &decision).await;
    }
    let back = match decision {
        LogoutDecision::Ask => return Ok(confirm_logout(&visitor, hint.as_ref(), &query)),
        LogoutDecision::SignOut { back } => back,
    };
    if let Some(token) = visitor.session_token() {
        state.site.members.sign_out(token).await?;
    }
    let state_value = query.state.as_deref();
    let mut response = match back {
        Some(uri) => to_application(&uri, ResponseMode::Query, Vec::new(), state_value),
        None => pages::signed_out(&site.branding).into_response(),
    };
    cookies::append(&mut response, &session_cookie_removal());
    Ok(response)
}

/// A logout request whose ID token hint names one of the tenant's apps, for its recorder.
async fn record_end_session(
    state: &SiteState,
    visitor: &Visitor,
    hint: &LogoutHint,
    query: &LogoutQuery,
    decision: &LogoutDecision,
) {
    let parameters = [
        ("id_token_hint", &query.id_token_hint),
        ("post_logout_redirect_uri", &query.post_logout_redirect_uri),
        ("state", &query.state),
        ("decision", &query.decision),
    ];
    let parameters: Vec<(String, String)> = parameters
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name.to_string(), value)))
        .collect();
    let answer = match decision {
        LogoutDecision::Ask => json!({ "asked_the_member_to_confirm": true }),
        LogoutDecision::SignOut { back } => json!({
            "signed_out": true,
            "returned_to": back,
        }),
    };
    let member = visitor.session().map(|s| s.member.username.as_str());
    let tenant = visitor.site.tenant.id;
    recording::end_session(state, tenant, &hint.client, member, &parameters, answer).await;
}

/// "Sign out?", with the logout request's own parameters to send back with the answer.
fn confirm_logout(visitor: &Visitor, hint: Option<&LogoutHint>, query: &LogoutQuery) -> Response {
    let fields: Vec<(&str, &str)> = [
        ("id_token_hint", query.id_token_hint.as_deref()),
        (
            "post_logout_redirect_uri",
            query.post_logout_redirect_uri.as_deref(),
        ),
        ("state", query.state.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|value| (name, value)))
    .collect();
    let member = visitor
        .session()
        .map(|s| s.member.name.as_str())
        .unwrap_or_default();
    let application = hint.map(|hint| hint.client.name.as_str());
    pages::confirm_sign_out(&visitor.site.branding, member, application, &fields).into_response()
}
