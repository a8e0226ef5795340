use vestibule_secrets::SealError;
use vestibule_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A JWS that is malformed, signed with another algorithm or key, or whose signature does
    /// not verify. Deliberately one variant: callers must not learn which check failed.
    #[error("the token is not valid")]
    InvalidToken,
    /// Input a tenant admin can correct.
    #[error("{0}")]
    Invalid(vestibule_domain::InvalidInput),
    #[error("no such client application")]
    NoSuchClient,
    /// Unknown client or wrong secret, deliberately the same.
    #[error("client authentication failed")]
    InvalidClient,
    /// Too many failed client authentications from one address.
    #[error("too many failed client authentications; try again in {} seconds", retry_after.0)]
    TooManyAttempts {
        retry_after: vestibule_domain::Seconds,
    },
    /// An HS512 application whose secrets were stored before HS512 signed with them (hashes
    /// only): rotating its secret makes one that can sign.
    #[error("the HS512 application has no secret that can sign; rotate its client secret")]
    NoHs512Secret,
    #[error("{0} is not an RSA algorithm")]
    NotRsa(&'static str),
    #[error("a signing key could not be made or read: {0}")]
    Key(String),
    /// The built-in test relying party could not finish the app's sign-in.
    #[error("the test sign-in stopped: {0}")]
    TestStopped(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Seal(#[from] SealError),
}
