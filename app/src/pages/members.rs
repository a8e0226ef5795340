//! Members: the member directory and recent member sign-ins.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api::*;
use crate::layout::TenantPage;

/// `/t/:cloud_id/members`: the member directory and recent member sign-ins.
#[component]
pub fn Members() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let add = ServerAction::<AddMember>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let password = ServerAction::<SetMemberPassword>::new();
    let members = Resource::new_blocking(
        move || {
            let cloud_id = params.read().get("cloud_id").unwrap_or_default();
            let search = query.read().get("search").filter(|s| !s.trim().is_empty());
            (
                cloud_id,
                search,
                add.version().get(),
                remove.version().get(),
            )
        },
        |(cloud_id, search, _, _)| tenant_members(cloud_id, search),
    );
    view! {
        <TenantPage title="Members" data=members body=move |me, tenant, view| {
            let searched = query.read_untracked().get("search").unwrap_or_default();
            members_body(me, tenant, view, searched, add, remove, password)
        }/>
    }
}

fn members_body(
    me: Me,
    tenant: TenantView,
    view: MembersPageView,
    searched: String,
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
            let username = member.username.clone();
            view! {
                <tr>
                    <td>{member.username}</td>
                    <td>{member.name}</td>
                    <td>{member.email}</td>
                    <td><Time at=member.created_at/></td>
                    <td>
                        <ActionForm action=password attr:class="inline-form">
                            <input type="hidden" name="csrf" value=csrf2/>
                            <input type="hidden" name="cloud_id" value=cloud_id2/>
                            <input type="hidden" name="id" value=id2/>
                            <label for=password_id.clone() class="visually-hidden">"New password"</label>
                            <input id=password_id type="password" name="password" placeholder="New password" autocomplete="new-password" required minlength="12"/>
                            <button type="submit" class="button subtle">"Set"</button>
                        </ActionForm>
                        {danger_zone(
                            "Remove…",
                            format!("Removing {username} ends their sessions and revokes their tokens. This cannot be undone."),
                            view! {
                                <ActionForm action=remove attr:class="form-grid">
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <input type="hidden" name="cloud_id" value=cloud_id/>
                                    <input type="hidden" name="id" value=id.clone()/>
                                    {typed_confirmation(format!("remove-{id}"), username.clone())}
                                    {action_error(move || remove.value().get())}
                                    <button type="submit" class="button danger" aria-label=format!("Remove {username}")>"Remove member"</button>
                                </ActionForm>
                            },
                        )}
                    </td>
                </tr>
            }
        }).collect_view();
        view! {
            <WideTable label="Members">
                <table class="table members">
                    <thead><tr><th>"Username"</th><th>"Name"</th><th>"E-mail"</th><th>"Added"</th><th>"Actions"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </WideTable>
        }
        .into_any()
    };
    let events = if view.events.is_empty() && !searched.is_empty() {
        view! { <p class="empty">"No sign-ins of a member or application matching “" {searched.clone()} "”."</p> }
            .into_any()
    } else if view.events.is_empty() {
        view! { <p class="empty">"No member has signed in yet."</p> }.into_any()
    } else {
        let rows = view
            .events
            .into_iter()
            .map(|event| {
                // Colour and a word (and a mark for who cannot tell the colours apart).
                let (class, outcome) = if event.ok {
                    (
                        "event-ok",
                        view! { <span class="outcome outcome-ok">"✓ " {event.outcome}</span> },
                    )
                } else {
                    (
                        "event-failed",
                        view! { <span class="outcome outcome-failed">"✗ " {event.outcome}</span> },
                    )
                };
                let application = if event.application.is_empty() {
                    view! { <span class="muted">"Sign-in page"</span> }.into_any()
                } else {
                    event.application.into_any()
                };
                view! {
                    <tr class=class>
                        <td><Time at=event.at/></td>
                        <td>{event.source}</td>
                        <td>{event.member}</td>
                        <td>{application}</td>
                        <td>{outcome}</td>
                        <td class="detail">{event.detail}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <WideTable label="Sign-ins">
                <table class="table events">
                    <thead><tr><th>"When"</th><th>"Source"</th><th>"Member"</th><th>"Application"</th><th>"Outcome"</th><th>"Technical cause"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </WideTable>
        }
        .into_any()
    };
    let uses_directory = view.identity_source == "directory";
    // Once the admin works in the folded directory, it stays open as the page reloads.
    let directory_touched = add.version().get_untracked() > 0
        || remove.version().get_untracked() > 0
        || password.version().get_untracked() > 0;
    let directory_sections = view! {
        <section class="card">
            <h2>"Member directory"</h2>
            {directory}
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
    };
    let sign_ins = view! {
        <section class="card">
            <h2>"Recent sign-ins"</h2>
            <p class="muted">"The last 50 member sign-ins on your domain, with the application each member was signing in to. When one fails, the technical cause says what to fix."</p>
            <form method="get" class="filters" role="search">
                <label for="sign-in-search">"Member or application"</label>
                <input id="sign-in-search" type="search" name="search" value=searched placeholder="username, iMIS ID or app name" spellcheck="false"/>
                <button type="submit" class="button">"Search"</button>
            </form>
            {events}
        </section>
    };
    // What fits the tenant's identity source comes first: with iMIS, the sign-ins; the unused
    // directory waits behind a disclosure until Settings chooses it.
    let sections = if uses_directory {
        view! { {directory_sections} {sign_ins} }.into_any()
    } else {
        view! {
            {sign_ins}
            <details class="card unused-directory" open=directory_touched>
                <summary>"Member directory (not in use: members sign in with iMIS)"</summary>
                {directory_sections}
            </details>
        }
        .into_any()
    };
    view! {
        {site}
        <p class="muted">{source}</p>
        {sections}
    }
    .into_any()
}
