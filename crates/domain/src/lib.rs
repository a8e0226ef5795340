//! Domain types for Vestibule.
//!
//! Everything that crosses from the outside world into an engine is parsed into one of these
//! types first ("parse, don't validate"), so engines never see an unchecked Cloud ID or e-mail.

mod address;
mod cloud_id;
mod email;
mod identity_source;
mod session;
mod sso_domain;
mod staff;
mod time;

pub use address::{check_app_address, web_origin, ClientAddress};
pub use cloud_id::CloudId;
pub use email::Email;
pub use identity_source::IdentitySource;
pub use session::{SessionCheck, SessionLifetime};
pub use sso_domain::{app_domain, DomainState, ProvisioningPhase, SiteAddress};
pub use staff::{Role, StaffId, StaffMember, Tenant, TenantAccess, TenantId};
pub use time::{Seconds, Timestamp};

/// Input that does not satisfy a domain rule. The message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
