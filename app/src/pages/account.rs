//! Your account (two-step verification: passkeys and an authenticator app) and the second step
//! of signing in.

use leptos::prelude::*;
use leptos_meta::Title;

use super::*;
use crate::api::*;
use crate::layout::Frame;

/// `/login/verify`: the second step after a right password: a passkey, or the code from the
/// authenticator app (or a recovery code), whichever the account has.
#[component]
pub fn VerifySignIn() -> impl IntoView {
    let action = ServerAction::<VerifySecondFactor>::new();
    Effect::new(move |_| {
        if let Some(Ok(next)) = action.value().get() {
            let _ = window().location().set_href(&next);
        }
    });
    let factors = Resource::new(|| (), |_| sign_in_factors());
    let code_form = move |with_passkey: bool| {
        view! {
            <p class="muted">{if with_passkey {
                "Or enter the 6-digit code your authenticator app shows for Vestibule."
            } else {
                "Enter the 6-digit code your authenticator app shows for Vestibule."
            }}</p>
            <ActionForm action=action>
                <label for="code">"Code"</label>
                <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    autofocus=!with_passkey required maxlength="20"/>
                {action_error(move || action.value().get())}
                <button type="submit" class="button" class:primary=!with_passkey disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Checking…" } else { "Verify" }}
                </button>
            </ActionForm>
            <p class="muted auth-aside">"Lost your phone? Enter one of your recovery codes instead."</p>
        }
    };
    view! {
        <Title text="Two-step verification"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Two-step verification"</h1>
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match factors.await {
                            Ok(SignInFactorsView { authenticator_app, passkey: Some(ceremony) }) => view! {
                                <PasskeySignIn ceremony/>
                                {if authenticator_app {
                                    code_form(true).into_any()
                                } else {
                                    view! {
                                        <p class="muted auth-aside">"Lost your passkey? Ask your operators to reset your two-step verification."</p>
                                    }.into_any()
                                }}
                            }.into_any(),
                            Ok(_) => code_form(false).into_any(),
                            Err(error) => view! {
                                <p class="form-error" role="alert">{error.to_string()}</p>
                            }.into_any(),
                        }
                    })}
                </Transition>
                <p class="auth-aside"><a href="/login">"Start again"</a></p>
            </section>
        </main>
    }
}

/// The button that finishes a sign-in with one of the account's passkeys.
#[component]
fn PasskeySignIn(ceremony: PasskeyCeremonyView) -> impl IntoView {
    let (pending, error) = (RwSignal::new(false), RwSignal::new(None::<String>));
    let use_passkey = move |_| {
        let ceremony = ceremony.clone();
        pending.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let outcome = match crate::webauthn::get(&ceremony.options).await {
                Ok(credential) => verify_passkey(ceremony.state, credential)
                    .await
                    .map_err(|e| e.to_string()),
                Err(message) => Err(message),
            };
            match outcome {
                Ok(next) => {
                    let _ = window().location().set_href(&next);
                }
                Err(message) => {
                    pending.set(false);
                    error.set(Some(message));
                }
            }
        });
    };
    view! {
        <p>"Use your passkey to finish signing in."</p>
        <noscript><p class="form-error">"Signing in with a passkey needs JavaScript."</p></noscript>
        {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        <button type="button" class="button primary" on:click=use_passkey disabled=move || pending.get()>
            {move || if pending.get() { "Waiting for your passkey…" } else { "Use a passkey" }}
        </button>
    }
}

/// `/account`: the signed-in staff member's two-step verification.
#[component]
pub fn Account() -> impl IntoView {
    let actions = AccountActions {
        begin: ServerAction::<BeginTotp>::new(),
        confirm: ServerAction::<ConfirmTotp>::new(),
        remove: ServerAction::<RemoveTotp>::new(),
        remove_passkey: ServerAction::<RemovePasskey>::new(),
        passkey_added: RwSignal::new(None),
    };
    let status = Resource::new(
        move || {
            (
                actions.confirm.version().get(),
                actions.remove.version().get(),
                actions.remove_passkey.version().get(),
                actions.passkey_added.get(),
            )
        },
        |_| second_factor(),
    );
    view! {
        <Frame for_setup=true page=move |me| account_body(me, status, actions)/>
    }
}

#[derive(Clone, Copy)]
struct AccountActions {
    begin: ServerAction<BeginTotp>,
    confirm: ServerAction<ConfirmTotp>,
    remove: ServerAction<RemoveTotp>,
    remove_passkey: ServerAction<RemovePasskey>,
    /// The name of the passkey just added.
    passkey_added: RwSignal<Option<String>>,
}

fn account_body(
    me: Me,
    status: Resource<Result<SecondFactorView, AppError>>,
    actions: AccountActions,
) -> AnyView {
    let (csrf, must_add) = (me.csrf.clone(), me.must_add_second_factor);
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        <p class="muted">{me.email.clone()}</p>
        <h2>"Two-step verification"</h2>
        {must_add.then(|| view! {
            <p class="form-error" role="alert">
                "Two-step verification is required for your account. Add a passkey or an authenticator app to go on."
            </p>
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match status.await {
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(status) => second_factors(status, csrf, actions),
                    }
                })
            }}
        </Transition>
    }
    .into_any()
}

fn second_factors(status: SecondFactorView, csrf: String, actions: AccountActions) -> AnyView {
    let summary = if status.enrolled() {
        view! {
            <p>
                <span class="status status-on">"On"</span>
                " Signing in takes a passkey or a code from your authenticator app after your password."
            </p>
        }
        .into_any()
    } else {
        view! {
            <p>
                <span class="status status-off">"Off"</span>
                " Your password alone signs you in. Add a passkey (your device's screen lock or a security key) or an authenticator app, so a stolen password is not enough."
            </p>
        }
        .into_any()
    };
    let app = if status.authenticator_app {
        enrolled(&status, csrf.clone(), actions.remove, actions.confirm)
    } else {
        not_enrolled(csrf.clone(), actions.begin, actions.confirm)
    };
    view! {
        {summary}
        <section class="card">
            <h3>"Passkeys"</h3>
            {passkeys(&status, csrf, actions)}
        </section>
        <section class="card">
            <h3>"Authenticator app"</h3>
            {app}
        </section>
    }
    .into_any()
}

fn passkeys(status: &SecondFactorView, csrf: String, actions: AccountActions) -> AnyView {
    let required = status.required;
    let last = status.passkeys.len() == 1 && !status.authenticator_app;
    let list = (!status.passkeys.is_empty()).then(|| {
        let rows = status
            .passkeys
            .iter()
            .cloned()
            .map(|passkey| {
                let csrf = csrf.clone();
                let field = format!("remove-passkey-{}", passkey.id);
                view! {
                    <tr>
                        <td class="passkey-name">{passkey.name.clone()}</td>
                        <td><Time at=passkey.created_at/></td>
                        <td>{time_or(passkey.last_used_at, "never")}</td>
                        <td>
                            <details class="danger-zone">
                                <summary>"Remove…"</summary>
                                {(required && last).then(|| view! {
                                    <p class="muted">"Two-step verification is required for your account: you will be asked to add a second factor again."</p>
                                })}
                                <ActionForm action=actions.remove_passkey>
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <input type="hidden" name="id" value=passkey.id.to_string()/>
                                    <label for=field.clone()>"Your password"</label>
                                    <input id=field name="password" type="password" autocomplete="current-password" required/>
                                    {action_error(move || actions.remove_passkey.value().get())}
                                    <button type="submit" class="button danger">{format!("Remove {}", passkey.name)}</button>
                                </ActionForm>
                            </details>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <WideTable label="Your passkeys">
                <table class="passkeys">
                    <thead><tr><th>"Name"</th><th>"Added"</th><th>"Last used"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </WideTable>
        }
    });
    let add = if status.passkeys_available {
        view! { <AddPasskey csrf added=actions.passkey_added/> }.into_any()
    } else {
        view! {
            <p class="muted">"Passkeys need the dashboard on a host name with https; ask your operators."</p>
        }
        .into_any()
    };
    view! {
        <p class="muted">"A passkey signs you in with your device's fingerprint, face or screen lock, or a security key. Nothing to type, and it works only on this dashboard."</p>
        {list}
        {add}
    }
    .into_any()
}

/// Names a new passkey and runs the browser's ceremony for it.
#[component]
fn AddPasskey(csrf: String, added: RwSignal<Option<String>>) -> impl IntoView {
    let (pending, error) = (RwSignal::new(false), RwSignal::new(None::<String>));
    let name = RwSignal::new(String::new());
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let csrf = csrf.clone();
        pending.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let outcome = async {
                let ceremony = begin_passkey(csrf.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                let credential = crate::webauthn::create(&ceremony.options).await?;
                finish_passkey(csrf, name.get_untracked(), ceremony.state, credential)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            pending.set(false);
            match outcome {
                Ok(added_name) => {
                    name.set(String::new());
                    added.set(Some(added_name));
                }
                Err(message) => error.set(Some(message)),
            }
        });
    };
    view! {
        {move || added.get().map(|name| view! {
            <p class="form-success" role="status">"Passkey " <strong>{name}</strong> " added."</p>
        })}
        <form class="add-passkey" on:submit=add>
            <label for="passkey-name">"Name for the new passkey"</label>
            <input id="passkey-name" name="name" maxlength="60" placeholder="e.g. Work laptop"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <noscript><p class="form-error">"Adding a passkey needs JavaScript: turn it on for the dashboard."</p></noscript>
            <button type="submit" class="button primary" disabled=move || pending.get()>
                {move || if pending.get() { "Waiting for your authenticator…" } else { "Add a passkey" }}
            </button>
        </form>
    }
}

fn recovery_codes_note(codes: Vec<String>) -> impl IntoView {
    let all = codes.join("\n");
    view! {
        <div class="form-success recovery-codes" role="status">
            <p><strong>"Two-step verification is on."</strong>
               " Keep these recovery codes somewhere safe, away from your phone. Each works once, instead of a code, if you lose the app. They are shown only now."</p>
            <ul class="codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ul>
            <CopyButton value=all label="recovery codes"/>
        </div>
    }
}

fn enrolled(
    status: &SecondFactorView,
    csrf: String,
    remove: ServerAction<RemoveTotp>,
    confirm: ServerAction<ConfirmTotp>,
) -> AnyView {
    let left = status.recovery_codes_left;
    let last = status.passkeys.is_empty();
    let required = status.required;
    view! {
        {move || confirm.value().get().and_then(Result::ok).map(recovery_codes_note)}
        <p>
            <span class="status status-on">"On"</span>
            " Sign-in accepts a code from your authenticator app. "
            {format!("{left} recovery code{} left.", if left == 1 { "" } else { "s" })}
        </p>
        <details class="danger-zone">
            <summary>"Remove the authenticator app…"</summary>
            {(required && last).then(|| view! {
                <p class="muted">"Two-step verification is required for your account: you will be asked to add a second factor again."</p>
            })}
            <ActionForm action=remove>
                <input type="hidden" name="csrf" value=csrf/>
                <label for="remove-code">"A current code from the app, or a recovery code"</label>
                <input id="remove-code" name="code" autocomplete="one-time-code" required maxlength="20"/>
                {action_error(move || remove.value().get())}
                <button type="submit" class="button danger">"Remove the app"</button>
            </ActionForm>
        </details>
    }
    .into_any()
}

fn not_enrolled(
    csrf: String,
    begin: ServerAction<BeginTotp>,
    confirm: ServerAction<ConfirmTotp>,
) -> AnyView {
    let confirm_csrf = csrf.clone();
    view! {
        <p class="muted">"An app on your phone or in your password manager that shows a new 6-digit code every 30 seconds."</p>
        {move || match begin.value().get() {
            Some(Ok(setup)) => {
                let csrf = confirm_csrf.clone();
                view! {
                    <ol class="totp-steps">
                        <li>
                            <p>"Scan this QR code with your authenticator app:"</p>
                            <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=setup.qr_svg.clone()></div>
                            <p class="muted">"Or type this key into the app:"</p>
                            <input class="copy-field totp-secret" readonly value=setup.secret.clone() aria-label="Authenticator key"/>
                            <CopyButton value=setup.secret.clone() label="authenticator key"/>
                        </li>
                        <li>
                            <ActionForm action=confirm>
                                <input type="hidden" name="csrf" value=csrf/>
                                <label for="confirm-code">"Enter the 6-digit code the app shows"</label>
                                <input id="confirm-code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="20"/>
                                {action_error(move || confirm.value().get())}
                                <button type="submit" class="button primary">"Turn on two-step verification"</button>
                            </ActionForm>
                        </li>
                    </ol>
                }.into_any()
            }
            other => {
                let csrf = csrf.clone();
                view! {
                    {other.and_then(Result::err).map(|error| view! { <p class="form-error" role="alert">{error.to_string()}</p> })}
                    <ActionForm action=begin>
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit" class="button primary">"Add an authenticator app"</button>
                    </ActionForm>
                }.into_any()
            }
        }}
    }
    .into_any()
}
