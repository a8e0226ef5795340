//! The tenant list, creating a tenant, and its team of admins.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

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
            let mut tenants = Vec::with_capacity(listed.tenants.len());
            for tenant in &listed.tenants {
                tenants.push(TenantRowView {
                    tenant: ssr::tenant_view(tenant),
                    progress: ssr::progress_view(tenant).await?,
                });
            }
            Ok(TenantListView {
                tenants,
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
                vestibule_audit::AuditAction::TenantCreate,
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
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
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
            let accounts = ssr::accounts()?;
            let (_, team) = accounts.tenant_team(&caller, &cloud_id).await?;
            let mut views = Vec::with_capacity(team.len());
            for staff in &team {
                let second_factor = accounts.has_second_factor(staff).await?;
                views.push(ssr::staff_view(staff, second_factor));
            }
            Ok(views)
        }
        .await,
    )
}

/// Invites someone to the team as an admin or read-only (`access`: `admin`, `read_only`).
#[server(prefix = "/api", endpoint = "invite_to_team")]
pub async fn invite_to_team(
    csrf: String,
    cloud_id: String,
    email: String,
    access: String,
) -> Result<Invitation, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the invitation link once")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let access = vestibule_domain::TenantAccess::parse(&access)
                .map_err(|invalid| AppError::Invalid(invalid.to_string()))?;
            let accounts = ssr::accounts()?;
            let invited = accounts
                .invite_to_team(&caller, &cloud_id, &email, access, ssr::now())
                .await?;
            let action = if invited.resent {
                vestibule_audit::AuditAction::TeamResend
            } else {
                vestibule_audit::AuditAction::TeamInvite
            };
            record_team_change(&caller, action, &invited.staff).await;
            invitation(&caller, &cloud_id, invited).await
        }
        .await,
    )
}

/// A new one-time link for someone whose invitation is pending; the earlier links stop working.
#[server(prefix = "/api", endpoint = "resend_invitation")]
pub async fn resend_invitation(
    csrf: String,
    cloud_id: String,
    email: String,
) -> Result<Invitation, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the invitation link once")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let invited = ssr::accounts()?
                .resend_invitation(&caller, &cloud_id, &email, ssr::now())
                .await?;
            record_team_change(
                &caller,
                vestibule_audit::AuditAction::TeamResend,
                &invited.staff,
            )
            .await;
            invitation(&caller, &cloud_id, invited).await
        }
        .await,
    )
}

/// Makes a member of the team an admin or read-only (`access`: `admin`, `read_only`).
#[server(prefix = "/api", endpoint = "change_team_access")]
pub async fn change_team_access(
    csrf: String,
    cloud_id: String,
    email: String,
    access: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let access = vestibule_domain::TenantAccess::parse(&access)
                .map_err(|invalid| AppError::Invalid(invalid.to_string()))?;
            let (before, after) = ssr::accounts()?
                .change_team_access(&caller, &cloud_id, &email, access)
                .await?;
            if before.role != after.role {
                let role = |staff: &vestibule_domain::StaffMember| {
                    serde_json::json!({ "role": staff.role.label() })
                };
                ssr::record_change(
                    &caller,
                    after.role.tenant(),
                    vestibule_audit::AuditAction::TeamAccessChange,
                    after.email.to_string(),
                    Some(&role(&before)),
                    Some(&role(&after)),
                )
                .await;
            }
            ssr::after_form_post(&format!("/t/{cloud_id}/team"));
            Ok(())
        }
        .await,
    )
}

/// Revokes a pending invitation or removes an admin from the team (their sessions end), once
/// the e-mail address was typed again.
#[server(prefix = "/api", endpoint = "remove_team_member")]
pub async fn remove_team_member(
    csrf: String,
    cloud_id: String,
    email: String,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            super::form::confirmed(&confirm, &email, "remove them from the team")?;
            let removed = ssr::accounts()?
                .remove_from_team(&caller, &cloud_id, &email)
                .await?;
            let action = if removed.has_password {
                vestibule_audit::AuditAction::TeamRemove
            } else {
                vestibule_audit::AuditAction::TeamRevoke
            };
            record_team_change(&caller, action, &removed).await;
            ssr::after_form_post(&format!("/t/{cloud_id}/team"));
            Ok(())
        }
        .await,
    )
}

/// The link to show, after it went out by e-mail too when this installation sends e-mail.
#[cfg(feature = "ssr")]
async fn invitation(
    caller: &vestibule_staff::CurrentStaff,
    cloud_id: &str,
    invited: vestibule_staff::Invited,
) -> Result<Invitation, AppError> {
    let tenant = ssr::accounts()?.tenant_to_read(caller, cloud_id).await?;
    let emailed =
        ssr::email_invitation(&invited, Some((tenant.id, tenant.display_name.as_str()))).await?;
    Ok(Invitation {
        email: invited.staff.email.to_string(),
        setup_url: ssr::setup_url(&invited.token)?,
        resent: invited.resent,
        emailed,
    })
}

/// A team change in the audit log of the tenant the staff member belongs to: who, as what,
/// and their status before and after.
#[cfg(feature = "ssr")]
async fn record_team_change(
    caller: &vestibule_staff::CurrentStaff,
    action: vestibule_audit::AuditAction,
    staff: &vestibule_domain::StaffMember,
) {
    use vestibule_audit::AuditAction;
    let snapshot = |status: &str| {
        serde_json::json!({
            "email": staff.email.as_str(),
            "role": staff.role.label(),
            "status": status,
        })
    };
    let current = snapshot(if staff.has_password {
        "active"
    } else {
        "invitation pending"
    });
    let (before, after) = match action {
        AuditAction::TeamInvite => (None, Some(current)),
        // A resend changes no field; the log skips unchanged pairs, so it says what happened.
        AuditAction::TeamResend => (Some(current), Some(snapshot("invitation sent again"))),
        _ => (Some(current), None),
    };
    ssr::record_change(
        caller,
        staff.role.tenant(),
        action,
        staff.email.to_string(),
        before.as_ref(),
        after.as_ref(),
    )
    .await;
}
