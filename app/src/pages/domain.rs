//! Domain Setup: the CNAME to create, provisioning with live progress, release.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/domain`: the CNAME to create, provisioning with live progress, the domain's
/// status, and releasing it.
#[component]
pub fn DomainSetup() -> impl IntoView {
    let params = use_params_map();
    let start = ServerAction::<StartProvisioning>::new();
    let retry = ServerAction::<RetryProvisioning>::new();
    let release = ServerAction::<ReleaseDomain>::new();
    let change = ServerAction::<ChangeDomain>::new();
    // While a job runs the page asks again every two seconds; the job itself runs on the
    // server, so closing the tab loses nothing.
    let tick = RwSignal::new(0u32);
    let polling = RwSignal::new(false);
    Effect::new(move |_| {
        let interval = set_interval_with_handle(
            move || {
                if polling.try_get_untracked() == Some(true) {
                    tick.try_update(|t| *t = t.wrapping_add(1));
                }
            },
            std::time::Duration::from_secs(2),
        );
        // Leaving the page stops the polling.
        if let Ok(interval) = interval {
            on_cleanup(move || interval.clear());
        }
    });
    let domain = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let versions = (
                start.version().get(),
                retry.version().get(),
                release.version().get(),
                change.version().get(),
            );
            (cloud_id, versions, tick.get())
        },
        |(cloud_id, _, _)| domain_setup(cloud_id),
    );
    let actions = DomainActions {
        start,
        retry,
        release,
        change,
    };
    view! {
        <TenantPage title="Domain Setup" data=domain body=move |me, tenant, view| {
            let other_busy = view.other_domains.iter().any(|other| other.state == "provisioning");
            polling.set(view.state == "provisioning" || other_busy);
            domain_body(me, tenant, view, actions)
        }/>
    }
}

#[derive(Clone, Copy)]
struct DomainActions {
    start: ServerAction<StartProvisioning>,
    retry: ServerAction<RetryProvisioning>,
    release: ServerAction<ReleaseDomain>,
    change: ServerAction<ChangeDomain>,
}

fn domain_body(
    me: Me,
    tenant: TenantView,
    view: DomainSetupView,
    actions: DomainActions,
) -> AnyView {
    let status_class = match view.state.as_str() {
        "online" => "status status-on",
        "provisioning" => "status status-busy",
        "failed" | "offline" => "status status-failed",
        _ => "status status-off",
    };
    // Before any domain was started, a check that refused the one entered says so in the status
    // too, not only beside the form.
    let start = actions.start;
    let never_started = view.state == "none";
    let status_text = view.status.clone();
    let status = Signal::derive(move || {
        if never_started && matches!(start.value().get(), Some(Err(_))) {
            (
                "status status-failed",
                format!("{status_text}: the check failed"),
            )
        } else {
            (status_class, status_text.clone())
        }
    });
    // The record's name is the domain: the saved one, or what is being typed in step 2.
    let typed = RwSignal::new(String::new());
    let saved_name = view.domain_ascii.clone();
    let record_name = move || {
        let name = saved_name
            .clone()
            .unwrap_or_else(|| typed.get().trim().trim_end_matches('.').to_lowercase());
        if name.is_empty() {
            view! { <em class="cname-name-pending">"the domain you enter in step 2"</em> }
                .into_any()
        } else {
            view! { <Copyable class="cname-name" value=name label="record name"/> }.into_any()
        }
    };
    let cname_target = view.cname_target.clone();
    let cname = view! {
        <section class="card">
            <h2>"1. Create a public DNS entry"</h2>
            <p>"At your DNS provider, create this record. Your IT department or domain registrar can help."</p>
            <WideTable label="DNS record">
                <table class="table dns-record">
                    <thead><tr><th>"Type"</th><th>"Name"</th><th>"Value"</th></tr></thead>
                    <tbody><tr>
                        <td>"CNAME"</td>
                        <td>{record_name}</td>
                        <td><Copyable class="cname-target" value=cname_target label="record value"/></td>
                    </tr></tbody>
                </table>
            </WideTable>
        </section>
    };
    let state = view.state.clone();
    let body = match state.as_str() {
        "none" | "failed" => provision_form(&me, &tenant, &view, actions, typed),
        "provisioning" => progress(&view),
        _ => provisioned(&me, &tenant, &view, actions),
    };
    view! {
        {needs_attention(&view.warnings)}
        {getting_started(&view.progress)}
        <p class="status-line">"Domain Status: " <span class=move || status.get().0 id="domain-status">{move || status.get().1}</span></p>
        {view.domain.clone().map(|domain| view! { <p class="domain-name">"SSO Domain: " <strong>{domain}</strong></p> })}
        {cname}
        {body}
    }
    .into_any()
}

/// The way to a live association, each step linking to its page and ticked from what is
/// stored; folded away once all are done.
/// What needs an admin before it breaks sign-ins, first on the Cloud ID's first page.
fn needs_attention(warnings: &[WarningView]) -> Option<impl IntoView> {
    if warnings.is_empty() {
        return None;
    }
    let items = warnings
        .iter()
        .map(|warning| {
            view! { <li><a href=warning.href.clone()>{warning.text.clone()}</a></li> }
        })
        .collect_view();
    Some(view! {
        <section class="card needs-attention" aria-labelledby="needs-attention">
            <h2 id="needs-attention">"Needs attention"</h2>
            <ul>{items}</ul>
        </section>
    })
}

fn getting_started(progress: &TenantProgressView) -> AnyView {
    let total = progress.steps.len();
    let done = progress.steps.iter().filter(|step| step.done).count();
    let steps = progress
        .steps
        .iter()
        .cloned()
        .map(|step| {
            let (class, mark) = if step.done {
                ("checklist-step checklist-done", "✓ Done")
            } else {
                ("checklist-step checklist-todo", "To do")
            };
            view! {
                <li class=class>
                    <span class="checklist-mark">{mark}</span>
                    <a href=step.href>{step.title}</a>
                    <span class="muted">{step.detail}</span>
                </li>
            }
        })
        .collect_view();
    let list = view! { <ol class="checklist">{steps}</ol> };
    if done == total {
        view! {
            <details class="card getting-started">
                <summary>"Getting started: all " {total} " steps done"</summary>
                {list}
            </details>
        }
        .into_any()
    } else {
        view! {
            <section class="card getting-started" aria-labelledby="getting-started">
                <h2 id="getting-started">"Getting started"</h2>
                <p class="muted">{format!("{done} of {total} done. Each step ticks itself when it is.")}</p>
                {list}
            </section>
        }
        .into_any()
    }
}

fn steps_list(view: &DomainSetupView) -> AnyView {
    view! {
        <ol class="steps">
            {view.steps.iter().map(|step| {
                let class = format!("step step-{}", step.status);
                let note = match step.status.as_str() {
                    "done" => "done",
                    "active" => "in progress",
                    "failed" => "failed",
                    _ => "waiting",
                };
                view! { <li class=class>{step.label.clone()} <span class="muted">" — " {note}</span></li> }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

fn provision_form(
    me: &Me,
    tenant: &TenantView,
    view: &DomainSetupView,
    actions: DomainActions,
    typed: RwSignal<String>,
) -> AnyView {
    let start = actions.start;
    let retry = actions.retry;
    // One primary button: after a failure it is "Try again", and a new domain is the other way.
    let start_class = if view.state == "failed" {
        "button"
    } else {
        "button primary"
    };
    let failure = (view.state == "failed").then(|| {
        let steps = steps_list(view);
        let message = view.message.clone();
        let domain = view.domain.clone();
        let csrf = me.csrf.clone();
        let cloud_id = tenant.cloud_id.clone();
        view! {
            {steps}
            <div class="form-error" role="alert" id="domain-problem"><p>{message}</p></div>
            <ActionForm action=retry>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                {action_error(move || retry.value().get())}
                <button type="submit" class="button primary">"Try again with " {domain}</button>
            </ActionForm>
            <p class="muted">"Or enter a different domain:"</p>
        }
    });
    let csrf = me.csrf.clone();
    let cloud_id = tenant.cloud_id.clone();
    view! {
        <section class="card">
            <h2>"2. Provision Your Domain"</h2>
            {failure}
            <p>"Once the DNS entry is live, enter the domain (without https://) and start provisioning. Vestibule checks the DNS entry, obtains a certificate and brings the domain online. This runs on our servers: you can close this page and come back."</p>
            <ActionForm action=start attr:class="form-grid">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <label for="sso-domain">"SSO Domain"</label>
                <input id="sso-domain" name="domain" placeholder="sso.your-association.org" autocomplete="off" spellcheck="false" required
                    on:input:target=move |event| typed.set(event.target().value())/>
                {action_error(move || start.value().get())}
                <button type="submit" class=start_class disabled=move || start.pending().get()>"Start Provisioning"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

fn progress(view: &DomainSetupView) -> AnyView {
    view! {
        <section class="card" aria-live="polite">
            <h2>"Provisioning"</h2>
            {steps_list(view)}
            {(!view.message.is_empty()).then(|| {
                let message = view.message.clone();
                view! { <p class="notice" id="domain-problem">{message}</p> }
            })}
            <p class="muted">"This runs on our servers; you can leave this page. " <a href="">"Refresh status"</a></p>
        </section>
    }
    .into_any()
}

fn provisioned(
    me: &Me,
    tenant: &TenantView,
    view: &DomainSetupView,
    actions: DomainActions,
) -> AnyView {
    let release = actions.release;
    let domain = view.domain.clone().unwrap_or_default();
    let csrf = me.csrf.clone();
    let cloud_id = tenant.cloud_id.clone();
    // Where members go, with the port the issuer has; shown with the name as people read it.
    let address = view.address.clone().map(|origin| {
        let shown = match view.domain_ascii.as_deref() {
            Some(ascii) => origin.replacen(ascii, &domain, 1),
            None => origin.clone(),
        };
        view! { <a class="domain-address" href=format!("{origin}/")>{format!("{shown}/")}</a> }
    });
    let check_problem = (view.state == "offline").then(|| {
        let message = view.check_message.clone();
        view! { <div class="form-error" role="alert" id="domain-problem"><p>{message}</p></div> }
    });
    let renewal_note = (!view.message.is_empty()).then(|| {
        let message = view.message.clone();
        view! { <p class="notice">{message}</p> }
    });
    view! {
        <section class="card">
            <h2>"Your SSO domain"</h2>
            {check_problem}
            {renewal_note}
            <dl class="facts">
                <dt>"Address"</dt><dd>{address}</dd>
                <dt>"Certificate valid until"</dt><dd>{time_or(view.certificate_expires.clone(), "—")}</dd>
                <dt>"Last checked"</dt><dd>{time_or(view.checked_at.clone(), "not yet")}</dd>
            </dl>
            <p class="muted">"Vestibule checks the DNS entry, the certificate and a real HTTPS connection every few minutes, and renews the certificate well before it expires."</p>
            <details class="help">
                <summary>"Online here, but the address does not open at your office?"</summary>
                <p>"Networks with their own internal DNS (such as Windows DNS on a domain controller, or a firewall that answers DNS) may not know the public CNAME record. Ask your IT department or MSP to add an internal CNAME that matches the public one. To confirm, open the address from outside your office network, for example on a phone hotspot."</p>
            </details>
        </section>
        {other_domains(me, tenant, view, actions)}
        <section class="card danger-zone">
            <h2>"Release this domain"</h2>
            <p>"Releasing stops Vestibule serving " <strong>{domain.clone()}</strong> ". Every SSO connection that uses it — OIDC and SAML client apps, links on your website — stops working until a domain is provisioned again."</p>
            <ActionForm action=release attr:class="form-grid">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <label for="release-confirm">"Type " <strong>{domain}</strong> " to confirm"</label>
                <input id="release-confirm" name="confirm" autocomplete="off" spellcheck="false" required/>
                {action_error(move || release.value().get())}
                <button type="submit" class="button danger">"Release domain"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The Cloud ID's other domains (a test domain, a new one moving in), each with its status and
/// certificate: make one primary, retry one that failed, release one; and add another.
fn other_domains(
    me: &Me,
    tenant: &TenantView,
    view: &DomainSetupView,
    actions: DomainActions,
) -> impl IntoView {
    let DomainActions {
        start,
        release,
        change,
        ..
    } = actions;
    let keys = (me.csrf.clone(), tenant.cloud_id.clone());
    let rows = view.other_domains.iter().cloned().map(|other| {
        let (csrf, cloud_id) = keys.clone();
        let (csrf_release, cloud_release) = keys.clone();
        let status_class = match other.state.as_str() {
            "online" => "status status-on",
            "provisioning" => "status status-busy",
            _ => "status status-failed",
        };
        let (verb, label) = if other.state == "failed" {
            ("retry", format!("Retry {}", other.name))
        } else {
            ("make_primary", format!("Make {} primary", other.name))
        };
        let button = if verb == "retry" { "Retry" } else { "Make primary" };
        let release_label = format!("Release {}", other.name);
        let (ascii, ascii_release) = (other.ascii.clone(), other.ascii.clone());
        let confirm = typed_confirmation(format!("release-{}", other.ascii), other.name.clone());
        let warning = format!("Releasing stops Vestibule serving {}: apps and links that use it stop working.", other.name);
        let message = (!other.message.is_empty()).then(|| view! { <p class="muted">{other.message}</p> });
        view! {
            <tr>
                <td><strong>{other.name}</strong>{message}</td>
                <td><span class=status_class>{other.status}</span></td>
                <td>{time_or(other.certificate_expires, "—")}</td>
                <td>
                    <ActionForm action=change>
                        <input type="hidden" name="csrf" value=csrf/>
                        <input type="hidden" name="cloud_id" value=cloud_id/>
                        <input type="hidden" name="domain" value=ascii/>
                        <input type="hidden" name="change" value=verb/>
                        <button type="submit" class="button subtle" aria-label=label>{button}</button>
                    </ActionForm>
                    {danger_zone("Release…", warning, view! {
                        <ActionForm action=release attr:class="form-grid">
                            <input type="hidden" name="csrf" value=csrf_release/>
                            <input type="hidden" name="cloud_id" value=cloud_release/>
                            <input type="hidden" name="domain" value=ascii_release/>
                            {confirm}
                            <button type="submit" class="button danger" aria-label=release_label>"Release"</button>
                        </ActionForm>
                    })}
                </td>
            </tr>
        }
    }).collect_view();
    let table = (!view.other_domains.is_empty()).then(|| view! {
        <table class="table other-domains">
            <thead><tr><th>"Domain"</th><th>"Status"</th><th>"Certificate valid until"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    });
    let (csrf, cloud_id) = keys;
    let add = view.can_add_domain.then(|| view! {
        <ActionForm action=start attr:class="form-grid">
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="cloud_id" value=cloud_id/>
            <label for="add-domain">"Another domain"</label>
            <input id="add-domain" name="domain" placeholder="sso-test.your-org.org" autocomplete="off" spellcheck="false" required/>
            {action_error(move || start.value().get())}
            <button type="submit" class="button">"Add domain"</button>
        </ActionForm>
    });
    view! {
        <section class="card">
            <h2>"Other domains"</h2>
            <p class="muted">"A test domain (such as sso-test.your-org.org) or a new one moving in. Each gets its own certificate and status and is its own OpenID Connect issuer and SAML entity ID, so an app can be tried on the test domain before it moves (an app's domain is chosen on its edit page). Create its CNAME with the value above first. Links and Login Redirect URLs on these pages name the primary domain."</p>
            {table}
            {action_error(move || change.value().get())}
            {action_error(move || release.value().get())}
            {add}
        </section>
    }
}
