//! Your account (two-step verification) and the second step of signing in.

use leptos::prelude::*;
use leptos_meta::Title;

use super::*;
use crate::api::*;
use crate::layout::Frame;

/// `/login/verify`: the code from the authenticator app, after a right password.
#[component]
pub fn VerifySignIn() -> impl IntoView {
    let action = ServerAction::<VerifySecondFactor>::new();
    Effect::new(move |_| {
        if let Some(Ok(next)) = action.value().get() {
            let _ = window().location().set_href(&next);
        }
    });
    view! {
        <Title text="Two-step verification"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Two-step verification"</h1>
                <p class="muted">"Enter the 6-digit code your authenticator app shows for Vestibule."</p>
                <ActionForm action=action>
                    <label for="code">"Code"</label>
                    <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                        autofocus required maxlength="20"/>
                    {action_error(move || action.value().get())}
                    <button type="submit" class="button primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Checking…" } else { "Verify" }}
                    </button>
                </ActionForm>
                <p class="muted auth-aside">"Lost your phone? Enter one of your recovery codes instead."</p>
                <p class="auth-aside"><a href="/login">"Start again"</a></p>
            </section>
        </main>
    }
}

/// `/account`: the signed-in staff member's two-step verification.
#[component]
pub fn Account() -> impl IntoView {
    let begin = ServerAction::<BeginTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let remove = ServerAction::<RemoveTotp>::new();
    let status = Resource::new(
        move || (confirm.version().get(), remove.version().get()),
        |_| second_factor(),
    );
    view! {
        <Frame for_setup=true page=move |me| account_body(me, status, begin, confirm, remove)/>
    }
}

fn account_body(
    me: Me,
    status: Resource<Result<SecondFactorView, AppError>>,
    begin: ServerAction<BeginTotp>,
    confirm: ServerAction<ConfirmTotp>,
    remove: ServerAction<RemoveTotp>,
) -> AnyView {
    let (csrf, must_add) = (me.csrf.clone(), me.must_add_second_factor);
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        <p class="muted">{me.email.clone()}</p>
        <h2>"Two-step verification"</h2>
        {must_add.then(|| view! {
            <p class="form-error" role="alert">
                "Two-step verification is required for your account. Add an authenticator app to go on."
            </p>
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match status.await {
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(status) if status.enrolled => enrolled(status, csrf, remove, confirm),
                        Ok(_) => not_enrolled(csrf, begin, confirm),
                    }
                })
            }}
        </Transition>
    }
    .into_any()
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
    status: SecondFactorView,
    csrf: String,
    remove: ServerAction<RemoveTotp>,
    confirm: ServerAction<ConfirmTotp>,
) -> AnyView {
    let left = status.recovery_codes_left;
    view! {
        {move || confirm.value().get().and_then(Result::ok).map(recovery_codes_note)}
        <p>
            <span class="status status-on">"On"</span>
            " Signing in takes a code from your authenticator app after your password. "
            {format!("{left} recovery code{} left.", if left == 1 { "" } else { "s" })}
        </p>
        <details class="danger-zone">
            <summary>"Remove the authenticator app…"</summary>
            {status.required.then(|| view! {
                <p class="muted">"Two-step verification is required for your account: you will be asked to add an app again."</p>
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
        <p>
            <span class="status status-off">"Off"</span>
            " Your password alone signs you in. Add an authenticator app (on your phone or password manager) so a stolen password is not enough."
        </p>
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
