use vestibule_domain::{InvalidInput, Seconds};
use vestibule_imis::ImisError;
use vestibule_settings::SettingsError;
use vestibule_storage::StorageError;

/// What can go wrong when a member signs in or a tenant admin manages members. Each variant a
/// member can hit has its own page at the HTTP edge; the `Display` text is the technical cause
/// tenant admins see in the dashboard, and never contains a secret or token.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    /// Input a tenant admin can correct.
    #[error("{0}")]
    Invalid(InvalidInput),
    /// The tenant has not finished setting up this way of signing in.
    #[error("sign-in is not set up: {0}")]
    NotConfigured(String),
    /// iMIS posted to the callback without a refresh token.
    #[error("iMIS sent the member back without a refresh_token")]
    MissingRefreshToken,
    /// iMIS refused the refresh token: expired, already used, or issued to another client.
    #[error("iMIS refused the refresh token (expired, already used, or for another client application): {0}")]
    TokenRefused(ImisError),
    /// iMIS refused the client id and secret saved in Settings.
    #[error("iMIS refused the client id and secret saved in Settings: {0}")]
    ClientRefused(ImisError),
    /// iMIS is down, slow or answering with server errors.
    #[error("iMIS is unavailable: {0}")]
    ImisUnavailable(ImisError),
    /// Signed in at iMIS, but the member's profile could not be read.
    #[error("the member's profile could not be read from iMIS: {0}")]
    ProfileUnavailable(ImisError),
    /// Wrong username or password at the member directory (deliberately not saying which).
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins; try again in {} seconds", retry_after.0)]
    TooManyAttempts { retry_after: Seconds },
    #[error("no such member")]
    NotFound,
    /// A password-reset link that is unknown, expired, already used or of another tenant.
    #[error("this password reset link has expired or was already used")]
    ResetLinkInvalid,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// How a member's sign-in ended, as the sign-in events and the audit log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    SignedIn,
    /// Refused, with a short name of why (`wrong password`, `refresh token refused`, …).
    Refused(&'static str),
    /// The member refused to share their details with the application (OAuth `access_denied`).
    AccessDenied,
}

impl SignInOutcome {
    const SIGNED_IN: &'static str = "signed in";

    /// The outcome column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::SignedIn => Self::SIGNED_IN,
            SignInOutcome::Refused(why) => why,
            SignInOutcome::AccessDenied => "access_denied",
        }
    }

    pub fn is_success(self) -> bool {
        self == SignInOutcome::SignedIn
    }

    /// Whether an outcome column's text says the member signed in.
    pub fn text_is_success(text: &str) -> bool {
        text == Self::SIGNED_IN
    }

    /// Outcomes only the tenant's admins can fix (iMIS down or unreachable, a refused client
    /// secret, a background account that cannot read profiles, iMIS not set up), unlike a
    /// member's wrong password: what warnings are made of.
    const FOR_ADMINS: [&'static str; 4] = [
        "iMIS unavailable",
        "client secret refused",
        "profile unavailable",
        "not set up",
    ];

    pub fn is_for_admins(self) -> bool {
        Self::text_is_for_admins(self.as_str())
    }

    /// [`Self::is_for_admins`] of an outcome column's text.
    pub fn text_is_for_admins(text: &str) -> bool {
        Self::FOR_ADMINS.contains(&text)
    }
}

impl MembersError {
    /// What this failure is as a sign-in outcome.
    pub fn outcome(&self) -> SignInOutcome {
        SignInOutcome::Refused(match self {
            MembersError::Invalid(_) => "invalid input",
            MembersError::NotConfigured(_) => "not set up",
            MembersError::MissingRefreshToken => "no refresh token",
            MembersError::TokenRefused(_) => "refresh token refused",
            MembersError::ClientRefused(_) => "client secret refused",
            MembersError::ImisUnavailable(_) => "iMIS unavailable",
            MembersError::ProfileUnavailable(_) => "profile unavailable",
            MembersError::BadCredentials => "wrong password",
            MembersError::TooManyAttempts { .. } => "too many attempts",
            MembersError::NotFound => "not found",
            MembersError::ResetLinkInvalid => "reset link invalid",
            MembersError::Storage(_) | MembersError::Settings(_) | MembersError::Hashing(_) => {
                "internal error"
            }
        })
    }

    /// Sorts an iMIS failure during sign-in by what the member and the admin can do about it.
    pub(crate) fn from_imis(error: ImisError) -> Self {
        match error {
            ImisError::InvalidGrant(_) => MembersError::TokenRefused(error),
            ImisError::InvalidClient(_) => MembersError::ClientRefused(error),
            error if error.is_transient() => MembersError::ImisUnavailable(error),
            error => MembersError::ProfileUnavailable(error),
        }
    }
}

impl From<vestibule_staff::StaffError> for MembersError {
    fn from(error: vestibule_staff::StaffError) -> Self {
        match error {
            vestibule_staff::StaffError::InvalidInput(invalid) => MembersError::Invalid(invalid),
            other => MembersError::Hashing(other.to_string()),
        }
    }
}

impl From<InvalidInput> for MembersError {
    fn from(error: InvalidInput) -> Self {
        MembersError::Invalid(error)
    }
}
