//! An event in words: which action, and one line per field that changed
//! ("NameID format: email_address → persistent"), for people reading the log rather than
//! machines reading the CSV.

use serde_json::Value;

use crate::AuditAction;

/// One field that changed, its values as a person reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// `NameID format`, `iMIS › Base URL`.
    pub field: String,
    /// `None` when the field did not exist before (a creation, or a new field).
    pub before: Option<String>,
    /// `None` when the field is gone (a deletion).
    pub after: Option<String>,
}

impl FieldChange {
    /// `NameID format: email_address → persistent`, `Name: Events` (set), `Name: Events (removed)`.
    pub fn line(&self) -> String {
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => format!("{}: {before} → {after}", self.field),
            (None, Some(after)) => format!("{}: {after}", self.field),
            (Some(before), None) => format!("{}: {before} (removed)", self.field),
            (None, None) => self.field.clone(),
        }
    }
}

impl AuditAction {
    /// What happened, in words: `SAML app edited`.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::TenantCreate => "Cloud ID created",
            AuditAction::TeamInvite => "Staff member invited",
            AuditAction::TeamAdd => "Staff member added (command line)",
            AuditAction::TeamResend => "Invitation sent again",
            AuditAction::TeamRevoke => "Invitation revoked",
            AuditAction::TeamRemove => "Staff member removed",
            AuditAction::TeamAccessChange => "Staff member's access changed",
            AuditAction::TeamSecondFactorAdd => "Second factor added",
            AuditAction::TeamSecondFactorRemove => "Second factor removed",
            AuditAction::TeamSecondFactorRule => "Two-step verification rule changed",
            AuditAction::SettingsSave => "Settings saved",
            AuditAction::BrandingUploadLogo => "Logo uploaded",
            AuditAction::BrandingRemoveLogo => "Logo removed",
            AuditAction::DomainProvision => "Domain provisioning started",
            AuditAction::DomainRetry => "Domain provisioning retried",
            AuditAction::DomainRelease => "Domain released",
            AuditAction::DomainMakePrimary => "Primary domain changed",
            AuditAction::MemberAdd => "Directory member added",
            AuditAction::MemberSetPassword => "Directory member's password set",
            AuditAction::MemberRemove => "Directory member removed",
            AuditAction::OidcAppCreate => "OIDC app created",
            AuditAction::OidcAppUpdate => "OIDC app edited",
            AuditAction::OidcAppRotateSecret => "OIDC app secret rotated",
            AuditAction::OidcAppDelete => "OIDC app deleted",
            AuditAction::SamlAppCreate => "SAML app created",
            AuditAction::SamlAppUpdate => "SAML app edited",
            AuditAction::SamlAppDelete => "SAML app deleted",
            AuditAction::SamlAppMetadataSubscription => "SAML app's metadata subscription changed",
            AuditAction::SamlCertificatePrepare => "Next SAML certificate published",
            AuditAction::SamlCertificateRoll => "SAML certificate rolled over",
            AuditAction::SamlCertificatePostpone => "SAML certificate rollover postponed",
            AuditAction::FlightRecorderReveal => "Recorded exchange opened in full",
            AuditAction::TestSignInStart => "Test sign-in started",
            AuditAction::SignInSucceeded => "Member signed in",
            AuditAction::SignInFailed => "Member sign-in failed",
        }
    }

    /// The action a stored name stands for; `None` for names this version does not know.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }
}

/// The label a stored action name reads as: its words when known, else the name itself.
pub fn action_label(name: &str) -> String {
    AuditAction::parse(name).map_or_else(|| name.to_string(), |action| action.label().to_string())
}

/// The fields that differ between `before` and `after` (stored JSON, either absent), in
/// alphabetical order of their names. Nested objects read as `Parent › Field`; lists and multi-line texts
/// read as one comma-separated value; certificates and keys read as such, not as base64.
pub fn describe(before: Option<&str>, after: Option<&str>) -> Vec<FieldChange> {
    let parse = |text: Option<&str>| text.and_then(|text| serde_json::from_str::<Value>(text).ok());
    let (before, after) = (parse(before), parse(after));
    let mut leaves_before = Vec::new();
    let mut leaves_after = Vec::new();
    if let Some(before) = &before {
        flatten("", before, &mut leaves_before);
    }
    if let Some(after) = &after {
        flatten("", after, &mut leaves_after);
    }
    let lookup = |leaves: &[(String, Value)], path: &str| {
        leaves
            .iter()
            .find(|(key, _)| key == path)
            .map(|(_, value)| value.clone())
    };
    // Paths in `after`'s (alphabetical) order, then the ones only `before` has.
    let mut paths: Vec<&String> = leaves_after.iter().map(|(path, _)| path).collect();
    for (path, _) in &leaves_before {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let old = lookup(&leaves_before, path);
            let new = lookup(&leaves_after, path);
            if old == new {
                return None;
            }
            let (old, new) = checkbox_pair(old, new);
            let change = FieldChange {
                field: field_label(path),
                before: old.as_ref().map(value_text),
                after: new.as_ref().map(value_text),
            };
            // A creation lists what was set, not every empty field.
            let unset = |text: &Option<String>| text.as_deref().is_none_or(|t| t == EMPTY);
            (!(unset(&change.before) && unset(&change.after))).then_some(change)
        })
        .collect()
}

/// What an empty value reads as.
const EMPTY: &str = "(empty)";

/// Leaves of `value` with their dotted paths; lists are leaves.
fn flatten(prefix: &str, value: &Value, leaves: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, leaves);
            }
        }
        leaf => leaves.push((prefix.to_string(), leaf.clone())),
    }
}

/// A checkbox posts `"on"` when ticked and nothing when not: read the pair as on and off.
fn checkbox_pair(old: Option<Value>, new: Option<Value>) -> (Option<Value>, Option<Value>) {
    let on = |value: &Option<Value>| value.as_ref().and_then(Value::as_str) == Some("on");
    let off = |value: &Option<Value>| matches!(value, None | Some(Value::Null));
    let word = |text: &str| Some(Value::String(text.to_string()));
    if on(&old) && off(&new) {
        (word("on"), word("off"))
    } else if off(&old) && on(&new) {
        (old.is_some().then(|| word("off")).flatten(), word("on"))
    } else {
        (old, new)
    }
}

/// A leaf's value in words.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => EMPTY.to_string(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "no".to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string_text(text),
        Value::Array(items) if items.is_empty() => EMPTY.to_string(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => shorten(&value.to_string()),
    }
}

fn string_text(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return EMPTY.to_string();
    }
    if text == crate::REDACTED {
        return "(secret, not shown)".to_string();
    }
    if text.starts_with("-----BEGIN") {
        return if text.contains("CERTIFICATE") {
            "a certificate".to_string()
        } else {
            "a key".to_string()
        };
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    shorten(&lines.join(", "))
}

/// At most 120 characters, cut on a character boundary.
fn shorten(text: &str) -> String {
    const MOST: usize = 120;
    if text.chars().count() <= MOST {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MOST - 1).collect();
        format!("{cut}…")
    }
}

/// `imis.base_url` → `iMIS › Base URL`.
fn field_label(path: &str) -> String {
    path.split('.')
        .map(segment_label)
        .collect::<Vec<_>>()
        .join(" › ")
}

fn segment_label(key: &str) -> String {
    // Names an admin knows from the forms, where the field name alone reads poorly.
    let known = match key {
        "name_id_format" => Some("NameID format"),
        "sp_may_request_name_id_format" => {
            Some("Service provider may ask for another NameID format")
        }
        "unspecified_is_imis_id" => Some("Unspecified NameID is the iMIS ID"),
        "assertion_consumers" => Some("Assertion consumer services (ACS)"),
        "single_logout" => Some("Single logout URL"),
        "single_logout_binding" => Some("Single logout binding"),
        "signed" => Some("Signed parts"),
        "redirect_uris" => Some("Login redirect URLs"),
        "post_logout_redirect_uris" => Some("Logout redirect URLs"),
        "outcome" => Some("Outcome"),
        "typed_username" => Some("Username typed"),
        _ => None,
    };
    if let Some(label) = known {
        return label.to_string();
    }
    key.split('_')
        .filter(|word| !word.is_empty())
        .enumerate()
        .map(|(position, word)| match word {
            "id" => "ID".to_string(),
            "url" => "URL".to_string(),
            "urls" => "URLs".to_string(),
            "uri" => "URI".to_string(),
            "uris" => "URIs".to_string(),
            "imis" => "iMIS".to_string(),
            "saml" | "oidc" | "sp" | "idp" | "acs" | "slo" | "pkce" | "hs512" | "rs256" | "css" => {
                word.to_ascii_uppercase()
            }
            first if position == 0 => {
                let mut chars = first.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_uppercase().chain(chars).collect::<String>()
                })
            }
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(before: Option<&str>, after: Option<&str>) -> Vec<String> {
        describe(before, after)
            .iter()
            .map(FieldChange::line)
            .collect()
    }

    #[test]
    fn an_edit_reads_as_one_line_per_changed_field() {
        let before = r#"{"name":"Events","name_id_format":"email_address","attributes":"email = Email","require_signed_requests":null}"#;
        let after = r#"{"name":"Events","name_id_format":"persistent","attributes":"email = Email\nfirst = FirstName","require_signed_requests":"on"}"#;
        assert_eq!(
            lines(Some(before), Some(after)),
            [
                "Attributes: email = Email → email = Email, first = FirstName",
                "NameID format: email_address → persistent",
                "Require signed requests: off → on",
            ]
        );
    }

    #[test]
    fn nested_fields_secrets_and_certificates_read_as_words() {
        let before = r#"{"imis":{"base_url":"https://old.imis.test","background_password":"[redacted]"},"sp_certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}"#;
        let after = r#"{"imis":{"base_url":"https://new.imis.test","background_password":""},"sp_certificate":""}"#;
        assert_eq!(
            lines(Some(before), Some(after)),
            [
                "iMIS › Background password: (secret, not shown) → (empty)",
                "iMIS › Base URL: https://old.imis.test → https://new.imis.test",
                "SP certificate: a certificate → (empty)",
            ]
        );
    }

    #[test]
    fn a_creation_lists_what_was_set_and_a_deletion_what_was_removed() {
        let app = r#"{"name":"Events","entity_id":"https://sp.test","single_logout":"","redirect_uris":["https://a.test/cb","https://b.test/cb"]}"#;
        assert_eq!(
            lines(None, Some(app)),
            [
                "Entity ID: https://sp.test",
                "Name: Events",
                "Login redirect URLs: https://a.test/cb, https://b.test/cb",
            ]
        );
        assert_eq!(
            lines(Some(r#"{"domain":"sso.acme.test"}"#), None),
            ["Domain: sso.acme.test (removed)"]
        );
    }

    #[test]
    fn long_values_are_cut_and_unparsable_ones_give_no_lines() {
        let long = "x".repeat(300);
        let after = format!(r#"{{"name":"{long}"}}"#);
        let described = describe(None, Some(&after));
        assert_eq!(described[0].after.as_ref().unwrap().chars().count(), 120);
        assert!(describe(Some("not json"), None).is_empty());
    }

    #[test]
    fn every_action_has_words_and_unknown_names_read_as_themselves() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert!(!action.label().contains('.'), "{action}");
        }
        assert_eq!(action_label("saml_app.update"), "SAML app edited");
        assert_eq!(action_label("future.thing"), "future.thing");
    }
}
