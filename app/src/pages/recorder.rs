//! The flight recorder: an app's latest protocol exchanges, and one opened. Everything here
//! is read through the list and detail server functions; the full detail is a link
//! (`?full=1`), so it works without JavaScript and every opening is one audited request.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::*;
use crate::layout::TenantPage;

/// The app a recorder page is about: `(cloud_id, protocol, app id)` from the route.
fn app_key(
    protocol: &'static str,
    id_param: &'static str,
) -> impl Fn() -> (String, String, String) {
    let params = use_params_map();
    move || {
        let params = params.read();
        (
            params.get("cloud_id").unwrap_or_default(),
            protocol.to_string(),
            params.get(id_param).unwrap_or_default(),
        )
    }
}

/// `/t/:cloud_id/oidc/:client_id/recorder`.
#[component]
pub fn OidcRecorder() -> impl IntoView {
    recorder_page(app_key("oidc", "client_id"))
}

/// `/t/:cloud_id/saml/:app_id/recorder`.
#[component]
pub fn SamlRecorder() -> impl IntoView {
    recorder_page(app_key("saml", "app_id"))
}

fn recorder_page(key: impl Fn() -> (String, String, String) + Send + Sync + 'static) -> AnyView {
    let key = std::sync::Arc::new(key);
    let test = ServerAction::<StartTestSignIn>::new();
    let recorder = Resource::new_blocking(
        {
            let key = key.clone();
            move || key()
        },
        |(cloud_id, protocol, app_id)| flight_recorder(cloud_id, protocol, app_id),
    );
    view! {
        <TenantPage title="Flight recorder" data=recorder body=move |me, _, recorder| {
            let (cloud_id, protocol, app_id) = key();
            let test_card = recorder.can_reveal.then(|| test_sign_in_card(test, me.csrf.clone(), cloud_id, protocol, app_id));
            view! { {test_card} {recorder_body(recorder)} }.into_any()
        }/>
    }
    .into_any()
}

/// "Test sign-in": the button makes an audited link to the SSO domain, opened in a new tab.
fn test_sign_in_card(
    test: ServerAction<StartTestSignIn>,
    csrf: String,
    cloud_id: String,
    protocol: String,
    app_id: String,
) -> impl IntoView {
    let opened = move || {
        test.value().get().map(|answer| match answer {
            Ok(href) => view! {
                <p><a class="button" href=href target="_blank" rel="noopener">"Open the test sign-in"</a>
                <span class="muted">" In a new tab, on the SSO domain; the link works for ten minutes."</span></p>
            }
            .into_any(),
            Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" id="test-sign-in">
            <h2>"Test sign-in"</h2>
            <p class="muted">"Runs this app's sign-in with its exact settings, for the member you sign in as, and shows what the app would receive and what its library would check. Nothing it issues can be used by the app. Each test is written to the audit log."</p>
            <ActionForm action=test>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <input type="hidden" name="protocol" value=protocol/>
                <input type="hidden" name="app_id" value=app_id/>
                <button type="submit" class="button">"Test sign-in"</button>
            </ActionForm>
            {opened}
        </section>
    }
}

fn outcome(answered: bool) -> impl IntoView {
    let (class, said) = if answered {
        ("exchange-outcome status-on", "Answered")
    } else {
        ("exchange-outcome status-failed", "Refused")
    };
    view! { <span class=class>{said}</span> }
}

fn recorder_body(recorder: RecorderView) -> AnyView {
    let intro = format!(
        "The latest {} answered and {} refused protocol exchanges of {} ({}), newest first. \
         Messages are decoded; secrets, tokens and assertion contents are redacted.",
        recorder.kept, recorder.kept, recorder.app_name, recorder.protocol
    );
    let reveal_note = if recorder.can_reveal {
        "Open an exchange to see it in full: the full detail is kept for 24 hours, and each opening is written to the audit log."
    } else {
        "Only the Cloud ID's admins can open an exchange in full."
    };
    let rows = if recorder.entries.is_empty() {
        view! { <p class="muted">"Nothing recorded yet: exchanges appear here as soon as the app sends a request to the SSO domain."</p> }.into_any()
    } else {
        let rows = recorder
            .entries
            .into_iter()
            .map(|entry| {
                let reason = (!entry.reason.is_empty())
                    .then(|| view! { <div class="reason">{entry.reason.clone()}</div> });
                view! {
                    <tr>
                        <td><time>{entry.at}</time></td>
                        <td><a href=entry.href>{entry.kind}</a></td>
                        <td>{entry.member}</td>
                        <td>{outcome(entry.answered)}{reason}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="table exchanges">
                <thead><tr><th>"When (UTC)"</th><th>"Exchange"</th><th>"Member"</th><th>"Outcome"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <p><a href=recorder.back_href>"← All apps"</a></p>
        <section class="card">
            <h2>{recorder.app_name.clone()}</h2>
            <p class="muted">{intro}</p>
            <p class="muted">{reveal_note}</p>
            {rows}
        </section>
    }
    .into_any()
}

/// `/t/:cloud_id/oidc/:client_id/recorder/:exchange`.
#[component]
pub fn OidcExchange() -> impl IntoView {
    exchange_page(app_key("oidc", "client_id"))
}

/// `/t/:cloud_id/saml/:app_id/recorder/:exchange`.
#[component]
pub fn SamlExchange() -> impl IntoView {
    exchange_page(app_key("saml", "app_id"))
}

fn exchange_page(key: impl Fn() -> (String, String, String) + Send + Sync + 'static) -> AnyView {
    let params = use_params_map();
    let query = use_query_map();
    // The query is part of the key: "Show in full" loads the page again with `?full=1`.
    let exchange = Resource::new_blocking(
        move || {
            let id = params.read().get("exchange").unwrap_or_default();
            let full = query.read().get("full").is_some_and(|full| full == "1");
            (key(), id, full)
        },
        |((cloud_id, protocol, app_id), id, full)| async move {
            let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
            recorded_exchange(cloud_id, protocol, app_id, id, full).await
        },
    );
    view! { <TenantPage title="Recorded exchange" data=exchange body=|_, _, exchange| exchange_body(exchange)/> }
    .into_any()
}

fn message(label: &'static str, shown: ShownMessageView) -> impl IntoView {
    view! {
        <h3>{label} <span class="muted">" (" {shown.format.to_uppercase()} ")"</span></h3>
        <pre class="message">{shown.text}</pre>
    }
}

fn exchange_body(exchange: ExchangeView) -> AnyView {
    let row = exchange.row.clone();
    let reason = (!row.reason.is_empty()).then(|| {
        view! { <dt>"Why it was refused"</dt><dd class="reason" id="refusal-reason">{row.reason.clone()}</dd> }
    });
    let signature = (!exchange.signature.is_empty()).then(|| {
        view! { <dt>"Signature"</dt><dd>{exchange.signature.clone()}</dd> }
    });
    let member =
        (!row.member.is_empty()).then(|| view! { <dt>"Member"</dt><dd>{row.member.clone()}</dd> });
    let full = match (exchange.full, exchange.detail_until, exchange.can_reveal) {
        (Some(full), until, _) => view! {
            <section class="card">
                {message("In full", full)}
                <p class="muted">"Kept until " {until.unwrap_or_default()} " UTC, then deleted. Credentials (secrets, passwords, codes, access and refresh tokens) are never kept."</p>
            </section>
        }
        .into_any(),
        (None, Some(until), true) => view! {
            <p><a class="button" href=format!("{}?full=1", row.href)>"Show in full"</a>
            <span class="muted">" Kept until " {until} " UTC. Opening it is written to the audit log."</span></p>
        }
        .into_any(),
        (None, until, _) => {
            let said = if until.is_some() {
                "Only the Cloud ID's admins can open this exchange in full."
            } else {
                "The full detail of this exchange is no longer kept (24 hours)."
            };
            view! { <p class="muted">{said}</p> }.into_any()
        }
    };
    view! {
        <p><a href=exchange.list_href.clone()>"← Flight recorder of " {exchange.app_name.clone()}</a></p>
        <section class="card">
            <h2>{row.kind.clone()} " · " {exchange.protocol.clone()}</h2>
            <dl class="facts">
                <dt>"When"</dt><dd><time>{row.at.clone()}</time> " UTC"</dd>
                {member}
                <dt>"Outcome"</dt><dd>{outcome(row.answered)}</dd>
                {reason}
                {signature}
            </dl>
            {message("Redacted", exchange.redacted)}
        </section>
        {full}
    }
    .into_any()
}
