use vestibule_storage::StorageError;

/// Why a message could not be queued or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The SMTP settings cannot work (an unreadable certificate, a bad address).
    #[error("e-mail settings: {0}")]
    Settings(String),
    /// The message itself cannot be sent (a header lettre refuses); retrying will not help.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP server refused for good (a 5xx answer: no such mailbox, not allowed to relay).
    #[error("the mail server refused the message: {0}")]
    Rejected(String),
    /// Worth another try later: no connection, a timeout, a 4xx answer, a TLS failure.
    #[error("could not reach the mail server: {0}")]
    Unavailable(String),
    /// A sealed body that does not open under this installation's key.
    #[error("the message body does not open: {0}")]
    Sealed(String),
}
