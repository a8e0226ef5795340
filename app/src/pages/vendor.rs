//! "Send to your vendor": one app's sheet, to print, paste into an e-mail, or download.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/oidc/:client_id/vendor`.
#[component]
pub fn OidcVendorSheet() -> impl IntoView {
    let params = use_params_map();
    let sheet = Resource::new_blocking(
        move || {
            let params = params.read();
            (
                params.get("cloud_id").unwrap_or_default(),
                params.get("client_id").unwrap_or_default(),
            )
        },
        |(cloud_id, client_id)| oidc_vendor_sheet(cloud_id, client_id),
    );
    view! { <TenantPage title="Send to your vendor" data=sheet body=|_, _, sheet| sheet_body(sheet)/> }
}

/// `/t/:cloud_id/saml/:app_id/vendor`.
#[component]
pub fn SamlVendorSheet() -> impl IntoView {
    let params = use_params_map();
    let sheet = Resource::new_blocking(
        move || {
            let params = params.read();
            (
                params.get("cloud_id").unwrap_or_default(),
                params.get("app_id").unwrap_or_default(),
            )
        },
        |(cloud_id, app_id)| saml_vendor_sheet(cloud_id, app_id),
    );
    view! { <TenantPage title="Send to your vendor" data=sheet body=|_, _, sheet| sheet_body(sheet)/> }
}

fn sheet_body(sheet: VendorSheetView) -> AnyView {
    let back = view! { <p class="no-print"><a href=sheet.back_href.clone()>"← All apps"</a></p> };
    if sheet.facts.is_empty() {
        return view! {
            {back}
            <p class="notice">"Every address on this sheet depends on the SSO domain: provision it on Domain Setup first."</p>
        }
        .into_any();
    }
    let secret_note = (sheet.protocol == "OpenID Connect").then(|| view! {
        <p class="muted">"The client secret is not on this sheet: send it by another channel (it was shown once, when the app was added or its secret rotated)."</p>
    });
    let facts = sheet
        .facts
        .into_iter()
        .map(|fact| {
            let value = if fact.block {
                view! { <pre class="fact-block">{fact.value}</pre> }.into_any()
            } else {
                view! { <span class="fact-value">{fact.value}</span> }.into_any()
            };
            view! { <dt>{fact.label}</dt><dd>{value}</dd> }
        })
        .collect_view();
    let download = sheet.download_href.map(|href| {
        view! { <a class="button" href=href download=sheet.download_name.clone()>"Download " {sheet.download_name.clone()}</a> }
    });
    view! {
        {back}
        <section class="card vendor-sheet">
            <h2>{sheet.app_name.clone()} " · " {sheet.protocol}</h2>
            <p class="muted">"Everything the vendor needs to connect this app, and nothing secret. Print it, paste the text into an e-mail, or download the file."</p>
            <div class="actions no-print">
                <button type="button" class="button" on:click=|_| { let _ = window().print(); }>"Print"</button>
                <CopyButton value=sheet.text.clone() label="the sheet as text"/>
                {download}
            </div>
            {secret_note}
            <dl class="facts vendor-facts">{facts}</dl>
        </section>
        <section class="card no-print">
            <h2>"As text for an e-mail"</h2>
            <label for="vendor-text" class="visually-hidden">"The sheet as text"</label>
            <textarea id="vendor-text" class="vendor-text" readonly rows="16" spellcheck="false">{sheet.text}</textarea>
        </section>
    }
    .into_any()
}
