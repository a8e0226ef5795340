//! Vestibule's storage engine.
//!
//! One [`Store`] serves both SQLite (the embedded default) and PostgreSQL (several server nodes).
//! Queries are written once in the SQL both dialects share (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT`) and run through sqlx's runtime API; the conformance suite in `tests/` runs every
//! query against both databases. Compile-time checked macros are not used because they bind a
//! crate to a single database.
//!
//! Storage speaks domain types only: it never sees HTTP requests and never returns HTTP errors.

mod audit;
mod changes;
mod domains;
mod error;
mod exchanges;
mod mail;
mod members;
mod oidc_clients;
mod oidc_grants;
mod oidc_keys;
mod progress;
mod saml_apps;
mod saml_keys;
mod saml_metadata;
mod saml_sessions;
mod second_factor;
mod sessions;
mod settings;
mod sqlite_pool;
mod staff;
mod store;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditEventRecord, AuditFilter};
pub use changes::CertificateChanges;
pub use domains::{CertificateRecord, DomainRecord, JobOutcome, JobQueue, MAX_DOMAINS_PER_TENANT};
pub use error::{Conflict, StorageError};
pub use exchanges::{ExchangeApp, ExchangeRecord};
pub use mail::{MailRecord, MemberResetRecord, NewMailRecord, OutboxCounts};
pub use members::{
    DirectoryMemberRecord, LogoRecord, MemberSessionRecord, PendingSignInRecord, SignInEventRecord,
};
pub use oidc_clients::{
    ClientSecretChange, ClientSecretRecord, NewClientSecret, OidcCaller, OidcClientRecord,
};
pub use oidc_grants::{AccessTokenRecord, CodeRecord, CodeRedemption, Redeemed};
pub use oidc_keys::SigningKeyRecord;
pub use progress::TenantProgressRecord;
pub use saml_apps::SamlAppRecord;
pub use saml_keys::SamlKeyRecord;
pub use saml_metadata::MetadataSubscriptionRecord;
pub use saml_sessions::{SamlParticipantRecord, SamlPendingRecord};
pub use second_factor::{PasskeyRecord, SecondFactorState, TotpRecord};
pub use settings::SettingsRecord;
pub use staff::{
    Failures, NewStaff, PasswordLimits, PasswordOutcome, SessionRecord, SetupTokenRecord,
    SignInAttempt, StaffCredentials, TeamChange,
};
pub use store::{Backend, Store};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
