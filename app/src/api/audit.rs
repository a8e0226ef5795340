//! The audit log, filtered and paged.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

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
                        at: event.at.to_string(),
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
