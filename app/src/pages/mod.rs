//! The dashboard's pages, one module per page (or pair of list and edit pages), and the few
//! pieces every page uses.

mod audit;
mod domain;
mod members;
mod oidc;
mod saml;
mod session;
mod settings;
mod tenants;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::AppError;

pub use audit::AuditLog;
pub use domain::DomainSetup;
pub use members::Members;
pub use oidc::{OidcAppEdit, OidcApps};
pub use saml::{SamlAppEdit, SamlApps};
pub use session::{Home, Setup, SignIn};
pub use settings::Settings;
pub use tenants::{Team, Tenants};

/// Shows the message of a failed action, announced to screen readers.
fn action_error<T: 'static>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + 'static,
) -> impl IntoView {
    move || {
        value().and_then(Result::err).map(|error| {
            view! { <p class="form-error" role="alert">{error.to_string()}</p> }
        })
    }
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

/// The heading of a tenant page.
fn tenant_page_title(page: &'static str) -> impl IntoView {
    view! { <Title text=page/> <h1>{page}</h1> }
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
