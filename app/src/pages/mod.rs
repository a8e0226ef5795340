//! The dashboard's pages, one module per page (or pair of list and edit pages), and the few
//! pieces every page uses.

mod account;
mod audit;
mod domain;
mod members;
mod oidc;
mod recorder;
mod saml;
mod session;
mod settings;
mod tenants;
mod vendor;

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::AppError;

pub use account::{Account, VerifySignIn};
pub use audit::AuditLog;
pub use domain::DomainSetup;
pub use members::Members;
pub use oidc::{OidcAppEdit, OidcApps};
pub use recorder::{OidcExchange, OidcRecorder, SamlExchange, SamlRecorder};
pub use saml::{SamlAppEdit, SamlApps};
pub use session::{ForgotPassword, Home, Setup, SignIn};
pub use settings::{Branding, Settings};
pub use tenants::{Team, Tenants};
pub use vendor::{OidcVendorSheet, SamlVendorSheet};

/// Shows the message of a failed action, announced to screen readers.
fn action_error<T: 'static>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    error_line(Arc::new(move || {
        value().and_then(Result::err).map(|error| error.to_string())
    }))
}

/// The error line itself, one type for every form (its rendering is compiled once).
fn error_line(message: Arc<dyn Fn() -> Option<String> + Send + Sync>) -> impl IntoView {
    move || message().map(|text| view! { <p class="form-error" role="alert">{text}</p> })
}

/// A Copy button for a value an admin carries to another system; it says "Copied" once the
/// browser has it. `label` names the value for screen readers ("Copy client ID").
#[component]
fn CopyButton(#[prop(into)] value: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let written = window().navigator().clipboard().write_text(&value);
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(written).await.is_ok();
            copied.set(done);
        });
    };
    view! {
        <button type="button" class="button subtle copy" aria-label=format!("Copy {label}") on:click=copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A moment, one format everywhere: the server writes it in UTC ("2 Dec 2026, 09:20 UTC"); once
/// the page runs in the browser it reads in the viewer's own time zone, with UTC on hover.
/// `at` is RFC 3339, as the views carry times.
#[component]
fn Time(#[prop(into)] at: String) -> impl IntoView {
    let utc = utc_text(&at);
    let shown = RwSignal::new(utc.clone());
    let local_at = at.clone();
    // Effects run only in the browser, after hydration: the first render matches the server's.
    Effect::new(move |_| {
        if let Some(local) = local_text(&local_at) {
            shown.set(local);
        }
    });
    view! { <time datetime=at title=utc>{move || shown.get()}</time> }
}

/// `2026-12-02T09:20:31Z` as `2 Dec 2026, 09:20 UTC` (anything else unchanged).
fn utc_text(at: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts = (|| {
        let (date, time) = at.split_once('T')?;
        let mut date = date.splitn(3, '-');
        let (year, month, day) = (date.next()?, date.next()?, date.next()?);
        let month = MONTHS.get(month.parse::<usize>().ok()?.checked_sub(1)?)?;
        let day = day.parse::<u32>().ok()?;
        let hours_minutes = time.get(..5)?;
        Some(format!("{day} {month} {year}, {hours_minutes} UTC"))
    })();
    parts.unwrap_or_else(|| at.to_string())
}

/// The moment in the browser's time zone and language, with the zone named.
fn local_text(at: &str) -> Option<String> {
    let date = js_sys::Date::new(&leptos::wasm_bindgen::JsValue::from_str(at));
    if date.get_time().is_nan() {
        return None;
    }
    let options = js_sys::Object::new();
    for (key, value) in [
        ("day", "numeric"),
        ("month", "short"),
        ("year", "numeric"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("timeZoneName", "short"),
    ] {
        js_sys::Reflect::set(&options, &key.into(), &value.into()).ok()?;
    }
    date.to_locale_string("default", &options).as_string()
}

/// A table that may be wider than a phone: it scrolls sideways inside a region of its own,
/// named `label` (the stylesheet says it scrolls on narrow screens), and the page does not.
#[component]
fn WideTable(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="scrolls-sideways" role="region" aria-label=label tabindex="0">{children()}</div>
    }
}

/// A moment as [`Time`], or `otherwise` when there is none ("never", "not yet").
fn time_or(at: Option<String>, otherwise: &'static str) -> AnyView {
    match at {
        Some(at) => view! { <Time at/> }.into_any(),
        None => otherwise.into_any(),
    }
}

/// A value shown as code with its Copy button; `class` marks it for tests and styles.
#[component]
fn Copyable(
    #[prop(into)] value: String,
    #[prop(into)] label: String,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! { <code class=class>{value.clone()}</code> " " <CopyButton value label/> }
}

/// A change that cannot be undone, behind a disclosure: `summary` opens it, `warning` says what
/// happens, and `form` (with a [`typed_confirmation`]) does it.
fn danger_zone(summary: &'static str, warning: String, form: impl IntoView) -> impl IntoView {
    view! {
        <details class="danger-zone">
            <summary class="button subtle danger">{summary}</summary>
            <p>{warning}</p>
            {form}
        </details>
    }
}

/// What a form that cannot be undone asks for: the name of what it removes, typed again, as
/// Release domain does. `id` is unique on the page.
fn typed_confirmation(id: String, name: String) -> impl IntoView {
    view! {
        <label for=id.clone()>"Type " <strong>{name}</strong> " to confirm"</label>
        <input id=id name="confirm" autocomplete="off" spellcheck="false" required/>
    }
}

/// The SSO domain an app is used on, as a form field named `name` (blank: the primary). Shown
/// once the Cloud ID has several domains, or while the app is bound to one.
fn domain_field(
    id: String,
    name: &'static str,
    domains: &[String],
    selected: String,
) -> Option<AnyView> {
    if domains.len() < 2 && selected.is_empty() {
        return None;
    }
    let primary = domains.first().cloned().unwrap_or_default();
    let mut choices = domains.to_vec();
    // Bound to a domain released since: shown, so saving says why it cannot stay.
    if !selected.is_empty() && !choices.contains(&selected) {
        choices.push(selected.clone());
    }
    let options = choices
        .into_iter()
        .map(|domain| {
            let (chosen, value) = (domain == selected, domain.clone());
            view! { <option value=value selected=chosen>{domain}</option> }
        })
        .collect_view();
    Some(
        view! {
            <label for=id.clone()>"SSO domain"</label>
            <select id=id name=name>
                <option value="" selected=selected.is_empty()>{format!("The primary domain (now {primary})")}</option>
                {options}
            </select>
            <p class="muted hint">"The app's issuer (entity ID) and endpoints are on this domain; the other domains refuse it. Test on a test domain, then move it. Choose the primary domain by name to keep the app there if another domain becomes primary."</p>
        }
        .into_any(),
    )
}

/// Over an endpoints card once the Cloud ID has several domains: the addresses are the
/// primary's, and where an app on another domain finds its own.
fn primary_domain_note(several_domains: bool) -> Option<impl IntoView> {
    several_domains.then(|| view! {
        <p class="muted">"The primary domain's. An app used on another domain has that domain's on its Send to your vendor page."</p>
    })
}

/// Which SSO domain an app is used on, for its card: once there is a choice.
fn domain_fact(domain: Option<String>, domains: &[String]) -> Option<AnyView> {
    let shown = match domain {
        Some(domain) => domain,
        None if domains.len() > 1 => format!("{} (primary)", domains[0]),
        None => return None,
    };
    Some(view! { <dt>"SSO domain"</dt><dd class="app-domain">{shown}</dd> }.into_any())
}

/// The heading of a tenant page.
fn tenant_page_title(page: &'static str) -> impl IntoView {
    view! { <Title text=page/> <h1>{page}</h1> }
}

/// The templates an Add form can start from, as links (`?template=…#add-app`), so the choice
/// works before the page's script runs and stays in the address; the current one is marked.
/// Each choice is a template's id, name and summary.
fn template_picker(
    choices: impl Iterator<Item = (&'static str, &'static str, &'static str)>,
    current: &'static str,
) -> impl IntoView {
    let links = choices
        .map(|(id, name, summary)| {
            let href = format!("?template={id}#add-app");
            let current = (id == current).then_some("true");
            view! {
                <li>
                    <a class="template" href=href aria-current=current>
                        <strong>{name}</strong>
                        <span class="muted">{summary}</span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="templates" aria-label="Start from a template">
            <ul>{links}</ul>
        </nav>
    }
}

/// Why a template fills the form as it does, one line per choice, and where the vendor says so.
fn template_reasons(
    why: &'static [&'static str],
    source: Option<crate::templates::Source>,
) -> impl IntoView {
    let lines = why
        .iter()
        .map(|line| view! { <li>{*line}</li> })
        .collect_view();
    let source = source.map(|source| {
        view! {
            <p class="template-source">
                "From the vendor's documentation: "
                <a href=source.url rel="noopener noreferrer" target="_blank">{source.title}</a>
            </p>
        }
    });
    view! {
        <div class="template-reasons">
            <h3>"Why these settings"</h3>
            <ul>{lines}</ul>
            {source}
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <A href="/">"Back to the dashboard"</A>
            </section>
        </main>
    }
}

/// A query-string value: everything but RFC 3986's unreserved characters percent-encoded.
pub(crate) fn url_encode(text: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::utc_text;

    #[test]
    fn times_read_as_day_month_year_and_minutes_in_utc() {
        assert_eq!(utc_text("2026-12-02T09:20:31Z"), "2 Dec 2026, 09:20 UTC");
        assert_eq!(utc_text("2027-01-09T23:05:00Z"), "9 Jan 2027, 23:05 UTC");
        // Anything that is not an RFC 3339 time is shown as it came.
        assert_eq!(utc_text("not yet"), "not yet");
        assert_eq!(utc_text("2026-13-02T09:20:31Z"), "2026-13-02T09:20:31Z");
    }
}
