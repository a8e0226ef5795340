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

/// `/t/:cloud_id/team`: the tenant's admins and pending invitations: invite, send a link
/// again, revoke an invitation, remove an admin (each audited).
#[component]
pub fn Team() -> impl IntoView {
    let params = use_params_map();
    let actions = TeamActions {
        invite: ServerAction::<InviteToTeam>::new(),
        resend: ServerAction::<ResendInvitation>::new(),
        remove: ServerAction::<RemoveTeamMember>::new(),
        access: ServerAction::<ChangeTeamAccess>::new(),
        rule: ServerAction::<SetTenantSecondFactorRule>::new(),
    };
    let rule = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            (cloud_id, actions.rule.version().get())
        },
        |(cloud_id, _)| tenant_second_factor_rule(cloud_id),
    );
    let team = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let versions = (
                actions.invite.version().get(),
                actions.resend.version().get(),
                actions.remove.version().get(),
                actions.access.version().get(),
            );
            (cloud_id, versions)
        },
        |(cloud_id, _)| tenant_team(cloud_id),
    );
    view! { <TenantFrame page=move |me, tenant| team_body(me, tenant, actions, team, rule)/> }
}

#[derive(Clone, Copy)]
struct TeamActions {
    invite: ServerAction<InviteToTeam>,
    resend: ServerAction<ResendInvitation>,
    remove: ServerAction<RemoveTeamMember>,
    access: ServerAction<ChangeTeamAccess>,
    rule: ServerAction<SetTenantSecondFactorRule>,
}

/// A one-time link to hand over, with its Copy button, and what it replaced.
fn invitation_note(invitation: Invitation) -> impl IntoView {
    let words = if invitation.resent {
        " had been invited already: this new link replaces the earlier ones, which no longer work. It lets them choose a password, works once, and expires in 72 hours."
    } else {
        ". It lets them choose a password, works once, and expires in 72 hours."
    };
    let sent = invitation.emailed.then(|| {
        view! { <p class="invitation-emailed">"It is on its way to them by e-mail; copy it here to hand it over another way."</p> }
    });
    view! {
        <div class="form-success" role="status">
            <p>"Send this one-time link to " <strong>{invitation.email}</strong> {words}</p>
            {sent}
            <input class="copy-field setup-url" readonly value=invitation.setup_url.clone() aria-label="Setup link"/>
            <CopyButton value=invitation.setup_url label="setup link"/>
        </div>
    }
}

fn team_body(
    me: Me,
    tenant: TenantView,
    actions: TeamActions,
    team: Resource<Result<Vec<StaffView>, AppError>>,
    required: Resource<Result<bool, AppError>>,
) -> AnyView {
    let TeamActions {
        invite,
        resend,
        remove,
        access,
        rule,
    } = actions;
    let (rule_csrf, rule_cloud_id) = (me.csrf.clone(), tenant.cloud_id.clone());
    let (me_rows, tenant_rows) = (me.clone(), tenant.clone());
    // Which row's Remove or Change was pressed last: its error shows beside that button only.
    // They live out here because the table is drawn anew when the list reloads after each
    // answer.
    let pressed = RwSignal::new(String::new());
    let access_pressed = RwSignal::new(String::new());
    view! {
        {tenant_page_title("Team")}
        <p class="muted">"Admins manage this Cloud ID and nothing else; read-only members see it and change nothing (their own account aside)."</p>
        {action_error(move || resend.value().get())}
        {move || resend.value().get().and_then(Result::ok).map(invitation_note)}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let (me, tenant) = (me_rows.clone(), tenant_rows.clone());
                Suspend::new(async move {
                    match team.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"No one on this team yet. Invite the first admin below."</p>
                        }.into_any(),
                        Ok(list) => team_table(
                            &me,
                            &tenant,
                            list,
                            resend,
                            (remove, pressed),
                            (access, access_pressed),
                        ),
                        Err(error) => view! { <ErrorPage error/> }.into_any(),
                    }
                })
            }}
        </Transition>
        <section class="card">
            <h2>"Invite to the team"</h2>
            <ActionForm action=invite attr:class="form-grid">
                <input type="hidden" name="csrf" value=me.csrf.clone()/>
                <input type="hidden" name="cloud_id" value=tenant.cloud_id.clone()/>
                <label for="invite-email">"E-mail address"</label>
                <input id="invite-email" type="email" name="email" required/>
                <label for="invite-access">"Access"</label>
                <select id="invite-access" name="access">
                    <option value="admin" selected>"Admin: changes everything in this Cloud ID"</option>
                    <option value="read_only">"Read-only: sees everything, changes nothing"</option>
                </select>
                {action_error(move || invite.value().get())}
                {move || invite.value().get().and_then(Result::ok).map(invitation_note)}
                <button type="submit" class="button primary">"Invite"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Two-step verification"</h2>
            <Transition fallback=|| ()>
                {move || {
                    let (csrf, cloud_id) = (rule_csrf.clone(), rule_cloud_id.clone());
                    Suspend::new(async move {
                        let on = matches!(required.await, Ok(true));
                        view! {
                            <ActionForm action=rule attr:class="form-grid">
                                <input type="hidden" name="csrf" value=csrf/>
                                <input type="hidden" name="cloud_id" value=cloud_id/>
                                <label class="choice">
                                    <input type="checkbox" name="required" value="on" checked=on/>
                                    " Require every admin of this Cloud ID to use a passkey or an authenticator app when signing in"
                                </label>
                                <p class="muted">"Admins without one are asked to add it at their next page."</p>
                                {action_error(move || rule.value().get())}
                                {move || matches!(rule.value().get(), Some(Ok(()))).then(|| view! { <p class="form-success" role="status">"Saved."</p> })}
                                <button type="submit" class="button">"Save"</button>
                            </ActionForm>
                        }
                    })
                }}
            </Transition>
        </section>
    }
    .into_any()
}

fn team_table(
    me: &Me,
    tenant: &TenantView,
    list: Vec<StaffView>,
    resend: ServerAction<ResendInvitation>,
    (remove, pressed): (ServerAction<RemoveTeamMember>, RwSignal<String>),
    (access, access_pressed): (ServerAction<ChangeTeamAccess>, RwSignal<String>),
) -> AnyView {
    let rows = list
        .into_iter()
        .map(|staff| {
            let (csrf, cloud_id, email) = (me.csrf.clone(), tenant.cloud_id.clone(), staff.email.clone());
            let yourself = staff.email == me.email;
            let resend_form = (!staff.active).then(|| {
                let (csrf, cloud_id, email) = (csrf.clone(), cloud_id.clone(), email.clone());
                view! {
                    <ActionForm action=resend attr:class="inline-form">
                        <input type="hidden" name="csrf" value=csrf/>
                        <input type="hidden" name="cloud_id" value=cloud_id/>
                        <input type="hidden" name="email" value=email.clone()/>
                        <button type="submit" class="button subtle" aria-label=format!("Send a new link to {email}")>"Send a new link"</button>
                    </ActionForm>
                }
            });
            let (summary, warning, button) = if staff.active {
                (
                    "Remove…",
                    format!("Removing {email} ends their sessions at once; they can no longer sign in. Invite them again to undo."),
                    "Remove from team",
                )
            } else {
                (
                    "Revoke…",
                    format!("Revoking the invitation of {email} makes its link stop working."),
                    "Revoke invitation",
                )
            };
            let remove_form = (!yourself).then(|| {
                let id = format!("remove-{}", email.replace(['@', '.'], "-"));
                let (submitted, row_email) = (email.clone(), email.clone());
                let error = move || {
                    remove
                        .value()
                        .get()
                        .filter(|_| pressed.with(|pressed| *pressed == row_email))
                };
                danger_zone(
                    summary,
                    warning,
                    view! {
                        <ActionForm action=remove attr:class="form-grid" on:submit=move |_| pressed.set(submitted.clone())>
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="cloud_id" value=cloud_id/>
                            <input type="hidden" name="email" value=email.clone()/>
                            {typed_confirmation(id, email.clone())}
                            {action_error(error)}
                            <button type="submit" class="button danger" aria-label=format!("{button}: {email}")>{button}</button>
                        </ActionForm>
                    },
                )
            });
            let role = match staff.access.as_deref() {
                Some("read_only") => "Read-only",
                Some(_) => "Admin",
                None => "Operator",
            };
            // Admins (and operators) change what others may do; nobody changes their own.
            let access_form = (!yourself && !me.read_only).then(|| {
                let (csrf, cloud_id, email) = (me.csrf.clone(), tenant.cloud_id.clone(), staff.email.clone());
                let read_only = staff.access.as_deref() == Some("read_only");
                let id = format!("access-{}", email.replace(['@', '.'], "-"));
                let (submitted, row_email) = (email.clone(), email.clone());
                let error = move || {
                    access
                        .value()
                        .get()
                        .filter(|_| access_pressed.with(|pressed| *pressed == row_email))
                };
                view! {
                    <ActionForm action=access attr:class="inline-form access-form" on:submit=move |_| access_pressed.set(submitted.clone())>
                        <input type="hidden" name="csrf" value=csrf/>
                        <input type="hidden" name="cloud_id" value=cloud_id/>
                        <input type="hidden" name="email" value=email.clone()/>
                        <label class="visually-hidden" for=id.clone()>{format!("Access of {email}")}</label>
                        <select id=id name="access">
                            <option value="admin" selected=!read_only>"Admin"</option>
                            <option value="read_only" selected=read_only>"Read-only"</option>
                        </select>
                        <button type="submit" class="button subtle" aria-label=format!("Change the access of {email}")>"Change"</button>
                        {action_error(error)}
                    </ActionForm>
                }
            });
            let role_cell = match access_form {
                Some(form) => form.into_any(),
                None => role.into_any(),
            };
            view! {
                <tr>
                    <td>{staff.email}{yourself.then_some(" (you)")}</td>
                    <td>{role_cell}</td>
                    <td>{match (staff.active, staff.second_factor) {
                        (false, _) => "Invitation pending",
                        (true, true) => "Active · two-step verification on",
                        (true, false) => "Active · password only",
                    }}</td>
                    <td><Time at=staff.created_at/></td>
                    <td>{resend_form}{remove_form}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <WideTable label="Team">
            <table class="table team">
                <thead><tr><th>"E-mail"</th><th>"Access"</th><th>"Status"</th><th>"Added"</th><th>"Actions"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </WideTable>
    }
    .into_any()
}
