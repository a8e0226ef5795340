//! Settings: the iMIS connection (secrets write-only) and branding.

use leptos::prelude::*;
use leptos::server_fn::codec::{StreamingText, TextStream};

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

#[server(prefix = "/api", endpoint = "settings")]
pub async fn tenant_settings(cloud_id: String) -> Result<SettingsPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let view = ssr::settings()?.get(tenant.id).await?;
            ssr::settings_view(&tenant, view).await
        }
        .await,
    )
}

/// Saves a Settings form: `part` is `connection` (the Settings page: how members sign in and
/// the iMIS connection) or `branding` (the Branding page), and the other part keeps its saved
/// values; without a part, every field is taken as sent. Secret fields left empty keep the
/// stored secrets.
#[server(prefix = "/api", endpoint = "save_settings")]
pub async fn save_settings(
    csrf: String,
    cloud_id: String,
    #[server(default)] part: String,
    #[server(flatten)] form: SettingsForm,
) -> Result<SettingsPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let stored = SavedSettingsView::from(&ssr::settings()?.get(tenant.id).await?);
            let form = match part.as_str() {
                "connection" => SettingsForm {
                    brand_name: stored.brand_name,
                    brand_colour: stored.brand_colour,
                    sign_in_text: stored.sign_in_text,
                    support_contact: stored.support_contact,
                    ..form
                },
                "branding" => SettingsForm {
                    imis_base_url: stored.imis_base_url,
                    oidc_client_id: stored.oidc_client_id,
                    oidc_sso_page: stored.oidc_sso_page,
                    saml_client_id: stored.saml_client_id,
                    saml_sso_page: stored.saml_sso_page,
                    api_username: stored.api_username,
                    profile_iqa: stored.profile_iqa,
                    identity_source: stored.identity_source,
                    imis_sign_out_url: stored.imis_sign_out_url,
                    // Empty secrets keep the stored ones.
                    oidc_client_secret: String::new(),
                    saml_client_secret: String::new(),
                    api_password: String::new(),
                    ..form
                },
                "" => form,
                _ => {
                    return Err(AppError::Invalid(
                        "Unknown part of Settings: reload the page and try again.".into(),
                    ))
                }
            };
            let input = settings_input(form);
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
                vestibule_audit::AuditAction::SettingsSave,
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

/// The form's fields, as the settings engine takes them.
#[cfg(feature = "ssr")]
fn settings_input(form: SettingsForm) -> vestibule_settings::SettingsInput {
    let SettingsForm {
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
        imis_sign_out_url,
    } = form;
    vestibule_settings::SettingsInput {
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
        imis_sign_out_url,
    }
}

/// A settings change as the audit log keeps it: the saved values (secrets as "set" or not)
/// and which secrets this change replaced.
#[cfg(feature = "ssr")]
fn settings_snapshot(
    view: &vestibule_settings::SettingsView,
    replaced: &[&str],
) -> serde_json::Value {
    let mut snapshot = serde_json::to_value(SavedSettingsView::from(view))
        .unwrap_or_else(|_| serde_json::json!({}));
    snapshot["replaced"] = serde_json::json!(replaced);
    snapshot
}

/// Runs Test connection on the saved Settings, sending each step the moment it is known: one
/// JSON [`CheckView`] per line. A slow iMIS then shows which step it is slow on, instead of
/// "Testing…" until the last step's answer.
#[server(
    prefix = "/api",
    endpoint = "test_connection",
    output = StreamingText
)]
pub async fn test_connection(
    csrf: String,
    cloud_id: String,
) -> Result<TextStream<AppError>, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("each step's result")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let settings = ssr::settings()?;
            // Refused here, in words, while this tenant's previous check still runs.
            let slot = settings.reserve_check(tenant.id)?;
            let now = ssr::now();
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
            // The check runs on its own task: the answer starts while it waits on iMIS.
            tokio::spawn(async move {
                let report = |step: &vestibule_settings::CheckStep| {
                    let view = CheckView {
                        step: step.step.clone(),
                        ok: step.ok,
                        detail: step.detail.clone(),
                    };
                    if let Ok(line) = serde_json::to_string(&view) {
                        // A closed page stops listening; the check still finishes and is
                        // written down.
                        let _ = sender.send(format!("{line}\n"));
                    }
                };
                if let Err(error) = settings.test_connection_reporting(slot, now, &report).await {
                    tracing::error!(%error, "Test connection could not run");
                    report(&vestibule_settings::CheckStep::failed(
                        "Test connection",
                        "The check could not run on our side. Try again in a moment.",
                    ));
                }
            });
            let lines = futures_util::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|line| (Ok(line), receiver))
            });
            Ok(TextStream::new(lines))
        }
        .await,
    )
}

/// The steps in a chunk of [`test_connection`]'s answer, with `pending` holding a line cut
/// between chunks until its end arrives.
pub fn check_lines(pending: &mut String, chunk: &str) -> Vec<CheckView> {
    pending.push_str(chunk);
    let mut steps = Vec::new();
    while let Some(end) = pending.find('\n') {
        let line: String = pending.drain(..=end).collect();
        if let Ok(step) = serde_json::from_str::<CheckView>(line.trim()) {
            steps.push(step);
        }
    }
    steps
}
