use vestibule_domain::{InvalidInput, Seconds};
use vestibule_storage::{Conflict, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// Deliberately the same for an unknown e-mail address, a wrong password and an account
    /// that has not chosen a password yet, so sign-in reveals nothing about who has an account.
    #[error("The e-mail address or password is not right.")]
    BadCredentials,
    #[error("Too many sign-in attempts. Try again in {} minutes.", minutes_rounded_up(*retry_after))]
    TooManyAttempts { retry_after: Seconds },
    #[error(
        "This setup link has expired or has already been used. Ask an operator for a new one."
    )]
    SetupLinkInvalid,
    #[error("Please sign in.")]
    NotSignedIn,
    /// The password was right and the account has a second factor: the sign-in continues with
    /// `challenge` (for a cookie) once a code is given.
    #[error("Enter the code from your authenticator app.")]
    SecondFactorNeeded { challenge: String },
    #[error("That code is not right, or was already used. Enter the current code from your authenticator app, or one of your recovery codes.")]
    BadSecondFactor,
    #[error("That passkey was not accepted. Try again, or use your authenticator app or a recovery code.")]
    PasskeyRefused,
    #[error("The passkey could not be added ({0}). Try again, or use another authenticator.")]
    PasskeyNotAdded(String),
    #[error("Passkeys need the dashboard on a host name with https; ask an operator.")]
    PasskeysUnavailable,
    #[error("That password is not right.")]
    WrongPassword,
    /// The half-finished sign-in is unknown or took too long.
    #[error("This sign-in took too long. Sign in again.")]
    ChallengeExpired,
    /// Their Cloud ID (or the installation) requires a second factor they have not set up.
    #[error("Set up two-step verification before going on: your account page shows how.")]
    SecondFactorSetupNeeded,
    #[error("Your session has expired or this form is stale. Reload the page and try again.")]
    CsrfMismatch,
    #[error("You do not have access to this.")]
    Forbidden,
    /// A read-only member of a Cloud ID's team asked to change something in it.
    #[error(
        "Your access to this Cloud ID is read-only: ask one of its admins to make this change."
    )]
    ReadOnly,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(Conflict),
    #[error("storage: {0}")]
    Storage(StorageError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A sealed secret that does not open, or no key to seal with.
    #[error("secret sealing failed: {0}")]
    Sealing(String),
}

impl From<StorageError> for StaffError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict(conflict) => StaffError::Conflict(conflict),
            other => StaffError::Storage(other),
        }
    }
}

fn minutes_rounded_up(duration: Seconds) -> i64 {
    ((duration.0 + 59) / 60).max(1)
}
