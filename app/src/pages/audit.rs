//! The audit log, filtered, and its CSV download.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/audit`: who changed what, newest first, with the values before and after,
/// and every member sign-in outcome per application; filtered by action and actor (a plain GET form, so a filtered view is a link), and the same
/// as CSV.
#[component]
pub fn AuditLog() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let log = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let query = query.read();
            (
                cloud_id,
                query.get("action").unwrap_or_default(),
                query.get("actor").unwrap_or_default(),
            )
        },
        |(cloud_id, action, actor)| audit_log(cloud_id, action, actor),
    );
    view! {
        <TenantPage title="Audit log" data=log body=move |_me, tenant, view| {
            audit_body(&tenant, view, &query.read_untracked())
        }/>
    }
}

fn audit_body(
    tenant: &TenantView,
    view: AuditLogView,
    query: &leptos_router::params::ParamsMap,
) -> AnyView {
    let action = query.get("action").unwrap_or_default();
    let actor = query.get("actor").unwrap_or_default();
    let csv = format!(
        "/t/{}/audit.csv?action={}&actor={}",
        tenant.cloud_id,
        url_encode(&action),
        url_encode(&actor)
    );
    let count = view.events.len();
    let rows = view
        .events
        .into_iter()
        .map(|event| {
            view! {
                <tr>
                    <td><Time at=event.at/></td>
                    <td>{event.actor}</td>
                    <td><code>{event.action}</code></td>
                    <td>{event.target}</td>
                    <td><code class="json">{event.before.unwrap_or_default()}</code></td>
                    <td><code class="json">{event.after.unwrap_or_default()}</code></td>
                </tr>
            }
        })
        .collect_view();
    let more = (count as i64 >= view.limit).then(|| {
        view! { <p class="muted">"Only the newest " {view.limit} " events are listed: narrow the filters, or download the CSV."</p> }
    });
    view! {
        <p class="muted">"Every change made on this Cloud ID's pages (who, when, and the values before and after; secrets are never shown, only that they changed), and every member sign-in to its applications (" <code>"sign_in.succeeded"</code> ", " <code>"sign_in.failed"</code> " with the reason)."</p>
        <form method="get" class="filters">
            <label for="audit-action">"Action starts with"</label>
            <input id="audit-action" name="action" value=action placeholder="saml_app" spellcheck="false"/>
            <label for="audit-actor">"By (staff or member)"</label>
            <input id="audit-actor" name="actor" value=actor placeholder="admin@ or a username" spellcheck="false"/>
            <button type="submit" class="button">"Filter"</button>
            <a class="button subtle" href=csv download>"Download CSV"</a>
        </form>
        {more}
        {if count == 0 {
            view! { <p class="empty">"Nothing matches."</p> }.into_any()
        } else {
            view! {
                <WideTable label="Audit log entries">
                    <table class="table audit-log">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"What"</th><th>"Before"</th><th>"After"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </WideTable>
            }
            .into_any()
        }}
    }
    .into_any()
}
