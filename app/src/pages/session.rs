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
    let reset_offered = Resource::new_blocking(|| (), |_| password_reset_offered());
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
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        matches!(reset_offered.await, Ok(true)).then(|| view! {
                            <p class="auth-aside"><a href="/forgot-password">"Forgot your password?"</a></p>
                        })
                    })}
                </Suspense>
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
                                    SetupView::PasswordReset { email } => (
                                        "Choose a new password",
                                        view! {
                                            <p>"Account: " <strong class="setup-email">{email}</strong></p>
                                            <p class="muted">"Choosing a new password signs this account out everywhere."</p>
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

/// `/forgot-password`: asks for the address a link to choose a new password goes to. The
/// answer is the same whether or not an account has the address.
#[component]
pub fn ForgotPassword() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let offered = Resource::new_blocking(|| (), |_| password_reset_offered());
    // Where the form post lands without JavaScript.
    let sent_before = use_query_map().read_untracked().get("sent").is_some();
    let sent = move || sent_before || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Forgot your password"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Forgot your password?"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let offered = matches!(offered.await, Ok(true));
                        if sent() {
                            view! {
                                <p class="form-success" role="status">
                                    "If a Cloud Dashboard account uses that address, a link to choose a new password is on its way to it. The link works once, for one hour."
                                </p>
                                <a class="button" href="/login">"Back to sign in"</a>
                            }.into_any()
                        } else if !offered {
                            view! {
                                <p>"This installation does not send e-mail. Ask an operator (or another admin of your Cloud ID) for a new setup link."</p>
                                <a class="button" href="/login">"Back to sign in"</a>
                            }.into_any()
                        } else {
                            view! {
                                <p class="muted">"Enter the address you sign in with. We will e-mail it a link to choose a new password."</p>
                                <ActionForm action=action>
                                    <label for="email">"E-mail address"</label>
                                    <input id="email" type="email" name="email" autocomplete="username" required/>
                                    {action_error(move || action.value().get())}
                                    <button type="submit" class="button primary" disabled=move || action.pending().get()>
                                        {move || if action.pending().get() { "Sending…" } else { "Send the link" }}
                                    </button>
                                </ActionForm>
                                <p class="auth-aside"><a href="/login">"Back to sign in"</a></p>
                            }.into_any()
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}
