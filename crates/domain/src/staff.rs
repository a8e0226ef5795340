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
    /// Sees their own Cloud ID and changes nothing in it (their own account aside): for help
    /// desks, auditors and vendors' integrators who need to look, not to touch.
    TenantViewer(TenantId),
}

/// What a member of a Cloud ID's team may do there: the part of [`Role`] its admins choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantAccess {
    Admin,
    ReadOnly,
}

impl TenantAccess {
    /// As forms and the database spell it: `admin`, `read_only`.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantAccess::Admin => "admin",
            TenantAccess::ReadOnly => "read_only",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        match value {
            "admin" => Ok(TenantAccess::Admin),
            "read_only" => Ok(TenantAccess::ReadOnly),
            _ => Err(InvalidInput::new("access", "Choose Admin or Read-only.")),
        }
    }

    /// The role of a member of `tenant`'s team with this access.
    pub fn role(self, tenant: TenantId) -> Role {
        match self {
            TenantAccess::Admin => Role::TenantAdmin(tenant),
            TenantAccess::ReadOnly => Role::TenantViewer(tenant),
        }
    }
}

impl Role {
    /// Whether the staff member may see `tenant`'s Cloud ID.
    pub fn can_access(&self, tenant: TenantId) -> bool {
        match self {
            Role::Operator => true,
            Role::TenantAdmin(own) | Role::TenantViewer(own) => *own == tenant,
        }
    }

    /// Whether the staff member may change anything in `tenant`'s Cloud ID.
    pub fn can_change(&self, tenant: TenantId) -> bool {
        match self {
            Role::Operator => true,
            Role::TenantAdmin(own) => *own == tenant,
            Role::TenantViewer(_) => false,
        }
    }

    /// The tenant a member of a Cloud ID's team belongs to; `None` for operators.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Role::Operator => None,
            Role::TenantAdmin(tenant) | Role::TenantViewer(tenant) => Some(*tenant),
        }
    }

    /// What a member of a Cloud ID's team may do there; `None` for operators.
    pub fn tenant_access(&self) -> Option<TenantAccess> {
        match self {
            Role::Operator => None,
            Role::TenantAdmin(_) => Some(TenantAccess::Admin),
            Role::TenantViewer(_) => Some(TenantAccess::ReadOnly),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Role::Operator)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::TenantAdmin(_) => "tenant admin",
            Role::TenantViewer(_) => "read-only",
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
