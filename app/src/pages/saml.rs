//! SAML Client Apps: the IdP's details, metadata import, and one app's edit page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::api::*;
use crate::layout::{ErrorPage, TenantPage};

/// `/t/:cloud_id/saml`: the tenant's SAML service providers, the IdP's details to give them,
/// and metadata import with a preview before saving.
#[component]
pub fn SamlApps() -> impl IntoView {
    let params = use_params_map();
    let actions = SamlActions {
        create: ServerAction::new(),
        import: ServerAction::new(),
        save_imported: ServerAction::new(),
        delete: ServerAction::new(),
        prepare_rollover: ServerAction::new(),
        reschedule_rollover: ServerAction::new(),
    };
    let query = leptos_router::hooks::use_query_map();
    let apps = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let versions = (
                actions.create.version().get(),
                actions.save_imported.version().get(),
                actions.delete.version().get(),
                // A rollover changes the certificate the IdP card shows.
                actions.reschedule_rollover.version().get(),
            );
            // Another template redraws the Add form (see `saml_body`).
            (cloud_id, query.read().get("template"), versions)
        },
        |(cloud_id, _, _)| saml_apps(cloud_id),
    );
    // Made here, with the page's other data, so the server's page and the browser's agree on it.
    let calendar = Resource::new_blocking(
        move || {
            (
                params.read().get("cloud_id").unwrap_or_default(),
                actions.prepare_rollover.version().get(),
                actions.reschedule_rollover.version().get(),
            )
        },
        |(cloud_id, _, _)| signing_calendar(cloud_id),
    );
    // A saved import closes its preview (the page shows the app's card instead), and once the
    // list has it, the card is scrolled to and focused: the feedback is where the app now is.
    Effect::new(move |_| {
        if let Some(Ok(_)) = actions.save_imported.value().get() {
            actions.import.value().set(None);
        }
    });
    Effect::new(move |_| {
        apps.track();
        if let Some(Ok(app_id)) = actions.save_imported.value().get_untracked() {
            request_animation_frame(move || show_app_card(&app_id));
        }
    });
    view! {
        <TenantPage title="SAML Client Apps" data=apps body=move |me, tenant, view| {
            saml_body(me, tenant, view, actions, calendar)
        }/>
    }
}

#[derive(Clone, Copy)]
struct SamlActions {
    /// The hand-entry form's save.
    create: ServerAction<CreateSamlApp>,
    /// Reading metadata into a preview.
    import: ServerAction<PreviewSamlMetadata>,
    /// The preview's save: its own action, so its messages stay beside its button.
    save_imported: ServerAction<CreateSamlApp>,
    delete: ServerAction<DeleteSamlApp>,
    prepare_rollover: ServerAction<PrepareSamlRollover>,
    reschedule_rollover: ServerAction<RescheduleSamlRollover>,
}

/// Scrolls the app's card into view and moves the focus to it.
fn show_app_card(app_id: &str) {
    use leptos::wasm_bindgen::JsCast;
    let card = document().get_element_by_id(&format!("saml-app-{app_id}"));
    if let Some(card) = card.and_then(|card| card.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
        card.scroll_into_view();
        let _ = card.focus();
    }
}

/// The fields of a SAML app's form (`form[…]`), filled with `form`. `id` keeps labels unique
/// when two forms share a page.
/// The app's fields; `examples` shows what a template's addresses look like, as placeholders.
fn saml_fields(
    id: &'static str,
    form: SamlAppForm,
    examples: Option<&'static crate::templates::SamlTemplate>,
    domains: &[String],
) -> AnyView {
    let field = move |name: &str| format!("{id}-{name}");
    let entity_example = examples.map(|t| t.entity_id_example);
    let acs_example = examples.map(|t| t.acs_example);
    let slo_example = examples
        .map(|t| t.single_logout_example)
        .filter(|example| !example.is_empty());
    let name_id = form.name_id_format.clone();
    let name_id_option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=name_id == value>{label}</option> }
    };
    let signed = form.signed.clone();
    let signed_option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=signed == value>{label}</option> }
    };
    // Also as the elements' values: a form shown again after "Apply" replaces what was typed.
    let (acs_value, certificate_value, encryption_value) = (
        form.assertion_consumers.clone(),
        form.sp_certificate.clone(),
        form.sp_encryption_certificate.clone(),
    );
    view! {
        <label for=field("name")>"Name"</label>
        <input id=field("name") name="form[name]" required value=form.name/>
        {domain_field(field("domain"), "form[domain]", domains, form.domain.clone())}
        <label for=field("entity")>"Entity ID (the service provider's Issuer)"</label>
        <input id=field("entity") name="form[entity_id]" required value=form.entity_id placeholder=entity_example spellcheck="false"/>
        <label for=field("acs")>"Assertion consumer services (HTTP-POST), one per line as \"index URL\"; the first is the default"</label>
        <textarea id=field("acs") name="form[assertion_consumers]" prop:value=acs_value rows="3" required placeholder=acs_example spellcheck="false">{form.assertion_consumers}</textarea>
        <label for=field("slo")>"Single logout URL"</label>
        <input id=field("slo") name="form[single_logout]" value=form.single_logout placeholder=slo_example spellcheck="false"/>
        <label for=field("slo-binding")>"Single logout binding"</label>
        <select id=field("slo-binding") name="form[single_logout_binding]">
            <option value="redirect" selected=form.single_logout_binding != "post">"HTTP-Redirect"</option>
            <option value="post" selected=form.single_logout_binding == "post">"HTTP-POST"</option>
        </select>
        <label for=field("nameid")>"NameID format"</label>
        <select id=field("nameid") name="form[name_id_format]">
            {name_id_option("unspecified", "Unspecified (iMIS username or iMIS ID)")}
            {name_id_option("email_address", "Email address")}
            {name_id_option("persistent", "Persistent (opaque, stable, per app)")}
            {name_id_option("transient", "Transient (new every session)")}
        </select>
        <label class="choice"><input type="checkbox" name="form[unspecified_is_imis_id]" checked=form.unspecified_is_imis_id.is_some()/>" Unspecified sends the iMIS ID instead of the username"</label>
        <label class="choice"><input type="checkbox" name="form[sp_may_request_name_id_format]" checked=form.sp_may_request_name_id_format.is_some()/>" Let the service provider ask for another supported identifier type (otherwise such a request gets InvalidNameIDPolicy)"</label>
        <label class="choice"><input type="checkbox" name="form[show_in_launcher]" checked=form.show_in_launcher.is_some()/>" List this app on the page members see after signing in (started by its IdP-initiated link; set the default RelayState to where members land)"</label>
        <label for=field("attributes")>"Attributes (attribute = profile property, one per line; urn:oid: names use the URI format)"</label>
        <textarea id=field("attributes") name="form[attributes]" rows="4" spellcheck="false">{form.attributes}</textarea>
        <label for=field("signed")>"Signed"</label>
        <select id=field("signed") name="form[signed]">
            {signed_option("assertion", "The assertion")}
            {signed_option("response", "The response")}
            {signed_option("both", "Both")}
        </select>
        <label class="choice"><input type="checkbox" name="form[require_signed_requests]" checked=form.require_signed_requests.is_some()/>" Require signed requests"</label>
        <label for=field("certificate")>"Service provider's signing certificate (PEM): checks its signed requests and logout messages"</label>
        <textarea id=field("certificate") name="form[sp_certificate]" prop:value=certificate_value rows="4" spellcheck="false">{form.sp_certificate}</textarea>
        <label class="choice"><input type="checkbox" name="form[encrypt_assertions]" checked=form.encrypt_assertions.is_some()/>" Encrypt assertions (AES-256-GCM, key by RSA-OAEP)"</label>
        <label for=field("encryption")>"Service provider's encryption certificate (PEM, RSA)"</label>
        <textarea id=field("encryption") name="form[sp_encryption_certificate]" prop:value=encryption_value rows="4" spellcheck="false">{form.sp_encryption_certificate}</textarea>
        <label for=field("minutes")>"Assertion lifetime (minutes)"</label>
        <input id=field("minutes") name="form[assertion_minutes]" inputmode="numeric" value=form.assertion_minutes/>
        <label for=field("relay")>"Default RelayState for IdP-initiated sign-in (where the app takes the member)"</label>
        <input id=field("relay") name="form[default_relay_state]" value=form.default_relay_state spellcheck="false"/>
    }
    .into_any()
}

/// Metadata files are a few kilobytes; anything far larger is not metadata.
const METADATA_FILE_LIMIT: f64 = 1024.0 * 1024.0;

/// Puts the chosen metadata file's text into the paste box, where the admin sees it before the
/// preview. Read in the browser: nothing is sent until Preview.
fn read_metadata_file(
    event: &leptos::ev::Event,
    metadata: RwSignal<String>,
    upload_error: RwSignal<Option<String>>,
) {
    use web_sys::HtmlInputElement;
    let input: HtmlInputElement = event_target(event);
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    if file.size() > METADATA_FILE_LIMIT {
        upload_error.set(Some(format!(
            "{} is too large to be SAML metadata (over 1 MB).",
            file.name()
        )));
        return;
    }
    let name = file.name();
    leptos::task::spawn_local(async move {
        match wasm_bindgen_futures::JsFuture::from(file.text()).await {
            Ok(text) => {
                upload_error.set(None);
                metadata.set(text.as_string().unwrap_or_default());
            }
            Err(_) => upload_error.set(Some(format!("{name} could not be read."))),
        }
    });
}

fn saml_body(
    me: Me,
    tenant: TenantView,
    view: SamlAppsView,
    actions: SamlActions,
    calendar: Resource<Result<SigningCalendarView, AppError>>,
) -> AnyView {
    // The page's data reloads when the address names another template (see `SamlApps`), so
    // the form is redrawn in place: what the admin typed survives an action's answer.
    let template = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("template");
    let SamlActions {
        create,
        import,
        save_imported,
        delete,
        prepare_rollover,
        reschedule_rollover,
    } = actions;
    let calendar = view.idp.is_some().then(|| {
        signing_calendar_card(
            me.csrf.clone(),
            tenant.cloud_id.clone(),
            calendar,
            prepare_rollover,
            reschedule_rollover,
        )
    });
    // The certificate's textarea carries it as text for the first page and as its value when a
    // rollover redraws the card in place (a textarea's text alone would not change what it shows).
    let several_domains = view.domains.len() > 1;
    let idp = match view.idp {
        Some(idp) => view! {
            <section class="card">
                <h2>"For service providers"</h2>
                {primary_domain_note(several_domains)}
                <dl class="facts endpoints">
                    <dt>"IdP metadata URL"</dt><dd><Copyable class="saml-metadata-url" value=idp.metadata_url.clone() label="IdP metadata URL"/></dd>
                    <dt>"Entity ID"</dt><dd><Copyable value=idp.entity_id label="IdP entity ID"/></dd>
                    <dt>"Single sign-on (Redirect, POST)"</dt><dd><Copyable value=idp.single_sign_on label="single sign-on URL"/></dd>
                    <dt>"Single logout (Redirect, POST)"</dt><dd><Copyable value=idp.single_logout label="single logout URL"/></dd>
                    <dt>"Signing certificate"</dt>
                    <dd>
                        <textarea class="copy-field certificate" readonly rows="4" aria-label="Signing certificate" prop:value=idp.certificate_pem.clone()>{idp.certificate_pem.clone()}</textarea>
                        <CopyButton value=idp.certificate_pem label="signing certificate"/>
                        " "
                        <a class="button subtle" href=idp.certificate_url>"Download certificate"</a>
                        " "
                        <a class="button subtle" href=format!("{}?download", idp.metadata_url)>"Download metadata"</a>
                    </dd>
                </dl>
            </section>
        }
        .into_any(),
        None => view! {
            <p class="muted">"Set up your domain first: service providers need its address for the IdP metadata and sign-in links."</p>
        }
        .into_any(),
    };
    let domains = view.domains;
    let apps = if view.apps.is_empty() {
        view! { <p class="empty">"No SAML client apps yet. Import a service provider's metadata or add one by hand below."</p> }
            .into_any()
    } else {
        view.apps
            .into_iter()
            .map(|app| {
                let edit_href = format!("/t/{}/saml/{}", tenant.cloud_id, app.app_id);
                let card_id = format!("saml-app-{}", app.app_id);
                let (csrf, cloud_id) = (me.csrf.clone(), tenant.cloud_id.clone());
                let link = app.idp_initiated_link.clone().map(|link| view! {
                    <dt>"IdP-initiated sign-in link"</dt>
                    <dd><Copyable class="idp-initiated-link" value=link label=format!("IdP-initiated sign-in link for {}", app.name)/></dd>
                });
                view! {
                    <section class="card saml-app" id=card_id tabindex="-1">
                        <h2>{app.name.clone()}</h2>
                        <dl class="facts">
                            <dt>"Entity ID"</dt><dd><code>{app.entity_id.clone()}</code></dd>
                            <dt>"Assertion consumer services"</dt><dd>{app.assertion_consumers.join(", ")}</dd>
                            <dt>"Single logout"</dt><dd>{app.single_logout.clone().unwrap_or_else(|| "none".to_string())}</dd>
                            <dt>"NameID format"</dt><dd><code>{app.name_id_format.clone()}</code></dd>
                            <dt>"Signed"</dt><dd>{app.signed.clone()}{if app.require_signed_requests { "; requests must be signed" } else { "" }}{if app.encrypt_assertions { "; assertions encrypted" } else { "" }}</dd>
                            {link}
                            {domain_fact(app.domain.clone(), &domains)}
                        </dl>
                        {app.metadata_notice.clone().map(|notice| view! { <p class="warning metadata-notice"><a href=edit_href.clone()>{notice}</a></p> })}
                        <a class="button subtle" href=edit_href aria-label=format!("Edit {}", app.name)>"Edit"</a>
                        <a class="button subtle" href=format!("/t/{}/saml/{}/vendor", tenant.cloud_id, app.app_id) aria-label=format!("Send to your vendor: {}", app.name)>"Send to your vendor"</a>
                        <a class="button subtle" href=format!("/t/{}/saml/{}/recorder", tenant.cloud_id, app.app_id) aria-label=format!("Flight recorder: {}", app.name)>"Flight recorder"</a>
                        <a class="button subtle" href=format!("/t/{}/saml/{}/recorder#test-sign-in", tenant.cloud_id, app.app_id) aria-label=format!("Test sign-in: {}", app.name)>"Test sign-in"</a>
                        {danger_zone(
                            "Delete…",
                            format!("Deleting {} ends its single sign-on: the service provider's requests are refused from then on. This cannot be undone.", app.name),
                            view! {
                                <ActionForm action=delete attr:class="form-grid">
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <input type="hidden" name="cloud_id" value=cloud_id/>
                                    <input type="hidden" name="app_id" value=app.app_id.clone()/>
                                    {typed_confirmation(format!("delete-{}", app.app_id), app.name.clone())}
                                    {action_error(move || delete.value().get())}
                                    <button type="submit" class="button danger" aria-label=format!("Delete {}", app.name)>"Delete app"</button>
                                </ActionForm>
                            },
                        )}
                    </section>
                }
            })
            .collect_view()
            .into_any()
    };
    let (import_csrf, import_cloud) = (me.csrf.clone(), tenant.cloud_id.clone());
    let metadata = RwSignal::new(String::new());
    let upload_error = RwSignal::new(None::<String>);
    let (preview_csrf, preview_cloud) = (me.csrf.clone(), tenant.cloud_id.clone());
    let preview_domains = domains.clone();
    let new_app = view.new_app;
    view! {
        <p class="muted">"Register each site that signs members in with SAML 2.0. Responses go only to the assertion consumer services listed here, exactly."</p>
        {idp}
        {calendar}
        {action_error(move || delete.value().get())}
        {apps}
        <section class="card">
            <h2>"Import metadata"</h2>
            <p class="muted">"Give the address the service provider publishes its metadata at, or upload or paste the XML. You will see what it registers before anything is saved."</p>
            <ActionForm action=import attr:class="form-grid">
                <input type="hidden" name="csrf" value=import_csrf/>
                <input type="hidden" name="cloud_id" value=import_cloud/>
                <label for="saml-metadata-url">"Metadata address"</label>
                <input id="saml-metadata-url" name="metadata_url" type="url" placeholder="https://sp.example.org/saml/metadata" spellcheck="false"/>
                <label for="saml-metadata-file">"Metadata file"</label>
                <input id="saml-metadata-file" type="file" accept=".xml,application/xml,text/xml,application/samlmetadata+xml" on:change=move |event| read_metadata_file(&event, metadata, upload_error)/>
                {move || upload_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <label for="saml-metadata">"Service provider metadata"</label>
                <textarea id="saml-metadata" name="metadata" rows="6" spellcheck="false" prop:value=move || metadata.get() on:input=move |event| metadata.set(event_target_value(&event))></textarea>
                {action_error(move || import.value().get())}
                <button type="submit" class="button">"Preview"</button>
            </ActionForm>
            {move || {
                let (csrf, cloud_id) = (preview_csrf.clone(), preview_cloud.clone());
                let domains = preview_domains.clone();
                import.value().get().and_then(Result::ok).map(move |preview| {
                let notes = preview.notes.into_iter().map(|note| view! { <li>{note}</li> }).collect_view();
                view! {
                    <div class="saml-preview">
                        <h3>"Preview: check and save"</h3>
                        <ul class="notes">{notes}</ul>
                        <ActionForm action=save_imported attr:class="form-grid">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            {saml_fields("import", preview.form, None, &domains)}
                            {action_error(move || save_imported.value().get())}
                            <button type="submit" class="button primary">"Save imported app"</button>
                        </ActionForm>
                    </div>
                }
            })}}
        </section>
        <section class="card" id="add-app">
            <h2>"Add an app"</h2>
            {add_app_form(template, me.csrf.clone(), tenant.cloud_id.clone(), new_app, &domains, create)}
        </section>
    }
    .into_any()
}

/// The signing certificates on a calendar: the one that signs, the next one (published ahead,
/// with its date, to roll over now or postpone), and the OpenID Connect keys beside them.
fn signing_calendar_card(
    csrf: String,
    cloud_id: String,
    calendar: Resource<Result<SigningCalendarView, AppError>>,
    prepare: ServerAction<PrepareSamlRollover>,
    reschedule: ServerAction<RescheduleSamlRollover>,
) -> impl IntoView {
    view! {
        <section class="card signing-calendar" id="signing-certificates">
            <h2>"Signing certificates and keys"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let (csrf, cloud_id) = (csrf.clone(), cloud_id.clone());
                    Suspend::new(async move {
                        match calendar.await {
                            Ok(calendar) => calendar_view(calendar, csrf, cloud_id, prepare, reschedule),
                            Err(error) => view! { <ErrorPage error/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

fn calendar_view(
    calendar: SigningCalendarView,
    csrf: String,
    cloud_id: String,
    prepare: ServerAction<PrepareSamlRollover>,
    reschedule: ServerAction<RescheduleSamlRollover>,
) -> AnyView {
    let current = calendar.saml_current.map(|current| view! {
        <dt>"SAML: signs now"</dt>
        <dd class="current-certificate">
            "Since " <Time at=current.signs_from/> ", valid until " <Time at=current.valid_until/>
            " (" <code>{current.kid}</code> ")"
        </dd>
    });
    let next = match calendar.saml_next {
        Some(next) => {
            let (csrf2, cloud_id2, kid2) = (csrf.clone(), cloud_id.clone(), next.kid.clone());
            view! {
                <dt>"SAML: next"</dt>
                <dd class="next-certificate">
                    "Published since " <Time at=next.published_since/> "; signs from "
                    <strong><Time at=next.signs_from.clone()/></strong>
                    " (" <code>{next.kid.clone()}</code> "). Service providers that read the metadata take it before then; give it to the others now."
                    <div class="actions">
                        <ActionForm action=reschedule attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            <input type="hidden" name="kid" value=next.kid/>
                            <button type="submit" class="button">"Roll over now"</button>
                        </ActionForm>
                        <ActionForm action=reschedule attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf2/>
                            <input type="hidden" name="cloud_id" value=cloud_id2/>
                            <input type="hidden" name="kid" value=kid2/>
                            <label>"Postpone by "
                                <select name="postpone_days">
                                    <option value="7">"7 days"</option>
                                    <option value="30" selected>"30 days"</option>
                                    <option value="90">"90 days"</option>
                                </select>
                            </label>
                            <button type="submit" class="button subtle">"Postpone"</button>
                        </ActionForm>
                    </div>
                </dd>
            }
            .into_any()
        }
        None => view! {
            <dt>"SAML: next"</dt>
            <dd>
                <ActionForm action=prepare attr:class="inline-form">
                    <input type="hidden" name="csrf" value=csrf/>
                    <input type="hidden" name="cloud_id" value=cloud_id/>
                    <label>"Publish the next certificate now; it signs after "
                        <select name="overlap_days">
                            <option value="7">"7 days"</option>
                            <option value="14">"14 days"</option>
                            <option value="30" selected>"30 days"</option>
                            <option value="60">"60 days"</option>
                            <option value="90">"90 days"</option>
                        </select>
                    </label>
                    <button type="submit" class="button">"Prepare the next certificate"</button>
                </ActionForm>
            </dd>
        }
        .into_any(),
    };
    let oidc = calendar
        .oidc_keys
        .into_iter()
        .map(|key| view! {
            <li>
                <code>{key.kid}</code> " " {key.algorithm} ": signs " <Time at=key.signs_from/>
                " – " <Time at=key.signs_until/> ", published until " <Time at=key.published_until/>
            </li>
        })
        .collect_view();
    view! {
        <dl class="facts calendar">
            {current}
            {next}
        </dl>
        {action_error(move || prepare.value().get())}
        {action_error(move || reschedule.value().get())}
        <h3>"OpenID Connect token keys"</h3>
        <p class="muted">"They rotate on their own: each is published a week before it signs for 90 days, and stays published two days after."</p>
        <ul class="token-keys">{oidc}</ul>
    }
    .into_any()
}

/// The hand-entry Add form, filled from the template the address names (`?template=zoom`).
fn add_app_form(
    template: Option<String>,
    csrf: String,
    cloud_id: String,
    defaults: SamlAppForm,
    domains: &[String],
    create: ServerAction<CreateSamlApp>,
) -> impl IntoView {
    let template = crate::templates::saml_template(template.as_deref());
    let fields = saml_fields("new", template.apply(defaults), Some(template), domains);
    view! {
        {template_picker(crate::templates::SAML_TEMPLATES.iter().map(|t| (t.id, t.name, t.summary)), template.id)}
        {template_reasons(template.why, template.source)}
        <ActionForm action=create attr:class="form-grid">
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="cloud_id" value=cloud_id/>
            {fields}
            {action_error(move || create.value().get())}
            {move || create.value().get().and_then(Result::ok).map(|_| view! {
                <p class="form-success" role="status">"Saved."</p>
            })}
            <button type="submit" class="button primary">"Add app"</button>
        </ActionForm>
    }
}

/// `/t/:cloud_id/saml/:app_id`: one SAML app's settings.
#[component]
pub fn SamlAppEdit() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateSamlApp>::new();
    let compare = ServerAction::<CompareSamlMetadata>::new();
    // The form shows the app again once metadata was applied (a comparison alone changes
    // nothing, and keeps the typed address).
    let applied = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(compared)) = compare.value().get() {
            if !compared.applied.is_empty() {
                applied.update(|count| *count += 1);
            }
        }
    });
    let app = Resource::new_blocking(
        move || {
            let params = params.read();
            (
                params.get("cloud_id").unwrap_or_default(),
                params.get("app_id").unwrap_or_default(),
                update.version().get(),
                applied.get(),
            )
        },
        |(cloud_id, app_id, _, _)| saml_app(cloud_id, app_id),
    );
    view! {
        <TenantPage title="SAML Client App" data=app body=move |me, tenant, edit| {
            let app_id = params.read_untracked().get("app_id").unwrap_or_default();
            let hidden = (me.csrf.clone(), tenant.cloud_id.clone(), app_id.clone());
            let metadata = metadata_card(hidden, edit.subscription, compare);
            view! { {saml_edit_body(me, tenant, app_id, edit.form, &edit.domains, update)} {metadata} }.into_any()
        }/>
    }
}

/// The csrf token, Cloud ID and app id every form of an app's page sends.
type AppFormKeys = (String, String, String);

fn app_form_keys(keys: AppFormKeys) -> impl IntoView {
    let (csrf, cloud_id, app_id) = keys;
    view! {
        <input type="hidden" name="csrf" value=csrf/>
        <input type="hidden" name="cloud_id" value=cloud_id/>
        <input type="hidden" name="app_id" value=app_id/>
    }
}

/// What the metadata at `url` would change, and Apply (which reads it again, so what is applied
/// is what it says then).
fn waiting_changes(
    keys: AppFormKeys,
    url: String,
    waiting: Vec<MetadataChangeView>,
    compare: ServerAction<CompareSamlMetadata>,
) -> impl IntoView {
    let rows = waiting
        .into_iter()
        .map(|change| view! {
            <tr><td>{change.field}</td><td><pre>{change.before}</pre></td><td><pre>{change.after}</pre></td></tr>
        })
        .collect_view();
    view! {
        <table class="table metadata-changes">
            <thead><tr><th>"Field"</th><th>"Now"</th><th>"In the metadata"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <ActionForm action=compare>
            {app_form_keys(keys)}
            <input type="hidden" name="metadata_url" value=url/>
            <input type="hidden" name="apply" value="yes"/>
            <button type="submit" class="button primary">"Apply these changes"</button>
        </ActionForm>
    }
}

/// "Service provider's metadata": compare the app with what its service provider publishes now,
/// apply it, and subscribe to the address so it is re-read every day. The subscription's state
/// (last read, failure, changes waiting) comes with the page and with every read.
fn metadata_card(
    keys: AppFormKeys,
    subscribed: Option<MetadataSubscriptionView>,
    compare: ServerAction<CompareSamlMetadata>,
) -> impl IntoView {
    let url = subscribed
        .as_ref()
        .map(|subscription| subscription.url.clone())
        .unwrap_or_default();
    let allow_rollovers = subscribed
        .as_ref()
        .is_some_and(|subscription| subscription.apply_certificates);
    let is_subscribed = subscribed.is_some();
    let typed_url = url.clone();
    let shown_keys = keys.clone();
    // One reactive part for the subscription's state and the latest read: what the page came
    // with, until a read (or Stop) answers with newer.
    let shown = move || {
        let keys = shown_keys.clone();
        let (read_now, subscription, url, applied, waiting) = match compare.value().get() {
            Some(Ok(compared)) => (
                !compared.url.is_empty(),
                compared.subscription,
                compared.url,
                compared.applied,
                compared.waiting,
            ),
            _ => {
                let waiting = subscribed
                    .as_ref()
                    .map(|s| s.waiting.clone())
                    .unwrap_or_default();
                (false, subscribed.clone(), url.clone(), Vec::new(), waiting)
            }
        };
        let stop_keys = keys.clone();
        let status = subscription.map(move |subscription| {
            let rollovers = if subscription.apply_certificates {
                "Certificate rollovers are applied without asking; other changes wait for you."
            } else {
                "Every change waits for you."
            };
            let text = format!("Re-read every day from {}. {rollovers}", subscription.url);
            let last = subscription.checked_at.map(|at| view! { " Last read " <Time at=at/> "." });
            let failure = subscription.failure.map(|failure| view! {
                <p class="warning metadata-failure">"The last read failed: " {failure}</p>
            });
            view! {
                <p class="metadata-subscription">{text} {last} " Next read " <Time at=subscription.next_check_at/> "."</p>
                {failure}
                <ActionForm action=compare>
                    {app_form_keys(stop_keys)}
                    <input type="hidden" name="subscribe" value="stop"/>
                    <button type="submit" class="button subtle">"Stop re-reading"</button>
                </ActionForm>
            }
        });
        let said = if !applied.is_empty() {
            let fields: Vec<String> = applied.into_iter().map(|change| change.field).collect();
            Some(format!("Applied: {}.", fields.join(", ")))
        } else if read_now && waiting.is_empty() {
            Some("Up to date: the metadata changes nothing.".to_string())
        } else {
            None
        };
        let said = said.map(|said| view! { <p class="form-success" role="status">{said}</p> });
        let waiting = (!waiting.is_empty()).then(|| waiting_changes(keys, url, waiting, compare));
        view! { {status} {said} {waiting} }
    };
    view! {
        <section class="card">
            <h2>"Service provider's metadata"</h2>
            <p class="muted">"Compare this app with the metadata its service provider publishes now (a new address, a new certificate) and apply what changed; or have it re-read every day. Your choices (NameID, attributes, signing, encryption) stay."</p>
            <ActionForm action=compare attr:class="form-grid">
                {app_form_keys(keys)}
                <label for="compare-metadata-url">"Metadata address"</label>
                <input id="compare-metadata-url" name="metadata_url" type="url" required spellcheck="false" value=typed_url/>
                <label class="choice"><input type="checkbox" name="subscribe" value="daily" checked=is_subscribed/>" Re-read it every day"</label>
                <label class="choice"><input type="checkbox" name="apply_certificates" value="on" checked=allow_rollovers/>" Apply its certificate rollovers without asking (other changes wait for you)"</label>
                {action_error(move || compare.value().get())}
                <button type="submit" class="button">"Compare"</button>
            </ActionForm>
            {shown}
        </section>
    }
}

fn saml_edit_body(
    me: Me,
    tenant: TenantView,
    app_id: String,
    form: SamlAppForm,
    domains: &[String],
    update: ServerAction<UpdateSamlApp>,
) -> AnyView {
    let back = format!("/t/{}/saml", tenant.cloud_id);
    let title = form.name.clone();
    let fields = saml_fields("edit", form, None, domains);
    view! {
        <p><a href=back>"← All SAML client apps"</a></p>
        <section class="card">
            <h2>{title}</h2>
            <ActionForm action=update attr:class="form-grid saml-edit">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <input type="hidden" name="app_id" value=app_id/>
                {fields}
                {action_error(move || update.value().get())}
                {move || update.value().get().and_then(Result::ok).map(|()| view! {
                    <p class="form-success" role="status">"Saved."</p>
                })}
                <button type="submit" class="button primary">"Save changes"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
