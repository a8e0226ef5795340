//! SAML service providers a tenant registers ("SAML Client Apps"): where responses go, what the
//! subject is called, which attributes are sent, what is signed, and whether the service
//! provider must sign its requests.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use vestibule_domain::{app_domain, check_app_address, InvalidInput, Seconds, TenantId, Timestamp};
use vestibule_storage::{SamlAppRecord, Store};

use crate::{EncryptionKey, SamlError, SignedParts};

/// The NameID a service provider receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameIdFormat {
    /// The member's username, or their iMIS id (see [`SamlAppSettings::unspecified_is_imis_id`]).
    Unspecified,
    EmailAddress,
    /// Stable, opaque and different for each service provider.
    Persistent,
    /// New for every session.
    Transient,
}

impl NameIdFormat {
    /// The SAML Client Apps form's value for this format (its stored name).
    pub fn form_key(self) -> &'static str {
        match self {
            NameIdFormat::Unspecified => "unspecified",
            NameIdFormat::EmailAddress => "email_address",
            NameIdFormat::Persistent => "persistent",
            NameIdFormat::Transient => "transient",
        }
    }

    pub fn from_form_key(key: &str) -> Result<Self, InvalidInput> {
        [
            NameIdFormat::Unspecified,
            NameIdFormat::EmailAddress,
            NameIdFormat::Persistent,
            NameIdFormat::Transient,
        ]
        .into_iter()
        .find(|format| format.form_key() == key)
        .ok_or_else(|| InvalidInput::new("name_id_format", "Choose a NameID format."))
    }

    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
            NameIdFormat::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        [
            NameIdFormat::Unspecified,
            NameIdFormat::EmailAddress,
            NameIdFormat::Persistent,
            NameIdFormat::Transient,
        ]
        .into_iter()
        .find(|format| format.uri() == uri)
    }
}

/// An assertion consumer service: where responses are posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionConsumer {
    pub url: String,
    pub index: u32,
    pub is_default: bool,
}

/// A profile property sent as a SAML attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMapping {
    pub attribute: String,
    pub property: String,
}

impl AssertionConsumer {
    /// `URL` or `index URL`, one per line, as the SAML Client Apps form sends them: the first
    /// is the default, and a line without an index gets its position.
    pub fn parse_lines(text: &str) -> Result<Vec<AssertionConsumer>, InvalidInput> {
        numbered_lines(text)
            .map(|(number, line)| {
                let (index, url) = match line.split_once(char::is_whitespace) {
                    Some((index, url)) if index.chars().all(|c| c.is_ascii_digit()) => {
                        let index = index.parse::<u32>().map_err(|_| {
                            InvalidInput::new(
                                "assertion_consumers",
                                format!(
                                    "Assertion consumer service line {number}: the index is too \
                                     large."
                                ),
                            )
                        })?;
                        (index, url.trim())
                    }
                    _ => (u32::try_from(number - 1).unwrap_or(u32::MAX), line),
                };
                Ok(AssertionConsumer {
                    url: url.to_string(),
                    index,
                    is_default: number == 1,
                })
            })
            .collect()
    }
}

impl AttributeMapping {
    /// `attribute = Property`, one per line, as the SAML Client Apps form sends them.
    pub fn parse_lines(text: &str) -> Result<Vec<AttributeMapping>, InvalidInput> {
        numbered_lines(text)
            .map(|(number, line)| match line.split_once('=') {
                Some((attribute, property)) => Ok(AttributeMapping {
                    attribute: attribute.trim().to_string(),
                    property: property.trim().to_string(),
                }),
                None => Err(InvalidInput::new(
                    "attributes",
                    format!(
                        "Attribute line {number}: write it as attribute = Property, e.g. email \
                         = Email."
                    ),
                )),
            })
            .collect()
    }
}

/// The non-empty lines of a text area, trimmed, numbered from 1.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| (index + 1, line))
}

/// Everything about an app beyond its name and entity id, as stored (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppSettings {
    pub assertion_consumers: Vec<AssertionConsumer>,
    pub single_logout: Option<String>,
    /// How [`Self::single_logout`] takes messages: Redirect unless the service provider only
    /// offers POST.
    #[serde(default)]
    pub single_logout_binding: LogoutBinding,
    pub name_id_format: NameIdFormat,
    /// With the unspecified format: the iMIS id instead of the username.
    pub unspecified_is_imis_id: bool,
    pub attributes: Vec<AttributeMapping>,
    pub signed: SignedPartsSetting,
    pub require_signed_requests: bool,
    /// The service provider's signing certificate (DER), for signed requests and logout.
    pub sp_certificate: Option<Vec<u8>>,
    pub assertion_seconds: i64,
    /// Where an IdP-initiated sign-in sends the member at the service provider.
    pub default_relay_state: String,
    /// Assertions are encrypted to [`Self::sp_encryption_certificate`].
    #[serde(default)]
    pub encrypt_assertions: bool,
    /// The service provider's encryption certificate (DER, RSA).
    #[serde(default)]
    pub sp_encryption_certificate: Option<Vec<u8>>,
    /// Whether the service provider may ask for another supported NameID format than
    /// [`Self::name_id_format`] in its AuthnRequest (otherwise it gets `InvalidNameIDPolicy`).
    #[serde(default)]
    pub sp_may_request_name_id_format: bool,
    /// The app is listed on the members' signed-in page, started by its IdP-initiated link.
    #[serde(default)]
    pub show_in_launcher: bool,
    /// The tenant's domain the app is used on (its IdP entity ID); `None`: the primary.
    #[serde(default)]
    pub domain: Option<String>,
}

impl SamlAppSettings {
    /// The certificate assertions are encrypted to, when the app asks for encryption.
    pub fn encryption_certificate(&self) -> Option<&[u8]> {
        self.sp_encryption_certificate
            .as_deref()
            .filter(|_| self.encrypt_assertions)
    }
}

/// The binding the IdP sends logout messages to a service provider with (SAML Bindings §3.4,
/// §3.5): a signed query string, or a signed document in an auto-submitted form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutBinding {
    #[default]
    Redirect,
    Post,
}

impl LogoutBinding {
    /// The SAML Client Apps form's value for this binding (its stored name).
    pub fn form_key(self) -> &'static str {
        match self {
            LogoutBinding::Redirect => "redirect",
            LogoutBinding::Post => "post",
        }
    }

    /// The form's value; nothing chosen is the default, Redirect.
    pub fn from_form_key(key: &str) -> Result<Self, InvalidInput> {
        match key {
            "" | "redirect" => Ok(LogoutBinding::Redirect),
            "post" => Ok(LogoutBinding::Post),
            _ => Err(InvalidInput::new(
                "single_logout_binding",
                "Choose how logout messages are sent.",
            )),
        }
    }

    /// Whether the signature goes inside the document (POST) rather than over the query string.
    pub fn signs_document(self) -> bool {
        self == LogoutBinding::Post
    }
}

/// [`SignedParts`] as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedPartsSetting {
    Assertion,
    Response,
    Both,
}

impl SignedPartsSetting {
    /// The SAML Client Apps form's value for this setting (its stored name).
    pub fn form_key(self) -> &'static str {
        match self {
            SignedPartsSetting::Assertion => "assertion",
            SignedPartsSetting::Response => "response",
            SignedPartsSetting::Both => "both",
        }
    }

    pub fn from_form_key(key: &str) -> Result<Self, InvalidInput> {
        [
            SignedPartsSetting::Assertion,
            SignedPartsSetting::Response,
            SignedPartsSetting::Both,
        ]
        .into_iter()
        .find(|setting| setting.form_key() == key)
        .ok_or_else(|| InvalidInput::new("signed", "Choose what is signed."))
    }
}

impl From<SignedPartsSetting> for SignedParts {
    fn from(setting: SignedPartsSetting) -> Self {
        match setting {
            SignedPartsSetting::Assertion => SignedParts::Assertion,
            SignedPartsSetting::Response => SignedParts::Response,
            SignedPartsSetting::Both => SignedParts::Both,
        }
    }
}

/// A registered service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlApp {
    pub tenant: TenantId,
    /// Ours: short, stable, in the IdP-initiated sign-in link.
    pub app_id: String,
    pub name: String,
    pub entity_id: String,
    pub settings: SamlAppSettings,
}

/// Which of a service provider's certificates: the one that checks its signed messages, or the
/// one assertions are encrypted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpCertificateUse {
    Signing,
    Encryption,
}

impl SpCertificateUse {
    pub fn as_str(self) -> &'static str {
        match self {
            SpCertificateUse::Signing => "signing",
            SpCertificateUse::Encryption => "encryption",
        }
    }
}

/// When a certificate (DER) stops being valid; `None` when it does not parse.
pub fn certificate_not_after(der: &[u8]) -> Option<Timestamp> {
    let certificate = openssl::x509::X509::from_der(der).ok()?;
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(certificate.not_after()).ok()?;
    Some(Timestamp(
        i64::from(diff.days) * 86_400 + i64::from(diff.secs),
    ))
}

impl SamlApp {
    /// When each of the service provider's certificates held here expires.
    pub fn certificate_expiries(&self) -> Vec<(SpCertificateUse, Timestamp)> {
        [
            (
                SpCertificateUse::Signing,
                self.settings.sp_certificate.as_deref(),
            ),
            (
                SpCertificateUse::Encryption,
                self.settings.sp_encryption_certificate.as_deref(),
            ),
        ]
        .into_iter()
        .filter_map(|(used, der)| Some((used, certificate_not_after(der?)?)))
        .collect()
    }

    /// Reads a stored app.
    pub fn from_record(record: SamlAppRecord) -> Result<SamlApp, SamlError> {
        SamlApps::app(record)
    }
    /// The assertion consumer service a request names (by URL or index), or the default. A URL
    /// that is not registered exactly is never used: the caller shows an error page instead.
    pub fn assertion_consumer(&self, url: Option<&str>, index: Option<usize>) -> Option<&str> {
        let consumers = &self.settings.assertion_consumers;
        let found = match (url, index) {
            (Some(url), _) => consumers.iter().find(|acs| acs.url == url),
            (None, Some(index)) => consumers
                .iter()
                .find(|acs| usize::try_from(acs.index).is_ok_and(|i| i == index)),
            (None, None) => consumers
                .iter()
                .find(|acs| acs.is_default)
                .or_else(|| consumers.first()),
        };
        found.map(|acs| acs.url.as_str())
    }
}

/// An app as the dashboard's form (or imported metadata) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAppInput {
    pub name: String,
    pub entity_id: String,
    /// In order; the first is the default and the index is the position unless given.
    pub assertion_consumers: Vec<AssertionConsumer>,
    pub single_logout: Option<String>,
    pub single_logout_binding: LogoutBinding,
    pub name_id_format: NameIdFormat,
    pub unspecified_is_imis_id: bool,
    pub attributes: Vec<AttributeMapping>,
    pub signed: SignedPartsSetting,
    pub require_signed_requests: bool,
    /// PEM (or bare base64 DER), as pasted.
    pub sp_certificate: Option<String>,
    pub assertion_minutes: i64,
    pub default_relay_state: String,
    pub encrypt_assertions: bool,
    /// PEM (or bare base64 DER), as pasted.
    pub sp_encryption_certificate: Option<String>,
    pub sp_may_request_name_id_format: bool,
    pub show_in_launcher: bool,
    /// One of the tenant's domains; blank: the primary one.
    pub domain: String,
}

impl Default for SamlAppInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            entity_id: String::new(),
            assertion_consumers: Vec::new(),
            single_logout: None,
            single_logout_binding: LogoutBinding::Redirect,
            name_id_format: NameIdFormat::Unspecified,
            unspecified_is_imis_id: false,
            attributes: vec![
                AttributeMapping {
                    attribute: "email".into(),
                    property: "Email".into(),
                },
                AttributeMapping {
                    attribute: "firstName".into(),
                    property: "FirstName".into(),
                },
                AttributeMapping {
                    attribute: "lastName".into(),
                    property: "LastName".into(),
                },
            ],
            signed: SignedPartsSetting::Assertion,
            require_signed_requests: false,
            sp_certificate: None,
            assertion_minutes: 5,
            default_relay_state: String::new(),
            encrypt_assertions: false,
            sp_may_request_name_id_format: false,
            show_in_launcher: false,
            sp_encryption_certificate: None,
            domain: String::new(),
        }
    }
}

/// A certificate as pasted: PEM, or the base64 inside it. Only its shape is checked here;
/// libxmlsec1 reads it when it verifies a signature.
fn certificate_der(field: &'static str, pasted: &str) -> Result<Vec<u8>, InvalidInput> {
    let invalid = || {
        InvalidInput::new(
            field,
            "Paste the service provider's certificate as PEM (-----BEGIN CERTIFICATE-----).",
        )
    };
    let body: String = pasted
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).map_err(|_| invalid())?;
    // An X.509 certificate is a DER SEQUENCE with a long-form length.
    if der.len() < 100 || der[0] != 0x30 {
        return Err(invalid());
    }
    Ok(der)
}

fn check_attribute(mapping: &AttributeMapping) -> Result<(), InvalidInput> {
    let name_ok = !mapping.attribute.is_empty()
        && mapping.attribute.len() <= 200
        && !mapping
            .attribute
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    let property_ok = !mapping.property.is_empty()
        && mapping
            .property
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name_ok && property_ok {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "attributes",
            format!(
                "{} → {}: an attribute name has no spaces (urn:oid:… names are fine); a \
                 property is letters, digits, _ and -",
                mapping.attribute, mapping.property
            ),
        ))
    }
}

impl SamlAppInput {
    /// Checks the input as saving it would, without saving.
    pub fn check(&self) -> Result<(), InvalidInput> {
        self.clone().validated().map(|_| ())
    }

    fn validated(self) -> Result<(String, String, SamlAppSettings), InvalidInput> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(InvalidInput::new(
                "name",
                "Give the app a name of at most 100 characters.",
            ));
        }
        let entity_id = self.entity_id.trim().to_string();
        if entity_id.is_empty()
            || entity_id.len() > 1024
            || entity_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidInput::new(
                "entity_id",
                "Enter the service provider's entity id exactly as its metadata gives it.",
            ));
        }
        if self.assertion_consumers.is_empty() {
            return Err(InvalidInput::new(
                "assertion_consumers",
                "Add the assertion consumer service URL the service provider gave you.",
            ));
        }
        let mut indexes = std::collections::BTreeSet::new();
        for acs in &self.assertion_consumers {
            check_app_address("assertion_consumers", &acs.url)?;
            if !indexes.insert(acs.index) {
                return Err(InvalidInput::new(
                    "assertion_consumers",
                    format!("index {} is used twice", acs.index),
                ));
            }
        }
        let mut consumers = self.assertion_consumers;
        if !consumers.iter().any(|acs| acs.is_default) {
            consumers[0].is_default = true;
        }
        if consumers.iter().filter(|acs| acs.is_default).count() > 1 {
            return Err(InvalidInput::new(
                "assertion_consumers",
                "Mark one assertion consumer service as the default.",
            ));
        }
        let single_logout = match self.single_logout.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                check_app_address("single_logout", url)?;
                Some(url.to_string())
            }
            _ => None,
        };
        for mapping in &self.attributes {
            check_attribute(mapping)?;
        }
        let sp_certificate = match self.sp_certificate.as_deref().map(str::trim) {
            Some(pasted) if !pasted.is_empty() => Some(certificate_der("sp_certificate", pasted)?),
            _ => None,
        };
        let sp_encryption_certificate =
            match self.sp_encryption_certificate.as_deref().map(str::trim) {
                Some(pasted) if !pasted.is_empty() => {
                    let der = certificate_der("sp_encryption_certificate", pasted)?;
                    EncryptionKey::from_certificate(&der).map_err(|why| {
                        InvalidInput::new(
                            "sp_encryption_certificate",
                            format!("The encryption certificate cannot be used: {why}."),
                        )
                    })?;
                    Some(der)
                }
                _ => None,
            };
        if self.encrypt_assertions && sp_encryption_certificate.is_none() {
            return Err(InvalidInput::new(
                "sp_encryption_certificate",
                "Assertions are encrypted to the service provider's encryption certificate: \
                 paste it, or stop encrypting assertions.",
            ));
        }
        if self.require_signed_requests && sp_certificate.is_none() {
            return Err(InvalidInput::new(
                "sp_certificate",
                "Signed requests can only be checked with the service provider's certificate: \
                 paste it, or stop requiring signed requests.",
            ));
        }
        if !(1..=60).contains(&self.assertion_minutes) {
            return Err(InvalidInput::new(
                "assertion_minutes",
                "An assertion is valid for 1 to 60 minutes.",
            ));
        }
        if self.default_relay_state.len() > crate::MAX_RELAY_STATE_BYTES {
            return Err(InvalidInput::new(
                "default_relay_state",
                "RelayState is at most 80 bytes.",
            ));
        }
        Ok((
            name,
            entity_id,
            SamlAppSettings {
                assertion_consumers: consumers,
                single_logout,
                single_logout_binding: self.single_logout_binding,
                name_id_format: self.name_id_format,
                unspecified_is_imis_id: self.unspecified_is_imis_id,
                attributes: self.attributes,
                signed: self.signed,
                require_signed_requests: self.require_signed_requests,
                sp_certificate,
                assertion_seconds: Seconds::minutes(self.assertion_minutes).0,
                default_relay_state: self.default_relay_state,
                encrypt_assertions: self.encrypt_assertions,
                sp_encryption_certificate,
                sp_may_request_name_id_format: self.sp_may_request_name_id_format,
                show_in_launcher: self.show_in_launcher,
                domain: app_domain(Some(&self.domain)),
            },
        ))
    }
}

#[derive(Clone)]
pub struct SamlApps {
    store: Store,
}

fn new_app_id() -> String {
    let mut bytes = [0u8; 9];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SamlApps {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn app(record: SamlAppRecord) -> Result<SamlApp, SamlError> {
        let settings = serde_json::from_str(&record.settings).map_err(|e| {
            SamlError::Storage(vestibule_storage::StorageError::Corrupt(format!(
                "SAML app {}: {e}",
                record.app_id
            )))
        })?;
        Ok(SamlApp {
            tenant: record.tenant,
            app_id: record.app_id,
            name: record.name,
            entity_id: record.entity_id,
            settings,
        })
    }

    fn record(
        tenant: TenantId,
        app_id: String,
        input: SamlAppInput,
        created_at: Timestamp,
        now: Timestamp,
    ) -> Result<SamlAppRecord, SamlError> {
        let (name, entity_id, settings) = input.validated().map_err(SamlError::Invalid)?;
        Ok(SamlAppRecord {
            id: 0,
            tenant,
            app_id,
            name,
            entity_id,
            settings: serde_json::to_string(&settings)
                .map_err(|e| SamlError::Key(format!("settings: {e}")))?,
            created_at,
            updated_at: now,
        })
    }

    /// Refuses a domain that is not one of the tenant's.
    async fn check_domain(&self, tenant: TenantId, input: &SamlAppInput) -> Result<(), SamlError> {
        match app_domain(Some(&input.domain)) {
            Some(domain) if !self.store.tenant_has_domain(tenant, &domain).await? => {
                Err(SamlError::Invalid(InvalidInput::new(
                    "domain",
                    format!("{domain} is not one of this Cloud ID's SSO domains: choose another."),
                )))
            }
            _ => Ok(()),
        }
    }

    pub async fn create(
        &self,
        tenant: TenantId,
        input: SamlAppInput,
        now: Timestamp,
    ) -> Result<SamlApp, SamlError> {
        self.check_domain(tenant, &input).await?;
        let record = Self::record(tenant, new_app_id(), input, now, now)?;
        Self::app(self.store.insert_saml_app(&record).await?)
    }

    pub async fn list(&self, tenant: TenantId) -> Result<Vec<SamlApp>, SamlError> {
        self.store
            .saml_apps(tenant)
            .await?
            .into_iter()
            .map(Self::app)
            .collect()
    }

    /// The tenant's apps bound to its domain `name` (not those following the primary).
    pub async fn on_domain(&self, tenant: TenantId, name: &str) -> Result<Vec<SamlApp>, SamlError> {
        let mut apps = self.list(tenant).await?;
        apps.retain(|app| app.settings.domain.as_deref() == Some(name));
        Ok(apps)
    }

    pub async fn get(&self, tenant: TenantId, app_id: &str) -> Result<SamlApp, SamlError> {
        let record = self
            .store
            .saml_app(tenant, app_id)
            .await?
            .ok_or(SamlError::NoSuchApp)?;
        Self::app(record)
    }

    /// The app whose entity id a request's `Issuer` names, if the tenant registered it.
    pub async fn by_entity_id(
        &self,
        tenant: TenantId,
        entity_id: &str,
    ) -> Result<Option<SamlApp>, SamlError> {
        self.store
            .saml_app_by_entity_id(tenant, entity_id)
            .await?
            .map(Self::app)
            .transpose()
    }

    pub async fn update(
        &self,
        tenant: TenantId,
        app_id: &str,
        input: SamlAppInput,
        now: Timestamp,
    ) -> Result<SamlApp, SamlError> {
        let existing = self
            .store
            .saml_app(tenant, app_id)
            .await?
            .ok_or(SamlError::NoSuchApp)?;
        self.check_domain(tenant, &input).await?;
        let record = Self::record(tenant, app_id.to_string(), input, existing.created_at, now)?;
        if !self.store.update_saml_app(&record).await? {
            return Err(SamlError::NoSuchApp);
        }
        self.get(tenant, app_id).await
    }

    pub async fn delete(&self, tenant: TenantId, app_id: &str) -> Result<(), SamlError> {
        if self.store.delete_saml_app(tenant, app_id).await? {
            Ok(())
        } else {
            Err(SamlError::NoSuchApp)
        }
    }
}
