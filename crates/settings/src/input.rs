//! What the Settings form sends, and the rules it must meet.

use http::Uri;
use vestibule_imis::{is_public, Network};

/// A problem with one field, worded for the tenant admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// The Settings form. Secret fields left empty keep the stored secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsInput {
    pub imis_base_url: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    pub oidc_sso_page: String,
    pub saml_client_id: String,
    pub saml_client_secret: String,
    pub saml_sso_page: String,
    pub api_username: String,
    pub api_password: String,
    pub profile_iqa: String,
    pub brand_name: String,
    pub brand_colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    /// `imis` or `directory`; empty means `imis`.
    pub identity_source: String,
    /// Where members sign out of iMIS itself: a path on the iMIS site or a full address on
    /// it; empty when not named.
    pub imis_sign_out_url: String,
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.ends_with(".localhost")
}

/// Checks an absolute URL: https at a public address, or (only with the development network
/// setting, for the emulator) private addresses too and plain http on this machine. No user
/// information, no fragment.
fn check_url(
    field: &'static str,
    value: &str,
    what: &str,
    network: Network,
) -> Result<Uri, FieldError> {
    if value.contains('#') || value.contains('@') {
        return Err(FieldError::new(
            field,
            format!("{what} must be a plain address, without a # part or a user@ part."),
        ));
    }
    let uri: Uri = value
        .parse()
        .map_err(|_| FieldError::new(field, format!("{what} is not a web address.")))?;
    let host = uri.host().unwrap_or_default();
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>();
    if network == Network::PublicOnly && literal.is_ok_and(|ip| !is_public(ip)) {
        return Err(FieldError::new(
            field,
            format!("{what} must be on the internet: Vestibule does not call private addresses."),
        ));
    }
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if network == Network::Development && is_loopback(host) => Ok(uri),
        Some("http") => Err(FieldError::new(
            field,
            format!("{what} must start with https:// so passwords and tokens stay encrypted."),
        )),
        _ => Err(FieldError::new(
            field,
            format!("{what} must be a full address starting with https://."),
        )),
    }
}

impl SettingsInput {
    /// Trims every field and checks the rules; every problem is reported, not only the first.
    pub(crate) fn validated(mut self, network: Network) -> Result<Self, Vec<FieldError>> {
        for field in [
            &mut self.imis_base_url,
            &mut self.oidc_client_id,
            &mut self.oidc_sso_page,
            &mut self.saml_client_id,
            &mut self.saml_sso_page,
            &mut self.api_username,
            &mut self.profile_iqa,
            &mut self.brand_name,
            &mut self.brand_colour,
            &mut self.sign_in_text,
            &mut self.support_contact,
            &mut self.imis_sign_out_url,
        ] {
            *field = field.trim().to_string();
        }
        self.imis_base_url = self.imis_base_url.trim_end_matches('/').to_string();
        let mut errors = Vec::new();
        match vestibule_domain::IdentitySource::from_form(&self.identity_source) {
            Some(source) => self.identity_source = source.as_str().to_string(),
            None => errors.push(FieldError::new(
                "identity_source",
                "Choose whether members sign in with iMIS or with the member directory.",
            )),
        }

        let mut base_host = None;
        if !self.imis_base_url.is_empty() {
            match check_url(
                "imis_base_url",
                &self.imis_base_url,
                "The iMIS address",
                network,
            ) {
                Ok(uri) if uri.query().is_some() => errors.push(FieldError::new(
                    "imis_base_url",
                    "Enter the iMIS address without anything after \"?\".",
                )),
                Ok(uri) => base_host = uri.host().map(str::to_ascii_lowercase),
                Err(error) => errors.push(error),
            }
        }
        for (field, value, what) in [
            (
                "oidc_sso_page",
                &self.oidc_sso_page,
                "The OpenID Connect SSO page",
            ),
            ("saml_sso_page", &self.saml_sso_page, "The SAML SSO page"),
            (
                "imis_sign_out_url",
                &self.imis_sign_out_url,
                "The iMIS sign-out page",
            ),
        ] {
            if value.is_empty() || value.starts_with('/') {
                continue;
            }
            match check_url(field, value, what, network) {
                Ok(uri) => {
                    let host = uri.host().map(str::to_ascii_lowercase);
                    if base_host.is_some() && host != base_host {
                        errors.push(FieldError::new(
                            field,
                            format!("{what} must be on the iMIS site ({}).", self.imis_base_url),
                        ));
                    }
                }
                Err(error) => errors.push(error),
            }
        }
        for (field, value, what, max) in [
            (
                "oidc_client_id",
                &self.oidc_client_id,
                "The OpenID Connect client id",
                200,
            ),
            (
                "saml_client_id",
                &self.saml_client_id,
                "The SAML client id",
                200,
            ),
            (
                "api_username",
                &self.api_username,
                "The background account's username",
                200,
            ),
        ] {
            if value.chars().count() > max || value.chars().any(char::is_whitespace) {
                errors.push(FieldError::new(
                    field,
                    format!("{what} has no spaces and is at most {max} characters."),
                ));
            }
        }
        for (field, value, what) in [
            (
                "oidc_client_secret",
                &self.oidc_client_secret,
                "The OpenID Connect client secret",
            ),
            (
                "saml_client_secret",
                &self.saml_client_secret,
                "The SAML client secret",
            ),
            (
                "api_password",
                &self.api_password,
                "The background account's password",
            ),
        ] {
            if value.chars().count() > 500 || value.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    field,
                    format!("{what} is too long or has control characters."),
                ));
            }
        }
        if !self.profile_iqa.is_empty()
            && (!self.profile_iqa.starts_with("$/") || self.profile_iqa.chars().count() > 300)
        {
            errors.push(FieldError::new(
                "profile_iqa",
                "The profile IQA is the query's path in iMIS, starting with $/ (for example $/ContactManagement/DefaultSystem/Queries/MemberProfile).",
            ));
        }
        let colour_ok = self.brand_colour.is_empty()
            || (self.brand_colour.len() == 7
                && self.brand_colour.starts_with('#')
                && self.brand_colour[1..]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit()));
        if !colour_ok {
            errors.push(FieldError::new(
                "brand_colour",
                "The colour is a hex value like #1f5fbf.",
            ));
        }
        for (field, value, what, max) in [
            ("brand_name", &self.brand_name, "The display name", 120),
            ("sign_in_text", &self.sign_in_text, "The sign-in text", 1000),
            (
                "support_contact",
                &self.support_contact,
                "The support contact",
                200,
            ),
        ] {
            let bad_control = value
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r');
            if value.chars().count() > max || bad_control {
                errors.push(FieldError::new(
                    field,
                    format!("{what} is at most {max} characters."),
                ));
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(input: SettingsInput) -> Vec<&'static str> {
        fields_on(input, Network::PublicOnly)
    }

    fn fields_on(input: SettingsInput, network: Network) -> Vec<&'static str> {
        input
            .validated(network)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn accepts_a_typical_form_and_normalises_it() {
        let input = SettingsInput {
            imis_base_url: " https://members.acme.org/ ".into(),
            oidc_client_id: "vestibule-oidc".into(),
            oidc_sso_page: "/sso/oidc".into(),
            saml_sso_page: "https://members.acme.org/sso/saml".into(),
            profile_iqa: "$/Vestibule/MemberProfile".into(),
            brand_colour: "#1F5FBF".into(),
            ..SettingsInput::default()
        };
        let checked = input.validated(Network::PublicOnly).unwrap();
        assert_eq!(checked.imis_base_url, "https://members.acme.org");
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let input = SettingsInput {
            imis_base_url: "http://members.acme.org".into(),
            oidc_client_id: "has space".into(),
            saml_sso_page: "https://elsewhere.example/sso".into(),
            profile_iqa: "MemberProfile".into(),
            brand_colour: "blue".into(),
            ..SettingsInput::default()
        };
        assert_eq!(
            fields(input),
            [
                "imis_base_url",
                "oidc_client_id",
                "profile_iqa",
                "brand_colour"
            ]
        );
        let elsewhere = SettingsInput {
            imis_base_url: "https://members.acme.org".into(),
            saml_sso_page: "https://elsewhere.example/sso".into(),
            ..SettingsInput::default()
        };
        assert_eq!(fields(elsewhere), ["saml_sso_page"]);
        // The iMIS sign-out page the signed-out page links to is on the iMIS site too: never a
        // link to elsewhere, nor a script.
        for page in ["https://elsewhere.example/logout", "javascript:alert(1)"] {
            let sign_out = SettingsInput {
                imis_base_url: "https://members.acme.org".into(),
                imis_sign_out_url: page.into(),
                ..SettingsInput::default()
            };
            assert_eq!(fields(sign_out), ["imis_sign_out_url"], "{page}");
        }
        let local = SettingsInput {
            imis_base_url: "http://127.0.0.1:3400".into(),
            ..SettingsInput::default()
        };
        assert!(
            fields_on(local.clone(), Network::Development).is_empty(),
            "the emulator runs on plain HTTP locally"
        );
        // In production the same address is refused: plain HTTP, and a loopback address.
        assert_eq!(fields(local), ["imis_base_url"]);
        for hostile in [
            "https://169.254.169.254",
            "https://10.0.0.5/imis",
            "https://[::1]:8443",
            "https://members.acme.org#/token",
            "https://user@members.acme.org",
        ] {
            let input = SettingsInput {
                imis_base_url: hostile.into(),
                ..SettingsInput::default()
            };
            assert_eq!(fields(input), ["imis_base_url"], "{hostile}");
        }
    }
}
