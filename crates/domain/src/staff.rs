use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CloudId, Email, InvalidInput, Timestamp};

/// Database key of a tenant. Never shown to people: URLs and the CLI use the [`CloudId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub i64);

/// Database key of a staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StaffId(pub i64);

/// A member association renting Vestibule, known to its staff by its Cloud ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub cloud_id: CloudId,
    pub display_name: String,
    pub created_at: Timestamp,
}

impl Tenant {
    pub const DISPLAY_NAME_MAX: usize = 120;

    /// Trims and checks a display name as typed into the dashboard or the CLI.
    pub fn parse_display_name(input: &str) -> Result<String, InvalidInput> {
        let name = input.trim();
        if name.is_empty() {
            return Err(InvalidInput::new("display_name", "Enter a display name."));
        }
        if name.chars().count() > Self::DISPLAY_NAME_MAX {
            return Err(InvalidInput::new(
                "display_name",
                "A display name is at most 120 characters.",
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "display_name",
                "A display name cannot contain control characters.",
            ));
        }
        Ok(name.to_string())
    }
}

/// What a staff member may do in the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Runs the platform: creates tenants and sees every Cloud ID.
    Operator,
    /// Sees and changes only their own Cloud ID.
    TenantAdmin(TenantId),
}

impl Role {
    pub fn can_access(&self, tenant: TenantId) -> bool {
        match self {
            Role::Operator => true,
            Role::TenantAdmin(own) => *own == tenant,
        }
    }

    /// The tenant a tenant admin belongs to; `None` for operators.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Role::Operator => None,
            Role::TenantAdmin(tenant) => Some(*tenant),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Role::Operator)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::TenantAdmin(_) => "tenant admin",
        }
    }
}

/// A person who signs in to the Cloud Dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: StaffId,
    pub email: Email,
    pub role: Role,
    /// The Cloud ID of a tenant admin's tenant; `None` for operators.
    pub cloud_id: Option<CloudId>,
    /// False until the person has chosen a password through their setup link.
    pub has_password: bool,
    pub created_at: Timestamp,
}

impl fmt::Display for StaffMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cloud_id {
            Some(cloud_id) => write!(f, "{} ({} of {})", self.email, self.role.label(), cloud_id),
            None => write!(f, "{} ({})", self.email, self.role.label()),
        }
    }
}
