//! Where a tenant's members sign in: a setting the dashboard writes and every sign-in reads.

use serde::{Deserialize, Serialize};

/// Where a tenant's members sign in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentitySource {
    /// The tenant's iMIS, through its SSO page and the RiSE client application: the default.
    #[default]
    Imis,
    /// Vestibule's built-in member directory.
    Directory,
}

impl IdentitySource {
    /// The stored form; anything but `directory` is iMIS, the default.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "directory" => IdentitySource::Directory,
            _ => IdentitySource::Imis,
        }
    }

    /// What a form sent: `imis` (or nothing) or `directory`; anything else is refused.
    pub fn from_form(value: &str) -> Option<Self> {
        match value.trim() {
            "" | "imis" => Some(IdentitySource::Imis),
            "directory" => Some(IdentitySource::Directory),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Imis => "imis",
            IdentitySource::Directory => "directory",
        }
    }
}
