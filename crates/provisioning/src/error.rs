use vestibule_storage::{Conflict, StorageError};

/// Everything that can go wrong with a tenant's domain. Messages are written for the staff
/// member on the Domain Setup page (or the operator at the CLI) and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("{0}")]
    InvalidDomain(String),
    #[error("{0} is already used by another Cloud ID. Each domain can serve one Cloud ID; choose another name or ask the other organisation to release it.")]
    DomainTaken(String),
    #[error(
        "This Cloud ID already holds {} domains. Release one before adding another.",
        vestibule_storage::MAX_DOMAINS_PER_TENANT
    )]
    AlreadyHasDomain,
    #[error("This Cloud ID has no domain yet.")]
    NoDomain,
    #[error("This Cloud ID has no domain of that name.")]
    NoSuchDomain,
    #[error("Only a domain whose provisioning failed can be retried.")]
    NotFailed,
    #[error("No such Cloud ID.")]
    NoTenant,
    /// The domain was released while its job ran; the job stops quietly.
    #[error("The domain was released while it was being provisioned.")]
    Cancelled,
    /// The DNS check found something other than the expected CNAME, or could not get an answer.
    #[error("{0}")]
    Dns(String),
    /// A CAA record forbids the certificate authority Vestibule uses.
    #[error("{0}")]
    Caa(String),
    /// The certificate authority could not be reached or refused the order.
    #[error("{0}")]
    Acme(String),
    /// The certificate authority could not be reached or asked us to come back later; the job
    /// retries with backoff.
    #[error("{0}")]
    AcmeUnavailable(String),
    /// A sealed secret did not open: the secret key changed or the data was altered.
    #[error("stored secret cannot be opened: {0}")]
    Seal(#[from] vestibule_secrets::SealError),
    #[error("certificate problem: {0}")]
    Certificate(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for ProvisioningError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict(Conflict::TenantDomain) => ProvisioningError::AlreadyHasDomain,
            other => ProvisioningError::Storage(other),
        }
    }
}
