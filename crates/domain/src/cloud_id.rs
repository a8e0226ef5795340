use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// A tenant's public identifier ("Cloud ID"), used in dashboard URLs and the CLI.
///
/// Lowercase ASCII letters, digits and single hyphens; 3 to 40 characters; starts with a letter and
/// does not end with a hyphen. The shape keeps it safe in URLs, DNS labels and file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CloudId(String);

impl CloudId {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 40;

    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let value = input.trim().to_ascii_lowercase();
        let invalid = |message: &str| Err(InvalidInput::new("cloud_id", message));
        if value.len() < Self::MIN_LEN || value.len() > Self::MAX_LEN {
            return invalid("A Cloud ID is 3 to 40 characters long.");
        }
        if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            return invalid("A Cloud ID starts with a letter.");
        }
        if value.ends_with('-') || value.contains("--") {
            return invalid("A Cloud ID cannot end with a hyphen or contain two in a row.");
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return invalid("A Cloud ID uses only letters, digits and hyphens.");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CloudId {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CloudId {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CloudId> for String {
    fn from(value: CloudId) -> Self {
        value.0
    }
}

impl fmt::Display for CloudId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            CloudId::parse("  Acme-Assoc1 ").map(|c| c.to_string()),
            Ok("acme-assoc1".to_string())
        );
    }

    #[test]
    fn refuses_bad_shapes() {
        for bad in [
            "",
            "ab",
            "1acme",
            "acme-",
            "ac--me",
            "acme_assoc",
            "acmé",
            &"a".repeat(41),
        ] {
            assert!(CloudId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
