//! The audit log, in words, filtered and paged.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

/// One page of a tenant's audit log, newest first: `action` is a prefix (`saml_app`), `actor`
/// part of an e-mail address, `from` and `to` days (`YYYY-MM-DD`, UTC, both included),
/// `older_than` the event id the page starts below (from the previous page's link).
#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log(
    cloud_id: String,
    #[server(default)] action: String,
    #[server(default)] actor: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] older_than: String,
) -> Result<AuditLogView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let filter = vestibule_audit::filter(&action, &actor);
            let filter = vestibule_audit::with_dates(filter, &from, &to)?;
            // A hand-edited page link that is not a number starts from the newest.
            let older_than = older_than.trim().parse::<i64>().ok();
            let (events, more) = ssr::audit()?.page(tenant.id, &filter, older_than).await?;
            let next = more.then(|| events.last().map(|event| event.id)).flatten();
            Ok(AuditLogView {
                events: events.into_iter().map(event_view).collect(),
                older_than: next,
                actions: action_choices(),
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn event_view(event: vestibule_audit::AuditEvent) -> AuditEventView {
    let changes = vestibule_audit::describe(event.before.as_deref(), event.after.as_deref())
        .iter()
        .map(vestibule_audit::FieldChange::line)
        .collect();
    AuditEventView {
        at: event.at.to_string(),
        actor: event.actor,
        action_label: vestibule_audit::action_label(&event.action),
        action: event.action,
        target: event.target,
        changes,
        before: event.before,
        after: event.after,
    }
}

/// Every action, after the groups an admin most often looks for.
#[cfg(feature = "ssr")]
fn action_choices() -> Vec<AuditActionChoice> {
    let groups = [
        ("oidc_app.", "Any OIDC app change"),
        ("saml_app.", "Any SAML app change"),
        ("domain.", "Any domain change"),
        ("member.", "Any directory member change"),
        ("team.", "Any team change"),
        ("sign_in.", "Any member sign-in"),
    ];
    groups
        .into_iter()
        .map(|(value, label)| (value.to_string(), label.to_string()))
        .chain(
            vestibule_audit::AuditAction::ALL
                .into_iter()
                .map(|action| (action.as_str().to_string(), action.label().to_string())),
        )
        .map(|(value, label)| AuditActionChoice { value, label })
        .collect()
}
