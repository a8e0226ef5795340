use vestibule_secrets::SealError;
use vestibule_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A JWS that is malformed, signed with another algorithm or key, or whose signature does
    /// not verify. Deliberately one variant: callers must not learn which check failed.
    #[error("the token is not valid")]
    InvalidToken,
    #[error("{0} is not an RSA algorithm")]
    NotRsa(&'static str),
    #[error("a signing key could not be made or read: {0}")]
    Key(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Seal(#[from] SealError),
}
