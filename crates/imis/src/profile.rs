use std::collections::BTreeMap;

use serde_json::Value;

use crate::ImisError;

/// A member's profile as the IQA query returned it: property names to values, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub properties: BTreeMap<String, String>,
}

impl Profile {
    /// A property by name, ignoring case, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// The iMIS ID (the contact's key), under the names IQA queries commonly use.
    pub fn imis_id(&self) -> Option<&str> {
        ["ID", "Id", "ContactKey", "PartyId"]
            .iter()
            .find_map(|name| self.get(name))
    }
}

/// `$values` of an iMIS collection, or the value itself when it is already a plain array.
fn values(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(object) => object.get("$values").and_then(Value::as_array),
        _ => None,
    }
}

/// A property value as text: strings, numbers and booleans, or the `$value` of a typed wrapper.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(object) => object.get("$value").map(text).unwrap_or_default(),
        _ => String::new(),
    }
}

impl Profile {
    /// The username the row belongs to, under the names IQA queries commonly use.
    pub fn username(&self) -> Option<&str> {
        ["UserName", "Username", "LoginName"]
            .iter()
            .find_map(|name| self.get(name))
    }
}

/// Every row of an IQA `PagedResult`.
pub(crate) fn parse_iqa(body: &Value) -> Result<Vec<Profile>, ImisError> {
    let rows = body
        .get("Items")
        .and_then(values)
        .ok_or(ImisError::NoProfile)?;
    rows.iter()
        .map(|row| {
            let properties = row
                .get("Properties")
                .and_then(values)
                .ok_or(ImisError::NoProfile)?;
            let mut profile = Profile::default();
            for property in properties {
                if let Some(name) = property.get("Name").and_then(Value::as_str) {
                    let value = property.get("Value").map(text).unwrap_or_default();
                    profile.properties.insert(name.to_string(), value);
                }
            }
            Ok(profile)
        })
        .collect()
}

/// The one row that belongs to `username` (compared as iMIS does, ignoring case). A loose
/// filter that returns other members' rows must never sign the member in as one of them, so
/// anything but exactly one row with that username is refused.
pub(crate) fn row_of(rows: Vec<Profile>, username: &str) -> Result<Profile, ImisError> {
    if rows.is_empty() {
        return Err(ImisError::NoProfile);
    }
    if rows.iter().all(|row| row.username().is_none()) {
        return Err(ImisError::ProfileWithoutUsername);
    }
    let total = rows.len();
    let mut matching: Vec<Profile> = rows
        .into_iter()
        .filter(|row| {
            row.username()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case(username.trim()))
        })
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        count => Err(ImisError::ProfileNotUnique {
            username: username.to_string(),
            matching: count,
            other: total - count,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_and_plain_values() {
        let body = serde_json::json!({
            "$type": "Asi.Soa.Core.DataContracts.PagedResult, Asi.Contracts",
            "Items": { "$values": [ { "Properties": { "$values": [
                { "Name": "ID", "Value": "23201" },
                { "Name": "Dues", "Value": { "$type": "System.Decimal", "$value": 120.5 } },
                { "Name": "Active", "Value": true },
                { "Name": "Empty", "Value": null },
            ] } } ] },
        });
        let profile = parse_iqa(&body).unwrap().remove(0);
        assert_eq!(profile.imis_id(), Some("23201"));
        assert_eq!(profile.get("dues"), Some("120.5"));
        assert_eq!(profile.get("Active"), Some("true"));
        assert_eq!(profile.get("Empty"), None);
    }

    fn row(id: &str, username: Option<&str>) -> Profile {
        let mut profile = Profile::default();
        profile.properties.insert("ID".into(), id.into());
        if let Some(username) = username {
            profile
                .properties
                .insert("UserName".into(), username.into());
        }
        profile
    }

    /// Review finding: a loose IQA filter signed a member in as whoever came first.
    #[test]
    fn only_the_one_row_of_the_member_signing_in_is_taken() {
        let loose = vec![row("1", Some("bob")), row("2", Some("Jane"))];
        assert_eq!(row_of(loose.clone(), "jane").unwrap().imis_id(), Some("2"));
        assert!(matches!(
            row_of(loose, "omar"),
            Err(ImisError::ProfileNotUnique {
                matching: 0,
                other: 2,
                ..
            })
        ));
        let twice = vec![row("1", Some("jane")), row("2", Some("jane"))];
        assert!(matches!(
            row_of(twice, "jane"),
            Err(ImisError::ProfileNotUnique { matching: 2, .. })
        ));
        assert_eq!(
            row_of(vec![row("1", None)], "jane"),
            Err(ImisError::ProfileWithoutUsername)
        );
        assert_eq!(row_of(Vec::new(), "jane"), Err(ImisError::NoProfile));
    }

    #[test]
    fn no_rows_is_no_profile() {
        let body = serde_json::json!({ "Items": { "$values": [] }, "HasNext": false });
        assert_eq!(parse_iqa(&body), Ok(Vec::new()));
        assert_eq!(parse_iqa(&serde_json::json!({})), Err(ImisError::NoProfile));
    }
}
