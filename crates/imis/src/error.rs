/// What went wrong talking to iMIS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImisError {
    #[error("the iMIS address is not usable: {0}")]
    InvalidBaseUrl(String),
    /// An address the outbound guard does not call (another document than iMIS's).
    #[error("the address is not usable: {0}")]
    AddressRefused(String),
    /// A document (not iMIS) answered with something else than 200.
    #[error("{url} answered HTTP {status}, not the document")]
    DocumentStatus { url: String, status: u16 },
    #[error("could not fetch {url}: {detail}")]
    DocumentUnreachable { url: String, detail: String },
    #[error("{0} did not answer with a text document of at most 1 MB")]
    DocumentTooLarge(String),
    #[error("could not connect to iMIS at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("iMIS did not answer within {seconds} seconds ({url})")]
    Timeout { url: String, seconds: u64 },
    /// `/token` said `invalid_grant`: the refresh token was used, expired or never issued, or
    /// the username or password is wrong.
    #[error("iMIS refused the grant: {0}")]
    InvalidGrant(String),
    /// `/token` said `invalid_client`: the client id or secret in Settings does not match the
    /// RiSE Client Application.
    #[error("iMIS does not accept the client id and secret: {0}")]
    InvalidClient(String),
    #[error("iMIS refused the access token (HTTP 401)")]
    Unauthorized,
    #[error("iMIS denied access to this record (HTTP 403); the account may lack permission")]
    Forbidden,
    #[error("iMIS has no such record")]
    NotFound,
    #[error("the IQA query returned no profile for this user")]
    NoProfile,
    /// The profile IQA's rows do not say whose they are, so none can be trusted to be the
    /// signed-in member's.
    #[error("the profile IQA returns no UserName column, so its rows cannot be matched to the member signing in; add UserName to the query")]
    ProfileWithoutUsername,
    /// The profile IQA did not return exactly one row for the username iMIS's token named
    /// (a filter that is too loose, or none at all).
    #[error("the profile IQA returned {matching} rows for {username} (and {other} for other users); it must return exactly that member's row: check its filter on the username parameter")]
    ProfileNotUnique {
        username: String,
        matching: usize,
        other: usize,
    },
    #[error("iMIS answered HTTP {status} from {url}: {detail}")]
    Unexpected {
        url: String,
        status: u16,
        detail: String,
    },
}

impl ImisError {
    /// Whether trying again later may help (iMIS down or slow), as opposed to a configuration or
    /// credential problem.
    pub fn is_transient(&self) -> bool {
        match self {
            ImisError::Unreachable { .. } | ImisError::Timeout { .. } => true,
            ImisError::Unexpected { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
