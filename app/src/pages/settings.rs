//! Settings (how members sign in, the iMIS connection, Test connection) and Branding (the
//! hosted pages' name, colour, texts and logo, with a live preview).

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/settings`: how members sign in, the iMIS connection, and Test connection.
#[component]
pub fn Settings() -> impl IntoView {
    let params = use_params_map();
    let save = ServerAction::<SaveSettings>::new();
    let check = ConnectionCheck::default();
    // Test results describe the settings they ran on: saving others clears them.
    Effect::new(move |previous: Option<usize>| {
        let version = save.version().get();
        if previous.is_some_and(|previous| previous != version) {
            check.clear();
        }
        version
    });
    let current = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, save.version().get())
        },
        |(cloud_id, _)| tenant_settings(cloud_id),
    );
    view! {
        <TenantPage title="Settings" data=current body=move |me, tenant, view| {
            settings_body(me, tenant, view, save, check)
        }/>
    }
}

/// `/t/:cloud_id/branding`: the hosted pages' name, colour, sign-in text, support contact and
/// logo, beside a preview of the sign-in page that follows the form as it is typed.
#[component]
pub fn Branding() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let save = ServerAction::<SaveSettings>::new();
    let remove_logo = ServerAction::<RemoveLogo>::new();
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
        <TenantPage title="Branding" data=current body=move |me, tenant, view| {
            let logo = logo_section(&me, &tenant, &view, remove_logo, logo_outcome);
            view! {
                {branding_body(me, tenant, view, save)}
                {logo}
            }
            .into_any()
        }/>
    }
}

/// Test connection on the page: the steps received so far, whether more are coming, and an
/// error that stopped it before the first step.
#[derive(Clone, Copy, Default)]
struct ConnectionCheck {
    steps: RwSignal<Option<Vec<CheckView>>>,
    running: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
}

impl ConnectionCheck {
    fn clear(self) {
        self.steps.set(None);
        self.error.set(None);
    }

    /// Asks the server to run the check and shows each step as its line arrives.
    fn run(self, csrf: String, cloud_id: String) {
        use futures_util::StreamExt;
        self.clear();
        self.running.set(true);
        leptos::task::spawn_local(async move {
            match test_connection(csrf, cloud_id).await {
                Ok(stream) => {
                    self.steps.set(Some(Vec::new()));
                    let mut pending = String::new();
                    let mut chunks = stream.into_inner();
                    while let Some(chunk) = chunks.next().await {
                        match chunk {
                            Ok(chunk) => {
                                let arrived = check_lines(&mut pending, &chunk);
                                self.steps.update(|steps| {
                                    steps.get_or_insert_with(Vec::new).extend(arrived)
                                });
                            }
                            Err(error) => {
                                self.error.set(Some(error));
                                break;
                            }
                        }
                    }
                }
                Err(error) => self.error.set(Some(error)),
            }
            self.running.set(false);
        });
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
    check: ConnectionCheck,
) -> AnyView {
    let callback = |url: Option<String>| {
        url.unwrap_or_else(|| "Provision your domain first (Domain Setup)".to_string())
    };
    let oidc_callback = callback(view.oidc_callback.clone());
    let saml_callback = callback(view.saml_callback.clone());
    let csrf = me.csrf.clone();
    let cloud_id = tenant.cloud_id.clone();
    let (csrf_field, cloud_id_field) = (csrf.clone(), cloud_id.clone());
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
            <input type="hidden" name="part" value="connection"/>
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
                {field("imis_sign_out_url", "iMIS sign-out page (optional)", view.saved.imis_sign_out_url.clone(), "Where members sign out of iMIS itself, e.g. /sign-out or a full address on the iMIS site. Signing out of single sign-on leaves the iMIS session open; the signed-out page then offers this link.")}
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
            {action_error(move || save.value().get())}
            {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! {
                <p class="form-success" role="status">"Settings saved."</p>
            })}
            <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save settings"</button>
        </ActionForm>
        <section class="card">
            <h2>"Test connection"</h2>
            <p class="muted">"Checks the saved settings against your iMIS, step by step."</p>
            // A real form (without the wasm it posts and is told the check needs a script);
            // with it, the steps stream in one by one.
            <form method="post" action="/api/test_connection" on:submit=move |event| {
                event.prevent_default();
                check.run(csrf.clone(), cloud_id.clone());
            }>
                <input type="hidden" name="csrf" value=csrf_field/>
                <input type="hidden" name="cloud_id" value=cloud_id_field/>
                <button type="submit" class="button" disabled=move || check.running.get()>
                    {move || if check.running.get() { "Testing…" } else { "Test connection" }}
                </button>
            </form>
            <noscript><p class="muted">"Test connection shows each step as it runs, which needs JavaScript."</p></noscript>
            {move || check.error.get().map(|error| view! { <p class="form-error" role="alert">{error.to_string()}</p> })}
            {move || check.steps.get().map(|steps| view! {
                <ol class="steps checks" aria-live="polite">
                    {steps.into_iter().map(|step| {
                        let class = if step.ok { "step step-done" } else { "step step-failed" };
                        view! { <li class=class><strong>{step.step}</strong> " — " {step.detail}</li> }
                    }).collect_view()}
                    {move || check.running.get().then(|| view! {
                        <li class="step step-active">"Checking the next step…"</li>
                    })}
                </ol>
            })}
        </section>
    }
    .into_any()
}

/// The Branding form beside its live preview. The preview follows the fields as they are
/// typed once the page is hydrated; before that it shows the saved values.
fn branding_body(
    me: Me,
    tenant: TenantView,
    view: SettingsPageView,
    save: ServerAction<SaveSettings>,
) -> AnyView {
    let saved = view.saved;
    let name = RwSignal::new(saved.brand_name.clone());
    let colour = RwSignal::new(saved.brand_colour.clone());
    let text = RwSignal::new(saved.sign_in_text.clone());
    let support = RwSignal::new(saved.support_contact.clone());
    let fallback_name = tenant.display_name.clone();
    let shown_name = move || {
        let typed = name.get();
        if typed.trim().is_empty() {
            fallback_name.clone()
        } else {
            typed
        }
    };
    // The colour picker needs a full #rrggbb; the text field may hold anything while typing.
    let picker_value = move || {
        let typed = colour.get();
        if is_hex_colour(&typed) {
            typed.to_ascii_lowercase()
        } else {
            DEFAULT_BRAND_COLOUR.to_string()
        }
    };
    // The page's Content-Security-Policy refuses style attributes in the HTML, so the preview
    // takes its colour through the DOM, after hydration.
    let preview = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let colour = picker_value();
        if let Some(preview) = preview.get() {
            let _ = preview.style(("--preview-brand", colour));
        }
    });
    // From the dashboard's own origin (its Content-Security-Policy loads images from nowhere
    // else), sent uncached, so a new upload shows at once.
    let logo = view.has_logo.then(|| {
        view! { <img src=format!("/t/{}/settings/logo", tenant.cloud_id) alt=""/> }
    });
    view! {
        <p class="muted">"How your members' sign-in pages look on your domain."</p>
        <div class="branding-layout">
            <ActionForm action=save attr:class="settings-form">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <input type="hidden" name="part" value="branding"/>
                <section class="card">
                    <label for="brand_name">"Display name"</label>
                    <input id="brand_name" name="brand_name" prop:value=move || name.get() value=saved.brand_name.clone()
                        on:input=move |event| name.set(event_target_value(&event)) autocomplete="off"/>
                    <p class="muted hint">"Shown on the sign-in page; your Cloud ID's name when empty."</p>
                    <label for="brand_colour">"Colour"</label>
                    <div class="colour-field">
                        <input id="brand_colour_picker" type="color" aria-label="Pick the colour"
                            prop:value=picker_value value=picker_value
                            on:input=move |event| colour.set(event_target_value(&event))/>
                        <input id="brand_colour" name="brand_colour" prop:value=move || colour.get() value=saved.brand_colour.clone()
                            on:input=move |event| colour.set(event_target_value(&event)) placeholder=DEFAULT_BRAND_COLOUR
                            autocomplete="off" spellcheck="false"/>
                    </div>
                    <p class="muted hint">"A hex colour such as #1f5fbf: pick it, or type it."</p>
                    <label for="sign_in_text">"Sign-in text"</label>
                    <textarea id="sign_in_text" name="sign_in_text" rows="3"
                        on:input=move |event| text.set(event_target_value(&event))>{saved.sign_in_text.clone()}</textarea>
                    <label for="support_contact">"Support contact"</label>
                    <input id="support_contact" name="support_contact" value=saved.support_contact.clone()
                        on:input=move |event| support.set(event_target_value(&event)) autocomplete="off" spellcheck="false"/>
                    <p class="muted hint">"An e-mail address or web page members can use for help."</p>
                </section>
                {action_error(move || save.value().get())}
                {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! {
                    <p class="form-success" role="status">"Branding saved."</p>
                })}
                <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save branding"</button>
            </ActionForm>
            <figure class="sign-in-preview">
                <figcaption class="muted">"Preview of the sign-in page"</figcaption>
                <div class="preview-page" node_ref=preview aria-label="Sign-in page preview" role="img">
                    <div class="preview-brand">{logo}<span class="preview-name">{shown_name}</span></div>
                    <p class="preview-heading">"Sign in"</p>
                    {move || {
                        let text = text.get();
                        (!text.trim().is_empty()).then(|| view! { <p class="preview-text">{text}</p> })
                    }}
                    <span class="preview-field">"Username"</span>
                    <span class="preview-field">"Password"</span>
                    <span class="preview-button">"Sign in"</span>
                    {move || {
                        let support = support.get();
                        (!support.trim().is_empty()).then(|| view! { <p class="preview-support">"Need help? Contact " {support} "."</p> })
                    }}
                </div>
            </figure>
        </div>
    }
    .into_any()
}

/// The hosted pages' colour when none is set (style/member.css).
const DEFAULT_BRAND_COLOUR: &str = "#1f5fbf";

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
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
