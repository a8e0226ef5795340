//! Your account: two-step verification with an authenticator app or passkeys, and the second
//! step of a sign-in. These calls work for someone who must still set up a second factor; everything else
//! refuses them until they have.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use vestibule_mail::SecondFactorChange;

use crate::error::AppError;
use crate::views::*;

/// The second step of a sign-in: the code from the authenticator app, or a recovery code.
/// Returns where to go next.
#[server(prefix = "/api", endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String) -> Result<String, AppError> {
    ssr::respond(ssr::verify_second_factor(vestibule_staff::SecondFactorProof::Code(&code)).await)
}

/// The second step of a sign-in with a passkey: the sealed `state` from [`sign_in_factors`] and
/// the browser's assertion. Returns where to go next.
#[server(prefix = "/api", endpoint = "verify_passkey")]
pub async fn verify_passkey(state: String, credential: String) -> Result<String, AppError> {
    ssr::respond(
        ssr::verify_second_factor(vestibule_staff::SecondFactorProof::Passkey {
            state: &state,
            credential: &credential,
        })
        .await,
    )
}

/// What the sign-in this browser is finishing may be finished with.
#[server(prefix = "/api", endpoint = "sign_in_factors")]
pub async fn sign_in_factors() -> Result<SignInFactorsView, AppError> {
    ssr::respond(ssr::sign_in_factors().await)
}

#[server(prefix = "/api", endpoint = "second_factor")]
pub async fn second_factor() -> Result<SecondFactorView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::signed_in_caller().await?;
            let accounts = ssr::accounts()?;
            let status = accounts.second_factor_status(&caller).await?;
            let passkeys = accounts.passkeys(&caller).await?;
            Ok(SecondFactorView {
                email: caller.staff.email.to_string(),
                authenticator_app: status.authenticator_app,
                recovery_codes_left: status.recovery_codes_left,
                passkeys: passkeys
                    .into_iter()
                    .map(|passkey| PasskeyView {
                        id: passkey.id,
                        name: passkey.name,
                        created_at: passkey.created_at.to_string(),
                        last_used_at: passkey.last_used_at.map(|at| at.to_string()),
                    })
                    .collect(),
                passkeys_available: accounts.passkeys_available(),
                required: status.required,
            })
        }
        .await,
    )
}

/// Starts adding a passkey: the options the browser asks the authenticator with.
#[server(prefix = "/api", endpoint = "begin_passkey")]
pub async fn begin_passkey(csrf: String) -> Result<PasskeyCeremonyView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            let ceremony = ssr::accounts()?.begin_passkey(&caller, ssr::now()).await?;
            Ok(PasskeyCeremonyView {
                options: ceremony.options,
                state: ceremony.state,
            })
        }
        .await,
    )
}

/// Finishes adding a passkey with the authenticator's answer; answers its name.
#[server(prefix = "/api", endpoint = "finish_passkey")]
pub async fn finish_passkey(
    csrf: String,
    name: String,
    state: String,
    credential: String,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            let passkey = ssr::accounts()?
                .finish_passkey(&caller, &name, &state, &credential, ssr::now())
                .await?;
            let change = SecondFactorChange::PasskeyAdded(&passkey.name);
            ssr::second_factor_changed(&caller.staff, change, None).await;
            Ok(passkey.name)
        }
        .await,
    )
}

/// Removes one of the caller's passkeys, given their password.
#[server(prefix = "/api", endpoint = "remove_passkey")]
pub async fn remove_passkey(csrf: String, id: i64, password: String) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            let removed = ssr::accounts()?
                .remove_passkey(&caller, id, &password, ssr::now())
                .await?;
            let change = SecondFactorChange::PasskeyRemoved(&removed.name);
            ssr::second_factor_changed(&caller.staff, change, None).await;
            ssr::after_form_post("/account");
            Ok(())
        }
        .await,
    )
}

/// Starts adding an authenticator app: a new secret, asked for at sign-in only once confirmed.
#[server(prefix = "/api", endpoint = "begin_totp")]
pub async fn begin_totp(csrf: String) -> Result<TotpSetupView, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the QR code to scan")?;
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            let state = ssr::state()?;
            let host = state
                .public_url
                .split_once("://")
                .map_or(state.public_url.as_str(), |(_, host)| host);
            let issuer = format!("Vestibule ({host})");
            let setup = state
                .accounts
                .begin_totp(&caller, &issuer, ssr::now())
                .await?;
            Ok(TotpSetupView {
                qr_svg: qr_svg(&setup.uri)?,
                secret: setup.secret,
                uri: setup.uri,
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn qr_svg(text: &str) -> Result<String, AppError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|error| {
        tracing::error!(%error, "QR code");
        AppError::Internal
    })?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Confirms the app with a code from it; answers the recovery codes, shown once.
#[server(prefix = "/api", endpoint = "confirm_totp")]
pub async fn confirm_totp(csrf: String, code: String) -> Result<Vec<String>, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the recovery codes once")?;
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            let codes = ssr::accounts()?
                .confirm_totp(&caller, &code, ssr::now())
                .await?;
            ssr::second_factor_changed(&caller.staff, SecondFactorChange::AppAdded, None).await;
            Ok(codes)
        }
        .await,
    )
}

/// Removes the app, given a current code or a recovery code.
#[server(prefix = "/api", endpoint = "remove_totp")]
pub async fn remove_totp(csrf: String, code: String) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::signed_in_caller().await?;
            caller.check_csrf(&csrf)?;
            ssr::accounts()?
                .remove_totp(&caller, &code, ssr::now())
                .await?;
            ssr::second_factor_changed(&caller.staff, SecondFactorChange::AppRemoved, None).await;
            ssr::after_form_post("/account");
            Ok(())
        }
        .await,
    )
}

/// Whether the admins of `cloud_id` must use two-step verification.
#[server(prefix = "/api", endpoint = "tenant_second_factor_rule")]
pub async fn tenant_second_factor_rule(cloud_id: String) -> Result<bool, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            Ok(ssr::accounts()?
                .tenant_requires_second_factor(&caller, &cloud_id)
                .await?)
        }
        .await,
    )
}

/// Turns the rule on or off; a tenant admin turning it on needs their own second factor in
/// place first, so the rule cannot lock out the admin who set it.
#[server(prefix = "/api", endpoint = "set_tenant_second_factor_rule")]
pub async fn set_tenant_second_factor_rule(
    csrf: String,
    cloud_id: String,
    #[server(default)] required: Option<String>,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let accounts = ssr::accounts()?;
            // Who may change the Cloud ID at all comes before what their own account lacks.
            accounts.tenant_to_change(&caller, &cloud_id).await?;
            let required = required.is_some();
            // Operators are not bound by a Cloud ID's rule, so only its own admins must be.
            let bound = !caller.staff.role.is_operator();
            if required && bound && !accounts.second_factor_status(&caller).await?.enrolled() {
                return Err(AppError::Invalid(
                    "Add an authenticator app or a passkey to your own account first (Your \
                     account), so this rule does not lock you out."
                        .to_string(),
                ));
            }
            let before = accounts
                .tenant_requires_second_factor(&caller, &cloud_id)
                .await?;
            let tenant = accounts
                .require_second_factor_for_tenant(&caller, &cloud_id, required)
                .await?;
            if before != required {
                let change = vestibule_audit::Change {
                    tenant: Some(tenant.id),
                    actor: caller.staff.email.as_str(),
                    action: vestibule_audit::AuditAction::TeamSecondFactorRule,
                    target: tenant.cloud_id.to_string(),
                    before: Some(serde_json::json!({ "second_factor_required": before })),
                    after: Some(serde_json::json!({ "second_factor_required": required })),
                };
                ssr::state()?.audit.record_after(change, ssr::now()).await;
            }
            ssr::after_form_post(&format!("/t/{cloud_id}/team"));
            Ok(())
        }
        .await,
    )
}
