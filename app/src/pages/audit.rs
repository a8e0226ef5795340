//! The audit log in words, filtered and paged, and its CSV download.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// The query parameters the filter form sends, in the order the page links them.
const FILTERS: [&str; 4] = ["action", "actor", "from", "to"];

/// `/t/:cloud_id/audit`: who changed what, newest first, one line per changed field in words
/// with the values before and after a click away, and every member sign-in outcome; filtered
/// by action, actor and days (a plain GET form, so a filtered view is a link), paged, and the
/// same as CSV.
#[component]
pub fn AuditLog() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let log = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let query = query.read();
            let get = |name: &str| query.get(name).unwrap_or_default();
            (cloud_id, FILTERS.map(get), get("older_than"))
        },
        |(cloud_id, [action, actor, from, to], older_than)| {
            audit_log(cloud_id, action, actor, from, to, older_than)
        },
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
    let get = |name: &str| query.get(name).unwrap_or_default();
    // The filters as a query string, for the CSV link and the next page's link.
    let filters: String = FILTERS
        .iter()
        .map(|name| format!("{name}={}", url_encode(&get(name))))
        .collect::<Vec<_>>()
        .join("&");
    let csv = format!("/t/{}/audit.csv?{filters}", tenant.cloud_id);
    let first_page = format!("/t/{}/audit?{filters}", tenant.cloud_id);
    let paged = !get("older_than").is_empty();
    let older = view
        .older_than
        .map(|id| format!("/t/{}/audit?{filters}&older_than={id}", tenant.cloud_id));
    let chosen = get("action");
    let options = view
        .actions
        .into_iter()
        .map(|choice| {
            let selected = choice.value == chosen;
            view! { <option value=choice.value selected=selected>{choice.label}</option> }
        })
        .collect_view();
    let count = view.events.len();
    let rows = view.events.into_iter().map(event_row).collect_view();
    let pages = (paged || older.is_some()).then(|| {
        view! {
            <nav class="pager" aria-label="Audit log pages">
                {paged.then(|| view! { <a class="button subtle" href=first_page.clone()>"Newest"</a> })}
                {older.map(|href| view! { <a class="button subtle" href=href>"Older events"</a> })}
            </nav>
        }
    });
    view! {
        <p class="muted">"Every change made on this Cloud ID's pages (who, when, and what changed; secrets are never shown, only that they changed), and every member sign-in to its applications with its outcome."</p>
        <form method="get" class="filters audit-filters">
            <label for="audit-action">"What"</label>
            <select id="audit-action" name="action">
                <option value="">"Everything"</option>
                {options}
            </select>
            <label for="audit-actor">"By (staff or member)"</label>
            <input id="audit-actor" name="actor" value=get("actor") placeholder="admin@ or a username" spellcheck="false"/>
            <label for="audit-from">"From"</label>
            <input id="audit-from" name="from" type="date" value=get("from")/>
            <label for="audit-to">"To"</label>
            <input id="audit-to" name="to" type="date" value=get("to")/>
            <button type="submit" class="button">"Filter"</button>
            <a class="button subtle" href=csv download>"Download CSV"</a>
        </form>
        <p class="muted">"Days are in UTC; times below are in your time zone (UTC when you point at them)."</p>
        {if count == 0 {
            view! { <p class="empty">"Nothing matches."</p> }.into_any()
        } else {
            view! {
                <WideTable label="Audit log entries">
                    <table class="table audit-log">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"What happened"</th><th>"Changes"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </WideTable>
            }
            .into_any()
        }}
        {pages}
    }
    .into_any()
}

/// One event: the changed fields as lines, the stored JSON folded away beneath them.
fn event_row(event: AuditEventView) -> impl IntoView {
    let actor = if event.actor.is_empty() {
        "(unknown username)".to_string()
    } else {
        event.actor
    };
    let changes = event
        .changes
        .into_iter()
        .map(|line| view! { <li>{line}</li> })
        .collect_view();
    let values = (event.before.is_some() || event.after.is_some()).then(|| {
        view! {
            <details class="audit-values">
                <summary>"Values before and after"</summary>
                <dl>
                    <dt>"Before"</dt><dd><code class="json">{event.before.unwrap_or_else(|| "(nothing: created)".into())}</code></dd>
                    <dt>"After"</dt><dd><code class="json">{event.after.unwrap_or_else(|| "(nothing: removed)".into())}</code></dd>
                </dl>
            </details>
        }
    });
    // Sign-in outcomes in colour and word, like the Members page.
    let outcome = match event.action.as_str() {
        "sign_in.failed" => "outcome outcome-failed",
        "sign_in.succeeded" => "outcome outcome-ok",
        _ => "",
    };
    view! {
        <tr>
            <td><Time at=event.at/></td>
            <td>{actor}</td>
            <td>
                <span class=outcome>{event.action_label}</span>
                <br/><span class="muted">{event.target}</span>
            </td>
            <td>
                <ul class="changes">{changes}</ul>
                {values}
            </td>
        </tr>
    }
}
