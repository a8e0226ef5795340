use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// An e-mail address used as a staff sign-in name, trimmed and lowercased so that lookups are
/// case-insensitive. Only the shape is checked; ownership is proved by the setup link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let value = input.trim().to_lowercase();
        let invalid = || {
            Err(InvalidInput::new(
                "email",
                "Enter an e-mail address like name@example.org.",
            ))
        };
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return invalid();
        }
        let Some((local, domain)) = value.split_once('@') else {
            return invalid();
        };
        let well_formed = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return invalid();
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            Email::parse(" Staff@Example.ORG ").map(|e| e.to_string()),
            Ok("staff@example.org".to_string())
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "no-at",
            "@example.org",
            "a@b",
            "a@.org",
            "a b@example.org",
            "a@b@c.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
