//! Server-side glue for the server functions: the dashboard's state, who is calling, cookies,
//! and the single mapping from engine errors to [`AppError`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::header::{ACCEPT, COOKIE, SET_COOKIE};
use http::HeaderValue;
use leptos::prelude::*;
use vestibule_staff::{CurrentStaff, SetupLink, StaffAccounts, StaffError};

use vestibule_audit::{AuditLog, Change};
use vestibule_domain::{
    CloudId, DomainState, ProvisioningPhase, Role, StaffMember, Tenant, TenantId, Timestamp,
};
use vestibule_members::{Members, MembersError};
use vestibule_oidc::{OidcClients, OidcError};
use vestibule_provisioning::{DomainOverview, Provisioning, ProvisioningError};
use vestibule_saml::{SamlError, SamlIdp};
use vestibule_storage::StorageError;

use vestibule_settings::{SettingsError, SettingsView, TenantSettings};

use crate::error::AppError;
use crate::views::{
    ChecklistStepView, DomainSetupView, Me, SavedSettingsView, SettingsPageView, SetupView,
    StaffView, StepView, TenantProgressView, TenantView,
};

/// Everything the dashboard's server functions need, provided as Leptos context per request.
#[derive(Clone)]
pub struct DashboardState {
    pub accounts: StaffAccounts,
    pub provisioning: Provisioning,
    pub settings: TenantSettings,
    pub members: Members,
    pub oidc_clients: OidcClients,
    /// The tenants' token signing keys, for the dashboard's calendar of keys.
    pub oidc_keys: vestibule_oidc::SigningKeys,
    pub saml: SamlIdp,
    pub audit: AuditLog,
    /// Each app's latest protocol exchanges.
    pub recorder: vestibule_recorder::FlightRecorder,
    /// The installation's key: seals the test sign-in links the member site opens.
    pub secret_key: vestibule_secrets::SecretKey,
    /// Sends invitations and password resets; `None` when no SMTP server is configured.
    pub mail: Option<vestibule_mail::Outbox>,
    /// Where the dashboard is reached, e.g. `https://dashboard.vestibule.example`.
    pub public_url: String,
    /// The origin of a tenant's member site, given its provisioned domain (if any): the edge
    /// decides ports and test domains.
    pub member_site_origin: MemberSiteOrigin,
}

/// Given a Cloud ID and its provisioned domain, the origin of its member site.
pub type MemberSiteOrigin = Arc<dyn Fn(&CloudId, Option<&str>) -> Option<String> + Send + Sync>;

impl DashboardState {
    /// Cookies get `Secure` and the `__Host-` prefix whenever the dashboard is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies() {
            "__Host-vestibule_session"
        } else {
            "vestibule_session"
        }
    }
}

impl From<StaffError> for AppError {
    fn from(error: StaffError) -> Self {
        match error {
            StaffError::InvalidInput(invalid) => AppError::Invalid(invalid.to_string()),
            StaffError::BadCredentials => AppError::BadCredentials(error.to_string()),
            StaffError::TooManyAttempts { retry_after } => AppError::TooManyAttempts {
                message: error.to_string(),
                retry_after_seconds: retry_after.0,
            },
            StaffError::SetupLinkInvalid => AppError::SetupLink(error.to_string()),
            StaffError::NotSignedIn => AppError::NotSignedIn,
            StaffError::SecondFactorSetupNeeded => AppError::SecondFactorSetupNeeded,
            StaffError::BadSecondFactor
            | StaffError::ChallengeExpired
            | StaffError::PasskeyRefused => AppError::SecondFactor(error.to_string()),
            StaffError::PasskeyNotAdded(_)
            | StaffError::PasskeysUnavailable
            | StaffError::WrongPassword => AppError::Invalid(error.to_string()),
            // Handled where a sign-in happens; anywhere else it is a bug.
            StaffError::SecondFactorNeeded { .. } => {
                tracing::error!("a second-factor challenge reached a generic error");
                AppError::Internal
            }
            StaffError::CsrfMismatch => AppError::Csrf,
            StaffError::Forbidden => AppError::Forbidden,
            StaffError::ReadOnly => AppError::ReadOnly,
            StaffError::NotFound => AppError::NotFound,
            StaffError::Conflict(conflict) => {
                let mut message = conflict.to_string();
                if let Some(first) = message.get(..1) {
                    message.replace_range(..1, &first.to_uppercase());
                }
                AppError::Conflict(format!("{message}."))
            }
            StaffError::Storage(_) | StaffError::Hashing(_) | StaffError::Sealing(_) => {
                tracing::error!(error = %error, "dashboard request failed");
                AppError::Internal
            }
        }
    }
}

impl From<ProvisioningError> for AppError {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::InvalidDomain(_) => AppError::Invalid(error.to_string()),
            ProvisioningError::DomainTaken(_) | ProvisioningError::AlreadyHasDomain => {
                AppError::Conflict(error.to_string())
            }
            ProvisioningError::NoDomain
            | ProvisioningError::NoSuchDomain
            | ProvisioningError::NotFailed
            | ProvisioningError::Cancelled => AppError::Conflict(error.to_string()),
            ProvisioningError::NoTenant => AppError::NotFound,
            other => {
                tracing::error!(error = %other, "domain request failed");
                AppError::Internal
            }
        }
    }
}

impl From<MembersError> for AppError {
    fn from(error: MembersError) -> Self {
        match error {
            MembersError::Invalid(invalid) => AppError::Invalid(invalid.to_string()),
            MembersError::NotFound => AppError::NotFound,
            other => {
                tracing::error!(error = %other, "members request failed");
                AppError::Internal
            }
        }
    }
}

impl From<OidcError> for AppError {
    fn from(error: OidcError) -> Self {
        match error {
            OidcError::Invalid(invalid) => AppError::Invalid(invalid.to_string()),
            OidcError::NoSuchClient => AppError::NotFound,
            other => {
                tracing::error!(error = %other, "OIDC client request failed");
                AppError::Internal
            }
        }
    }
}

pub fn oidc_clients() -> Result<OidcClients, AppError> {
    Ok(state()?.oidc_clients)
}

impl From<SamlError> for AppError {
    fn from(error: SamlError) -> Self {
        match error {
            SamlError::Invalid(invalid) => AppError::Invalid(invalid.to_string()),
            SamlError::NoSuchApp => AppError::NotFound,
            SamlError::Storage(StorageError::Conflict(conflict)) => {
                AppError::Conflict(format!("{}.", capitalized(&conflict.to_string())))
            }
            other => {
                tracing::error!(error = %other, "SAML app request failed");
                AppError::Internal
            }
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn saml() -> Result<SamlIdp, AppError> {
    Ok(state()?.saml)
}

pub fn audit() -> Result<AuditLog, AppError> {
    Ok(state()?.audit)
}

/// Forgets a deleted app's recorded exchanges. The app is gone whatever happens here (its
/// exchanges can no longer be reached), so a failure is logged, not shown.
pub async fn forget_recorded(tenant: TenantId, app: vestibule_recorder::AppRef) {
    let forgotten = match state() {
        Ok(state) => state.recorder.forget_app(tenant, &app).await,
        Err(_) => return,
    };
    if let Err(error) = forgotten {
        tracing::warn!(%error, app = %app.id, "a deleted app's recorded exchanges stay");
    }
}

/// Writes down a change `caller` just made. The change is done whatever happens here, so a
/// failure to record it is logged for the operators rather than shown as the change failing.
pub async fn record_change<T: serde::Serialize>(
    caller: &CurrentStaff,
    tenant: Option<TenantId>,
    action: vestibule_audit::AuditAction,
    target: String,
    before: Option<&T>,
    after: Option<&T>,
) {
    let snapshot = |value: Option<&T>| value.map(vestibule_audit::snapshot).transpose();
    let change = match (snapshot(before), snapshot(after)) {
        (Ok(before), Ok(after)) => Change {
            tenant,
            actor: caller.staff.email.as_str(),
            action,
            target,
            before,
            after,
        },
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, %action, "an audit event could not be made");
            return;
        }
    };
    match audit() {
        Ok(audit) => audit.record_after(change, now()).await,
        Err(_) => tracing::error!(%action, "the dashboard has no audit log"),
    }
}

impl From<vestibule_audit::AuditError> for AppError {
    fn from(error: vestibule_audit::AuditError) -> Self {
        match error {
            vestibule_audit::AuditError::InvalidDate(_) => AppError::Invalid(error.to_string()),
            other => {
                tracing::error!(error = %other, "audit log request failed");
                AppError::Internal
            }
        }
    }
}

impl From<SettingsError> for AppError {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::Invalid(_) => AppError::Invalid(error.to_string()),
            SettingsError::CheckRunning => AppError::Conflict(error.to_string()),
            other => {
                tracing::error!(error = %other, "settings request failed");
                AppError::Internal
            }
        }
    }
}

/// Sends a strict Content-Security-Policy with every page: scripts only from our origin or
/// carrying this response's nonce (Leptos puts it on its hydration scripts), WebAssembly
/// compilation allowed, no plugins, no framing, forms only to ourselves.
pub fn content_security_policy() {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    );
    match HeaderValue::from_str(&policy) {
        Ok(value) => response.insert_header(http::header::CONTENT_SECURITY_POLICY, value),
        Err(error) => tracing::error!(%error, "unencodable Content-Security-Policy"),
    }
}

/// The one place where dashboard errors become HTTP statuses (and `Retry-After`), for server
/// function responses and for pages whose data failed to load.
pub fn respond<T>(outcome: Result<T, AppError>) -> Result<T, AppError> {
    use http::StatusCode;
    let Err(error) = &outcome else {
        return outcome;
    };
    // A plain form post goes back to its page with the error in the query string (Leptos
    // shows it in the form); an error status would replace that redirect with the raw error.
    if is_form_post() {
        return outcome;
    }
    // While a page renders, the frame sends someone who must add a second factor to Your
    // account; the page's own data calls fail alongside and must not turn that redirect into
    // a 403 (whichever sets the status last would win).
    let rendering_page = use_context::<http::request::Parts>()
        .is_some_and(|parts| !parts.uri.path().starts_with("/api/"));
    if rendering_page && *error == AppError::SecondFactorSetupNeeded {
        return outcome;
    }
    let status = match error {
        AppError::NotSignedIn | AppError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden
        | AppError::ReadOnly
        | AppError::Csrf
        | AppError::SecondFactorSetupNeeded => StatusCode::FORBIDDEN,
        AppError::SecondFactor(_) => StatusCode::UNAUTHORIZED,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Invalid(_) | AppError::Request(_) => StatusCode::BAD_REQUEST,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::SetupLink(_) => StatusCode::GONE,
        AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
        if let AppError::TooManyAttempts {
            retry_after_seconds,
            ..
        } = error
        {
            response.insert_header(
                http::header::RETRY_AFTER,
                HeaderValue::from(*retry_after_seconds),
            );
        }
    }
    outcome
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

pub fn state() -> Result<DashboardState, AppError> {
    use_context::<DashboardState>().ok_or_else(|| {
        tracing::error!("DashboardState missing from the Leptos context");
        AppError::Internal
    })
}

pub fn accounts() -> Result<StaffAccounts, AppError> {
    Ok(state()?.accounts)
}

/// Whether this server-function call is a plain HTML form post, sent before the WebAssembly
/// took over the page (or without it): the browser follows a redirect instead of reading the
/// answer, so what the answer would have said must be where the redirect goes.
pub fn is_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.uri.path().starts_with("/api/")
            && parts
                .headers
                .get(ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// After a plain form post succeeded, sends the browser to `path` rather than back to the
/// form (the page that would have navigated there in the browser).
pub fn after_form_post(path: &str) {
    if is_form_post() {
        leptos_axum::redirect(path);
    }
}

/// Refuses, before anything changes, a plain form post for an action whose answer exists only
/// in that answer (a secret shown once, an invitation link, test results): the redirect that
/// follows a form post would lose it. `answer` says what would be lost.
pub fn answer_needs_script(answer: &str) -> Result<(), AppError> {
    if is_form_post() {
        return Err(AppError::Invalid(format!(
            "This shows {answer} on this page, which needs JavaScript: turn it on for the \
             dashboard and try again. Nothing was changed."
        )));
    }
    Ok(())
}

fn request_parts() -> Result<http::request::Parts, AppError> {
    use_context::<http::request::Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from the Leptos context");
        AppError::Internal
    })
}

/// The value of the request's cookie `cookie_name` (the session's, or a sign-in's challenge).
fn cookie_value(parts: &http::request::Parts, cookie_name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.to_string())
}

/// The staff member behind the request's session cookie, if any.
pub async fn optional_caller() -> Result<Option<CurrentStaff>, AppError> {
    let state = state()?;
    let parts = request_parts()?;
    match cookie_value(&parts, state.session_cookie_name()) {
        Some(token) => Ok(state.accounts.authenticate(&token, now()).await?),
        None => Ok(None),
    }
}

/// The signed-in staff member, who must have set up a second factor if one is required of
/// them (everything but the account page's own calls goes through here).
pub async fn caller() -> Result<CurrentStaff, AppError> {
    let caller = signed_in_caller().await?;
    caller.require_second_factor_in_place()?;
    Ok(caller)
}

/// The signed-in staff member, whether or not a required second factor is in place yet: for
/// setting one up.
pub async fn signed_in_caller() -> Result<CurrentStaff, AppError> {
    optional_caller().await?.ok_or(AppError::NotSignedIn)
}

/// The caller of a state-changing request, after checking the CSRF token it echoed.
pub async fn caller_for_change(csrf: &str) -> Result<CurrentStaff, AppError> {
    let caller = caller().await?;
    caller.check_csrf(csrf)?;
    Ok(caller)
}

pub fn me(caller: &CurrentStaff) -> Me {
    Me {
        email: caller.staff.email.to_string(),
        is_operator: caller.staff.role.is_operator(),
        cloud_id: caller.staff.cloud_id.as_ref().map(ToString::to_string),
        csrf: caller.csrf_token.clone(),
        must_add_second_factor: caller.must_add_second_factor,
        read_only: caller
            .staff
            .role
            .tenant()
            .is_some_and(|tenant| !caller.staff.role.can_change(tenant)),
    }
}

/// Where a staff member lands after signing in.
pub fn home_of(staff: &StaffMember) -> String {
    match (&staff.role, &staff.cloud_id) {
        (Role::TenantAdmin(_) | Role::TenantViewer(_), Some(cloud_id)) => {
            format!("/t/{cloud_id}/domain")
        }
        _ => "/tenants".to_string(),
    }
}

/// The client's address as the listener established it: the TCP peer, or what a trusted
/// proxy in front said.
fn client_address(parts: &http::request::Parts) -> String {
    if let Some(client) = parts.extensions.get::<vestibule_domain::ClientAddress>() {
        return client.0.to_string();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn set_cookie(value: String) {
    match HeaderValue::from_str(&value) {
        Ok(value) => {
            expect_context::<leptos_axum::ResponseOptions>().append_header(SET_COOKIE, value)
        }
        Err(error) => tracing::error!(%error, "unencodable cookie"),
    }
}

fn session_cookie(state: &DashboardState, value: &str, max_age: i64) -> String {
    let secure = if state.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        state.session_cookie_name()
    )
}

pub async fn sign_in(email: &str, password: &str) -> Result<String, AppError> {
    let state = state()?;
    let parts = request_parts()?;
    let previous = cookie_value(&parts, state.session_cookie_name());
    let outcome = state
        .accounts
        .sign_in(
            email,
            password,
            &client_address(&parts),
            previous.as_deref(),
            now(),
        )
        .await;
    let signed_in = match outcome {
        Err(StaffError::SecondFactorNeeded { challenge }) => {
            // The password was right; the session waits for the code, on the next page.
            let lifetime = vestibule_staff::CHALLENGE_LIFETIME.0;
            set_cookie(challenge_cookie(&state, &challenge, lifetime));
            let next = "/login/verify".to_string();
            after_form_post(&next);
            return Ok(next);
        }
        outcome => outcome?,
    };
    start_session(&state, &signed_in)
}

/// The session cookie for a finished sign-in, and where the staff member goes next.
fn start_session(
    state: &DashboardState,
    signed_in: &vestibule_staff::SignedIn,
) -> Result<String, AppError> {
    let lifetime = state.accounts.policy().sessions.absolute_timeout.0;
    set_cookie(session_cookie(state, &signed_in.session_token, lifetime));
    let home = home_of(&signed_in.staff);
    after_form_post(&home);
    Ok(home)
}

/// The cookie that carries a sign-in waiting for its second factor: `Strict`, minutes long.
fn challenge_cookie(state: &DashboardState, value: &str, max_age: i64) -> String {
    let (name, secure) = challenge_cookie_name(state);
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn challenge_cookie_name(state: &DashboardState) -> (&'static str, &'static str) {
    if state.secure_cookies() {
        ("__Host-vestibule_challenge", "; Secure")
    } else {
        ("vestibule_challenge", "")
    }
}

/// The second step of a sign-in: the authenticator app's code (or a recovery code) for the
/// challenge the password step left in its cookie.
pub async fn verify_second_factor(
    proof: vestibule_staff::SecondFactorProof<'_>,
) -> Result<String, AppError> {
    let state = state()?;
    let parts = request_parts()?;
    let challenge = sign_in_challenge(&state, &parts)?;
    let previous = cookie_value(&parts, state.session_cookie_name());
    let signed_in = state
        .accounts
        .complete_second_factor(
            &challenge,
            proof,
            &client_address(&parts),
            previous.as_deref(),
            now(),
        )
        .await?;
    set_cookie(challenge_cookie(&state, "", 0));
    start_session(&state, &signed_in)
}

/// The challenge of the sign-in this browser is finishing (its cookie).
fn sign_in_challenge(
    state: &DashboardState,
    parts: &http::request::Parts,
) -> Result<String, AppError> {
    let (name, _) = challenge_cookie_name(state);
    cookie_value(parts, name)
        .ok_or_else(|| AppError::SecondFactor(StaffError::ChallengeExpired.to_string()))
}

/// What the sign-in this browser is finishing may be finished with.
pub async fn sign_in_factors() -> Result<crate::views::SignInFactorsView, AppError> {
    let state = state()?;
    let parts = request_parts()?;
    let challenge = sign_in_challenge(&state, &parts)?;
    let passkey = if state.accounts.passkeys_available() {
        state.accounts.passkey_sign_in(&challenge, now()).await?
    } else {
        None
    };
    let authenticator_app = state
        .accounts
        .sign_in_has_authenticator_app(&challenge, now())
        .await?;
    Ok(crate::views::SignInFactorsView {
        authenticator_app,
        passkey: passkey.map(|ceremony| crate::views::PasskeyCeremonyView {
            options: ceremony.options,
            state: ceremony.state,
        }),
    })
}

pub async fn sign_out(csrf: &str) -> Result<(), AppError> {
    let state = state()?;
    let parts = request_parts()?;
    if let Some(token) = cookie_value(&parts, state.session_cookie_name()) {
        if let Some(caller) = state.accounts.authenticate(&token, now()).await? {
            caller.check_csrf(csrf)?;
        }
        state.accounts.sign_out(&token).await?;
    }
    set_cookie(session_cookie(&state, "", 0));
    after_form_post("/login");
    Ok(())
}

pub async fn setup_link(token: &str) -> Result<SetupView, AppError> {
    Ok(match accounts()?.setup_link(token, now()).await? {
        SetupLink::FirstOperator => SetupView::FirstOperator,
        SetupLink::Invitation { email } => SetupView::Invitation {
            email: email.to_string(),
        },
        SetupLink::PasswordReset { email } => SetupView::PasswordReset {
            email: email.to_string(),
        },
    })
}

/// Whether this installation sends e-mail, so "Forgot password" can work.
pub fn mail_enabled() -> Result<bool, AppError> {
    Ok(state()?.mail.is_some())
}

/// "Forgot password": sends a reset link to the address if a staff member has it. The lookup
/// and the queueing run after the answer, so neither the answer nor its timing says whether
/// the address has an account.
pub async fn request_password_reset(email: &str) -> Result<(), AppError> {
    let state = state()?;
    let Some(outbox) = state.mail.clone() else {
        return Err(AppError::Invalid(
            "This installation does not send e-mail. Ask an operator for a new setup link."
                .to_string(),
        ));
    };
    let accounts = state.accounts.clone();
    let (email, now) = (email.to_string(), now());
    let client = client_address(&request_parts()?);
    if let Err(wait) = accounts.take_reset_request(&client, now).await? {
        return Err(AppError::TooManyAttempts {
            message: format!(
                "Too many password reset requests from your network: try again in {} minutes.",
                (wait.0 + 59) / 60
            ),
            retry_after_seconds: wait.0,
        });
    }
    let origin = state.public_url.trim_end_matches('/').to_string();
    tokio::spawn(async move {
        let staff = match accounts.password_reset_account(&email).await {
            Ok(Some(staff)) => staff,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "looking up a password reset failed");
                return;
            }
        };
        // Past the hourly limit no link is made: a new one would replace the last one mailed.
        let kind = vestibule_mail::MailKind::StaffPasswordReset;
        match outbox.has_room(&staff.email, kind, now).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("password reset not made: the address's hourly limit");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "checking the outbox failed");
                return;
            }
        }
        let token = match accounts.password_reset_link(&staff, now).await {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(%error, "making a password reset link failed");
                return;
            }
        };
        let url = format!("{origin}/setup?token={token}");
        let lifetime = accounts.policy().reset_link_lifetime;
        let mail = vestibule_mail::Mail::staff_password_reset(staff.email, &url, lifetime);
        if let Err(error) = outbox.enqueue(&mail, now).await {
            tracing::error!(%error, "queueing a password reset e-mail failed");
        }
    });
    after_form_post("/forgot-password?sent");
    Ok(())
}

/// A staff member's second factor was added or removed (by an operator, when `by` names one):
/// recorded in their tenant's audit log (or the installation's, for operators) and told to
/// them by e-mail, so a change they did not make does not go unnoticed.
pub async fn second_factor_changed(
    staff: &StaffMember,
    change: vestibule_mail::SecondFactorChange<'_>,
    by: Option<&str>,
) {
    let Ok(state) = state() else {
        return;
    };
    let change_record = second_factor_audit(staff, change, by);
    state.audit.record_after(change_record, now()).await;
    if let Some(outbox) = &state.mail {
        let mail = vestibule_mail::Mail::second_factor_changed(
            staff.email.clone(),
            change,
            by,
            &state.public_url,
        );
        if let Err(error) = outbox.enqueue(&mail, now()).await {
            tracing::error!(%error, "queueing a second-factor notice failed");
        }
    }
}

/// The audit log's record of a second factor added or removed.
pub fn second_factor_audit<'a>(
    staff: &'a StaffMember,
    change: vestibule_mail::SecondFactorChange<'_>,
    by: Option<&'a str>,
) -> vestibule_audit::Change<'a> {
    use serde_json::json;
    use vestibule_audit::AuditAction::{TeamSecondFactorAdd, TeamSecondFactorRemove};
    use vestibule_mail::SecondFactorChange::*;
    let (action, before, after) = match change {
        AppAdded => (
            TeamSecondFactorAdd,
            json!({ "authenticator_app": false }),
            json!({ "authenticator_app": true }),
        ),
        AppRemoved => (
            TeamSecondFactorRemove,
            json!({ "authenticator_app": true }),
            json!({ "authenticator_app": false }),
        ),
        PasskeyAdded(name) => (TeamSecondFactorAdd, json!({}), json!({ "passkey": name })),
        PasskeyRemoved(name) => (
            TeamSecondFactorRemove,
            json!({ "passkey": name }),
            json!({}),
        ),
        AllRemoved => (
            TeamSecondFactorRemove,
            json!({ "second_factors": "all" }),
            json!({ "second_factors": "none" }),
        ),
    };
    vestibule_audit::Change {
        tenant: staff.role.tenant(),
        actor: by.unwrap_or(staff.email.as_str()),
        action,
        target: staff.email.to_string(),
        before: Some(before),
        after: Some(after),
    }
}

/// E-mails an invitation's setup link when this installation sends e-mail; says whether it
/// did. A failure to queue is logged and the link is still shown to hand over by hand.
pub async fn email_invitation(
    invited: &vestibule_staff::Invited,
    tenant: Option<(vestibule_domain::TenantId, &str)>,
) -> Result<bool, AppError> {
    let state = state()?;
    let Some(outbox) = &state.mail else {
        return Ok(false);
    };
    let url = setup_url(&invited.token)?;
    let lifetime = state.accounts.policy().setup_link_lifetime;
    let mail =
        vestibule_mail::Mail::staff_invitation(invited.staff.email.clone(), tenant, &url, lifetime);
    match outbox.enqueue(&mail, now()).await {
        Ok(queued) => Ok(queued.is_some()),
        Err(error) => {
            tracing::error!(%error, "queueing an invitation e-mail failed");
            Ok(false)
        }
    }
}

pub async fn complete_setup(
    token: &str,
    email: Option<&str>,
    password: &str,
) -> Result<(), AppError> {
    let staff = accounts()?
        .complete_setup(token, email, password, now())
        .await?;
    tracing::info!(staff = %staff, "setup link used");
    after_form_post("/login?password_set");
    Ok(())
}

pub fn setup_url(token: &str) -> Result<String, AppError> {
    Ok(format!(
        "{}/setup?token={token}",
        state()?.public_url.trim_end_matches('/')
    ))
}

pub fn tenant_view(tenant: &Tenant) -> TenantView {
    TenantView {
        cloud_id: tenant.cloud_id.to_string(),
        display_name: tenant.display_name.clone(),
        created_at: tenant.created_at.to_string(),
    }
}

/// How far `tenant` has come, as the checklist and the tenant list show it.
pub async fn progress_view(tenant: &Tenant) -> Result<TenantProgressView, AppError> {
    let progress = accounts()?.progress(tenant).await?;
    let page = |name: &str| format!("/t/{}/{name}", tenant.cloud_id);
    let (domain, domain_state) = match &progress.domain {
        Some((name, state)) => {
            let words = DomainState::parse(state).map_or_else(|| state.clone(), |s| s.to_string());
            let name = vestibule_provisioning::SsoDomain::from_stored(name.clone()).to_unicode();
            (format!("{name} ({words})"), state.clone())
        }
        None => ("No domain".to_string(), "none".to_string()),
    };
    let online = domain_state == "online";
    let directory = progress.identity_source == "directory";
    let tested = progress.imis_check.is_some_and(|(_, passed)| passed);
    let identity = if directory {
        "Member directory".to_string()
    } else {
        match (progress.imis_configured, progress.imis_check) {
            (false, _) => "iMIS, not connected".to_string(),
            (true, None) => "iMIS, not tested".to_string(),
            (true, Some((_, true))) => "iMIS, tested".to_string(),
            (true, Some((_, false))) => "iMIS, test failed".to_string(),
        }
    };
    let apps = progress.oidc_apps + progress.saml_apps;
    let step = |title: &str, detail: String, href: String, done: bool| ChecklistStepView {
        title: title.to_string(),
        detail,
        href,
        done,
    };
    let domain_step = step(
        "Put your SSO domain online",
        if online {
            format!("{domain}.")
        } else if progress.domain.is_some() {
            format!("{domain}: open Domain Setup to see what it waits for.")
        } else {
            "Choose a domain, create its CNAME record and provision it.".to_string()
        },
        page("domain"),
        online,
    );
    let identity_step = if directory {
        step(
            "Add your members",
            match progress.directory_members {
                0 => "The member directory is empty: add the members who sign in.".to_string(),
                1 => "1 member in the directory.".to_string(),
                n => format!("{n} members in the directory."),
            },
            page("members"),
            progress.directory_members > 0,
        )
    } else {
        step(
            "Connect iMIS and test the connection",
            match (progress.imis_configured, progress.imis_check) {
                (false, _) => "Enter your iMIS address and its client applications in Settings.",
                (true, None) => "Saved: press Test connection in Settings.",
                (true, Some((_, true))) => "Tested: every step passed.",
                (true, Some((_, false))) => {
                    "The last Test connection failed: open Settings to see which step."
                }
            }
            .to_string(),
            page("settings"),
            progress.imis_configured && tested,
        )
    };
    let app_step = step(
        "Register your first application",
        match apps {
            0 => "Add the OpenID Connect or SAML application your members sign in to.".to_string(),
            1 => "1 application registered.".to_string(),
            n => format!("{n} applications registered."),
        },
        page(if progress.oidc_apps == 0 && progress.saml_apps > 0 {
            "saml"
        } else {
            "oidc"
        }),
        apps > 0,
    );
    let sign_in_step = step(
        "Sign a member in",
        if progress.last_sign_in.is_some() {
            "A member has signed in: see Members for each sign-in.".to_string()
        } else {
            "Sign in as a member through an application (or on your domain's sign-in page) to try it end to end.".to_string()
        },
        page("members"),
        progress.last_sign_in.is_some(),
    );
    Ok(TenantProgressView {
        domain,
        domain_state,
        identity,
        apps,
        last_sign_in: progress.last_sign_in.map(|at| at.to_string()),
        steps: vec![domain_step, identity_step, app_step, sign_in_step],
    })
}

pub fn staff_view(staff: &StaffMember, second_factor: bool) -> StaffView {
    StaffView {
        email: staff.email.to_string(),
        role: staff.role.label().to_string(),
        access: staff
            .role
            .tenant_access()
            .map(|access| access.as_str().to_string()),
        active: staff.has_password,
        second_factor,
        created_at: staff.created_at.to_string(),
    }
}

pub fn provisioning() -> Result<Provisioning, AppError> {
    Ok(state()?.provisioning)
}

/// What needs the tenant's admins before it breaks sign-ins: what its SAML apps need (a
/// service provider certificate that expires within 30 days or has, metadata that failed to
/// read or waits for approval), and iMIS sign-ins failing in ways only an admin can fix in the
/// last day. (A failing certificate renewal is on the domain's own card.)
pub async fn tenant_warnings(tenant: &Tenant) -> Result<Vec<crate::views::WarningView>, AppError> {
    let now = now();
    let mut warnings: Vec<_> = saml()?
        .apps_needing_attention(tenant.id, now)
        .await?
        .into_iter()
        .map(|attention| crate::views::WarningView {
            text: format!("SAML app {}: {}", attention.app_name, attention.text),
            href: format!("/t/{}/saml/{}", tenant.cloud_id, attention.app_id),
        })
        .collect();
    let day_ago = now - vestibule_domain::Seconds(86_400);
    let failures: Vec<_> = members()?
        .sign_in_events(tenant.id, None, 200)
        .await?
        .into_iter()
        .filter(|event| event.at > day_ago && event.source == "imis")
        .filter(|event| vestibule_members::SignInOutcome::text_is_for_admins(&event.outcome))
        .collect();
    if let Some(latest) = failures.first() {
        warnings.push(crate::views::WarningView {
            text: format!(
                "iMIS sign-ins failed {} time{} in the last day in a way only an admin can fix \
                 (latest: {}).",
                failures.len(),
                if failures.len() == 1 { "" } else { "s" },
                latest.outcome
            ),
            href: format!("/t/{}/members", tenant.cloud_id),
        });
    }
    Ok(warnings)
}

pub async fn domain_view(
    tenant: &Tenant,
    overview: Option<DomainOverview>,
) -> Result<DomainSetupView, AppError> {
    let cname_target = provisioning()?.cname_target(tenant.id).await?;
    let Some(overview) = overview else {
        return Ok(DomainSetupView {
            warnings: tenant_warnings(tenant).await?,
            progress: progress_view(tenant).await?,
            status: "Not Provisioned".into(),
            state: "none".into(),
            domain: None,
            domain_ascii: None,
            cname_target,
            steps: Vec::new(),
            message: String::new(),
            check_message: String::new(),
            checked_at: None,
            certificate_expires: None,
            address: None,
            other_domains: Vec::new(),
            can_add_domain: false,
        });
    };
    let domains = provisioning()?.domains(tenant.id).await?;
    let can_add_domain = (domains.len() as i64) < vestibule_storage::MAX_DOMAINS_PER_TENANT;
    let other_domains = domains
        .into_iter()
        .filter(|other| other.record.id != overview.record.id)
        .map(|other| crate::views::OtherDomainView {
            name: other.domain.to_unicode(),
            ascii: other.domain.as_str().to_string(),
            status: other.record.state.to_string(),
            state: other.record.state.as_str().to_string(),
            message: other.record.message.clone(),
            certificate_expires: other.certificate_expires.map(|at| at.to_string()),
        })
        .collect();
    let record = &overview.record;
    let steps = ProvisioningPhase::ALL
        .into_iter()
        .map(|phase| {
            let status = match record.state {
                DomainState::Online | DomainState::Offline => "done",
                _ if phase < record.phase => "done",
                DomainState::Failed if phase == record.phase => "failed",
                DomainState::Provisioning if phase == record.phase => "active",
                _ => "waiting",
            };
            StepView {
                label: phase.label().to_string(),
                status: status.to_string(),
            }
        })
        .collect();
    Ok(DomainSetupView {
        warnings: tenant_warnings(tenant).await?,
        progress: progress_view(tenant).await?,
        status: record.state.to_string(),
        state: record.state.as_str().to_string(),
        domain: Some(overview.domain.to_unicode()),
        domain_ascii: Some(overview.domain.as_str().to_string()),
        cname_target,
        steps,
        message: record.message.clone(),
        check_message: record.check_message.clone(),
        checked_at: record.checked_at.map(|at| at.to_string()),
        certificate_expires: overview.certificate_expires.map(|at| at.to_string()),
        // With the port members use, as the issuer has it (not always 443).
        address: (state()?.member_site_origin)(&tenant.cloud_id, Some(overview.domain.as_str())),
        other_domains,
        can_add_domain,
    })
}

/// Releases the tenant's domain `name` (or its primary) once `confirm` repeats its name.
pub async fn release_domain(
    tenant: TenantId,
    name: Option<&str>,
    confirm: &str,
) -> Result<String, AppError> {
    let provisioning = provisioning()?;
    let domain = provisioning
        .domains(tenant)
        .await?
        .into_iter()
        .find(|domain| match name {
            Some(name) => domain.domain.as_str() == name,
            None => domain.record.is_primary,
        })
        .map(|overview| overview.domain)
        .ok_or_else(|| AppError::Conflict("This Cloud ID has no such domain to release.".into()))?;
    let typed = confirm.trim().trim_end_matches('.').to_lowercase();
    if typed != domain.as_str() && typed != domain.to_unicode() {
        return Err(AppError::Invalid(format!(
            "Type {} to confirm that you want to release it.",
            domain.to_unicode()
        )));
    }
    let bound = apps_on_domain(tenant, domain.as_str()).await?;
    if !bound.is_empty() {
        return Err(AppError::Conflict(format!(
            "{} {} used on {}: move {} to another domain on {} edit page first.",
            bound.join(", "),
            if bound.len() == 1 { "is" } else { "are" },
            domain.to_unicode(),
            if bound.len() == 1 { "it" } else { "them" },
            if bound.len() == 1 { "its" } else { "their" },
        )));
    }
    provisioning.release(tenant, Some(domain.as_str())).await?;
    Ok(domain.to_unicode())
}

/// The apps bound to the tenant's domain `name`, by name and protocol.
async fn apps_on_domain(tenant: TenantId, name: &str) -> Result<Vec<String>, AppError> {
    apps_bound_to(&oidc_clients()?, &saml()?.apps, tenant, name).await
}

/// The names (with their protocol) of the tenant's apps bound to its domain `name`: what a
/// release of it leaves without a domain. The operator's command line asks too.
pub async fn apps_bound_to(
    oidc: &vestibule_oidc::OidcClients,
    saml: &vestibule_saml::SamlApps,
    tenant: TenantId,
    name: &str,
) -> Result<Vec<String>, AppError> {
    let oidc = oidc.on_domain(tenant, name).await?;
    let saml = saml.on_domain(tenant, name).await?;
    Ok(oidc
        .into_iter()
        .map(|client| format!("{} (OIDC)", client.name))
        .chain(saml.into_iter().map(|app| format!("{} (SAML)", app.name)))
        .collect())
}

pub fn settings() -> Result<TenantSettings, AppError> {
    Ok(state()?.settings)
}

pub fn members() -> Result<Members, AppError> {
    Ok(state()?.members)
}

/// The origin members use for this tenant: the provisioned domain, or a test domain.
pub async fn member_site(tenant: &Tenant) -> Result<Option<String>, AppError> {
    let domain = provisioning()?
        .overview(tenant.id)
        .await?
        .map(|overview| overview.domain.as_str().to_string());
    site_origin(tenant, domain.as_deref())
}

/// The origin of the tenant's site on `domain` (ASCII), or on its test domain without one.
pub fn site_origin(tenant: &Tenant, domain: Option<&str>) -> Result<Option<String>, AppError> {
    Ok((state()?.member_site_origin)(&tenant.cloud_id, domain))
}

/// One of the tenant's turns to have a document on the web read now (metadata import or
/// compare), or the answer that says how long to wait.
pub async fn document_turn(tenant: TenantId) -> Result<(), AppError> {
    match settings()?.take_document_turn(tenant, now()).await? {
        Ok(()) => Ok(()),
        Err(wait) => Err(AppError::TooManyAttempts {
            message: format!(
                "This Cloud ID had {} documents read in the last {} minutes: try again in {} \
                 minutes.",
                vestibule_settings::DOCUMENTS_ASKED_PER_WINDOW,
                vestibule_settings::DOCUMENT_WINDOW.0 / 60,
                (wait.0 + 59) / 60
            ),
            retry_after_seconds: wait.0,
        }),
    }
}

/// The origin an app bound to `domain` (`None`: the primary) is used at: its issuer or
/// entity ID, its endpoints and its test sign-in live there.
pub async fn app_site(tenant: &Tenant, domain: Option<&str>) -> Result<Option<String>, AppError> {
    match domain {
        Some(domain) => site_origin(tenant, Some(domain)),
        None => member_site(tenant).await,
    }
}

/// The tenant's SSO domains (ASCII), the primary first: what an app can be bound to.
pub async fn domain_names(tenant: &Tenant) -> Result<Vec<String>, AppError> {
    let domains = provisioning()?.domain_names(tenant.id).await?;
    Ok(domains
        .into_iter()
        .map(|domain| domain.as_str().to_string())
        .collect())
}

/// The page's view of the Settings, with the RiSE Login Redirect URLs for the tenant's domain.
pub async fn settings_view(
    tenant: &Tenant,
    view: SettingsView,
) -> Result<SettingsPageView, AppError> {
    let site = member_site(tenant).await?;
    let has_logo = members()?.logo_version(tenant.id).await?.is_some();
    Ok(SettingsPageView {
        saved: SavedSettingsView::from(&view),
        has_logo,
        oidc_callback: site.as_ref().map(|s| format!("{s}/imis/callback")),
        saml_callback: site.as_ref().map(|s| format!("{s}/saml/imis/callback")),
        site_url: site,
        updated_at: view.updated_at.map(|at| at.to_utc_string()),
    })
}

impl From<&SettingsView> for SavedSettingsView {
    fn from(view: &SettingsView) -> Self {
        Self {
            imis_base_url: view.imis_base_url.clone(),
            oidc_client_id: view.oidc.client_id.clone(),
            oidc_has_secret: view.oidc.has_secret,
            oidc_sso_page: view.oidc.sso_page.clone(),
            saml_client_id: view.saml.client_id.clone(),
            saml_has_secret: view.saml.has_secret,
            saml_sso_page: view.saml.sso_page.clone(),
            api_username: view.api_username.clone(),
            has_api_password: view.has_api_password,
            profile_iqa: view.profile_iqa.clone(),
            brand_name: view.brand_name.clone(),
            brand_colour: view.brand_colour.clone(),
            sign_in_text: view.sign_in_text.clone(),
            support_contact: view.support_contact.clone(),
            identity_source: view.identity_source.as_str().to_string(),
            imis_sign_out_url: view.imis_sign_out_url.clone(),
        }
    }
}
