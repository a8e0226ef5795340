//! Reading a service provider's metadata (SAML 2.0 Metadata §2.4.4) into the settings of a
//! SAML app, for the dashboard to preview before anything is saved.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::request::{check_metadata_root, RequestProblem, MAX_MESSAGE_BYTES};
use crate::{AssertionConsumer, LogoutBinding, NameIdFormat};

const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// What the metadata says, as the app's form takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    /// HTTP-POST assertion consumer services, the default first.
    pub assertion_consumers: Vec<AssertionConsumer>,
    /// The single logout service: HTTP-Redirect when offered, else HTTP-POST.
    pub single_logout: Option<String>,
    pub single_logout_binding: LogoutBinding,
    /// The signing certificate (DER), when there is one.
    pub signing_certificate: Option<Vec<u8>>,
    /// The certificate assertions may be encrypted to (DER), when there is one.
    pub encryption_certificate: Option<Vec<u8>>,
    pub name_id_format: Option<NameIdFormat>,
    pub authn_requests_signed: bool,
    /// What was left out and why, for the preview.
    pub notes: Vec<String>,
}

/// Reads `EntityDescriptor` metadata with one `SPSSODescriptor`.
pub fn parse_sp_metadata(xml: &str) -> Result<SpMetadata, RequestProblem> {
    if xml.len() > MAX_MESSAGE_BYTES * 4 {
        return Err(RequestProblem::TooLarge);
    }
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(RequestProblem::Dtd);
    }
    check_metadata_root(xml)?;
    let entity: samael::metadata::EntityDescriptor = xml.parse().map_err(
        |e: <samael::metadata::EntityDescriptor as std::str::FromStr>::Err| {
            RequestProblem::Malformed(e.to_string())
        },
    )?;
    let entity_id = entity
        .entity_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| RequestProblem::Malformed("the metadata names no entityID".into()))?;
    let descriptor = entity
        .sp_sso_descriptors
        .as_ref()
        .and_then(|descriptors| descriptors.first())
        .ok_or_else(|| {
            RequestProblem::Malformed(
                "this is not a service provider's metadata (no SPSSODescriptor)".into(),
            )
        })?;
    let mut notes = Vec::new();
    let mut consumers: Vec<AssertionConsumer> = Vec::new();
    for endpoint in &descriptor.assertion_consumer_services {
        if endpoint.binding != BINDING_POST {
            notes.push(format!(
                "Assertion consumer service {} (index {}) uses {}, which this IdP does not \
                 send responses with; it was left out.",
                endpoint.location, endpoint.index, endpoint.binding
            ));
            continue;
        }
        consumers.push(AssertionConsumer {
            url: endpoint.location.trim().to_string(),
            index: u32::try_from(endpoint.index).unwrap_or(u32::MAX),
            is_default: endpoint.is_default.unwrap_or(false),
        });
    }
    // The default first; without an explicit default, the lowest index.
    consumers.sort_by_key(|acs| (!acs.is_default, acs.index));
    if let Some(first) = consumers.first_mut() {
        first.is_default = true;
    }
    for acs in consumers.iter_mut().skip(1) {
        acs.is_default = false;
    }
    let logout = descriptor.single_logout_services.as_deref().unwrap_or(&[]);
    let by_binding = |binding: &str, as_ours: LogoutBinding| {
        logout
            .iter()
            .find(|endpoint| endpoint.binding == binding)
            .map(|endpoint| (endpoint.location.trim().to_string(), as_ours))
    };
    let (single_logout, single_logout_binding) =
        match by_binding(BINDING_REDIRECT, LogoutBinding::Redirect)
            .or_else(|| by_binding(BINDING_POST, LogoutBinding::Post))
        {
            Some((url, binding)) => (Some(url), binding),
            None => (None, LogoutBinding::Redirect),
        };
    if single_logout.is_none() && !logout.is_empty() {
        notes.push(
            "The single logout services use bindings other than HTTP-Redirect and HTTP-POST; \
             logout will not be sent to this service provider."
                .to_string(),
        );
    }
    let keys = descriptor.key_descriptors.as_deref().unwrap_or(&[]);
    let signing_certificate = first_certificate(keys, "signing")?;
    let encryption_certificate = first_certificate(keys, "encryption")?;
    let formats = descriptor.name_id_formats.as_deref().unwrap_or(&[]);
    let name_id_format = formats
        .iter()
        .find_map(|format| NameIdFormat::from_uri(format.trim()));
    if name_id_format.is_none() && !formats.is_empty() {
        notes.push(format!(
            "The requested NameID format {} is not offered; the app's own choice applies.",
            formats[0].trim()
        ));
    }
    Ok(SpMetadata {
        entity_id: entity_id.trim().to_string(),
        assertion_consumers: consumers,
        single_logout,
        single_logout_binding,
        signing_certificate,
        encryption_certificate,
        name_id_format,
        authn_requests_signed: descriptor.authn_requests_signed.unwrap_or(false),
        notes,
    })
}

/// The first certificate of a key for `key_use` (`signing` or `encryption`); a key descriptor
/// without `use` serves both (Metadata §2.4.1.1).
fn first_certificate(
    keys: &[samael::metadata::KeyDescriptor],
    key_use: &str,
) -> Result<Option<Vec<u8>>, RequestProblem> {
    keys.iter()
        .filter(|key| key.key_use.as_deref().is_none_or(|used| used == key_use))
        .filter_map(|key| key.key_info.x509_data.as_ref())
        .flat_map(|data| data.certificates.iter())
        .map(|certificate| certificate.split_whitespace().collect::<String>())
        .next()
        .map(|base64| {
            STANDARD.decode(base64).map_err(|_| {
                RequestProblem::Malformed(format!("the {key_use} certificate is not base64"))
            })
        })
        .transpose()
}
