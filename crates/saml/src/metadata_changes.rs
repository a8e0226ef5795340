//! What a service provider's current metadata would change in an app's registration: the
//! assertion consumer services, single logout and certificates it publishes, compared with
//! what the app has, and the registration with them applied (checked like any edit).

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::apps::{AssertionConsumer, SamlApp, SamlAppInput};
use crate::keys::certificate_pem;
use crate::{certificate_not_after, SpMetadata};

/// One field the metadata changes, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl MetadataChange {
    /// Whether this is a certificate change (what a rollover is).
    pub fn is_certificate(&self) -> bool {
        self.field.ends_with("certificate")
    }
}

fn consumers(list: &[AssertionConsumer]) -> String {
    if list.is_empty() {
        return "(none)".to_string();
    }
    list.iter()
        .map(|acs| {
            let default = if acs.is_default { " (default)" } else { "" };
            format!("{} {}{default}", acs.index, acs.url)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A certificate as an admin compares it: its SHA-256 fingerprint and end date.
fn certificate(der: Option<&[u8]>) -> String {
    let Some(der) = der else {
        return "(none)".to_string();
    };
    let fingerprint: Vec<String> = digest::digest(&digest::SHA256, der)
        .as_ref()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02X}"))
        .collect();
    let until = certificate_not_after(der)
        .map(|at| format!(", valid until {}", at.to_utc_string()))
        .unwrap_or_default();
    format!("SHA-256 {}…{until}", fingerprint.join(":"))
}

impl SamlApp {
    /// The app's registration as the edit form holds it.
    pub fn input(&self) -> SamlAppInput {
        let settings = &self.settings;
        SamlAppInput {
            name: self.name.clone(),
            entity_id: self.entity_id.clone(),
            assertion_consumers: settings.assertion_consumers.clone(),
            single_logout: settings.single_logout.clone(),
            single_logout_binding: settings.single_logout_binding,
            name_id_format: settings.name_id_format,
            unspecified_is_imis_id: settings.unspecified_is_imis_id,
            attributes: settings.attributes.clone(),
            signed: settings.signed,
            require_signed_requests: settings.require_signed_requests,
            sp_certificate: settings.sp_certificate.as_deref().map(certificate_pem),
            assertion_minutes: settings.assertion_seconds / 60,
            default_relay_state: settings.default_relay_state.clone(),
            encrypt_assertions: settings.encrypt_assertions,
            sp_encryption_certificate: settings
                .sp_encryption_certificate
                .as_deref()
                .map(certificate_pem),
            sp_may_request_name_id_format: settings.sp_may_request_name_id_format,
            show_in_launcher: settings.show_in_launcher,
            domain: settings.domain.clone().unwrap_or_default(),
        }
    }

    /// What `fresh` metadata would change; an error when it describes another service provider.
    pub fn metadata_changes(&self, fresh: &SpMetadata) -> Result<Vec<MetadataChange>, String> {
        if fresh.entity_id != self.entity_id {
            return Err(format!(
                "the metadata describes {}, not this app's {}",
                fresh.entity_id, self.entity_id
            ));
        }
        let settings = &self.settings;
        let logout = |url: Option<&String>, binding: crate::LogoutBinding| match url {
            Some(url) => format!("{url} ({})", binding.form_key()),
            None => "(none)".to_string(),
        };
        let compared = [
            (
                "Assertion consumer services",
                consumers(&settings.assertion_consumers),
                consumers(&fresh.assertion_consumers),
            ),
            (
                "Single logout",
                logout(
                    settings.single_logout.as_ref(),
                    settings.single_logout_binding,
                ),
                logout(fresh.single_logout.as_ref(), fresh.single_logout_binding),
            ),
            (
                "Signing certificate",
                certificate(settings.sp_certificate.as_deref()),
                certificate(fresh.signing_certificate.as_deref()),
            ),
            (
                "Encryption certificate",
                certificate(settings.sp_encryption_certificate.as_deref()),
                certificate(fresh.encryption_certificate.as_deref()),
            ),
        ];
        Ok(compared
            .into_iter()
            .filter(|(_, before, after)| before != after)
            .map(|(field, before, after)| MetadataChange {
                field: field.to_string(),
                before,
                after,
            })
            .collect())
    }

    /// The registration with `fresh` metadata's addresses and certificates; everything the
    /// admin chose (name, NameID, attributes, signing, encryption on or off) stays.
    pub fn with_metadata(&self, fresh: &SpMetadata) -> SamlAppInput {
        SamlAppInput {
            assertion_consumers: fresh.assertion_consumers.clone(),
            single_logout: fresh.single_logout.clone(),
            single_logout_binding: fresh.single_logout_binding,
            sp_certificate: fresh.signing_certificate.as_deref().map(certificate_pem),
            sp_encryption_certificate: fresh.encryption_certificate.as_deref().map(certificate_pem),
            ..self.input()
        }
    }

    /// The registration with only `fresh` metadata's certificates: a rollover the admin allowed
    /// to happen without them, while new addresses wait for their approval.
    pub fn with_metadata_certificates(&self, fresh: &SpMetadata) -> SamlAppInput {
        SamlAppInput {
            sp_certificate: fresh.signing_certificate.as_deref().map(certificate_pem),
            sp_encryption_certificate: fresh.encryption_certificate.as_deref().map(certificate_pem),
            ..self.input()
        }
    }
}
