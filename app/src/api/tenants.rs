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
            ssr::answer_needs_script("the invitation link once")?;
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
                vestibule_audit::AuditAction::TeamInvite,
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
