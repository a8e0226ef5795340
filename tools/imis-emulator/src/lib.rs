//! An iMIS stand-in for development and tests. It reproduces the parts of iMIS that Vestibule
//! talks to, with the shapes and failure modes documented in `docs/imis-emulator.md`:
//!
//! * a sign-in page and cookie session (the RiSE site's own sign-in);
//! * public pages carrying the *Single Sign On* content item: for a signed-in user they POST a
//!   fresh `refresh_token` (the only form field) to the client application's Login Redirect URL;
//! * `POST /token` with the `refresh_token` grant (single-use, short-lived refresh tokens, client
//!   id and secret checked) and the `password` grant;
//! * `GET /api/IQA`, `/api/User/{id}` and `/api/Party/{id}` with `Authorization: Bearer`,
//!   answering with iMIS's `$type`/`$values` envelopes;
//! * a switch to make it slow or fail (`--delay-ms`, `--fail`, or `POST /_emulator/behaviour`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// What the emulated iMIS holds, loaded from a TOML file (see `demo.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    pub client_applications: Vec<ClientApplication>,
    pub users: Vec<User>,
    #[serde(default)]
    pub iqa: IqaSettings,
}

/// A RiSE Client Application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientApplication {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token_lifetime_minutes: u64,
    pub login_redirect_url: String,
    /// Path of the public page carrying the Single Sign On content item for this application.
    pub sso_page: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub member_type: String,
    #[serde(default)]
    pub company: String,
    /// Staff accounts may read every member over REST; members only themselves.
    #[serde(default)]
    pub staff: bool,
}

impl User {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IqaSettings {
    pub queries: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid emulator data: {message}")]
    Parse { path: String, message: String },
}

/// The demo data shipped with the emulator (`demo.toml`).
pub const DEMO_DATA: &str = include_str!("../demo.toml");

impl Directory {
    /// The demo association: two members, a background account, two client applications.
    pub fn demo() -> Self {
        // The file is part of this crate and covered by its tests.
        #[allow(clippy::expect_used)]
        Self::parse(DEMO_DATA).expect("demo.toml is valid")
    }

    pub fn load(path: &str) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Read {
            path: path.to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| EmulatorError::Parse {
            path: path.to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Which calls answer `503 Service Unavailable`, as an iMIS that is down or overloaded does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    #[default]
    None,
    /// `/token` fails.
    Token,
    /// The REST API (`/api/...`) fails.
    Api,
    /// Everything fails, pages included.
    All,
}

/// How the emulator misbehaves; changeable while it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    /// Added before every answer.
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub fail: FailMode,
    /// The profile IQA ignores its username parameter and returns every member the caller may
    /// read, first to last — a query whose filter was set up wrongly in iMIS.
    #[serde(default)]
    pub loose_iqa: bool,
}

/// Access tokens live 20 minutes, as on iMIS's OWIN token server.
const ACCESS_TOKEN_SECONDS: u64 = 1200;
const SESSION_COOKIE: &str = "imis_emulator_session";

#[derive(Default)]
struct Grants {
    sessions: HashMap<String, String>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    access_tokens: HashMap<String, AccessGrant>,
}

struct RefreshGrant {
    username: String,
    client_id: String,
    expires: Instant,
}

struct AccessGrant {
    username: String,
    expires: Instant,
}

#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    directory: Directory,
    grants: Mutex<Grants>,
    behaviour: Mutex<Behaviour>,
}

impl Emulator {
    pub fn new(directory: Directory, behaviour: Behaviour) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory,
                grants: Mutex::new(Grants::default()),
                behaviour: Mutex::new(behaviour),
            }),
        }
    }

    /// Serves the emulator on a free loopback port in the background and returns its base URL;
    /// for tests of code that talks to iMIS.
    pub async fn serve_on_loopback(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = self.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(base)
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/sign-in", get(sign_in_page).post(sign_in))
            .route("/sign-out", post(sign_out))
            .route("/token", post(token))
            .route("/api/IQA", get(iqa))
            .route("/api/User/{id}", get(user_record))
            .route("/api/Party/{id}", get(party_record))
            .route(
                "/_emulator/behaviour",
                get(read_behaviour).post(set_behaviour),
            )
            .fallback(get(sso_page))
            .with_state(self.clone())
    }

    /// Makes the emulator slow or failing from now on (tests of what callers do then).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut current) = self.inner.behaviour.lock() {
            *current = behaviour;
        }
    }

    fn behaviour(&self) -> Behaviour {
        self.inner.behaviour.lock().map(|b| *b).unwrap_or_default()
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        // A panic while holding the lock cannot leave the maps half-written in a way that
        // matters for a test server; keep serving.
        self.inner
            .grants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn user(&self, name_or_id: &str) -> Option<&User> {
        self.inner
            .directory
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name_or_id) || u.id == name_or_id)
    }

    /// Sleeps as configured, then says whether this kind of call should fail.
    async fn misbehave(&self, call: FailMode) -> Option<Response> {
        let behaviour = self.behaviour();
        if behaviour.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
        }
        let fails =
            behaviour.fail == FailMode::All || (call != FailMode::All && behaviour.fail == call);
        fails.then(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<h1>Service Unavailable</h1><p>The iMIS server is not available.</p>"),
            )
                .into_response()
        })
    }

    /// What the Single Sign On content item does for a signed-in user: a fresh refresh token
    /// for `client_id`, single use, living as long as the client application says. Public so
    /// tests of iMIS clients can get one without driving a browser through the page.
    pub fn issue_refresh_token(&self, username: &str, client_id: &str) -> Option<String> {
        let app = self
            .inner
            .directory
            .client_applications
            .iter()
            .find(|app| app.client_id == client_id)?;
        let username = self.user(username)?.username.clone();
        let refresh_token = random_token();
        self.grants().refresh_tokens.insert(
            refresh_token.clone(),
            RefreshGrant {
                username,
                client_id: app.client_id.clone(),
                expires: Instant::now()
                    + Duration::from_secs(app.refresh_token_lifetime_minutes * 60),
            },
        );
        Some(refresh_token)
    }

    fn signed_in(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie(headers, SESSION_COOKIE)?;
        self.grants().sessions.get(&token).cloned()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><header><strong>iMIS</strong> (emulator)</header><main>{body}</main></body></html>",
        escape(title)
    ))
}

async fn home(State(emulator): State<Emulator>, headers: HeaderMap) -> Response {
    if let Some(failure) = emulator.misbehave(FailMode::All).await {
        return failure;
    }
    let who = match emulator.signed_in(&headers) {
        Some(username) => format!(
            "<p>Signed in as <strong>{}</strong>.</p><form method=\"post\" action=\"/sign-out\">\
             <button>Sign out</button></form>",
            escape(&username)
        ),
        None => "<p><a href=\"/sign-in\">Sign in</a></p>".to_string(),
    };
    let pages: String = emulator
        .inner
        .directory
        .client_applications
        .iter()
        .map(|app| {
            format!(
                "<li><a href=\"{0}\">{0}</a> (Single Sign On for {1})</li>",
                escape(&app.sso_page),
                escape(&app.client_id)
            )
        })
        .collect();
    page(
        "iMIS",
        &format!("<h1>Association home</h1>{who}<ul>{pages}</ul>"),
    )
    .into_response()
}

#[derive(Deserialize)]
struct ReturnTo {
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
}

/// Only paths on this site: an open redirect would be a bug worth not emulating.
fn local_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(path) if path.starts_with('/') && !path.starts_with("//") => path.to_string(),
        _ => "/".to_string(),
    }
}

fn sign_in_form(return_url: &str, error: Option<&str>) -> Html<String> {
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Sign In",
        &format!(
            "<h1>Sign In</h1>{error}<form method=\"post\" action=\"/sign-in\">\
             <input type=\"hidden\" name=\"returnUrl\" value=\"{}\">\
             <label for=\"username\">Username</label><input id=\"username\" name=\"username\" required>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" required>\
             <button type=\"submit\">Sign In</button></form>",
            escape(return_url)
        ),
    )
}

async fn sign_in_page(State(emulator): State<Emulator>, Query(query): Query<ReturnTo>) -> Response {
    if let Some(failure) = emulator.misbehave(FailMode::All).await {
        return failure;
    }
    sign_in_form(&local_path(query.return_url.as_deref()), None).into_response()
}

#[derive(Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
}

async fn sign_in(State(emulator): State<Emulator>, Form(form): Form<SignInForm>) -> Response {
    if let Some(failure) = emulator.misbehave(FailMode::All).await {
        return failure;
    }
    let return_url = local_path(form.return_url.as_deref());
    let user = emulator
        .user(&form.username)
        .filter(|u| u.username.eq_ignore_ascii_case(&form.username))
        .filter(|u| same_secret(&u.password, &form.password));
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            sign_in_form(&return_url, Some("Invalid username or password.")),
        )
            .into_response();
    };
    let session = random_token();
    emulator
        .grants()
        .sessions
        .insert(session.clone(), user.username.clone());
    (
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"),
        )],
        Redirect::to(&return_url),
    )
        .into_response()
}

async fn sign_out(State(emulator): State<Emulator>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        emulator.grants().sessions.remove(&token);
    }
    (
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

/// A public page with the Single Sign On content item: signed-in users are sent on to the
/// client application's Login Redirect URL with a POST carrying only `refresh_token`.
async fn sso_page(State(emulator): State<Emulator>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(app) = emulator
        .inner
        .directory
        .client_applications
        .iter()
        .find(|app| app.sso_page == uri.path())
        .cloned()
    else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>Page not found</h1>"),
        )
            .into_response();
    };
    if let Some(failure) = emulator.misbehave(FailMode::All).await {
        return failure;
    }
    let Some(username) = emulator.signed_in(&headers) else {
        return Redirect::to(&format!("/sign-in?returnUrl={}", app.sso_page)).into_response();
    };
    let Some(refresh_token) = emulator.issue_refresh_token(&username, &app.client_id) else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>Page not found</h1>"),
        )
            .into_response();
    };
    page(
        "Single Sign On",
        &format!(
            "<form id=\"sso\" method=\"post\" action=\"{}\">\
             <input type=\"hidden\" name=\"refresh_token\" value=\"{}\">\
             <noscript><button type=\"submit\">Continue</button></noscript></form>\
             <script>document.getElementById('sso').submit();</script>",
            escape(&app.login_redirect_url),
            escape(&refresh_token)
        ),
    )
    .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

fn token_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(emulator): State<Emulator>, Form(form): Form<TokenForm>) -> Response {
    if let Some(failure) = emulator.misbehave(FailMode::Token).await {
        return failure;
    }
    let username = match form.grant_type.as_deref() {
        Some("refresh_token") => {
            let app = emulator
                .inner
                .directory
                .client_applications
                .iter()
                .find(|app| Some(app.client_id.as_str()) == form.client_id.as_deref());
            let secret_ok = app.is_some_and(|app| {
                same_secret(
                    &app.client_secret,
                    form.client_secret.as_deref().unwrap_or_default(),
                )
            });
            let Some(app) = app.filter(|_| secret_ok) else {
                return token_error("invalid_client", "The client id or secret is not valid.");
            };
            // Single use: taken out whether or not it turns out to be valid.
            let grant = form
                .refresh_token
                .as_deref()
                .and_then(|t| emulator.grants().refresh_tokens.remove(t));
            match grant {
                Some(grant)
                    if grant.client_id == app.client_id && grant.expires > Instant::now() =>
                {
                    grant.username
                }
                _ => {
                    return token_error(
                        "invalid_grant",
                        "The refresh token is invalid or has expired.",
                    )
                }
            }
        }
        Some("password") => {
            let user = form
                .username
                .as_deref()
                .and_then(|name| emulator.user(name));
            let password_ok = user.is_some_and(|u| {
                same_secret(&u.password, form.password.as_deref().unwrap_or_default())
            });
            match user.filter(|_| password_ok) {
                Some(user) => user.username.clone(),
                None => {
                    return token_error("invalid_grant", "The user name or password is incorrect.")
                }
            }
        }
        _ => return token_error("unsupported_grant_type", "The grant type is not supported."),
    };
    let access_token = random_token();
    emulator.grants().access_tokens.insert(
        access_token.clone(),
        AccessGrant {
            username: username.clone(),
            expires: Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS),
        },
    );
    Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS - 1,
        "userName": username,
    }))
    .into_response()
}

/// Why a REST call is refused, answered as iMIS answers it.
enum Refusal {
    Unauthorized,
    NotFound,
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Authorization has been denied for this request.",
            ),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "Not found."),
            Refusal::Forbidden => (
                StatusCode::FORBIDDEN,
                "You do not have access to this record.",
            ),
        };
        (status, Json(json!({ "Message": message }))).into_response()
    }
}

/// The user behind a bearer token.
fn bearer(emulator: &Emulator, headers: &HeaderMap) -> Result<User, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or(Refusal::Unauthorized)?;
    let username = {
        let grants = emulator.grants();
        let grant = grants
            .access_tokens
            .get(token)
            .ok_or(Refusal::Unauthorized)?;
        if grant.expires <= Instant::now() {
            return Err(Refusal::Unauthorized);
        }
        grant.username.clone()
    };
    emulator
        .user(&username)
        .cloned()
        .ok_or(Refusal::Unauthorized)
}

/// The member a caller asks about, if the caller may read them.
fn readable<'a>(emulator: &'a Emulator, caller: &User, wanted: &str) -> Result<&'a User, Refusal> {
    let user = emulator.user(wanted).ok_or(Refusal::NotFound)?;
    if caller.staff || caller.id == user.id {
        Ok(user)
    } else {
        Err(Refusal::Forbidden)
    }
}

const T_PAGED: &str = "Asi.Soa.Core.DataContracts.PagedResult, Asi.Contracts";
const T_ENTITY_LIST: &str = "System.Collections.Generic.List`1[[Asi.Soa.Core.DataContracts.GenericEntityData, Asi.Contracts]], mscorlib";
const T_ENTITY: &str = "Asi.Soa.Core.DataContracts.GenericEntityData, Asi.Contracts";
const T_PROPERTIES: &str =
    "Asi.Soa.Core.DataContracts.GenericPropertyDataCollection, Asi.Contracts";
const T_PROPERTY: &str = "Asi.Soa.Core.DataContracts.GenericPropertyData, Asi.Contracts";

#[derive(Deserialize)]
struct IqaQuery {
    #[serde(rename = "QueryName")]
    query_name: Option<String>,
    parameter: Option<String>,
    #[serde(rename = "Offset", default)]
    offset: usize,
    #[serde(rename = "Limit")]
    limit: Option<usize>,
}

async fn iqa(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<IqaQuery>,
) -> Response {
    if let Some(failure) = emulator.misbehave(FailMode::Api).await {
        return failure;
    }
    let caller = match bearer(&emulator, &headers) {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(),
    };
    let name = query.query_name.unwrap_or_default();
    if !emulator.inner.directory.iqa.queries.contains(&name) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "Message": format!("The query {name} was not found.") })),
        )
            .into_response();
    }
    let loose = emulator.behaviour().loose_iqa && caller.staff;
    let rows: Vec<&User> = match query.parameter.as_deref() {
        _ if loose => emulator.inner.directory.users.iter().collect(),
        Some(parameter) => match readable(&emulator, &caller, parameter) {
            Ok(user) => vec![user],
            Err(_) => Vec::new(),
        },
        None if caller.staff => emulator.inner.directory.users.iter().collect(),
        None => vec![],
    };
    let limit = query.limit.unwrap_or(100).max(1);
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(query.offset)
        .take(limit)
        .map(|user| {
            let properties: Vec<Value> = [
                ("ID", user.id.as_str()),
                ("UserName", user.username.as_str()),
                ("FirstName", user.first_name.as_str()),
                ("LastName", user.last_name.as_str()),
                ("FullName", &user.full_name()),
                ("Email", user.email.as_str()),
                ("MemberType", user.member_type.as_str()),
                ("Company", user.company.as_str()),
            ]
            .iter()
            .map(|(name, value)| json!({ "$type": T_PROPERTY, "Name": name, "Value": value }))
            .collect();
            json!({
                "$type": T_ENTITY,
                "EntityTypeName": name,
                "Properties": { "$type": T_PROPERTIES, "$values": properties },
            })
        })
        .collect();
    let count = page.len();
    let has_next = query.offset + count < total;
    Json(json!({
        "$type": T_PAGED,
        "Items": { "$type": T_ENTITY_LIST, "$values": page },
        "Offset": query.offset,
        "Limit": limit,
        "Count": count,
        "TotalCount": total,
        "NextPageLink": null,
        "HasNext": has_next,
        "NextOffset": if has_next { query.offset + count } else { 0 },
    }))
    .into_response()
}

/// The REST calls' common start: misbehave as configured, check the bearer token, and find a
/// record the caller may read.
async fn record_for(emulator: &Emulator, headers: &HeaderMap, id: &str) -> Result<User, Response> {
    if let Some(failure) = emulator.misbehave(FailMode::Api).await {
        return Err(failure);
    }
    bearer(emulator, headers)
        .and_then(|caller| readable(emulator, &caller, id).cloned())
        .map_err(IntoResponse::into_response)
}

async fn user_record(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match record_for(&emulator, &headers, &id).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    Json(json!({
        "$type": "Asi.Soa.Membership.DataContracts.User.UserData, Asi.Contracts",
        "Party": { "$type": "Asi.Soa.Core.DataContracts.PartySummaryData, Asi.Contracts", "PartyId": user.id, "Id": user.id, "Name": user.full_name() },
        "UserId": user.id,
        "UserName": user.username,
        "IsDisabled": false,
    }))
    .into_response()
}

async fn party_record(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match record_for(&emulator, &headers, &id).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    Json(json!({
        "$type": "Asi.Soa.Membership.DataContracts.PersonData, Asi.Contracts",
        "PersonName": {
            "$type": "Asi.Soa.Membership.DataContracts.PersonNameData, Asi.Contracts",
            "FirstName": user.first_name,
            "LastName": user.last_name,
            "FullName": user.full_name(),
        },
        "PartyId": user.id,
        "Id": user.id,
        "Name": user.full_name(),
        "Emails": {
            "$type": "Asi.Soa.Membership.DataContracts.EmailDataCollection, Asi.Contracts",
            "$values": [{
                "$type": "Asi.Soa.Membership.DataContracts.EmailData, Asi.Contracts",
                "Address": user.email,
                "EmailType": "_Primary",
                "IsPrimary": true,
            }],
        },
        "PrimaryOrganization": { "Name": user.company },
        "AdditionalAttributes": {
            "$type": "Asi.Soa.Core.DataContracts.GenericPropertyDataCollection, Asi.Contracts",
            "$values": [{ "$type": T_PROPERTY, "Name": "CustomerTypeCode", "Value": user.member_type }],
        },
    }))
    .into_response()
}

async fn read_behaviour(State(emulator): State<Emulator>) -> Json<Behaviour> {
    Json(emulator.behaviour())
}

async fn set_behaviour(
    State(emulator): State<Emulator>,
    Json(behaviour): Json<Behaviour>,
) -> Json<Behaviour> {
    emulator.set_behaviour(behaviour);
    Json(behaviour)
}
