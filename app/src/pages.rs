//! The dashboard's pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    audit_log, current_staff, domain_setup, list_tenants, oidc_app, oidc_apps, saml_app, saml_apps,
    setup_link, tenant_members, tenant_settings, tenant_team, AddMember, AppError, AuditLogView,
    CompleteSetup, CreateOidcApp, CreateSamlApp, CreateTenant, DeleteOidcApp, DeleteSamlApp,
    DomainSetupView, InviteAdmin, Me, MembersPageView, OidcAppEditView, OidcAppsView,
    PreviewOidcIdToken, PreviewSamlMetadata, ReleaseDomain, RemoveLogo, RemoveMember,
    RetryProvisioning, RotateOidcSecret, SamlAppForm, SamlAppsView, SaveSettings,
    SetMemberPassword, SettingsPageView, SetupView, ShownOnceView, SignIn as SignInAction,
    StaffView, StartProvisioning, TenantListView, TenantView, TestConnection, UpdateOidcApp,
    UpdateSamlApp,
};
use crate::layout::{go_to, ErrorPage, Frame, TenantFrame, TenantPage};

/// `/`: sends each visitor where they belong.
#[component]
pub fn Home() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| current_staff());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let path = match me.await {
                    Ok(Some(me)) => match (me.is_operator, me.cloud_id) {
                        (false, Some(cloud_id)) => format!("/t/{cloud_id}/domain"),
                        _ => "/tenants".to_string(),
                    },
                    _ => "/login".to_string(),
                };
                go_to(&path)
            })}
        </Suspense>
    }
}

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

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignInAction>::new();
    Effect::new(move |_| {
        if let Some(Ok(next)) = action.value().get() {
            let _ = window().location().set_href(&next);
        }
    });
    view! {
        <Title text="Sign in"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Sign in to Vestibule"</h1>
                <p class="muted">"Cloud Dashboard for association staff."</p>
                <ActionForm action=action>
                    <label for="email">"E-mail address"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required/>
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required/>
                    {action_error(move || action.value().get())}
                    <button type="submit" class="button primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </section>
        </main>
    }
}

/// `/setup?token=…`: the first operator or an invited staff member chooses a password.
#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let link = Resource::new_blocking(token, setup_link);
    let action = ServerAction::<CompleteSetup>::new();
    view! {
        <Title text="Set your password"/>
        <main class="auth-page">
            <section class="auth-card">
                <Suspense fallback=|| view! { <p class="loading">"Checking your link…"</p> }>
                    {move || Suspend::new(async move {
                        // Once the password is set the link is used up, so success is checked
                        // before the (re-fetched, now invalid) link.
                        let done = matches!(action.value().get(), Some(Ok(())));
                        let link = link.await;
                        let view = match link {
                            _ if done => view! {
                                <h1>"Your password is set"</h1>
                                <p>"You can now sign in with it."</p>
                                <a class="button primary" href="/login">"Go to sign in"</a>
                            }.into_any(),
                            Err(error) => view! {
                                <h1>"This link does not work"</h1>
                                <p class="form-error" role="alert">{error.to_string()}</p>
                            }.into_any(),
                            Ok(setup) => {
                                let (heading, email_field) = match setup {
                                    SetupView::FirstOperator => (
                                        "Create the first operator",
                                        view! {
                                            <label for="email">"Your e-mail address"</label>
                                            <input id="email" type="email" name="email" autocomplete="username" required/>
                                        }.into_any(),
                                    ),
                                    SetupView::Invitation { email } => (
                                        "Choose your password",
                                        view! {
                                            <p>"Account: " <strong class="setup-email">{email}</strong></p>
                                        }.into_any(),
                                    ),
                                };
                                view! {
                                    <h1>{heading}</h1>
                                    <ActionForm action=action>
                                        <input type="hidden" name="token" value=token()/>
                                        {email_field}
                                        <label for="password">"New password (at least 12 characters)"</label>
                                        <input id="password" type="password" name="password" autocomplete="new-password" minlength="12" required/>
                                        <label for="confirm">"Repeat the password"</label>
                                        <input id="confirm" type="password" name="confirm" autocomplete="new-password" minlength="12" required/>
                                        {action_error(move || action.value().get())}
                                        <button type="submit" class="button primary">"Set password"</button>
                                    </ActionForm>
                                }.into_any()
                            }
                        };
                        view
                    })}
                </Suspense>
            </section>
        </main>
    }
}

/// `/tenants`: operators find, list and create Cloud IDs. The list is searched and paged on
/// the server (a GET form and links, so a search or a page is a link), as a deployment holds
/// thousands of tenants.
#[component]
pub fn Tenants() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let query = use_query_map();
    let tenants = Resource::new_blocking(
        move || {
            let query = query.read();
            (
                create.version().get(),
                query.get("q").unwrap_or_default(),
                query
                    .get("page")
                    .and_then(|p| p.parse::<u32>().ok())
                    .unwrap_or(1),
            )
        },
        |(_, search, page)| list_tenants(search, page),
    );
    view! {
        <Title text="Tenants"/>
        <Frame page=move |me| tenants_body(me, create, tenants, query)/>
    }
}

fn tenants_body(
    me: Me,
    create: ServerAction<CreateTenant>,
    tenants: Resource<Result<TenantListView, AppError>>,
    query: Memo<leptos_router::params::ParamsMap>,
) -> AnyView {
    if !me.is_operator {
        return view! { <ErrorPage error=AppError::Forbidden/> }.into_any();
    }
    let search = move || query.read().get("q").unwrap_or_default();
    view! {
        <h1>"Tenants"</h1>
        <p class="muted">"Each tenant is one association's Cloud ID. Its staff see only their own."</p>
        <form method="get" class="filters" role="search">
            <label for="tenant-search">"Search tenants"</label>
            <input id="tenant-search" type="search" name="q" value=search placeholder="Cloud ID or name" spellcheck="false"/>
            <button type="submit" class="button">"Search"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tenants.await {
                    Ok(list) if list.total == 0 && search().is_empty() => view! {
                        <p class="empty">"No tenants yet. Create the first one below."</p>
                    }.into_any(),
                    Ok(list) if list.tenants.is_empty() => view! {
                        <p class="empty">"No tenant matches."</p>
                    }.into_any(),
                    Ok(list) => tenant_table(list, &search()),
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <h2>"Create a tenant"</h2>
            <ActionForm action=create attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <label for="cloud_id">"Cloud ID"</label>
                <input id="cloud_id" name="cloud_id" required placeholder="acme-association"
                    pattern="[a-zA-Z][a-zA-Z0-9\\-]{2,39}" title="3 to 40 letters, digits and hyphens, starting with a letter"/>
                <label for="display_name">"Display name"</label>
                <input id="display_name" name="display_name" required placeholder="Acme Association"/>
                {action_error(move || create.value().get())}
                {move || create.value().get().and_then(Result::ok).map(|t| view! {
                    <p class="form-success" role="status">"Created " <strong>{t.cloud_id}</strong> "."</p>
                })}
                <button type="submit" class="button primary">"Create tenant"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// A page of tenants, with where it sits in the whole and links to the pages beside it.
fn tenant_table(list: TenantListView, search: &str) -> AnyView {
    let first = i64::from(list.page - 1) * list.per_page + 1;
    let last = first + list.tenants.len() as i64 - 1;
    let link = |page: u32| {
        if search.is_empty() {
            format!("/tenants?page={page}")
        } else {
            format!("/tenants?q={}&page={page}", url_encode(search))
        }
    };
    let previous = (list.page > 1).then(|| {
        view! { <a class="button subtle" rel="prev" href=link(list.page - 1)>"Previous"</a> }
    });
    let next = (list.page < list.pages).then(|| {
        view! { <a class="button subtle" rel="next" href=link(list.page + 1)>"Next"</a> }
    });
    view! {
        <table class="table">
            <thead><tr><th>"Cloud ID"</th><th>"Name"</th><th>"Created"</th></tr></thead>
            <tbody>
                {list.tenants.into_iter().map(|t| {
                    let href = format!("/t/{}/domain", t.cloud_id);
                    view! {
                        <tr>
                            <td><a href=href>{t.cloud_id}</a></td>
                            <td>{t.display_name}</td>
                            <td><time>{t.created_at}</time></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Tenant pages">
            {previous}
            <span class="muted">{format!("{first}–{last} of {}", list.total)}</span>
            {next}
        </nav>
    }
    .into_any()
}

/// The heading of a tenant page.
fn tenant_page_title(page: &'static str) -> impl IntoView {
    view! { <Title text=page/> <h1>{page}</h1> }
}

/// `/t/:cloud_id/domain`: the CNAME to create, provisioning with live progress, the domain's
/// status, and releasing it.
#[component]
pub fn DomainSetup() -> impl IntoView {
    let params = use_params_map();
    let start = ServerAction::<StartProvisioning>::new();
    let retry = ServerAction::<RetryProvisioning>::new();
    let release = ServerAction::<ReleaseDomain>::new();
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
            );
            (cloud_id, versions, tick.get())
        },
        |(cloud_id, _, _)| domain_setup(cloud_id),
    );
    let actions = DomainActions {
        start,
        retry,
        release,
    };
    view! {
        <TenantPage title="Domain Setup" data=domain body=move |me, tenant, view| {
            polling.set(view.state == "provisioning");
            domain_body(me, tenant, view, actions)
        }/>
    }
}

#[derive(Clone, Copy)]
struct DomainActions {
    start: ServerAction<StartProvisioning>,
    retry: ServerAction<RetryProvisioning>,
    release: ServerAction<ReleaseDomain>,
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
        _ => "status status-off",
    };
    let record_name = view
        .domain_ascii
        .clone()
        .unwrap_or_else(|| "sso.your-association.org".into());
    let cname = view! {
        <section class="card">
            <h2>"1. Create a public DNS entry"</h2>
            <p>"At your DNS provider, create this record. Your IT department or domain registrar can help."</p>
            <table class="table dns-record">
                <thead><tr><th>"Type"</th><th>"Name"</th><th>"Value"</th></tr></thead>
                <tbody><tr>
                    <td>"CNAME"</td>
                    <td><code class="cname-name">{record_name}</code></td>
                    <td><code class="cname-target">{view.cname_target.clone()}</code></td>
                </tr></tbody>
            </table>
        </section>
    };
    let state = view.state.clone();
    let body = match state.as_str() {
        "none" | "failed" => provision_form(&me, &tenant, &view, actions),
        "provisioning" => progress(&view),
        _ => provisioned(&me, &tenant, &view, actions),
    };
    view! {
        <p class="status-line">"Domain Status: " <span class=status_class id="domain-status">{view.status.clone()}</span></p>
        {view.domain.clone().map(|domain| view! { <p class="domain-name">"SSO Domain: " <strong>{domain}</strong></p> })}
        {cname}
        {body}
    }
    .into_any()
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
) -> AnyView {
    let start = actions.start;
    let retry = actions.retry;
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
                <input id="sso-domain" name="domain" placeholder="sso.your-association.org" autocomplete="off" spellcheck="false" required/>
                {action_error(move || start.value().get())}
                <button type="submit" class="button primary" disabled=move || start.pending().get()>"Start Provisioning"</button>
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
                <dt>"Address"</dt><dd><a href=format!("https://{}/", view.domain_ascii.clone().unwrap_or_default())>{format!("https://{domain}/")}</a></dd>
                <dt>"Certificate valid until"</dt><dd>{view.certificate_expires.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Last checked"</dt><dd>{view.checked_at.clone().unwrap_or_else(|| "not yet".into())}</dd>
            </dl>
            <p class="muted">"Vestibule checks the DNS entry, the certificate and a real HTTPS connection every few minutes, and renews the certificate well before it expires."</p>
            <details class="help">
                <summary>"Online here, but the address does not open at your office?"</summary>
                <p>"Networks with their own internal DNS (such as Windows DNS on a domain controller, or a firewall that answers DNS) may not know the public CNAME record. Ask your IT department or MSP to add an internal CNAME that matches the public one. To confirm, open the address from outside your office network, for example on a phone hotspot."</p>
            </details>
        </section>
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

/// `/t/:cloud_id/settings`: the iMIS connection and branding, and Test connection.
#[component]
pub fn Settings() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let save = ServerAction::<SaveSettings>::new();
    let check = ServerAction::<TestConnection>::new();
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
    let uses_directory = view.identity_source == "directory";
    let site = view.site_url.clone().map(|url| {
        view! {
            <p>"Members sign in at " <a class="member-site" href=url.clone()>{url.clone()}</a> "."</p>
        }
    });
    view! {
        {site}
        <p class="muted">"Members sign in with their iMIS account. Create two RiSE Client Applications in iMIS (Settings > Contacts > Client Applications), one for OpenID Connect and one for SAML, with these Login Redirect URLs:"</p>
        <dl class="facts">
            <dt>"OpenID Connect"</dt><dd><code class="oidc-callback">{oidc_callback}</code></dd>
            <dt>"SAML"</dt><dd><code class="saml-callback">{saml_callback}</code></dd>
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
                {field("imis_base_url", "iMIS base URL", view.imis_base_url.clone(), "The address of your iMIS site, for example https://members.your-association.org. Changing it to another site clears the saved client secrets and background password: enter them again with the new address.")}
                {field("profile_iqa", "Profile IQA", view.profile_iqa.clone(), "The IQA query that returns a member's profile, taking the username as its parameter.")}
            </section>
            <section class="card">
                <h2>"OpenID Connect client application"</h2>
                {field("oidc_client_id", "Client ID", view.oidc_client_id.clone(), "")}
                {secret_field("oidc_client_secret", "Client secret", view.oidc_has_secret)}
                {field("oidc_sso_page", "SSO page (publish location)", view.oidc_sso_page.clone(), "The published page with the Single Sign On content item, e.g. /sso-oidc")}
            </section>
            <section class="card">
                <h2>"SAML client application"</h2>
                {field("saml_client_id", "Client ID", view.saml_client_id.clone(), "")}
                {secret_field("saml_client_secret", "Client secret", view.saml_has_secret)}
                {field("saml_sso_page", "SSO page (publish location)", view.saml_sso_page.clone(), "")}
            </section>
            <section class="card">
                <h2>"Background account"</h2>
                <p class="muted">"An iMIS account Vestibule uses to read member profiles over the REST API."</p>
                {field("api_username", "Username", view.api_username.clone(), "")}
                {secret_field("api_password", "Password", view.has_api_password)}
            </section>
            <section class="card">
                <h2>"Branding"</h2>
                {field("brand_name", "Display name", view.brand_name.clone(), "Shown on the sign-in page; your Cloud ID's name when empty.")}
                {field("brand_colour", "Colour", view.brand_colour.clone(), "A hex colour such as #1f5fbf.")}
                <label for="sign_in_text">"Sign-in text"</label>
                <textarea id="sign_in_text" name="sign_in_text" rows="3">{view.sign_in_text.clone()}</textarea>
                {field("support_contact", "Support contact", view.support_contact.clone(), "An e-mail address or web page members can use for help.")}
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

/// `/t/:cloud_id/members`: the member directory and recent member sign-ins.
#[component]
pub fn Members() -> impl IntoView {
    let params = use_params_map();
    let add = ServerAction::<AddMember>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let password = ServerAction::<SetMemberPassword>::new();
    let members = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, add.version().get(), remove.version().get())
        },
        |(cloud_id, _, _)| tenant_members(cloud_id),
    );
    view! {
        <TenantPage title="Members" data=members body=move |me, tenant, view| {
            members_body(me, tenant, view, add, remove, password)
        }/>
    }
}

fn members_body(
    me: Me,
    tenant: TenantView,
    view: MembersPageView,
    add: ServerAction<AddMember>,
    remove: ServerAction<RemoveMember>,
    password: ServerAction<SetMemberPassword>,
) -> AnyView {
    let source = if view.identity_source == "directory" {
        "Members sign in with the member directory below."
    } else {
        "Members sign in with their iMIS account; the directory below is not used until you choose it in Settings."
    };
    let site = view.site_url.clone().map(|url| {
        view! { <p>"Sign-in page: " <a class="member-site" href=url.clone()>{url.clone()}</a></p> }
    });
    let directory = if view.directory.is_empty() {
        view! { <p class="empty">"The member directory is empty."</p> }.into_any()
    } else {
        let rows = view.directory.into_iter().map(|member| {
            let csrf = me.csrf.clone();
            let cloud_id = tenant.cloud_id.clone();
            let (csrf2, cloud_id2) = (csrf.clone(), cloud_id.clone());
            let id = member.id.to_string();
            let id2 = id.clone();
            let password_id = format!("password-{}", member.id);
            view! {
                <tr>
                    <td>{member.username}</td>
                    <td>{member.name}</td>
                    <td>{member.email}</td>
                    <td><time>{member.created_at}</time></td>
                    <td>
                        <ActionForm action=password attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf2/>
                            <input type="hidden" name="cloud_id" value=cloud_id2/>
                            <input type="hidden" name="id" value=id2/>
                            <label for=password_id.clone() class="visually-hidden">"New password"</label>
                            <input id=password_id type="password" name="password" placeholder="New password" autocomplete="new-password" required minlength="12"/>
                            <button type="submit" class="button subtle">"Set"</button>
                        </ActionForm>
                        <ActionForm action=remove attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="button subtle danger">"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        }).collect_view();
        view! {
            <table class="table members">
                <thead><tr><th>"Username"</th><th>"Name"</th><th>"E-mail"</th><th>"Added"</th><th>"Actions"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let events = if view.events.is_empty() {
        view! { <p class="empty">"No member has signed in yet."</p> }.into_any()
    } else {
        let rows = view
            .events
            .into_iter()
            .map(|event| {
                let class = if event.ok { "event-ok" } else { "event-failed" };
                view! {
                    <tr class=class>
                        <td><time>{event.at}</time></td>
                        <td>{event.source}</td>
                        <td>{event.member}</td>
                        <td>{event.outcome}</td>
                        <td class="detail">{event.detail}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="table events">
                <thead><tr><th>"When"</th><th>"Source"</th><th>"Member"</th><th>"Outcome"</th><th>"Technical cause"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        {site}
        <p class="muted">{source}</p>
        <section class="card">
            <h2>"Member directory"</h2>
            {directory}
            {action_error(move || remove.value().get())}
            {action_error(move || password.value().get())}
            {move || matches!(password.value().get(), Some(Ok(()))).then(|| view! {
                <p class="form-success" role="status">"Password changed."</p>
            })}
        </section>
        <section class="card">
            <h2>"Add a member"</h2>
            <ActionForm action=add attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <label for="member-username">"Username"</label>
                <input id="member-username" name="username" required autocomplete="off" spellcheck="false"/>
                <label for="member-email">"E-mail address"</label>
                <input id="member-email" name="email" type="email" required/>
                <label for="member-given">"First name"</label>
                <input id="member-given" name="given_name"/>
                <label for="member-family">"Last name"</label>
                <input id="member-family" name="family_name"/>
                <label for="member-password">"Initial password"</label>
                <input id="member-password" name="password" type="password" required minlength="12" autocomplete="new-password"/>
                {action_error(move || add.value().get())}
                {move || add.value().get().and_then(Result::ok).map(|username| view! {
                    <p class="form-success" role="status">"Added " <strong>{username}</strong> "."</p>
                })}
                <button type="submit" class="button primary">"Add member"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Recent sign-ins"</h2>
            <p class="muted">"The last 50 member sign-ins on your domain. When one fails, the technical cause says what to fix."</p>
            {events}
        </section>
    }
    .into_any()
}

/// `/t/:cloud_id/oidc`: the tenant's OpenID Connect client apps.
#[component]
pub fn OidcApps() -> impl IntoView {
    let params = use_params_map();
    let create = ServerAction::<CreateOidcApp>::new();
    let rotate = ServerAction::<RotateOidcSecret>::new();
    let delete = ServerAction::<DeleteOidcApp>::new();
    let apps = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (
                cloud_id,
                create.version().get(),
                rotate.version().get(),
                delete.version().get(),
            )
        },
        |(cloud_id, _, _, _)| oidc_apps(cloud_id),
    );
    view! {
        <TenantPage title="OIDC Client Apps" data=apps body=move |me, tenant, view| {
            oidc_body(me, tenant, view, create, rotate, delete)
        }/>
    }
}

/// A value shown once, to copy now.
fn shown_once(shown: ShownOnceView) -> AnyView {
    view! {
        <div class="form-success" role="status">
            <p>"Copy these now: the secret is shown only once."</p>
            <dl class="facts">
                <dt>"Client ID"</dt><dd><code class="client-id">{shown.client_id}</code></dd>
                {shown.client_secret.map(|secret| view! {
                    <dt>"Client secret"</dt><dd><input class="copy-field client-secret" readonly value=secret aria-label="Client secret"/></dd>
                })}
            </dl>
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
) -> AnyView {
    let endpoints = view.issuer.clone().map(|issuer| {
        let url = |path: &str| format!("{issuer}{path}");
        view! {
            <section class="card">
                <h2>"For vendors"</h2>
                <dl class="facts endpoints">
                    <dt>"Discovery URL"</dt><dd><code class="discovery-url">{url("/.well-known/openid-configuration")}</code></dd>
                    <dt>"Issuer"</dt><dd><code>{issuer.clone()}</code></dd>
                    <dt>"Authorization"</dt><dd><code>{url("/oidc/authorize")}</code></dd>
                    <dt>"Token"</dt><dd><code>{url("/oidc/token")}</code></dd>
                    <dt>"UserInfo"</dt><dd><code>{url("/oidc/userinfo")}</code></dd>
                    <dt>"JWKS"</dt><dd><code>{url("/oidc/jwks")}</code></dd>
                    <dt>"Logout"</dt><dd><code>{url("/oidc/logout")}</code></dd>
                </dl>
            </section>
        }
    });
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
                        Some(until) => format!("retiring, works until {until}"),
                        None => "current".to_string(),
                    };
                    view! {
                        <li>
                            "Created " <time>{secret.created_at}</time> ", " {state} ", last used: "
                            {secret.last_used_at.unwrap_or_else(|| "never".to_string())}
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
                            <dt>"Client ID"</dt><dd><code>{app.client_id.clone()}</code></dd>
                            <dt>"Type"</dt><dd>{if app.confidential { "Confidential (has a secret)" } else { "Public (PKCE, no secret)" }}</dd>
                            <dt>"Redirect URIs"</dt><dd>{app.redirect_uris.join(", ")}</dd>
                            <dt>"Post-logout URIs"</dt><dd>{app.post_logout_redirect_uris.join(", ")}</dd>
                            <dt>"Flows"</dt><dd>{app.flows.join(", ")}</dd>
                            <dt>"Signing"</dt><dd>{app.algorithm}</dd>
                            <dt>"Consent"</dt><dd>{if app.consent { "Asked" } else { "Not asked" }}</dd>
                        </dl>
                        <ul class="secrets">{secrets}</ul>
                        <a class="button subtle" href=edit_href aria-label=format!("Edit {}", app.name)>"Edit"</a>
                        {rotate_form}
                        <ActionForm action=delete attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            <input type="hidden" name="client_id" value=app.client_id/>
                            <button type="submit" class="button subtle danger">"Delete"</button>
                        </ActionForm>
                    </section>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <p class="muted">"Register each event, learning or community site that signs members in with OpenID Connect. Redirect URIs must match exactly."</p>
        {endpoints}
        {move || rotate.value().get().and_then(Result::ok).map(shown_once)}
        {action_error(move || rotate.value().get())}
        {action_error(move || delete.value().get())}
        {apps}
        <section class="card">
            <h2>"Add an app"</h2>
            <ActionForm action=create attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <label for="app-name">"Name"</label>
                <input id="app-name" name="name" required/>
                <label for="app-redirects">"Redirect URIs (one per line)"</label>
                <textarea id="app-redirects" name="redirect_uris" rows="2" required></textarea>
                <label for="app-logout">"Post-logout redirect URIs (one per line)"</label>
                <textarea id="app-logout" name="post_logout_redirect_uris" rows="2"></textarea>
                <label for="app-algorithm">"Signing algorithm"</label>
                <select id="app-algorithm" name="algorithm">
                    <option value="RS256" selected>"RS256"</option>
                    <option value="RS512">"RS512"</option>
                    <option value="HS512">"HS512 (signed with the client secret)"</option>
                </select>
                <label class="choice"><input type="checkbox" name="public"/>" Public app (no secret; PKCE required)"</label>
                <label class="choice"><input type="checkbox" name="consent"/>" Ask members for consent"</label>
                <label class="choice"><input type="checkbox" name="implicit"/>" Allow the implicit flow (legacy, less secure)"</label>
                <label class="choice"><input type="checkbox" name="password"/>" Allow the password grant (legacy, less secure)"</label>
                {action_error(move || create.value().get())}
                {move || create.value().get().and_then(Result::ok).map(shown_once)}
                <button type="submit" class="button primary">"Add app"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// `/t/:cloud_id/oidc/:client_id`: everything about one app, and a preview of its ID token.
#[component]
pub fn OidcAppEdit() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateOidcApp>::new();
    let preview = ServerAction::<PreviewOidcIdToken>::new();
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
            <p class="muted">"Client ID " <code class="client-id">{app.client_id.clone()}</code> ". "
                {if app.confidential { "Confidential: authenticates with its secret." } else { "Public: no secret, PKCE always required." }}
            </p>
            <ActionForm action=update attr:class="form-grid oidc-edit">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="cloud_id" value=cloud_id/>
                <input type="hidden" name="client_id" value=client_id/>
                <label for="edit-name">"Name"</label>
                <input id="edit-name" name="name" required value=app.name.clone()/>
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
                <label for="edit-claims">"Claim mapping (claim = profile property, one per line)"</label>
                <textarea id="edit-claims" name="claims" rows="6" spellcheck="false">{app.claims.clone()}</textarea>
                <p class="muted hint">"Dotted claim names nest: address.country = Country gives {\"address\": {\"country\": …}}. Mapped claims are sent with the profile scope."</p>
                {action_error(move || update.value().get())}
                {move || update.value().get().and_then(Result::ok).map(|shown| view! {
                    <p class="form-success" role="status">"Saved."</p>
                    {shown.client_secret.is_some().then(|| shown_once(shown))}
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

/// `/t/:cloud_id/saml`: the tenant's SAML service providers, the IdP's details to give them,
/// and metadata import with a preview before saving.
#[component]
pub fn SamlApps() -> impl IntoView {
    let params = use_params_map();
    let create = ServerAction::<CreateSamlApp>::new();
    let import = ServerAction::<PreviewSamlMetadata>::new();
    let delete = ServerAction::<DeleteSamlApp>::new();
    let apps = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, create.version().get(), delete.version().get())
        },
        |(cloud_id, _, _)| saml_apps(cloud_id),
    );
    view! {
        <TenantPage title="SAML Client Apps" data=apps body=move |me, tenant, view| {
            saml_body(me, tenant, view, create, import, delete)
        }/>
    }
}

/// The fields of a SAML app's form (`form[…]`), filled with `form`. `id` keeps labels unique
/// when two forms share a page.
fn saml_fields(id: &'static str, form: SamlAppForm) -> AnyView {
    let field = move |name: &str| format!("{id}-{name}");
    let name_id = form.name_id_format.clone();
    let name_id_option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=name_id == value>{label}</option> }
    };
    let signed = form.signed.clone();
    let signed_option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=signed == value>{label}</option> }
    };
    view! {
        <label for=field("name")>"Name"</label>
        <input id=field("name") name="form[name]" required value=form.name/>
        <label for=field("entity")>"Entity ID (the service provider's Issuer)"</label>
        <input id=field("entity") name="form[entity_id]" required value=form.entity_id spellcheck="false"/>
        <label for=field("acs")>"Assertion consumer services (HTTP-POST), one per line as \"index URL\"; the first is the default"</label>
        <textarea id=field("acs") name="form[assertion_consumers]" rows="3" required spellcheck="false">{form.assertion_consumers}</textarea>
        <label for=field("slo")>"Single logout URL"</label>
        <input id=field("slo") name="form[single_logout]" value=form.single_logout spellcheck="false"/>
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
        <textarea id=field("certificate") name="form[sp_certificate]" rows="4" spellcheck="false">{form.sp_certificate}</textarea>
        <label class="choice"><input type="checkbox" name="form[encrypt_assertions]" checked=form.encrypt_assertions.is_some()/>" Encrypt assertions (AES-256-GCM, key by RSA-OAEP)"</label>
        <label for=field("encryption")>"Service provider's encryption certificate (PEM, RSA)"</label>
        <textarea id=field("encryption") name="form[sp_encryption_certificate]" rows="4" spellcheck="false">{form.sp_encryption_certificate}</textarea>
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
    create: ServerAction<CreateSamlApp>,
    import: ServerAction<PreviewSamlMetadata>,
    delete: ServerAction<DeleteSamlApp>,
) -> AnyView {
    let idp = match view.idp {
        Some(idp) => view! {
            <section class="card">
                <h2>"For service providers"</h2>
                <dl class="facts endpoints">
                    <dt>"IdP metadata URL"</dt><dd><input class="copy-field saml-metadata-url" readonly value=idp.metadata_url.clone() aria-label="IdP metadata URL"/></dd>
                    <dt>"Entity ID"</dt><dd><code>{idp.entity_id}</code></dd>
                    <dt>"Single sign-on (Redirect, POST)"</dt><dd><code>{idp.single_sign_on}</code></dd>
                    <dt>"Single logout (Redirect, POST)"</dt><dd><code>{idp.single_logout}</code></dd>
                    <dt>"Signing certificate"</dt>
                    <dd>
                        <textarea class="copy-field certificate" readonly rows="4" aria-label="Signing certificate">{idp.certificate_pem}</textarea>
                        <a class="button subtle" href=idp.certificate_url download="idp-signing-certificate.pem">"Download certificate"</a>
                        " "
                        <a class="button subtle" href=idp.metadata_url download="idp-metadata.xml">"Download metadata"</a>
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
    let apps = if view.apps.is_empty() {
        view! { <p class="empty">"No SAML client apps yet. Import a service provider's metadata or add one by hand below."</p> }
            .into_any()
    } else {
        view.apps
            .into_iter()
            .map(|app| {
                let edit_href = format!("/t/{}/saml/{}", tenant.cloud_id, app.app_id);
                let (csrf, cloud_id) = (me.csrf.clone(), tenant.cloud_id.clone());
                let link = app.idp_initiated_link.clone().map(|link| view! {
                    <dt>"IdP-initiated sign-in link"</dt>
                    <dd><input class="copy-field idp-initiated-link" readonly value=link aria-label=format!("IdP-initiated sign-in link for {}", app.name)/></dd>
                });
                view! {
                    <section class="card saml-app">
                        <h2>{app.name.clone()}</h2>
                        <dl class="facts">
                            <dt>"Entity ID"</dt><dd><code>{app.entity_id.clone()}</code></dd>
                            <dt>"Assertion consumer services"</dt><dd>{app.assertion_consumers.join(", ")}</dd>
                            <dt>"Single logout"</dt><dd>{app.single_logout.clone().unwrap_or_else(|| "none".to_string())}</dd>
                            <dt>"NameID format"</dt><dd><code>{app.name_id_format.clone()}</code></dd>
                            <dt>"Signed"</dt><dd>{app.signed.clone()}{if app.require_signed_requests { "; requests must be signed" } else { "" }}{if app.encrypt_assertions { "; assertions encrypted" } else { "" }}</dd>
                            {link}
                        </dl>
                        <a class="button subtle" href=edit_href aria-label=format!("Edit {}", app.name)>"Edit"</a>
                        <ActionForm action=delete attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            <input type="hidden" name="app_id" value=app.app_id.clone()/>
                            <button type="submit" class="button subtle danger" aria-label=format!("Delete {}", app.name)>"Delete"</button>
                        </ActionForm>
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
    let new_app = view.new_app;
    view! {
        <p class="muted">"Register each site that signs members in with SAML 2.0. Responses go only to the assertion consumer services listed here, exactly."</p>
        {idp}
        {action_error(move || delete.value().get())}
        {apps}
        <section class="card">
            <h2>"Import metadata"</h2>
            <p class="muted">"Upload or paste the service provider's metadata XML. You will see what it registers before anything is saved."</p>
            <ActionForm action=import attr:class="form-grid">
                <input type="hidden" name="csrf" value=import_csrf/>
                <input type="hidden" name="cloud_id" value=import_cloud/>
                <label for="saml-metadata-file">"Metadata file"</label>
                <input id="saml-metadata-file" type="file" accept=".xml,application/xml,text/xml,application/samlmetadata+xml" on:change=move |event| read_metadata_file(&event, metadata, upload_error)/>
                {move || upload_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <label for="saml-metadata">"Service provider metadata"</label>
                <textarea id="saml-metadata" name="metadata" rows="6" required spellcheck="false" prop:value=move || metadata.get() on:input=move |event| metadata.set(event_target_value(&event))></textarea>
                {action_error(move || import.value().get())}
                <button type="submit" class="button">"Preview"</button>
            </ActionForm>
            {move || {
                let (csrf, cloud_id) = (preview_csrf.clone(), preview_cloud.clone());
                import.value().get().and_then(Result::ok).map(move |preview| {
                let notes = preview.notes.into_iter().map(|note| view! { <li>{note}</li> }).collect_view();
                view! {
                    <div class="saml-preview">
                        <h3>"Preview: check and save"</h3>
                        <ul class="notes">{notes}</ul>
                        <ActionForm action=create attr:class="form-grid">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            {saml_fields("import", preview.form)}
                            <button type="submit" class="button primary">"Save imported app"</button>
                        </ActionForm>
                    </div>
                }
            })}}
        </section>
        <section class="card">
            <h2>"Add an app"</h2>
            <ActionForm action=create attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                {saml_fields("new", new_app)}
                {action_error(move || create.value().get())}
                {move || create.value().get().and_then(Result::ok).map(|_| view! {
                    <p class="form-success" role="status">"Saved."</p>
                })}
                <button type="submit" class="button primary">"Add app"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// `/t/:cloud_id/saml/:app_id`: one SAML app's settings.
#[component]
pub fn SamlAppEdit() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateSamlApp>::new();
    let app = Resource::new_blocking(
        move || {
            let params = params.read();
            (
                params.get("cloud_id").unwrap_or_default(),
                params.get("app_id").unwrap_or_default(),
                update.version().get(),
            )
        },
        |(cloud_id, app_id, _)| saml_app(cloud_id, app_id),
    );
    view! {
        <TenantPage title="SAML Client App" data=app body=move |me, tenant, form| {
            let app_id = params.read_untracked().get("app_id").unwrap_or_default();
            saml_edit_body(me, tenant, app_id, form, update)
        }/>
    }
}

fn saml_edit_body(
    me: Me,
    tenant: TenantView,
    app_id: String,
    form: SamlAppForm,
    update: ServerAction<UpdateSamlApp>,
) -> AnyView {
    let back = format!("/t/{}/saml", tenant.cloud_id);
    let title = form.name.clone();
    view! {
        <p><a href=back>"← All SAML client apps"</a></p>
        <section class="card">
            <h2>{title}</h2>
            <ActionForm action=update attr:class="form-grid saml-edit">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <input type="hidden" name="app_id" value=app_id/>
                {saml_fields("edit", form)}
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

/// `/t/:cloud_id/audit`: who changed what, newest first, with the values before and after,
/// and every member sign-in outcome per application; filtered by action and actor (a plain GET form, so a filtered view is a link), and the same
/// as CSV.
#[component]
pub fn AuditLog() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let log = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let query = query.read();
            (
                cloud_id,
                query.get("action").unwrap_or_default(),
                query.get("actor").unwrap_or_default(),
            )
        },
        |(cloud_id, action, actor)| audit_log(cloud_id, action, actor),
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
    let action = query.get("action").unwrap_or_default();
    let actor = query.get("actor").unwrap_or_default();
    let csv = format!(
        "/t/{}/audit.csv?action={}&actor={}",
        tenant.cloud_id,
        url_encode(&action),
        url_encode(&actor)
    );
    let count = view.events.len();
    let rows = view
        .events
        .into_iter()
        .map(|event| {
            view! {
                <tr>
                    <td>{event.at}</td>
                    <td>{event.actor}</td>
                    <td><code>{event.action}</code></td>
                    <td>{event.target}</td>
                    <td><code class="json">{event.before.unwrap_or_default()}</code></td>
                    <td><code class="json">{event.after.unwrap_or_default()}</code></td>
                </tr>
            }
        })
        .collect_view();
    let more = (count as i64 >= view.limit).then(|| {
        view! { <p class="muted">"Only the newest " {view.limit} " events are listed: narrow the filters, or download the CSV."</p> }
    });
    view! {
        <p class="muted">"Every change made on this Cloud ID's pages (who, when, and the values before and after; secrets are never shown, only that they changed), and every member sign-in to its applications (" <code>"sign_in.succeeded"</code> ", " <code>"sign_in.failed"</code> " with the reason)."</p>
        <form method="get" class="filters">
            <label for="audit-action">"Action starts with"</label>
            <input id="audit-action" name="action" value=action placeholder="saml_app" spellcheck="false"/>
            <label for="audit-actor">"By (staff or member)"</label>
            <input id="audit-actor" name="actor" value=actor placeholder="admin@ or a username" spellcheck="false"/>
            <button type="submit" class="button">"Filter"</button>
            <a class="button subtle" href=csv download>"Download CSV"</a>
        </form>
        {more}
        {if count == 0 {
            view! { <p class="empty">"Nothing matches."</p> }.into_any()
        } else {
            view! {
                <table class="table audit-log">
                    <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Action"</th><th>"What"</th><th>"Before"</th><th>"After"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        }}
    }
    .into_any()
}

/// A query-string value: everything but RFC 3986's unreserved characters percent-encoded.
fn url_encode(text: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `/t/:cloud_id/team`: the tenant's admins, and invitations.
#[component]
pub fn Team() -> impl IntoView {
    let params = use_params_map();
    let invite = ServerAction::<InviteAdmin>::new();
    let team = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, invite.version().get())
        },
        |(cloud_id, _)| tenant_team(cloud_id),
    );
    view! { <TenantFrame page=move |me, tenant| team_body(me, tenant, invite, team)/> }
}

fn team_body(
    me: Me,
    tenant: TenantView,
    invite: ServerAction<InviteAdmin>,
    team: Resource<Result<Vec<StaffView>, AppError>>,
) -> AnyView {
    view! {
        {tenant_page_title("Team")}
        <p class="muted">"Tenant admins manage this Cloud ID and nothing else."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match team.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No tenant admins yet. Invite the first one below."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="table">
                            <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| view! {
                                    <tr>
                                        <td>{s.email}</td>
                                        <td>{s.role}</td>
                                        <td>{if s.active { "Active" } else { "Invitation pending" }}</td>
                                        <td><time>{s.created_at}</time></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <h2>"Invite a tenant admin"</h2>
            <ActionForm action=invite attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <label for="invite-email">"E-mail address"</label>
                <input id="invite-email" type="email" name="email" required/>
                {action_error(move || invite.value().get())}
                {move || invite.value().get().and_then(Result::ok).map(|invitation| view! {
                    <div class="form-success" role="status">
                        <p>"Send this one-time link to " <strong>{invitation.email}</strong>
                           ". It lets them choose a password, works once, and expires in 72 hours."</p>
                        <input class="copy-field setup-url" readonly value=invitation.setup_url aria-label="Setup link"/>
                    </div>
                })}
                <button type="submit" class="button primary">"Invite"</button>
            </ActionForm>
        </section>
    }
    .into_any()
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
