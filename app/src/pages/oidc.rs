//! OIDC Client Apps: the list, registration, secrets, and one app's edit page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/oidc`: the tenant's OpenID Connect client apps.
#[component]
pub fn OidcApps() -> impl IntoView {
    let params = use_params_map();
    let create = ServerAction::<CreateOidcApp>::new();
    let rotate = ServerAction::<RotateOidcSecret>::new();
    let delete = ServerAction::<DeleteOidcApp>::new();
    // A new app's ID and secret, or a rotated secret, until the admin says they copied it.
    let shown = RwSignal::new(None::<ShownOnceView>);
    let add_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(created)) = create.value().get() {
            shown.set(Some(created));
            // The app exists: a second click must not add it again.
            if let Some(form) = add_form.get_untracked() {
                form.reset();
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(rotated)) = rotate.value().get() {
            shown.set(Some(rotated));
        }
    });
    let query = leptos_router::hooks::use_query_map();
    let apps = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (
                cloud_id,
                // Another template redraws the Add form (see `oidc_body`).
                query.read().get("template"),
                create.version().get(),
                rotate.version().get(),
                delete.version().get(),
            )
        },
        |(cloud_id, _, _, _, _)| oidc_apps(cloud_id),
    );
    view! {
        <TenantPage title="OIDC Client Apps" data=apps body=move |me, tenant, view| {
            oidc_body(me, tenant, view, create, rotate, delete, add_form)
        }/>
        {move || shown.get().map(|values| shown_once(values, shown))}
    }
}

/// A new client ID and secret in a dialog that takes the focus: the secret is shown only this
/// once, so it stays until the admin says they copied it.
fn shown_once(values: ShownOnceView, shown: RwSignal<Option<ShownOnceView>>) -> AnyView {
    let heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if let Some(heading) = heading.get() {
            let _ = heading.focus();
        }
    });
    let title = if values.client_secret.is_some() {
        "Copy the client secret now"
    } else {
        "App added"
    };
    view! {
        <div class="dialog-backdrop">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="shown-once-title">
                <h2 id="shown-once-title" tabindex="-1" node_ref=heading>{title}</h2>
                {values.client_secret.is_some().then(|| view! {
                    <p>"The secret is shown only this once. Store it in the application's settings before you close this."</p>
                })}
                <dl class="facts">
                    <dt>"Client ID"</dt>
                    <dd><Copyable class="client-id" value=values.client_id label="client ID"/></dd>
                    {values.client_secret.map(|secret| view! {
                        <dt>"Client secret"</dt>
                        <dd>
                            <input class="copy-field client-secret" readonly value=secret.clone() aria-label="Client secret"/>
                            " " <CopyButton value=secret label="client secret"/>
                        </dd>
                    })}
                </dl>
                <button type="button" class="button primary" on:click=move |_| shown.set(None)>
                    "I have copied it"
                </button>
            </div>
        </div>
    }
    .into_any()
}

fn oidc_body(
    me: Me,
    tenant: TenantView,
    view: OidcAppsView,
    create: ServerAction<CreateOidcApp>,
    rotate: ServerAction<RotateOidcSecret>,
    delete: ServerAction<DeleteOidcApp>,
    add_form: NodeRef<leptos::html::Form>,
) -> AnyView {
    // The page's data reloads when the address names another template (see `OidcApps`), so
    // the form is redrawn in place: what the admin typed survives an action's answer.
    let template = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("template");
    let several_domains = view.domains.len() > 1;
    let endpoints = view.issuer.clone().map(|issuer| {
        let url = |path: &str| format!("{issuer}{path}");
        view! {
            <section class="card">
                <h2>"For vendors"</h2>
                {primary_domain_note(several_domains)}
                <dl class="facts endpoints">
                    <dt>"Discovery URL"</dt><dd><Copyable class="discovery-url" value=url("/.well-known/openid-configuration") label="discovery URL"/></dd>
                    <dt>"Issuer"</dt><dd><Copyable value=issuer.clone() label="issuer"/></dd>
                    <dt>"Authorization"</dt><dd><Copyable value=url("/oidc/authorize") label="authorization endpoint"/></dd>
                    <dt>"Token"</dt><dd><Copyable value=url("/oidc/token") label="token endpoint"/></dd>
                    <dt>"UserInfo"</dt><dd><Copyable value=url("/oidc/userinfo") label="UserInfo endpoint"/></dd>
                    <dt>"JWKS"</dt><dd><Copyable value=url("/oidc/jwks") label="JWKS URL"/></dd>
                    <dt>"Logout"</dt><dd><Copyable value=url("/oidc/logout") label="logout endpoint"/></dd>
                </dl>
            </section>
        }
    });
    let domains = view.domains;
    let apps = if view.apps.is_empty() {
        view! { <p class="empty">"No OIDC client apps yet. Add the first one below."</p> }
            .into_any()
    } else {
        view.apps
            .into_iter()
            .map(|app| {
                let csrf = me.csrf.clone();
                let cloud_id = tenant.cloud_id.clone();
                let (csrf2, cloud_id2, client_id2) = (csrf.clone(), cloud_id.clone(), app.client_id.clone());
                let secrets = app.secrets.into_iter().map(|secret| {
                    let state = match secret.expires_at {
                        Some(until) => view! { "retiring, works until " <Time at=until/> }.into_any(),
                        None => "current".into_any(),
                    };
                    let last_used = time_or(secret.last_used_at, "never");
                    view! {
                        <li>
                            "Created " <Time at=secret.created_at/> ", " {state} ", last used: " {last_used}
                        </li>
                    }
                }).collect_view();
                let rotate_form = app.confidential.then(|| view! {
                    <ActionForm action=rotate attr:class="inline-form">
                        <input type="hidden" name="csrf" value=csrf2/>
                        <input type="hidden" name="cloud_id" value=cloud_id2/>
                        <input type="hidden" name="client_id" value=client_id2/>
                        <label>"Old secret keeps working for "
                            <select name="overlap_hours">
                                <option value="0">"no time"</option>
                                <option value="24" selected>"1 day"</option>
                                <option value="168">"7 days"</option>
                            </select>
                        </label>
                        <button type="submit" class="button subtle">"Rotate secret"</button>
                    </ActionForm>
                });
                let edit_href = format!("/t/{}/oidc/{}", tenant.cloud_id, app.client_id);
                view! {
                    <section class="card oidc-app">
                        <h2>{app.name.clone()}</h2>
                        <dl class="facts">
                            <dt>"Client ID"</dt><dd><Copyable class="client-id" value=app.client_id.clone() label=format!("client ID of {}", app.name)/></dd>
                            <dt>"Type"</dt><dd>{if app.confidential { "Confidential (has a secret)" } else { "Public (PKCE, no secret)" }}</dd>
                            <dt>"Redirect URIs"</dt><dd>{app.redirect_uris.join(", ")}</dd>
                            <dt>"Post-logout URIs"</dt><dd>{app.post_logout_redirect_uris.join(", ")}</dd>
                            <dt>"Flows"</dt><dd>{app.flows.join(", ")}</dd>
                            <dt>"Signing"</dt><dd>{app.algorithm}</dd>
                            <dt>"Consent"</dt><dd>{if app.consent { "Asked" } else { "Not asked" }}</dd>
                            {domain_fact(app.domain.clone(), &domains)}
                        </dl>
                        <ul class="secrets">{secrets}</ul>
                        <a class="button subtle" href=edit_href aria-label=format!("Edit {}", app.name)>"Edit"</a>
                        <a class="button subtle" href=format!("/t/{}/oidc/{}/vendor", tenant.cloud_id, app.client_id) aria-label=format!("Send to your vendor: {}", app.name)>"Send to your vendor"</a>
                        <a class="button subtle" href=format!("/t/{}/oidc/{}/recorder", tenant.cloud_id, app.client_id) aria-label=format!("Flight recorder: {}", app.name)>"Flight recorder"</a>
                        <a class="button subtle" href=format!("/t/{}/oidc/{}/recorder#test-sign-in", tenant.cloud_id, app.client_id) aria-label=format!("Test sign-in: {}", app.name)>"Test sign-in"</a>
                        {rotate_form}
                        {danger_zone(
                            "Delete…",
                            format!("Deleting {} signs nobody out of it, but it can no longer sign anyone in, and its client ID and secrets stop working. This cannot be undone.", app.name),
                            view! {
                                <ActionForm action=delete attr:class="form-grid">
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <input type="hidden" name="cloud_id" value=cloud_id/>
                                    <input type="hidden" name="client_id" value=app.client_id.clone()/>
                                    {typed_confirmation(format!("delete-{}", app.client_id), app.name.clone())}
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
    view! {
        <p class="muted">"Register each event, learning or community site that signs members in with OpenID Connect. Redirect URIs must match exactly."</p>
        {endpoints}
        {action_error(move || rotate.value().get())}
        {apps}
        <section class="card" id="add-app">
            <h2>"Add an app"</h2>
            {add_app_form(template, me.csrf.clone(), tenant.cloud_id.clone(), &domains, create, add_form)}
        </section>
    }
    .into_any()
}

/// The Add form, filled from the template the address names (`?template=moodle`).
fn add_app_form(
    template: Option<String>,
    csrf: String,
    cloud_id: String,
    domains: &[String],
    create: ServerAction<CreateOidcApp>,
    add_form: NodeRef<leptos::html::Form>,
) -> impl IntoView {
    let template = crate::templates::oidc_template(template.as_deref());
    let form = template.form();
    let domain_choice = domain_field("app-domain".into(), "domain", domains, String::new());
    let algorithm = form.algorithm.clone();
    let algorithm_option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=algorithm == value>{label}</option> }
    };
    view! {
        {template_picker(crate::templates::OIDC_TEMPLATES.iter().map(|t| (t.id, t.name, t.summary)), template.id)}
        {template_reasons(template.why, template.source)}
        <ActionForm action=create node_ref=add_form attr:class="form-grid">
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="cloud_id" value=cloud_id/>
            <label for="app-name">"Name"</label>
            <input id="app-name" name="name" required value=form.name/>
            {domain_choice}
            <label for="app-redirects">"Redirect URIs (one per line)"</label>
            <textarea id="app-redirects" name="redirect_uris" rows="2" required placeholder=template.redirect_uri_example spellcheck="false"></textarea>
            <label for="app-logout">"Post-logout redirect URIs (one per line)"</label>
            <textarea id="app-logout" name="post_logout_redirect_uris" rows="2" spellcheck="false"></textarea>
            <label for="app-algorithm">"Signing algorithm"</label>
            <select id="app-algorithm" name="algorithm">
                {algorithm_option("RS256", "RS256")}
                {algorithm_option("RS512", "RS512")}
                {algorithm_option("HS512", "HS512 (signed with the client secret)")}
            </select>
            <label class="choice"><input type="checkbox" name="public" checked=form.public.is_some()/>" Public app (no secret; PKCE required)"</label>
            <label class="choice"><input type="checkbox" name="consent" checked=form.consent.is_some()/>" Ask members for consent"</label>
            <label class="choice"><input type="checkbox" name="implicit" checked=form.implicit.is_some()/>" Allow the implicit flow (legacy, less secure)"</label>
            <label class="choice"><input type="checkbox" name="password" checked=form.password.is_some()/>" Allow the password grant (legacy, less secure)"</label>
            {action_error(move || create.value().get())}
            <button type="submit" class="button primary">"Add app"</button>
        </ActionForm>
    }
}

/// `/t/:cloud_id/oidc/:client_id`: everything about one app, and a preview of its ID token.
#[component]
pub fn OidcAppEdit() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateOidcApp>::new();
    let preview = ServerAction::<PreviewOidcIdToken>::new();
    // Switching to HS512 issues a new secret, shown once.
    let shown = RwSignal::new(None::<ShownOnceView>);
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update.value().get() {
            if saved.client_secret.is_some() {
                shown.set(Some(saved));
            }
        }
    });
    let app = Resource::new_blocking(
        move || {
            let params = params.read();
            (
                params.get("cloud_id").unwrap_or_default(),
                params.get("client_id").unwrap_or_default(),
                update.version().get(),
            )
        },
        |(cloud_id, client_id, _)| oidc_app(cloud_id, client_id),
    );
    view! {
        <TenantPage title="OIDC Client App" data=app body=move |me, tenant, view| {
            oidc_edit_body(me, tenant, view, update, preview)
        }/>
        {move || shown.get().map(|values| shown_once(values, shown))}
    }
}

fn oidc_edit_body(
    me: Me,
    tenant: TenantView,
    app: OidcAppEditView,
    update: ServerAction<UpdateOidcApp>,
    preview: ServerAction<PreviewOidcIdToken>,
) -> AnyView {
    let back = format!("/t/{}/oidc", tenant.cloud_id);
    let algorithm = app.algorithm.clone();
    let option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=algorithm == value>{label}</option> }
    };
    let hs512 = if app.confidential {
        Some(option("HS512", "HS512 (signed with the client secret)"))
    } else {
        None
    };
    let (csrf, cloud_id, client_id) = (me.csrf, tenant.cloud_id, app.client_id.clone());
    let (preview_csrf, preview_cloud_id, preview_client_id) =
        (csrf.clone(), cloud_id.clone(), client_id.clone());
    view! {
        <p><a href=back>"← All OIDC client apps"</a></p>
        <section class="card">
            <h2>{app.name.clone()}</h2>
            <p class="muted">"Client ID " <Copyable class="client-id" value=app.client_id.clone() label="client ID"/> ". "
                {if app.confidential { "Confidential: authenticates with its secret." } else { "Public: no secret, PKCE always required." }}
            </p>
            <ActionForm action=update attr:class="form-grid oidc-edit">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <input type="hidden" name="client_id" value=client_id/>
                <label for="edit-name">"Name"</label>
                <input id="edit-name" name="name" required value=app.name.clone()/>
                {domain_field("edit-domain".into(), "domain", &app.domains, app.domain.clone())}
                <label for="edit-redirects">"Redirect URIs (one per line)"</label>
                <textarea id="edit-redirects" name="redirect_uris" rows="3" required>{app.redirect_uris.clone()}</textarea>
                <label for="edit-logout">"Post-logout redirect URIs (one per line)"</label>
                <textarea id="edit-logout" name="post_logout_redirect_uris" rows="2">{app.post_logout_redirect_uris.clone()}</textarea>
                <fieldset>
                    <legend>"Flows"</legend>
                    <label class="choice"><input type="checkbox" name="require_pkce" checked=app.require_pkce || !app.confidential disabled=!app.confidential/>" Require PKCE for the authorization code flow"</label>
                    {(!app.confidential).then(|| view! { <input type="hidden" name="require_pkce" value="on"/> })}
                    <label class="choice"><input type="checkbox" name="implicit" checked=app.implicit/>" Allow the implicit flow (legacy, less secure)"</label>
                    <label class="choice"><input type="checkbox" name="password" checked=app.password/>" Allow the password grant (legacy, less secure)"</label>
                </fieldset>
                <label for="edit-algorithm">"Signing algorithm"</label>
                <select id="edit-algorithm" name="algorithm">
                    {option("RS256", "RS256")}
                    {option("RS512", "RS512 (4096-bit key)")}
                    {hs512}
                </select>
                {(app.algorithm != "HS512" && app.confidential).then(|| view! {
                    <p class="muted hint">"Switching to HS512 issues a new client secret, shown once: ID tokens are signed with it, and the current secret stops working."</p>
                })}
                <label for="edit-id-token">"ID token lifetime (minutes)"</label>
                <input id="edit-id-token" name="id_token_minutes" inputmode="numeric" value=app.id_token_minutes.to_string()/>
                <label for="edit-access-token">"Access token lifetime (minutes)"</label>
                <input id="edit-access-token" name="access_token_minutes" inputmode="numeric" value=app.access_token_minutes.to_string()/>
                <fieldset>
                    <legend>"Consent"</legend>
                    <label class="choice"><input type="checkbox" name="consent" checked=app.consent/>" Ask members for consent"</label>
                    <label for="edit-grace">"Remember a member's consent for (days)"</label>
                    <input id="edit-grace" name="consent_grace_days" inputmode="numeric" value=app.consent_grace_days.to_string()/>
                </fieldset>
                <label for="edit-initiate">"Start URL for the members' launcher (optional)"</label>
                <input id="edit-initiate" name="initiate_login_uri" type="url" value=app.initiate_login_uri.clone() spellcheck="false" placeholder="https://events.example.org/sso/login"/>
                <p class="muted hint">"The app's login initiation endpoint (OpenID Connect \"initiate_login_uri\"). When set, the page members see after signing in lists this app and starts its sign-in there, with iss set to your issuer."</p>
                <label for="edit-claims">"Claim mapping (claim = profile property, one per line)"</label>
                <textarea id="edit-claims" name="claims" rows="6" spellcheck="false">{app.claims.clone()}</textarea>
                <p class="muted hint">"Dotted claim names nest: address.country = Country gives {\"address\": {\"country\": …}}. Mapped claims are sent with the profile scope."</p>
                {action_error(move || update.value().get())}
                {move || update.value().get().and_then(Result::ok).map(|_| view! {
                    <p class="form-success" role="status">"Saved."</p>
                })}
                <button type="submit" class="button primary">"Save changes"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Preview the ID token"</h2>
            <p class="muted">"What this app receives for a member with the saved settings, before signing. Nobody is signed in."</p>
            <ActionForm action=preview attr:class="form-grid">
                <input type="hidden" name="csrf" value=preview_csrf/>
                <input type="hidden" name="cloud_id" value=preview_cloud_id/>
                <input type="hidden" name="client_id" value=preview_client_id/>
                <label for="preview-username">"Member username"</label>
                <input id="preview-username" name="username" required autocomplete="off"/>
                {action_error(move || preview.value().get())}
                <button type="submit" class="button">"Preview"</button>
            </ActionForm>
            {move || preview.value().get().and_then(Result::ok).map(|claims| view! {
                <pre class="token-preview" aria-label="ID token claims">{claims}</pre>
            })}
        </section>
    }
    .into_any()
}
