//! The dashboard's pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    current_staff, list_tenants, setup_link, tenant_team, AppError, CompleteSetup, CreateTenant,
    InviteAdmin, Me, SetupView, SignIn as SignInAction, StaffView, TenantView,
};
use crate::layout::{go_to, ErrorPage, Frame, TenantFrame};

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

/// `/tenants`: operators list and create Cloud IDs.
#[component]
pub fn Tenants() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let tenants = Resource::new_blocking(move || create.version().get(), |_| list_tenants());
    view! {
        <Title text="Tenants"/>
        <Frame page=move |me| tenants_body(me, create, tenants)/>
    }
}

fn tenants_body(
    me: Me,
    create: ServerAction<CreateTenant>,
    tenants: Resource<Result<Vec<TenantView>, AppError>>,
) -> AnyView {
    if !me.is_operator {
        return view! { <ErrorPage error=AppError::Forbidden/> }.into_any();
    }
    view! {
        <h1>"Tenants"</h1>
        <p class="muted">"Each tenant is one association's Cloud ID. Its staff see only their own."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tenants.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No tenants yet. Create the first one below."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="table">
                            <thead><tr><th>"Cloud ID"</th><th>"Name"</th><th>"Created"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
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
                    }.into_any(),
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

/// The heading of a tenant page.
fn tenant_page_title(page: &'static str) -> impl IntoView {
    view! { <Title text=page/> <h1>{page}</h1> }
}

/// A Cloud SSO page whose feature has not landed yet: says plainly what the page will do and that
/// it is not available, rather than showing controls that do nothing.
#[component]
fn NotYetAvailable(
    page: &'static str,
    purpose: &'static str,
    #[prop(optional)] status: Option<&'static str>,
) -> impl IntoView {
    let body = move |_: Me, _: TenantView| {
        view! {
            {tenant_page_title(page)}
            {status.map(|status| view! {
                <p class="status-line">"Domain Status: " <span class="status status-off">{status}</span></p>
            })}
            <section class="card empty">
                <p>{purpose}</p>
                <p class="muted">"This part of the Cloud Dashboard is not available in this version of Vestibule yet. Nothing has been configured for this Cloud ID."</p>
            </section>
        }
        .into_any()
    };
    view! { <TenantFrame page=body/> }
}

#[component]
pub fn DomainSetup() -> impl IntoView {
    view! {
        <NotYetAvailable
            page="Domain Setup"
            purpose="Here you will point a CNAME record at Vestibule, press Provision Your Domain, and get a login page on your own SSO domain with its own certificate."
            status="Not Provisioned"
        />
    }
}

#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <NotYetAvailable
            page="Settings"
            purpose="Here you will connect iMIS (base URL, RiSE client applications for OpenID Connect and SAML, the SSO page) and brand the login page."
        />
    }
}

#[component]
pub fn OidcApps() -> impl IntoView {
    view! {
        <NotYetAvailable
            page="OIDC Client Apps"
            purpose="Here you will register OpenID Connect client apps for event, learning and community vendors and copy the values they need."
        />
    }
}

#[component]
pub fn SamlApps() -> impl IntoView {
    view! {
        <NotYetAvailable
            page="SAML Client Apps"
            purpose="Here you will register SAML service providers, import their metadata and copy the IdP metadata URL and sign-in links."
        />
    }
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
