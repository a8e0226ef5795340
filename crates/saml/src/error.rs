use vestibule_secrets::SealError;
use vestibule_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// Input a tenant admin can correct.
    #[error("{0}")]
    Invalid(vestibule_domain::InvalidInput),
    #[error("no such SAML app")]
    NoSuchApp,
    /// The signing key or certificate could not be made or read.
    #[error("a SAML signing key could not be made or read: {0}")]
    Key(String),
    /// libxmlsec1 refused to sign the document.
    #[error("the SAML document could not be signed: {0}")]
    Signing(String),
    /// The assertion could not be encrypted to the service provider's key.
    #[error("the SAML assertion could not be encrypted: {0}")]
    Encryption(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Seal(#[from] SealError),
}
