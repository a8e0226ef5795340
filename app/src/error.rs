//! The dashboard's one error type, as server functions return it and pages show it.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The dashboard's one error type. Messages are safe to show: internal causes are logged on the
/// server and replaced by [`AppError::Internal`] before they reach a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in.")]
    NotSignedIn,
    #[error("You do not have access to this.")]
    Forbidden,
    /// A read-only member of a Cloud ID's team asked to change something in it.
    #[error(
        "Your access to this Cloud ID is read-only: ask one of its admins to make this change."
    )]
    ReadOnly,
    #[error("Not found.")]
    NotFound,
    /// Input the person can correct; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadCredentials(String),
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_seconds: i64,
    },
    #[error("{0}")]
    SetupLink(String),
    #[error("Your session has expired or this form is stale. Reload the page and try again.")]
    Csrf,
    /// Two-step verification is required of this account and not set up yet.
    #[error("Set up two-step verification before going on: open Your account.")]
    SecondFactorSetupNeeded,
    /// The sign-in waits for a code from the authenticator app.
    #[error("{0}")]
    SecondFactor(String),
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request itself failed (network, decoding).
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}
