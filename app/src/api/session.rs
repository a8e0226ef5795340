//! Staff sign-in and sign-out, and setting a password from a setup link.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

/// The current staff member, or `None` when nobody is signed in.
#[server(prefix = "/api", endpoint = "me")]
pub async fn current_staff() -> Result<Option<Me>, AppError> {
    ssr::respond(async { Ok(ssr::optional_caller().await?.map(|caller| ssr::me(&caller))) }.await)
}

/// Signs in and returns where to go next.
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<String, AppError> {
    ssr::respond(ssr::sign_in(&email, &password).await)
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), AppError> {
    ssr::respond(ssr::sign_out(&csrf).await)
}

#[server(prefix = "/api", endpoint = "setup_link")]
pub async fn setup_link(token: String) -> Result<SetupView, AppError> {
    ssr::respond(ssr::setup_link(&token).await)
}

/// Uses a setup link. `email` is read only for the first operator.
#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    email: Option<String>,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    let outcome = if password != confirm {
        Err(AppError::Invalid("The two passwords do not match.".into()))
    } else {
        ssr::complete_setup(&token, email.as_deref(), &password).await
    };
    ssr::respond(outcome)
}

/// Whether "Forgot password" can send a link (this installation sends e-mail).
#[server(prefix = "/api", endpoint = "password_reset_offered")]
pub async fn password_reset_offered() -> Result<bool, AppError> {
    ssr::respond(ssr::mail_enabled())
}

/// Sends a link to choose a new password to `email`, if a staff member has that address. The
/// answer is the same either way.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    ssr::respond(ssr::request_password_reset(&email).await)
}
