//! Settings: the iMIS connection, branding and the logo, and Test connection.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/settings`: the iMIS connection and branding, and Test connection.
#[component]
pub fn Settings() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let save = ServerAction::<SaveSettings>::new();
    let check = ServerAction::<TestConnection>::new();
    let remove_logo = ServerAction::<RemoveLogo>::new();
    // Test results describe the settings they ran on: saving others clears them.
    Effect::new(move |previous: Option<usize>| {
        let version = save.version().get();
        if previous.is_some_and(|previous| previous != version) {
            check.value().set(None);
        }
        version
    });
    let current = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, save.version().get(), remove_logo.version().get())
        },
        |(cloud_id, _, _)| tenant_settings(cloud_id),
    );
    // The logo form posts to a plain route that comes back here saying how it went.
    let logo_outcome = move || {
        let query = query.read();
        (
            query.get("logo").as_deref() == Some("saved"),
            query.get("logo_error"),
        )
    };
    view! {
        <TenantPage title="Settings" data=current body=move |me, tenant, view| {
            let logo = logo_section(&me, &tenant, &view, remove_logo, logo_outcome);
            view! {
                {settings_body(me, tenant, view, save, check)}
                {logo}
            }
            .into_any()
        }/>
    }
}

/// A labelled text field of the Settings form.
fn field(id: &'static str, label: &'static str, value: String, hint: &'static str) -> AnyView {
    view! {
        <label for=id>{label}</label>
        <input id=id name=id value=value autocomplete="off" spellcheck="false"/>
        {(!hint.is_empty()).then(|| view! { <p class="muted hint">{hint}</p> })}
    }
    .into_any()
}

/// A write-only secret: never shown, empty keeps the stored one.
fn secret_field(id: &'static str, label: &'static str, is_set: bool) -> AnyView {
    let placeholder = if is_set {
        "Saved — leave empty to keep"
    } else {
        "Not set"
    };
    view! {
        <label for=id>{label}</label>
        <input id=id name=id type="password" placeholder=placeholder autocomplete="new-password"/>
    }
    .into_any()
}

fn settings_body(
    me: Me,
    tenant: TenantView,
    view: SettingsPageView,
    save: ServerAction<SaveSettings>,
    check: ServerAction<TestConnection>,
) -> AnyView {
    let callback = |url: Option<String>| {
        url.unwrap_or_else(|| "Provision your domain first (Domain Setup)".to_string())
    };
    let oidc_callback = callback(view.oidc_callback.clone());
    let saml_callback = callback(view.saml_callback.clone());
    let csrf = me.csrf.clone();
    let cloud_id = tenant.cloud_id.clone();
    let uses_directory = view.saved.identity_source == "directory";
    let site = view.site_url.clone().map(|url| {
        view! {
            <p>"Members sign in at " <a class="member-site" href=url.clone()>{url.clone()}</a> "."</p>
        }
    });
    view! {
        {site}
        <p class="muted">"Members sign in with their iMIS account. Create two RiSE Client Applications in iMIS (Settings > Contacts > Client Applications), one for OpenID Connect and one for SAML, with these Login Redirect URLs:"</p>
        <dl class="facts">
            <dt>"OpenID Connect"</dt><dd><Copyable class="oidc-callback" value=oidc_callback label="OpenID Connect Login Redirect URL"/></dd>
            <dt>"SAML"</dt><dd><Copyable class="saml-callback" value=saml_callback label="SAML Login Redirect URL"/></dd>
        </dl>
        <ActionForm action=save attr:class="settings-form">
            <input type="hidden" name="csrf" value=me.csrf.clone()/>
            <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
            <section class="card">
                <h2>"How members sign in"</h2>
                <fieldset class="choices">
                    <legend class="visually-hidden">"Identity source"</legend>
                    <label class="choice">
                        <input type="radio" name="identity_source" value="imis" checked=!uses_directory/>
                        " With their iMIS account (through the SSO page below)"
                    </label>
                    <label class="choice">
                        <input type="radio" name="identity_source" value="directory" checked=uses_directory/>
                        " With an account in Vestibule's member directory (see the Members page)"
                    </label>
                </fieldset>
            </section>
            <section class="card">
                <h2>"iMIS"</h2>
                {field("imis_base_url", "iMIS base URL", view.saved.imis_base_url.clone(), "The address of your iMIS site, for example https://members.your-association.org. Changing it to another site clears the saved client secrets and background password: enter them again with the new address.")}
                {field("profile_iqa", "Profile IQA", view.saved.profile_iqa.clone(), "The IQA query that returns a member's profile, taking the username as its parameter.")}
            </section>
            <section class="card">
                <h2>"OpenID Connect client application"</h2>
                {field("oidc_client_id", "Client ID", view.saved.oidc_client_id.clone(), "")}
                {secret_field("oidc_client_secret", "Client secret", view.saved.oidc_has_secret)}
                {field("oidc_sso_page", "SSO page (publish location)", view.saved.oidc_sso_page.clone(), "The published page with the Single Sign On content item, e.g. /sso-oidc")}
            </section>
            <section class="card">
                <h2>"SAML client application"</h2>
                {field("saml_client_id", "Client ID", view.saved.saml_client_id.clone(), "")}
                {secret_field("saml_client_secret", "Client secret", view.saved.saml_has_secret)}
                {field("saml_sso_page", "SSO page (publish location)", view.saved.saml_sso_page.clone(), "")}
            </section>
            <section class="card">
                <h2>"Background account"</h2>
                <p class="muted">"An iMIS account Vestibule uses to read member profiles over the REST API."</p>
                {field("api_username", "Username", view.saved.api_username.clone(), "")}
                {secret_field("api_password", "Password", view.saved.has_api_password)}
            </section>
            <section class="card">
                <h2>"Branding"</h2>
                {field("brand_name", "Display name", view.saved.brand_name.clone(), "Shown on the sign-in page; your Cloud ID's name when empty.")}
                {field("brand_colour", "Colour", view.saved.brand_colour.clone(), "A hex colour such as #1f5fbf.")}
                <label for="sign_in_text">"Sign-in text"</label>
                <textarea id="sign_in_text" name="sign_in_text" rows="3">{view.saved.sign_in_text.clone()}</textarea>
                {field("support_contact", "Support contact", view.saved.support_contact.clone(), "An e-mail address or web page members can use for help.")}
            </section>
            {action_error(move || save.value().get())}
            {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! {
                <p class="form-success" role="status">"Settings saved."</p>
            })}
            <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save settings"</button>
        </ActionForm>
        <section class="card">
            <h2>"Test connection"</h2>
            <p class="muted">"Checks the saved settings against your iMIS, step by step."</p>
            <ActionForm action=check>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <button type="submit" class="button" disabled=move || check.pending().get()>
                    {move || if check.pending().get() { "Testing…" } else { "Test connection" }}
                </button>
            </ActionForm>
            {action_error(move || check.value().get())}
            {move || check.value().get().and_then(Result::ok).map(|steps| view! {
                <ol class="steps checks">
                    {steps.into_iter().map(|step| {
                        let class = if step.ok { "step step-done" } else { "step step-failed" };
                        view! { <li class=class><strong>{step.step}</strong> " — " {step.detail}</li> }
                    }).collect_view()}
                </ol>
            })}
        </section>
    }
    .into_any()
}

/// The logo on the hosted pages: a plain multipart form (works without JavaScript) to a route
/// that checks the image and comes back with `?logo=saved` or `?logo_error=…`.
fn logo_section(
    me: &Me,
    tenant: &TenantView,
    view: &SettingsPageView,
    remove: ServerAction<RemoveLogo>,
    outcome: impl Fn() -> (bool, Option<String>) + Send + Sync + 'static + Copy,
) -> AnyView {
    let action = format!("/t/{}/settings/logo", tenant.cloud_id);
    let preview = view.site_url.clone().filter(|_| view.has_logo).map(|site| {
        view! { <p class="muted">"Current logo: " <a href=format!("{site}/branding/logo")>"open"</a></p> }
    });
    let has_logo = view.has_logo;
    let csrf = me.csrf.clone();
    let cloud_id = tenant.cloud_id.clone();
    view! {
        <section class="card">
            <h2>"Logo"</h2>
            <p class="muted">"Shown on the sign-in pages. PNG, JPEG, GIF or WebP, at most 256 KB."</p>
            {preview}
            {move || outcome().0.then(|| view! { <p class="form-success" role="status">"Logo saved."</p> })}
            {move || outcome().1.map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <form method="post" action=action enctype="multipart/form-data" class="logo-form">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <label for="logo">"Image file"</label>
                <input id="logo" name="logo" type="file" accept="image/png,image/jpeg,image/gif,image/webp" required/>
                <button type="submit" class="button">"Upload logo"</button>
            </form>
            {has_logo.then(|| view! {
                <ActionForm action=remove>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input type="hidden" name="cloud_id" value=cloud_id.clone()/>
                    <button type="submit" class="button subtle">"Remove logo"</button>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}
