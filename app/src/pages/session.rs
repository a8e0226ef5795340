//! The pages before the frame: where `/` sends each visitor, staff sign-in, and choosing a password from a setup link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::*;
use crate::api::SignIn as SignInAction;
use crate::api::*;
use crate::layout::go_to;

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

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignInAction>::new();
    // Where a setup link sends the browser once the password is set without JavaScript.
    let password_set = use_query_map()
        .read_untracked()
        .get("password_set")
        .is_some();
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
                {password_set.then(|| view! {
                    <p class="form-success" role="status">"Your password is set. Sign in with it."</p>
                })}
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
