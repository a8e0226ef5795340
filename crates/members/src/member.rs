use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vestibule_domain::IdentitySource;
use vestibule_imis::Profile;
use vestibule_storage::DirectoryMemberRecord;

/// A signed-in member as every identity source describes them. The protocols turn this into
/// OpenID Connect claims and SAML attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub source: IdentitySource,
    /// Stable and unique within the tenant: `imis:<iMIS ID>` or `directory:<username>`.
    pub subject: String,
    /// The iMIS ID, or the directory username.
    pub id: String,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// The name to greet the member with.
    pub name: String,
    /// Everything the source said about the member (for iMIS, the profile IQA's row).
    pub attributes: BTreeMap<String, String>,
}

impl Member {
    /// A member from the profile IQA's row. `username` is what iMIS's token answer named.
    pub(crate) fn from_imis(username: &str, profile: Profile) -> Option<Self> {
        let id = profile.imis_id()?.to_string();
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| profile.get(name))
                .unwrap_or_default()
                .to_string()
        };
        let given_name = get(&["FirstName", "First_Name", "GivenName"]);
        let family_name = get(&["LastName", "Last_Name", "FamilyName"]);
        let mut name = get(&["FullName", "Full_Name", "Name"]);
        if name.is_empty() {
            name = format!("{given_name} {family_name}").trim().to_string();
        }
        if name.is_empty() {
            name = username.to_string();
        }
        // The row is the one whose username is the token's (`Imis::profile` checked it): the
        // spelling in iMIS's record wins.
        let username = profile.username().unwrap_or(username).to_string();
        Some(Member {
            source: IdentitySource::Imis,
            subject: format!("imis:{id}"),
            id,
            username,
            email: get(&["Email", "EmailAddress", "Email_Address"]),
            given_name,
            family_name,
            name,
            attributes: profile.properties,
        })
    }

    pub(crate) fn from_directory(record: &DirectoryMemberRecord) -> Self {
        let mut name = format!("{} {}", record.given_name, record.family_name)
            .trim()
            .to_string();
        if name.is_empty() {
            name = record.username.clone();
        }
        let attributes = BTreeMap::from([
            ("Username".to_string(), record.username.clone()),
            ("Email".to_string(), record.email.clone()),
            ("FirstName".to_string(), record.given_name.clone()),
            ("LastName".to_string(), record.family_name.clone()),
            ("FullName".to_string(), name.clone()),
        ]);
        Member {
            source: IdentitySource::Directory,
            subject: record.subject.clone(),
            id: record.username.clone(),
            username: record.username.clone(),
            email: record.email.clone(),
            given_name: record.given_name.clone(),
            family_name: record.family_name.clone(),
            name,
            attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imis_profile_maps_to_member() {
        let profile = Profile {
            properties: BTreeMap::from([
                ("ID".to_string(), "23201".to_string()),
                ("FirstName".to_string(), "Jane".to_string()),
                ("LastName".to_string(), "Member".to_string()),
                ("Email".to_string(), "jane@example.org".to_string()),
                ("MemberType".to_string(), "REG".to_string()),
            ]),
        };
        let member = Member::from_imis("jane", profile).unwrap();
        assert_eq!(member.subject, "imis:23201");
        assert_eq!(member.name, "Jane Member");
        assert_eq!(member.username, "jane");
        assert_eq!(member.attributes["MemberType"], "REG");
        assert!(Member::from_imis("jane", Profile::default()).is_none());
    }
}
