//! The flight recorder's pages: each app's latest protocol exchanges, redacted for everyone
//! who may read the tenant, in full for its admins while the detail is kept (opening one is
//! audited).

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::{ExchangeView, RecorderView};
#[cfg(feature = "ssr")]
use crate::{
    ssr,
    views::{ExchangeRowView, ShownMessageView},
};

/// The app a recorder page is about, checked to be the tenant's.
#[cfg(feature = "ssr")]
struct RecordedApp {
    app: vestibule_recorder::AppRef,
    name: String,
    protocol: &'static str,
    /// The SSO domain it is used on; `None`: the primary.
    domain: Option<String>,
}

#[cfg(feature = "ssr")]
async fn recorded_app(
    tenant: vestibule_domain::TenantId,
    protocol: &str,
    app_id: &str,
) -> Result<RecordedApp, AppError> {
    use vestibule_recorder::AppRef;
    match protocol {
        "oidc" => {
            let client = ssr::oidc_clients()?.get(tenant, app_id).await?;
            Ok(RecordedApp {
                app: AppRef::oidc(&client.client_id),
                name: client.name,
                protocol: "OpenID Connect",
                domain: client.settings.domain,
            })
        }
        "saml" => {
            let app = ssr::saml()?.apps.get(tenant, app_id).await?;
            Ok(RecordedApp {
                app: AppRef::saml(&app.app_id),
                name: app.name,
                protocol: "SAML 2.0",
                domain: app.settings.domain,
            })
        }
        _ => Err(AppError::NotFound),
    }
}

#[cfg(feature = "ssr")]
fn row(base: &str, entry: &vestibule_recorder::Entry) -> ExchangeRowView {
    ExchangeRowView {
        id: entry.id,
        at: entry.at.to_utc_string(),
        kind: entry
            .kind
            .map_or("Exchange", vestibule_recorder::Kind::label)
            .to_string(),
        member: entry.member.clone(),
        answered: entry.answered,
        reason: entry.reason.clone(),
        href: format!("{base}/{}", entry.id),
    }
}

#[cfg(feature = "ssr")]
impl From<vestibule_recorder::RecorderError> for AppError {
    fn from(error: vestibule_recorder::RecorderError) -> Self {
        tracing::error!(%error, "flight recorder request failed");
        AppError::Internal
    }
}

/// `protocol`: `oidc` or `saml`; `app_id`: the client id or SAML app id.
#[server(prefix = "/api", endpoint = "flight_recorder")]
pub async fn flight_recorder(
    cloud_id: String,
    protocol: String,
    app_id: String,
) -> Result<RecorderView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let RecordedApp {
                app,
                name: app_name,
                protocol: protocol_name,
                ..
            } = recorded_app(tenant.id, &protocol, &app_id).await?;
            let recorder = ssr::state()?.recorder;
            let entries = recorder.recent(tenant.id, &app, ssr::now()).await?;
            let base = format!("/t/{cloud_id}/{protocol}/{app_id}/recorder");
            Ok(RecorderView {
                app_name,
                protocol: protocol_name.to_string(),
                back_href: format!("/t/{cloud_id}/{protocol}"),
                entries: entries.iter().map(|entry| row(&base, entry)).collect(),
                kept: vestibule_recorder::KEEP,
                can_reveal: caller.staff.role.can_change(tenant.id),
            })
        }
        .await,
    )
}

/// One exchange; `full` asks for the full detail, which only the tenant's admins get (and
/// which is audited).
#[server(prefix = "/api", endpoint = "recorded_exchange")]
pub async fn recorded_exchange(
    cloud_id: String,
    protocol: String,
    app_id: String,
    id: i64,
    #[server(default)] full: bool,
) -> Result<ExchangeView, AppError> {
    use vestibule_recorder::Reveal;
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let accounts = ssr::accounts()?;
            let tenant = if full {
                accounts.tenant_to_change(&caller, &cloud_id).await?
            } else {
                accounts.tenant_to_read(&caller, &cloud_id).await?
            };
            let RecordedApp {
                app,
                name: app_name,
                protocol: protocol_name,
                ..
            } = recorded_app(tenant.id, &protocol, &app_id).await?;
            let reveal = if full { Reveal::Full } else { Reveal::Redacted };
            let recorder = ssr::state()?.recorder;
            let opened = recorder
                .open(tenant.id, &app, id, reveal, ssr::now())
                .await?;
            let detail = opened.ok_or(AppError::NotFound)?;
            if detail.full.is_some() {
                ssr::record_change::<()>(
                    &caller,
                    Some(tenant.id),
                    vestibule_audit::AuditAction::FlightRecorderReveal,
                    format!("{app_name} ({app_id}): exchange {id}"),
                    None,
                    None,
                )
                .await;
            }
            let list_href = format!("/t/{cloud_id}/{protocol}/{app_id}/recorder");
            let shown = |shown: vestibule_recorder::Shown| ShownMessageView {
                format: shown.format,
                text: shown.text,
            };
            Ok(ExchangeView {
                app_name,
                protocol: protocol_name.to_string(),
                row: row(&list_href, &detail.entry),
                list_href,
                signature: detail.entry.signature.clone(),
                redacted: shown(detail.redacted),
                full: detail.full.map(shown),
                detail_until: detail.entry.detail_until.map(|at| at.to_utc_string()),
                can_reveal: caller.staff.role.can_change(tenant.id),
            })
        }
        .await,
    )
}

/// How long a test sign-in link works after the admin pressed the button.
#[cfg(feature = "ssr")]
const TEST_SIGN_IN_MINUTES: i64 = 10;

/// What the member site's test sign-in links are sealed for.
pub const TEST_SIGN_IN_PURPOSE: &str = "test-sign-in";

/// Starts a test sign-in of an app (audited): the link to open in a new tab on the Cloud ID's
/// SSO domain, working for ten minutes.
#[server(prefix = "/api", endpoint = "start_test_sign_in")]
pub async fn start_test_sign_in(
    csrf: String,
    cloud_id: String,
    protocol: String,
    app_id: String,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let RecordedApp {
                app,
                name: app_name,
                domain,
                ..
            } = recorded_app(tenant.id, &protocol, &app_id).await?;
            let Some(origin) = ssr::app_site(&tenant, domain.as_deref()).await? else {
                return Err(AppError::Invalid(
                    "Provision the SSO domain on Domain Setup first: the test sign-in runs there."
                        .into(),
                ));
            };
            let expires = ssr::now() + vestibule_domain::Seconds::minutes(TEST_SIGN_IN_MINUTES);
            let payload = format!("{}:{}:{}", tenant.id.0, app.protocol.as_str(), app.id);
            let ticket = ssr::state()?
                .secret_key
                .seal_expiring(TEST_SIGN_IN_PURPOSE, &payload, expires.0)
                .map_err(|error| {
                    tracing::error!(%error, "a test sign-in link could not be sealed");
                    AppError::Internal
                })?;
            ssr::record_change::<()>(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::TestSignInStart,
                format!("{app_name} ({app_id})"),
                None,
                None,
            )
            .await;
            Ok(format!(
                "{origin}/test-sign-in/{protocol}/{app_id}?ticket={ticket}"
            ))
        }
        .await,
    )
}
