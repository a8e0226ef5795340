//! The operators' tenant list and each tenant's team of admins.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::{ErrorPage, Frame, TenantFrame};

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
        <WideTable label="Tenants">
            <table class="table">
                <thead><tr><th>"Cloud ID"</th><th>"Name"</th><th>"Domain"</th><th>"Sign-in source"</th><th>"Apps"</th><th>"Last member sign-in"</th><th>"Created"</th></tr></thead>
                <tbody>
                    {list.tenants.into_iter().map(|row| {
                        let (t, progress) = (row.tenant, row.progress);
                        let href = format!("/t/{}/domain", t.cloud_id);
                        let domain_class = format!("status status-{}", match progress.domain_state.as_str() {
                            "online" => "on",
                            "provisioning" => "busy",
                            "failed" | "offline" => "failed",
                            _ => "off",
                        });
                        view! {
                            <tr>
                                <td><a href=href>{t.cloud_id}</a></td>
                                <td>{t.display_name}</td>
                                <td><span class=domain_class>{progress.domain}</span></td>
                                <td>{progress.identity}</td>
                                <td>{progress.apps}</td>
                                <td>{time_or(progress.last_sign_in, "Never")}</td>
                                <td><Time at=t.created_at/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </WideTable>
        <nav class="pager" aria-label="Tenant pages">
            {previous}
            <span class="muted">{format!("{first}–{last} of {}", list.total)}</span>
            {next}
        </nav>
    }
    .into_any()
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
                        <WideTable label="Team">
                            <table class="table">
                                <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! {
                                        <tr>
                                            <td>{s.email}</td>
                                            <td>{s.role}</td>
                                            <td>{if s.active { "Active" } else { "Invitation pending" }}</td>
                                            <td><Time at=s.created_at/></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </WideTable>
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
                        <input class="copy-field setup-url" readonly value=invitation.setup_url.clone() aria-label="Setup link"/>
                        <CopyButton value=invitation.setup_url label="setup link"/>
                    </div>
                })}
                <button type="submit" class="button primary">"Invite"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
