//! What crosses the wire between the browser and the server: view models, the one error type,
//! and the server functions. Every server function is a public HTTP endpoint, so each one first
//! establishes who is calling; every state-changing one also checks the session's CSRF token.

// A server function takes one argument per form field, so a whole form (Settings) has many.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::ssr;

/// The signed-in staff member, as the pages need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub is_operator: bool,
    /// A tenant admin's own Cloud ID.
    pub cloud_id: Option<String>,
    /// Echoed by every state-changing form.
    pub csrf: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub cloud_id: String,
    pub display_name: String,
    pub created_at: String,
}

/// One page of the tenant list, and where it sits in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantListView {
    pub tenants: Vec<TenantView>,
    /// How many tenants match, on every page.
    pub total: i64,
    /// Counting from 1.
    pub page: u32,
    pub pages: u32,
    pub per_page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffView {
    pub email: String,
    pub role: String,
    pub active: bool,
    pub created_at: String,
}

/// A freshly invited staff member and the one-time link to hand them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub email: String,
    pub setup_url: String,
}

/// A tenant's domain as the Domain Setup page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSetupView {
    /// "Not Provisioned", "Provisioning", "Online", "Offline" or "Failed".
    pub status: String,
    /// "none", "provisioning", "online", "offline" or "failed".
    pub state: String,
    /// The domain as people read it (internationalised names in their own script).
    pub domain: Option<String>,
    /// The ASCII form, as it goes into DNS.
    pub domain_ascii: Option<String>,
    pub cname_target: String,
    pub steps: Vec<StepView>,
    /// Why provisioning failed or is waiting to retry, or why renewal failed.
    pub message: String,
    /// The last check's finding when the domain is Offline.
    pub check_message: String,
    pub checked_at: Option<String>,
    pub certificate_expires: Option<String>,
}

/// A tenant's Settings as the page shows them. Secrets appear only as "set" or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPageView {
    pub imis_base_url: String,
    pub oidc_client_id: String,
    pub oidc_has_secret: bool,
    pub oidc_sso_page: String,
    pub saml_client_id: String,
    pub saml_has_secret: bool,
    pub saml_sso_page: String,
    pub api_username: String,
    pub has_api_password: bool,
    pub profile_iqa: String,
    pub brand_name: String,
    pub brand_colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    /// `imis` or `directory`.
    pub identity_source: String,
    pub has_logo: bool,
    /// The Login Redirect URLs to enter in RiSE, once the tenant has a domain.
    pub oidc_callback: Option<String>,
    pub saml_callback: Option<String>,
    /// Where members sign in, once the tenant has a domain.
    pub site_url: Option<String>,
    pub updated_at: Option<String>,
}

/// One step of Test connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

/// One provisioning step: "done", "active", "waiting" or "failed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub label: String,
    pub status: String,
}

/// Who a setup link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupView {
    FirstOperator,
    Invitation { email: String },
}

/// The dashboard's one error type. Messages are safe to show: internal causes are logged on the
/// server and replaced by [`AppError::Internal`] before they reach a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in.")]
    NotSignedIn,
    #[error("You do not have access to this.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    /// Input the person can correct; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadCredentials(String),
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_seconds: i64,
    },
    #[error("{0}")]
    SetupLink(String),
    #[error("Your session has expired or this form is stale. Reload the page and try again.")]
    Csrf,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request itself failed (network, decoding).
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

// --- session ---------------------------------------------------------------------------------

/// The current staff member, or `None` when nobody is signed in.
#[server(prefix = "/api", endpoint = "me")]
pub async fn current_staff() -> Result<Option<Me>, AppError> {
    ssr::respond(async { Ok(ssr::optional_caller().await?.map(|caller| ssr::me(&caller))) }.await)
}

/// Signs in and returns where to go next.
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<String, AppError> {
    ssr::respond(ssr::sign_in(&email, &password).await)
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), AppError> {
    ssr::respond(ssr::sign_out(&csrf).await)
}

#[server(prefix = "/api", endpoint = "setup_link")]
pub async fn setup_link(token: String) -> Result<SetupView, AppError> {
    ssr::respond(ssr::setup_link(&token).await)
}

/// Uses a setup link. `email` is read only for the first operator.
#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    email: Option<String>,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    let outcome = if password != confirm {
        Err(AppError::Invalid("The two passwords do not match.".into()))
    } else {
        ssr::complete_setup(&token, email.as_deref(), &password).await
    };
    ssr::respond(outcome)
}

// --- tenants ---------------------------------------------------------------------------------

/// A page of the tenants the caller may see: operators search by Cloud ID or name.
#[server(prefix = "/api", endpoint = "tenants")]
pub async fn list_tenants(
    #[server(default)] search: String,
    #[server(default)] page: u32,
) -> Result<TenantListView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let listed = ssr::accounts()?
                .visible_tenants(&caller, &search, page)
                .await?;
            Ok(TenantListView {
                tenants: listed.tenants.iter().map(ssr::tenant_view).collect(),
                total: listed.total,
                page: listed.page,
                pages: listed.pages(),
                per_page: vestibule_staff::TENANTS_PER_PAGE,
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "create_tenant")]
pub async fn create_tenant(
    csrf: String,
    cloud_id: String,
    display_name: String,
) -> Result<TenantView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .create_tenant(&caller, &cloud_id, &display_name, ssr::now())
                .await?;
            let after = serde_json::json!({
                "cloud_id": tenant.cloud_id.as_str(),
                "display_name": tenant.display_name,
            });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "tenant.create",
                tenant.cloud_id.to_string(),
                None,
                Some(&after),
            )
            .await;
            Ok(ssr::tenant_view(&tenant))
        }
        .await,
    )
}

/// One tenant, if the caller may see it.
#[server(prefix = "/api", endpoint = "tenant")]
pub async fn tenant(cloud_id: String) -> Result<TenantView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            Ok(ssr::tenant_view(&tenant))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "team")]
pub async fn tenant_team(cloud_id: String) -> Result<Vec<StaffView>, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let (_, team) = ssr::accounts()?.tenant_team(&caller, &cloud_id).await?;
            Ok(team.iter().map(ssr::staff_view).collect())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "invite_admin")]
pub async fn invite_admin(
    csrf: String,
    cloud_id: String,
    email: String,
) -> Result<Invitation, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let accounts = ssr::accounts()?;
            let (staff, token) = accounts
                .invite_tenant_admin(&caller, &cloud_id, &email, ssr::now())
                .await?;
            let tenant = accounts.tenant_for(&caller, &cloud_id).await?;
            let after =
                serde_json::json!({ "email": staff.email.as_str(), "role": "tenant admin" });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "team.invite",
                staff.email.to_string(),
                None,
                Some(&after),
            )
            .await;
            Ok(Invitation {
                email: staff.email.to_string(),
                setup_url: ssr::setup_url(&token)?,
            })
        }
        .await,
    )
}

// --- domain setup ----------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "domain")]
pub async fn domain_setup(cloud_id: String) -> Result<DomainSetupView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            ssr::domain_view(tenant.id, ssr::provisioning()?.overview(tenant.id).await?).await
        }
        .await,
    )
}

/// Claims the domain and queues provisioning; the page follows the job's progress.
#[server(prefix = "/api", endpoint = "start_provisioning")]
pub async fn start_provisioning(
    csrf: String,
    cloud_id: String,
    domain: String,
) -> Result<DomainSetupView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let overview = ssr::provisioning()?
                .start(tenant.id, &domain, ssr::now())
                .await?;
            record_domain_change(&caller, &tenant, "domain.provision", &overview).await;
            ssr::domain_view(tenant.id, Some(overview)).await
        }
        .await,
    )
}

/// Provisioning asked for (again): the audit log names the domain.
#[cfg(feature = "ssr")]
async fn record_domain_change(
    caller: &vestibule_staff::CurrentStaff,
    tenant: &vestibule_domain::Tenant,
    action: &str,
    overview: &vestibule_provisioning::DomainOverview,
) {
    let domain = overview.domain.to_string();
    let after = serde_json::json!({ "domain": domain });
    ssr::record_change(caller, Some(tenant.id), action, domain, None, Some(&after)).await;
}

#[server(prefix = "/api", endpoint = "retry_provisioning")]
pub async fn retry_provisioning(
    csrf: String,
    cloud_id: String,
) -> Result<DomainSetupView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let overview = ssr::provisioning()?.retry(tenant.id, ssr::now()).await?;
            record_domain_change(&caller, &tenant, "domain.retry", &overview).await;
            ssr::domain_view(tenant.id, Some(overview)).await
        }
        .await,
    )
}

/// Releases the domain. `confirm` must repeat the domain name: releasing breaks every SSO
/// connection that uses it.
#[server(prefix = "/api", endpoint = "release_domain")]
pub async fn release_domain(
    csrf: String,
    cloud_id: String,
    confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            ssr::release_domain(tenant.id, &confirm).await?;
            let before = serde_json::json!({ "domain": confirm.trim() });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "domain.release",
                confirm.trim().to_string(),
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

// --- settings --------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "settings")]
pub async fn tenant_settings(cloud_id: String) -> Result<SettingsPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let view = ssr::settings()?.get(tenant.id).await?;
            ssr::settings_view(&tenant, view).await
        }
        .await,
    )
}

/// Saves the Settings form. Secret fields left empty keep the stored secrets.
#[server(prefix = "/api", endpoint = "save_settings")]
pub async fn save_settings(
    csrf: String,
    cloud_id: String,
    imis_base_url: String,
    oidc_client_id: String,
    oidc_client_secret: String,
    oidc_sso_page: String,
    saml_client_id: String,
    saml_client_secret: String,
    saml_sso_page: String,
    api_username: String,
    api_password: String,
    profile_iqa: String,
    brand_name: String,
    brand_colour: String,
    sign_in_text: String,
    support_contact: String,
    #[server(default)] identity_source: String,
) -> Result<SettingsPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let input = vestibule_settings::SettingsInput {
                imis_base_url,
                oidc_client_id,
                oidc_client_secret,
                oidc_sso_page,
                saml_client_id,
                saml_client_secret,
                saml_sso_page,
                api_username,
                api_password,
                profile_iqa,
                brand_name,
                brand_colour,
                sign_in_text,
                support_contact,
                identity_source,
            };
            // Secrets are write-only: the log says which were replaced, never their values.
            let replaced: Vec<&str> = [
                ("oidc_client_secret", &input.oidc_client_secret),
                ("saml_client_secret", &input.saml_client_secret),
                ("api_password", &input.api_password),
            ]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, _)| name)
            .collect();
            let settings = ssr::settings()?;
            let before = settings_snapshot(&settings.get(tenant.id).await?, &[]);
            let view = settings.save(tenant.id, input, ssr::now()).await?;
            let after = settings_snapshot(&view, &replaced);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "settings.save",
                "Settings".to_string(),
                Some(&before),
                Some(&after),
            )
            .await;
            ssr::settings_view(&tenant, view).await
        }
        .await,
    )
}

/// Settings as the audit log records them: no secret, only whether each is set, and which the
/// change replaced.
#[cfg(feature = "ssr")]
fn settings_snapshot(
    view: &vestibule_settings::SettingsView,
    replaced: &[&str],
) -> serde_json::Value {
    serde_json::json!({
        "imis_base_url": view.imis_base_url,
        "oidc_client_id": view.oidc.client_id,
        "oidc_has_secret": view.oidc.has_secret,
        "oidc_sso_page": view.oidc.sso_page,
        "saml_client_id": view.saml.client_id,
        "saml_has_secret": view.saml.has_secret,
        "saml_sso_page": view.saml.sso_page,
        "api_username": view.api_username,
        "has_api_password": view.has_api_password,
        "profile_iqa": view.profile_iqa,
        "brand_name": view.brand_name,
        "brand_colour": view.brand_colour,
        "sign_in_text": view.sign_in_text,
        "support_contact": view.support_contact,
        "identity_source": view.identity_source,
        "replaced": replaced,
    })
}

/// Runs Test connection on the saved Settings.
#[server(prefix = "/api", endpoint = "test_connection")]
pub async fn test_connection(csrf: String, cloud_id: String) -> Result<Vec<CheckView>, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let steps = ssr::settings()?.test_connection(tenant.id).await?;
            Ok(steps
                .into_iter()
                .map(|s| CheckView {
                    step: s.step,
                    ok: s.ok,
                    detail: s.detail,
                })
                .collect())
        }
        .await,
    )
}

// --- members ---------------------------------------------------------------------------------

/// A member of the built-in directory, as the Members page lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryMemberView {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

/// One member sign-in, with its technical cause when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInEventView {
    pub at: String,
    pub source: String,
    pub member: String,
    pub outcome: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPageView {
    /// `imis` or `directory`.
    pub identity_source: String,
    pub site_url: Option<String>,
    pub directory: Vec<DirectoryMemberView>,
    pub events: Vec<SignInEventView>,
}

#[server(prefix = "/api", endpoint = "members")]
pub async fn tenant_members(cloud_id: String) -> Result<MembersPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let members = ssr::members()?;
            let directory = members
                .directory(tenant.id)
                .await?
                .into_iter()
                .map(|m| DirectoryMemberView {
                    id: m.id,
                    name: format!("{} {}", m.given_name, m.family_name)
                        .trim()
                        .to_string(),
                    username: m.username,
                    email: m.email,
                    created_at: m.created_at.to_utc_string(),
                })
                .collect();
            let events = members
                .sign_in_events(tenant.id, 50)
                .await?
                .into_iter()
                .map(|e| SignInEventView {
                    at: e.at.to_utc_string(),
                    ok: e.outcome == "signed in",
                    source: if e.source == "imis" {
                        "iMIS"
                    } else {
                        "Member directory"
                    }
                    .to_string(),
                    member: e.member,
                    outcome: e.outcome,
                    detail: e.detail,
                })
                .collect();
            Ok(MembersPageView {
                identity_source: members
                    .identity_source(tenant.id)
                    .await?
                    .as_str()
                    .to_string(),
                site_url: ssr::member_site(&tenant).await?,
                directory,
                events,
            })
        }
        .await,
    )
}

/// Adds a member to the tenant's member directory.
#[server(prefix = "/api", endpoint = "add_member")]
pub async fn add_member(
    csrf: String,
    cloud_id: String,
    username: String,
    email: String,
    given_name: String,
    family_name: String,
    password: String,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let added = ssr::members()?
                .add_directory_member(
                    tenant.id,
                    vestibule_members::NewDirectoryMember {
                        username,
                        email,
                        given_name,
                        family_name,
                        password,
                    },
                    ssr::now(),
                )
                .await?;
            let after = serde_json::json!({
                "username": added.username,
                "email": added.email,
                "given_name": added.given_name,
                "family_name": added.family_name,
            });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "member.add",
                added.username.clone(),
                None,
                Some(&after),
            )
            .await;
            Ok(added.username)
        }
        .await,
    )
}

/// Sets a new password for a directory member.
#[server(prefix = "/api", endpoint = "set_member_password")]
pub async fn set_member_password(
    csrf: String,
    cloud_id: String,
    id: i64,
    password: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let members = ssr::members()?;
            members
                .set_directory_password(tenant.id, id, &password, ssr::now())
                .await?;
            let target = member_target(&members, tenant.id, id).await?;
            let after = serde_json::json!({ "password": "set" });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "member.set_password",
                target,
                None,
                Some(&after),
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Removes a directory member, ends their sessions and revokes their tokens.
#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(csrf: String, cloud_id: String, id: i64) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let members = ssr::members()?;
            let target = member_target(&members, tenant.id, id).await?;
            members
                .remove_directory_member(tenant.id, id, ssr::now())
                .await?;
            let before = serde_json::json!({ "username": target });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "member.remove",
                target,
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Removes the logo from the hosted pages.
/// A directory member's username for the audit log.
#[cfg(feature = "ssr")]
async fn member_target(
    members: &vestibule_members::Members,
    tenant: vestibule_domain::TenantId,
    id: i64,
) -> Result<String, AppError> {
    Ok(members
        .directory(tenant)
        .await?
        .into_iter()
        .find(|member| member.id == id)
        .map_or_else(|| format!("member #{id}"), |member| member.username))
}

#[server(prefix = "/api", endpoint = "remove_logo")]
pub async fn remove_logo(csrf: String, cloud_id: String) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            ssr::members()?.remove_logo(tenant.id).await?;
            let before = serde_json::json!({ "logo": true });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "branding.remove_logo",
                "Logo".to_string(),
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

// --- audit log -------------------------------------------------------------------------------

/// One change in the audit log; `before` and `after` are JSON with secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogView {
    pub events: Vec<AuditEventView>,
    /// The most a page lists; narrow the filters or download the CSV for a closer look.
    pub limit: i64,
}

/// A tenant's audit log, newest first: `action` is a prefix (`saml_app`), `actor` part of an
/// e-mail address.
#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log(
    cloud_id: String,
    #[server(default)] action: String,
    #[server(default)] actor: String,
) -> Result<AuditLogView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let filter = vestibule_audit::filter(&action, &actor);
            let events = ssr::audit()?.search(tenant.id, &filter).await?;
            Ok(AuditLogView {
                events: events
                    .into_iter()
                    .map(|event| AuditEventView {
                        at: event.at.to_utc_string(),
                        actor: event.actor,
                        action: event.action,
                        target: event.target,
                        before: event.before,
                        after: event.after,
                    })
                    .collect(),
                limit: vestibule_audit::SEARCH_LIMIT,
            })
        }
        .await,
    )
}

// --- OIDC client apps ------------------------------------------------------------------------

/// One client secret as the page lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretView {
    pub created_at: String,
    /// When a rotation retires it.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub confidential: bool,
    pub flows: Vec<String>,
    pub algorithm: String,
    pub consent: bool,
    pub secrets: Vec<SecretView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppsView {
    /// The issuer (`https://<domain>`), once the tenant has a domain.
    pub issuer: Option<String>,
    pub apps: Vec<OidcAppView>,
}

/// What is shown once after creating an app or rotating its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownOnceView {
    pub client_id: String,
    pub client_secret: Option<String>,
}

#[server(prefix = "/api", endpoint = "oidc_apps")]
pub async fn oidc_apps(cloud_id: String) -> Result<OidcAppsView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let clients = ssr::oidc_clients()?;
            let now = ssr::now();
            let mut apps = Vec::new();
            for client in clients.list(tenant.id).await? {
                let secrets = clients
                    .secrets(&client, now)
                    .await?
                    .into_iter()
                    .map(|s| SecretView {
                        created_at: s.created_at.to_utc_string(),
                        expires_at: s.expires_at.map(|t| t.to_utc_string()),
                        last_used_at: s.last_used_at.map(|t| t.to_utc_string()),
                    })
                    .collect();
                let settings = &client.settings;
                let mut flows = vec!["Authorization code".to_string()];
                if settings.require_pkce {
                    flows[0].push_str(" (PKCE required)");
                }
                if settings.allow_implicit {
                    flows.push("Implicit".to_string());
                }
                if settings.allow_password {
                    flows.push("Password (ROPC)".to_string());
                }
                apps.push(OidcAppView {
                    client_id: client.client_id.clone(),
                    name: client.name.clone(),
                    redirect_uris: settings.redirect_uris.clone(),
                    post_logout_redirect_uris: settings.post_logout_redirect_uris.clone(),
                    confidential: settings.confidential,
                    flows,
                    algorithm: settings.algorithm.as_str().to_string(),
                    consent: settings.consent,
                    secrets,
                });
            }
            Ok(OidcAppsView {
                issuer: ssr::member_site(&tenant).await?,
                apps,
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Registers an OIDC client app. Checkboxes arrive only when ticked.
#[server(prefix = "/api", endpoint = "create_oidc_app")]
pub async fn create_oidc_app(
    csrf: String,
    cloud_id: String,
    name: String,
    redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] public: Option<String>,
    #[server(default)] implicit: Option<String>,
    #[server(default)] password: Option<String>,
    #[server(default)] consent: Option<String>,
    algorithm: String,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let input = vestibule_oidc::ClientInput {
                name,
                redirect_uris: lines(&redirect_uris),
                post_logout_redirect_uris: lines(&post_logout_redirect_uris),
                confidential: public.is_none(),
                allow_implicit: implicit.is_some(),
                allow_password: password.is_some(),
                consent: consent.is_some(),
                algorithm,
                ..vestibule_oidc::ClientInput::default()
            };
            let (client, shown) = ssr::oidc_clients()?
                .create(tenant.id, input, ssr::now())
                .await?;
            let after = oidc_edit_view(client.clone());
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "oidc_app.create",
                oidc_target(&after),
                None,
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id: client.client_id,
                client_secret: shown.client_secret,
            })
        }
        .await,
    )
}

/// A new client secret; the current ones keep working for `overlap_hours`.
#[server(prefix = "/api", endpoint = "rotate_oidc_secret")]
pub async fn rotate_oidc_secret(
    csrf: String,
    cloud_id: String,
    client_id: String,
    overlap_hours: i64,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            if !(0..=24 * 30).contains(&overlap_hours) {
                return Err(AppError::Invalid(
                    "The overlap is 0 to 720 hours.".to_string(),
                ));
            }
            let clients = ssr::oidc_clients()?;
            let secret = clients
                .rotate_secret(
                    tenant.id,
                    &client_id,
                    vestibule_domain::Seconds::hours(overlap_hours),
                    ssr::now(),
                )
                .await?;
            // What changed is a secret: the log says that it was rotated, and the overlap.
            let view = oidc_edit_view(clients.get(tenant.id, &client_id).await?);
            let after = serde_json::json!({ "overlap_hours": overlap_hours });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "oidc_app.rotate_secret",
                oidc_target(&view),
                None,
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id,
                client_secret: Some(secret),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_oidc_app")]
pub async fn delete_oidc_app(
    csrf: String,
    cloud_id: String,
    client_id: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let clients = ssr::oidc_clients()?;
            let before = oidc_edit_view(clients.get(tenant.id, &client_id).await?);
            clients.delete(tenant.id, &client_id).await?;
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "oidc_app.delete",
                oidc_target(&before),
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// One app's settings as its edit form shows them (never a secret or the HS512 key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppEditView {
    pub client_id: String,
    pub name: String,
    /// One per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub confidential: bool,
    pub require_pkce: bool,
    pub implicit: bool,
    pub password: bool,
    pub algorithm: String,
    pub id_token_minutes: i64,
    pub access_token_minutes: i64,
    pub consent: bool,
    pub consent_grace_days: i64,
    /// `claim = Property`, one mapping per line.
    pub claims: String,
}

#[server(prefix = "/api", endpoint = "oidc_app")]
pub async fn oidc_app(cloud_id: String, client_id: String) -> Result<OidcAppEditView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let client = ssr::oidc_clients()?.get(tenant.id, &client_id).await?;
            Ok(oidc_edit_view(client))
        }
        .await,
    )
}

/// An app as its edit form shows it; also what the audit log records of it.
#[cfg(feature = "ssr")]
fn oidc_edit_view(client: vestibule_oidc::Client) -> OidcAppEditView {
    let settings = client.settings;
    OidcAppEditView {
        client_id: client.client_id,
        name: client.name,
        redirect_uris: settings.redirect_uris.join("\n"),
        post_logout_redirect_uris: settings.post_logout_redirect_uris.join("\n"),
        confidential: settings.confidential,
        require_pkce: settings.require_pkce,
        implicit: settings.allow_implicit,
        password: settings.allow_password,
        algorithm: settings.algorithm.as_str().to_string(),
        id_token_minutes: settings.id_token_seconds / 60,
        access_token_minutes: settings.access_token_seconds / 60,
        consent: settings.consent,
        consent_grace_days: settings.consent_grace_days,
        claims: settings
            .claims
            .iter()
            .map(|m| format!("{} = {}", m.claim, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// How an app is named in the audit log.
#[cfg(feature = "ssr")]
fn oidc_target(view: &OidcAppEditView) -> String {
    format!("{} ({})", view.name, view.client_id)
}

/// `claim = Property` lines; blank lines are skipped.
#[cfg(feature = "ssr")]
fn claim_mappings(text: &str) -> Result<Vec<vestibule_oidc::ClaimMapping>, AppError> {
    lines(text)
        .iter()
        .enumerate()
        .map(|(index, line)| match line.split_once('=') {
            Some((claim, property)) => Ok(vestibule_oidc::ClaimMapping {
                claim: claim.trim().to_string(),
                property: property.trim().to_string(),
            }),
            None => Err(AppError::Invalid(format!(
                "Claim mapping line {}: write it as claim = Property, e.g. email = Email.",
                index + 1
            ))),
        })
        .collect()
}

#[cfg(feature = "ssr")]
fn minutes(field: &str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::Invalid(format!("{field}: enter a whole number.")))
}

/// Saves an edited app. The app's type (confidential or public) stays as created; switching to
/// HS512 issues a new client secret (ID tokens are signed with it), shown once.
#[server(prefix = "/api", endpoint = "update_oidc_app")]
#[allow(clippy::too_many_arguments)]
pub async fn update_oidc_app(
    csrf: String,
    cloud_id: String,
    client_id: String,
    name: String,
    redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] require_pkce: Option<String>,
    #[server(default)] implicit: Option<String>,
    #[server(default)] password: Option<String>,
    #[server(default)] consent: Option<String>,
    consent_grace_days: String,
    algorithm: String,
    id_token_minutes: String,
    access_token_minutes: String,
    #[server(default)] claims: String,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let clients = ssr::oidc_clients()?;
            let existing = clients.get(tenant.id, &client_id).await?;
            let before = oidc_edit_view(existing.clone());
            let input = vestibule_oidc::ClientInput {
                name,
                redirect_uris: lines(&redirect_uris),
                post_logout_redirect_uris: lines(&post_logout_redirect_uris),
                confidential: existing.settings.confidential,
                require_pkce: require_pkce.is_some(),
                allow_implicit: implicit.is_some(),
                allow_password: password.is_some(),
                algorithm,
                id_token_minutes: minutes("ID token lifetime", &id_token_minutes)?,
                access_token_minutes: minutes("Access token lifetime", &access_token_minutes)?,
                consent: consent.is_some(),
                consent_grace_days: minutes("Consent remembered for", &consent_grace_days)?,
                claims: claim_mappings(&claims)?,
            };
            let (client, shown) = clients
                .update(tenant.id, &client_id, input, ssr::now())
                .await?;
            let after = oidc_edit_view(client.clone());
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "oidc_app.update",
                oidc_target(&after),
                Some(&before),
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id: client.client_id,
                client_secret: shown.client_secret,
            })
        }
        .await,
    )
}

/// The ID token the app would receive for a member now, as pretty JSON (unsigned): checks a
/// claim mapping against a real profile before a vendor sees it.
#[server(prefix = "/api", endpoint = "preview_oidc_id_token")]
pub async fn preview_oidc_id_token(
    csrf: String,
    cloud_id: String,
    client_id: String,
    username: String,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let client = ssr::oidc_clients()?.get(tenant.id, &client_id).await?;
            if username.trim().is_empty() {
                return Err(AppError::Invalid(
                    "Enter the username of a member to preview.".to_string(),
                ));
            }
            let member = ssr::members()?
                .find_member(tenant.id, &username)
                .await
                .map_err(|error| match error {
                    vestibule_members::MembersError::NotFound => AppError::Invalid(format!(
                        "There is no member {} in the member directory.",
                        username.trim()
                    )),
                    error @ (vestibule_members::MembersError::NotConfigured(_)
                    | vestibule_members::MembersError::ImisUnavailable(_)
                    | vestibule_members::MembersError::ProfileUnavailable(_)) => {
                        AppError::Conflict(format!("The member could not be read: {error}."))
                    }
                    error => error.into(),
                })?;
            let subject = vestibule_oidc::Subject {
                sub: member.subject,
                attributes: member.attributes,
            };
            let issuer = ssr::member_site(&tenant)
                .await?
                .unwrap_or_else(|| "https://<your SSO domain>".to_string());
            let claims = vestibule_oidc::preview_id_token(&issuer, &client, &subject, ssr::now());
            serde_json::to_string_pretty(&claims).map_err(|_| AppError::Internal)
        }
        .await,
    )
}

// --- SAML client apps ------------------------------------------------------------------------

/// The tenant's IdP as service providers import it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlIdpView {
    pub metadata_url: String,
    pub entity_id: String,
    pub single_sign_on: String,
    pub single_logout: String,
    /// The signing certificate, PEM.
    pub certificate_pem: String,
    pub certificate_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppView {
    pub app_id: String,
    pub name: String,
    pub entity_id: String,
    pub assertion_consumers: Vec<String>,
    pub single_logout: Option<String>,
    pub name_id_format: String,
    pub signed: String,
    pub require_signed_requests: bool,
    pub encrypt_assertions: bool,
    /// The IdP-initiated sign-in link, once the tenant has a domain.
    pub idp_initiated_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppsView {
    pub idp: Option<SamlIdpView>,
    pub apps: Vec<SamlAppView>,
    /// The add form's starting values.
    pub new_app: SamlAppForm,
}

/// A SAML app's form, as the dashboard's create and edit forms send it (`form[field]`) and
/// metadata import fills it. Lists are one entry per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub entity_id: String,
    /// `URL` or `index URL`, one per line; the first is the default.
    #[serde(default)]
    pub assertion_consumers: String,
    #[serde(default)]
    pub single_logout: String,
    /// `redirect` or `post`: how logout messages are sent to the service provider.
    #[serde(default)]
    pub single_logout_binding: String,
    /// `unspecified`, `email_address`, `persistent` or `transient`.
    #[serde(default)]
    pub name_id_format: String,
    /// Checkbox: present when ticked.
    #[serde(default)]
    pub unspecified_is_imis_id: Option<String>,
    /// Checkbox: the service provider may ask for another NameID format.
    #[serde(default)]
    pub sp_may_request_name_id_format: Option<String>,
    /// `attribute = Property`, one per line.
    #[serde(default)]
    pub attributes: String,
    /// `assertion`, `response` or `both`.
    #[serde(default)]
    pub signed: String,
    #[serde(default)]
    pub require_signed_requests: Option<String>,
    /// PEM.
    #[serde(default)]
    pub sp_certificate: String,
    #[serde(default)]
    pub assertion_minutes: String,
    #[serde(default)]
    pub default_relay_state: String,
    /// Checkbox: present when ticked.
    #[serde(default)]
    pub encrypt_assertions: Option<String>,
    /// PEM.
    #[serde(default)]
    pub sp_encryption_certificate: String,
}

/// What imported metadata would register, shown before saving, with the form it fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlMetadataPreview {
    pub form: SamlAppForm,
    pub notes: Vec<String>,
}

#[cfg(feature = "ssr")]
fn name_id_format_key(format: vestibule_saml::NameIdFormat) -> &'static str {
    use vestibule_saml::NameIdFormat;
    match format {
        NameIdFormat::Unspecified => "unspecified",
        NameIdFormat::EmailAddress => "email_address",
        NameIdFormat::Persistent => "persistent",
        NameIdFormat::Transient => "transient",
    }
}

#[cfg(feature = "ssr")]
fn logout_binding_key(binding: vestibule_saml::LogoutBinding) -> &'static str {
    match binding {
        vestibule_saml::LogoutBinding::Redirect => "redirect",
        vestibule_saml::LogoutBinding::Post => "post",
    }
}

#[cfg(feature = "ssr")]
fn signed_key(signed: vestibule_saml::SignedPartsSetting) -> &'static str {
    use vestibule_saml::SignedPartsSetting;
    match signed {
        SignedPartsSetting::Assertion => "assertion",
        SignedPartsSetting::Response => "response",
        SignedPartsSetting::Both => "both",
    }
}

#[cfg(feature = "ssr")]
fn pem(der: &[u8]) -> String {
    vestibule_saml::certificate_pem(der)
}

#[cfg(feature = "ssr")]
fn consumer_lines(consumers: &[vestibule_saml::AssertionConsumer]) -> String {
    let mut sorted = consumers.to_vec();
    sorted.sort_by_key(|acs| (!acs.is_default, acs.index));
    sorted
        .iter()
        .map(|acs| format!("{} {}", acs.index, acs.url))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form as the engine takes it: every field checked there, the text shapes here.
#[cfg(feature = "ssr")]
fn saml_input(form: SamlAppForm) -> Result<vestibule_saml::SamlAppInput, AppError> {
    use vestibule_saml::{AssertionConsumer, AttributeMapping, NameIdFormat, SignedPartsSetting};
    let mut consumers = Vec::new();
    for (line_number, line) in lines(&form.assertion_consumers).iter().enumerate() {
        let (index, url) = match line.split_once(char::is_whitespace) {
            Some((index, url)) if index.chars().all(|c| c.is_ascii_digit()) => (
                index.parse::<u32>().map_err(|_| {
                    AppError::Invalid(format!(
                        "Assertion consumer service line {}: the index is too large.",
                        line_number + 1
                    ))
                })?,
                url.trim(),
            ),
            _ => (
                u32::try_from(line_number).unwrap_or(u32::MAX),
                line.as_str(),
            ),
        };
        consumers.push(AssertionConsumer {
            url: url.to_string(),
            index,
            is_default: line_number == 0,
        });
    }
    let attributes = lines(&form.attributes)
        .iter()
        .enumerate()
        .map(|(index, line)| match line.split_once('=') {
            Some((attribute, property)) => Ok(AttributeMapping {
                attribute: attribute.trim().to_string(),
                property: property.trim().to_string(),
            }),
            None => Err(AppError::Invalid(format!(
                "Attribute line {}: write it as attribute = Property, e.g. email = Email.",
                index + 1
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name_id_format = match form.name_id_format.as_str() {
        "unspecified" => NameIdFormat::Unspecified,
        "email_address" => NameIdFormat::EmailAddress,
        "persistent" => NameIdFormat::Persistent,
        "transient" => NameIdFormat::Transient,
        _ => return Err(AppError::Invalid("Choose a NameID format.".to_string())),
    };
    let signed = match form.signed.as_str() {
        "assertion" => SignedPartsSetting::Assertion,
        "response" => SignedPartsSetting::Response,
        "both" => SignedPartsSetting::Both,
        _ => return Err(AppError::Invalid("Choose what is signed.".to_string())),
    };
    let single_logout = Some(form.single_logout.trim().to_string()).filter(|s| !s.is_empty());
    let single_logout_binding = match form.single_logout_binding.as_str() {
        "" | "redirect" => vestibule_saml::LogoutBinding::Redirect,
        "post" => vestibule_saml::LogoutBinding::Post,
        _ => {
            return Err(AppError::Invalid(
                "Choose how logout messages are sent.".to_string(),
            ))
        }
    };
    let sp_certificate = Some(form.sp_certificate.trim().to_string()).filter(|s| !s.is_empty());
    let sp_encryption_certificate =
        Some(form.sp_encryption_certificate.trim().to_string()).filter(|s| !s.is_empty());
    Ok(vestibule_saml::SamlAppInput {
        name: form.name,
        entity_id: form.entity_id.trim().to_string(),
        assertion_consumers: consumers,
        single_logout,
        single_logout_binding,
        name_id_format,
        unspecified_is_imis_id: form.unspecified_is_imis_id.is_some(),
        sp_may_request_name_id_format: form.sp_may_request_name_id_format.is_some(),
        attributes,
        signed,
        require_signed_requests: form.require_signed_requests.is_some(),
        sp_certificate,
        assertion_minutes: minutes("Assertion lifetime", &form.assertion_minutes)?,
        default_relay_state: form.default_relay_state.trim().to_string(),
        encrypt_assertions: form.encrypt_assertions.is_some(),
        sp_encryption_certificate,
    })
}

#[cfg(feature = "ssr")]
fn saml_form(app: &vestibule_saml::SamlApp) -> SamlAppForm {
    let settings = &app.settings;
    SamlAppForm {
        name: app.name.clone(),
        entity_id: app.entity_id.clone(),
        assertion_consumers: consumer_lines(&settings.assertion_consumers),
        single_logout: settings.single_logout.clone().unwrap_or_default(),
        single_logout_binding: logout_binding_key(settings.single_logout_binding).to_string(),
        name_id_format: name_id_format_key(settings.name_id_format).to_string(),
        unspecified_is_imis_id: settings.unspecified_is_imis_id.then(|| "on".to_string()),
        sp_may_request_name_id_format: settings
            .sp_may_request_name_id_format
            .then(|| "on".to_string()),
        attributes: settings
            .attributes
            .iter()
            .map(|m| format!("{} = {}", m.attribute, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
        signed: signed_key(settings.signed).to_string(),
        require_signed_requests: settings.require_signed_requests.then(|| "on".to_string()),
        sp_certificate: settings
            .sp_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
        assertion_minutes: (settings.assertion_seconds / 60).to_string(),
        default_relay_state: settings.default_relay_state.clone(),
        encrypt_assertions: settings.encrypt_assertions.then(|| "on".to_string()),
        sp_encryption_certificate: settings
            .sp_encryption_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
    }
}

/// How an app is named in the audit log.
#[cfg(feature = "ssr")]
fn saml_target(app: &vestibule_saml::SamlApp) -> String {
    format!("{} ({})", app.name, app.app_id)
}

/// The form for a new app: the engine's defaults.
#[cfg(feature = "ssr")]
fn new_saml_form() -> SamlAppForm {
    let input = vestibule_saml::SamlAppInput::default();
    SamlAppForm {
        name_id_format: name_id_format_key(input.name_id_format).to_string(),
        attributes: input
            .attributes
            .iter()
            .map(|m| format!("{} = {}", m.attribute, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
        signed: signed_key(input.signed).to_string(),
        assertion_minutes: input.assertion_minutes.to_string(),
        ..SamlAppForm::default()
    }
}

#[server(prefix = "/api", endpoint = "saml_apps")]
pub async fn saml_apps(cloud_id: String) -> Result<SamlAppsView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let saml = ssr::saml()?;
            let origin = ssr::member_site(&tenant).await?;
            let idp = match &origin {
                Some(origin) => {
                    let key = saml
                        .keys
                        .signing_key(tenant.id, tenant.cloud_id.as_str(), ssr::now())
                        .await?;
                    Some(SamlIdpView {
                        metadata_url: format!("{origin}/saml/metadata"),
                        entity_id: format!("{origin}/saml/metadata"),
                        single_sign_on: format!("{origin}/saml/sso"),
                        single_logout: format!("{origin}/saml/slo"),
                        certificate_pem: pem(&key.certificate_der),
                        certificate_url: format!("{origin}/saml/certificate.pem"),
                    })
                }
                None => None,
            };
            let apps = saml
                .apps
                .list(tenant.id)
                .await?
                .into_iter()
                .map(|app| {
                    let mut consumers = app.settings.assertion_consumers.clone();
                    consumers.sort_by_key(|acs| (!acs.is_default, acs.index));
                    SamlAppView {
                        idp_initiated_link: origin
                            .as_ref()
                            .map(|origin| format!("{origin}/saml/idp/{}", app.app_id)),
                        app_id: app.app_id,
                        name: app.name,
                        entity_id: app.entity_id,
                        assertion_consumers: consumers
                            .iter()
                            .map(|acs| format!("{} (index {})", acs.url, acs.index))
                            .collect(),
                        single_logout: app.settings.single_logout,
                        name_id_format: app.settings.name_id_format.uri().to_string(),
                        signed: signed_key(app.settings.signed).to_string(),
                        require_signed_requests: app.settings.require_signed_requests,
                        encrypt_assertions: app.settings.encrypt_assertions,
                    }
                })
                .collect();
            Ok(SamlAppsView {
                idp,
                apps,
                new_app: new_saml_form(),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "create_saml_app")]
pub async fn create_saml_app(
    csrf: String,
    cloud_id: String,
    form: SamlAppForm,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let app = ssr::saml()?
                .apps
                .create(tenant.id, saml_input(form)?, ssr::now())
                .await?;
            let target = saml_target(&app);
            let after = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "saml_app.create",
                target,
                None,
                Some(&after),
            )
            .await;
            Ok(app.app_id)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "saml_app")]
pub async fn saml_app(cloud_id: String, app_id: String) -> Result<SamlAppForm, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let app = ssr::saml()?.apps.get(tenant.id, &app_id).await?;
            Ok(saml_form(&app))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "update_saml_app")]
pub async fn update_saml_app(
    csrf: String,
    cloud_id: String,
    app_id: String,
    form: SamlAppForm,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let apps = ssr::saml()?.apps;
            let before = saml_form(&apps.get(tenant.id, &app_id).await?);
            let app = apps
                .update(tenant.id, &app_id, saml_input(form)?, ssr::now())
                .await?;
            let target = saml_target(&app);
            let after = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "saml_app.update",
                target,
                Some(&before),
                Some(&after),
            )
            .await;
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_saml_app")]
pub async fn delete_saml_app(
    csrf: String,
    cloud_id: String,
    app_id: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let apps = ssr::saml()?.apps;
            let app = apps.get(tenant.id, &app_id).await?;
            apps.delete(tenant.id, &app_id).await?;
            let target = saml_target(&app);
            let before = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                "saml_app.delete",
                target,
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Reads pasted service provider metadata into the app form, saving nothing.
#[server(prefix = "/api", endpoint = "preview_saml_metadata")]
pub async fn preview_saml_metadata(
    csrf: String,
    cloud_id: String,
    metadata: String,
) -> Result<SamlMetadataPreview, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            ssr::accounts()?.tenant_for(&caller, &cloud_id).await?;
            let parsed = vestibule_saml::parse_sp_metadata(metadata.trim()).map_err(|problem| {
                AppError::Invalid(format!("The metadata cannot be imported: {problem}."))
            })?;
            let defaults = new_saml_form();
            let name = parsed
                .entity_id
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', ':']).next())
                .unwrap_or(&parsed.entity_id)
                .to_string();
            let form = SamlAppForm {
                name,
                entity_id: parsed.entity_id,
                assertion_consumers: consumer_lines(&parsed.assertion_consumers),
                single_logout: parsed.single_logout.unwrap_or_default(),
                single_logout_binding: logout_binding_key(parsed.single_logout_binding).to_string(),
                name_id_format: parsed
                    .name_id_format
                    .map_or(defaults.name_id_format.clone(), |format| {
                        name_id_format_key(format).to_string()
                    }),
                require_signed_requests: (parsed.authn_requests_signed
                    && parsed.signing_certificate.is_some())
                .then(|| "on".to_string()),
                sp_certificate: parsed
                    .signing_certificate
                    .as_deref()
                    .map(pem)
                    .unwrap_or_default(),
                // Offered, not switched on: the admin decides to encrypt.
                sp_encryption_certificate: parsed
                    .encryption_certificate
                    .as_deref()
                    .map(pem)
                    .unwrap_or_default(),
                ..defaults
            };
            Ok(SamlMetadataPreview {
                form,
                notes: parsed.notes,
            })
        }
        .await,
    )
}
