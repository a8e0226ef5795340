//! Domain Setup: the tenant's SSO domain, its provisioning and release.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

#[server(prefix = "/api", endpoint = "domain")]
pub async fn domain_setup(cloud_id: String) -> Result<DomainSetupView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            ssr::domain_view(&tenant, ssr::provisioning()?.overview(tenant.id).await?).await
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
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let provisioning = ssr::provisioning()?;
            let overview = provisioning.start(tenant.id, &domain, ssr::now()).await?;
            record_domain_change(
                &caller,
                &tenant,
                vestibule_audit::AuditAction::DomainProvision,
                &overview,
            )
            .await;
            // The page is the primary's, whether this was the first domain or another.
            ssr::domain_view(&tenant, provisioning.overview(tenant.id).await?).await
        }
        .await,
    )
}

/// Provisioning asked for (again): the audit log names the domain.
#[cfg(feature = "ssr")]
async fn record_domain_change(
    caller: &vestibule_staff::CurrentStaff,
    tenant: &vestibule_domain::Tenant,
    action: vestibule_audit::AuditAction,
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
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let overview = ssr::provisioning()?
                .retry(tenant.id, None, ssr::now())
                .await?;
            record_domain_change(
                &caller,
                &tenant,
                vestibule_audit::AuditAction::DomainRetry,
                &overview,
            )
            .await;
            ssr::domain_view(&tenant, Some(overview)).await
        }
        .await,
    )
}

/// Releases a domain: `domain` (another of the Cloud ID's), or the primary when empty.
/// `confirm` must repeat the domain name: releasing breaks every SSO connection that uses it.
#[server(prefix = "/api", endpoint = "release_domain")]
pub async fn release_domain(
    csrf: String,
    cloud_id: String,
    #[server(default)] domain: String,
    confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let name = Some(domain.trim()).filter(|name| !name.is_empty());
            let released = ssr::release_domain(tenant.id, name, &confirm).await?;
            let before = serde_json::json!({ "domain": released });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::DomainRelease,
                released,
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Another of the Cloud ID's domains: `make_primary` makes it the primary (the one links name),
/// `retry` queues its failed provisioning again.
#[server(prefix = "/api", endpoint = "change_domain")]
pub async fn change_domain(
    csrf: String,
    cloud_id: String,
    domain: String,
    change: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let provisioning = ssr::provisioning()?;
            let (action, overview) = match change.as_str() {
                "make_primary" => {
                    provisioning.make_primary(tenant.id, domain.trim()).await?;
                    let overview = provisioning.overview(tenant.id).await?;
                    (vestibule_audit::AuditAction::DomainMakePrimary, overview)
                }
                "retry" => {
                    let overview = provisioning
                        .retry(tenant.id, Some(domain.trim()), ssr::now())
                        .await?;
                    (vestibule_audit::AuditAction::DomainRetry, Some(overview))
                }
                _ => {
                    return Err(AppError::Invalid(
                        "Choose what to do with the domain.".into(),
                    ))
                }
            };
            if let Some(overview) = overview {
                record_domain_change(&caller, &tenant, action, &overview).await;
            }
            Ok(())
        }
        .await,
    )
}
