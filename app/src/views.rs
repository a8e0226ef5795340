//! The view models the pages render and the forms they send back: everything that crosses the
//! wire besides errors.

use serde::{Deserialize, Serialize};

/// The signed-in staff member, as the pages need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub is_operator: bool,
    /// A tenant admin's own Cloud ID.
    pub cloud_id: Option<String>,
    /// Echoed by every state-changing form.
    pub csrf: String,
    /// A second factor is required of them and not set up yet: only Your account works.
    pub must_add_second_factor: bool,
    /// A read-only member of their Cloud ID's team: they see it and change nothing.
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub cloud_id: String,
    pub display_name: String,
    pub created_at: String,
}

/// One step of getting an association live, ticked from what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistStepView {
    pub title: String,
    /// Where the tenant stands on it, in words.
    pub detail: String,
    /// The page that does it.
    pub href: String,
    pub done: bool,
}

/// How far a tenant has come: the getting-started checklist, and the columns of the
/// operators' tenant list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantProgressView {
    /// The domain and its status in words: `sso.acme.org (Online)`, `No domain`.
    pub domain: String,
    /// `online`, `provisioning`, `offline`, `failed` or `none`, for its colour.
    pub domain_state: String,
    /// The identity source in words: `iMIS, tested`, `iMIS, not tested`, `Member directory`.
    pub identity: String,
    pub apps: i64,
    /// RFC 3339, the newest successful member sign-in.
    pub last_sign_in: Option<String>,
    pub steps: Vec<ChecklistStepView>,
}

/// A tenant in the operators' list, with how far it has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRowView {
    pub tenant: TenantView,
    pub progress: TenantProgressView,
}

/// One page of the tenant list, and where it sits in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantListView {
    pub tenants: Vec<TenantRowView>,
    /// How many tenants match, on every page.
    pub total: i64,
    /// Counting from 1.
    pub page: u32,
    pub pages: u32,
    pub per_page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffView {
    pub email: String,
    pub role: String,
    /// For a Cloud ID's team: `admin` or `read_only`.
    pub access: Option<String>,
    pub active: bool,
    /// A passkey or an authenticator app is in place.
    pub second_factor: bool,
    pub created_at: String,
}

/// A freshly invited staff member and the one-time link to hand them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub email: String,
    pub setup_url: String,
    /// They had been invited before: this link replaces the earlier ones.
    pub resent: bool,
    /// The link is on its way to them by e-mail too.
    pub emailed: bool,
}

/// A tenant's domain as the Domain Setup page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSetupView {
    /// What needs an admin before it breaks: expiring service provider certificates, iMIS
    /// failing. Shown first.
    pub warnings: Vec<WarningView>,
    /// The getting-started checklist, shown above the domain.
    pub progress: TenantProgressView,
    /// "Not Provisioned", "Provisioning", "Online", "Offline" or "Failed".
    pub status: String,
    /// "none", "provisioning", "online", "offline" or "failed".
    pub state: String,
    /// The domain as people read it (internationalised names in their own script).
    pub domain: Option<String>,
    /// The ASCII form, as it goes into DNS.
    pub domain_ascii: Option<String>,
    pub cname_target: String,
    pub steps: Vec<StepView>,
    /// Why provisioning failed or is waiting to retry, or why renewal failed.
    pub message: String,
    /// The last check's finding when the domain is Offline.
    pub check_message: String,
    pub checked_at: Option<String>,
    pub certificate_expires: Option<String>,
    /// Where members reach the domain, e.g. `https://sso.acme.org` (with a port other than 443).
    pub address: Option<String>,
    /// The Cloud ID's other domains (a test domain, a new one moving in).
    pub other_domains: Vec<OtherDomainView>,
    /// Whether another domain may be added.
    pub can_add_domain: bool,
}

/// One of a Cloud ID's domains besides the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherDomainView {
    /// As people read it.
    pub name: String,
    /// As it goes into DNS, and what the forms send.
    pub ascii: String,
    pub status: String,
    /// "provisioning", "online", "offline" or "failed".
    pub state: String,
    pub message: String,
    pub certificate_expires: Option<String>,
}

/// A tenant's saved Settings, flat, secrets only as "set" or not: what the page shows and what
/// the audit log records of a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSettingsView {
    pub imis_base_url: String,
    pub oidc_client_id: String,
    pub oidc_has_secret: bool,
    pub oidc_sso_page: String,
    pub saml_client_id: String,
    pub saml_has_secret: bool,
    pub saml_sso_page: String,
    pub api_username: String,
    pub has_api_password: bool,
    pub profile_iqa: String,
    pub brand_name: String,
    pub brand_colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    /// `imis` or `directory`.
    pub identity_source: String,
    /// A path on the iMIS site or a full address; empty when not named.
    pub imis_sign_out_url: String,
}

/// The Settings page: the saved values and what follows from them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPageView {
    #[serde(flatten)]
    pub saved: SavedSettingsView,
    pub has_logo: bool,
    /// The Login Redirect URLs to enter in RiSE, once the tenant has a domain.
    pub oidc_callback: Option<String>,
    pub saml_callback: Option<String>,
    /// Where members sign in, once the tenant has a domain.
    pub site_url: Option<String>,
    pub updated_at: Option<String>,
}

/// One step of Test connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

/// One provisioning step: "done", "active", "waiting" or "failed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub label: String,
    pub status: String,
}

/// Who a setup link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupView {
    FirstOperator,
    Invitation {
        email: String,
    },
    /// Someone who forgot their password chooses a new one.
    PasswordReset {
        email: String,
    },
}

/// A member of the built-in directory, as the Members page lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryMemberView {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

/// One member sign-in, with its technical cause when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInEventView {
    pub at: String,
    pub source: String,
    pub member: String,
    /// The application the member was signing in to, or empty for the hosted page itself.
    pub application: String,
    pub outcome: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPageView {
    /// `imis` or `directory`.
    pub identity_source: String,
    pub site_url: Option<String>,
    pub directory: Vec<DirectoryMemberView>,
    pub events: Vec<SignInEventView>,
}

/// One change in the audit log, in words, with its JSON (secrets redacted) for a closer look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub at: String,
    pub actor: String,
    /// What happened, in words: `SAML app edited`.
    pub action_label: String,
    /// What happened, as stored and filtered: `saml_app.update`.
    pub action: String,
    pub target: String,
    /// One line per field that changed: `NameID format: email_address → persistent`.
    pub changes: Vec<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A choice in the audit log's action filter: the stored prefix it filters by and its words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActionChoice {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogView {
    /// One page, newest first.
    pub events: Vec<AuditEventView>,
    /// The id the next (older) page starts below, when there is one.
    pub older_than: Option<i64>,
    /// The action filter's choices.
    pub actions: Vec<AuditActionChoice>,
}

/// One client secret as the page lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretView {
    pub created_at: String,
    /// When a rotation retires it.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub confidential: bool,
    pub flows: Vec<String>,
    pub algorithm: String,
    pub consent: bool,
    pub secrets: Vec<SecretView>,
    /// The domain it is used on, when it is bound to one (otherwise the primary).
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppsView {
    /// The issuer (`https://<domain>`), once the tenant has a domain.
    pub issuer: Option<String>,
    pub apps: Vec<OidcAppView>,
    /// The tenant's SSO domains, the primary first: what an app can be used on.
    pub domains: Vec<String>,
}

/// What is shown once after creating an app or rotating its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownOnceView {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// One app's settings as its edit form shows them (never a secret or the HS512 key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcAppEditView {
    pub client_id: String,
    pub name: String,
    /// One per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub confidential: bool,
    pub require_pkce: bool,
    pub implicit: bool,
    pub password: bool,
    pub algorithm: String,
    pub id_token_minutes: i64,
    pub access_token_minutes: i64,
    pub consent: bool,
    pub consent_grace_days: i64,
    /// `claim = Property`, one mapping per line.
    pub claims: String,
    /// Where members start a sign-in from the launcher; empty: not in the launcher.
    #[serde(default)]
    pub initiate_login_uri: String,
    /// The SSO domain it is used on; empty: the primary.
    #[serde(default)]
    pub domain: String,
    /// The tenant's SSO domains, the primary first (for the form; not part of the app).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
}

/// The tenant's IdP as service providers import it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlIdpView {
    pub metadata_url: String,
    pub entity_id: String,
    pub single_sign_on: String,
    pub single_logout: String,
    /// The signing certificate, PEM.
    pub certificate_pem: String,
    pub certificate_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppView {
    pub app_id: String,
    pub name: String,
    pub entity_id: String,
    pub assertion_consumers: Vec<String>,
    pub single_logout: Option<String>,
    pub name_id_format: String,
    pub signed: String,
    pub require_signed_requests: bool,
    pub encrypt_assertions: bool,
    /// The IdP-initiated sign-in link, once the tenant has a domain.
    pub idp_initiated_link: Option<String>,
    /// What its metadata subscription needs from the admin: a failed read, changes waiting.
    pub metadata_notice: Option<String>,
    /// The domain it is used on, when it is bound to one (otherwise the primary).
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppsView {
    pub idp: Option<SamlIdpView>,
    pub apps: Vec<SamlAppView>,
    /// The add form's starting values.
    pub new_app: SamlAppForm,
    /// The tenant's SSO domains, the primary first: what an app can be used on.
    pub domains: Vec<String>,
}

/// A SAML app's form, as the dashboard's create and edit forms send it (`form[field]`) and
/// metadata import fills it. Lists are one entry per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub entity_id: String,
    /// `URL` or `index URL`, one per line; the first is the default.
    #[serde(default)]
    pub assertion_consumers: String,
    #[serde(default)]
    pub single_logout: String,
    /// `redirect` or `post`: how logout messages are sent to the service provider.
    #[serde(default)]
    pub single_logout_binding: String,
    /// `unspecified`, `email_address`, `persistent` or `transient`.
    #[serde(default)]
    pub name_id_format: String,
    /// Checkbox: present when ticked.
    #[serde(default)]
    pub unspecified_is_imis_id: Option<String>,
    /// Checkbox: the service provider may ask for another NameID format.
    #[serde(default)]
    pub sp_may_request_name_id_format: Option<String>,
    /// Checkbox: listed on the members' signed-in page.
    #[serde(default)]
    pub show_in_launcher: Option<String>,
    /// `attribute = Property`, one per line.
    #[serde(default)]
    pub attributes: String,
    /// `assertion`, `response` or `both`.
    #[serde(default)]
    pub signed: String,
    #[serde(default)]
    pub require_signed_requests: Option<String>,
    /// PEM.
    #[serde(default)]
    pub sp_certificate: String,
    #[serde(default)]
    pub assertion_minutes: String,
    #[serde(default)]
    pub default_relay_state: String,
    /// Checkbox: present when ticked.
    #[serde(default)]
    pub encrypt_assertions: Option<String>,
    /// PEM.
    #[serde(default)]
    pub sp_encryption_certificate: String,
    /// One of the tenant's SSO domains; blank: the primary one.
    #[serde(default)]
    pub domain: String,
}

/// What imported metadata would register, shown before saving, with the form it fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlMetadataPreview {
    pub form: SamlAppForm,
    pub notes: Vec<String>,
}

/// The Settings form as it is sent: one text per field, secrets empty to keep the stored ones.
/// Sent flat (`imis_base_url=…`), beside the form's `csrf` and `cloud_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
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
    pub imis_sign_out_url: String,
}

/// An OIDC app's form as the Add and Edit forms send it, flat. Lists are one entry per line;
/// checkboxes are present when ticked. Adding sends the registration fields only: lifetimes,
/// consent memory and claims start at their defaults and are changed by editing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcAppForm {
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    /// Adding only: a public client (no secret, PKCE required).
    pub public: Option<String>,
    pub require_pkce: Option<String>,
    pub implicit: Option<String>,
    pub password: Option<String>,
    pub consent: Option<String>,
    pub consent_grace_days: String,
    pub algorithm: String,
    pub id_token_minutes: String,
    pub access_token_minutes: String,
    /// `claim = Property`, one per line.
    pub claims: String,
    /// Editing only: the login initiation endpoint the launcher links to.
    pub initiate_login_uri: String,
    /// One of the tenant's SSO domains; blank: the primary one.
    pub domain: String,
}

/// A member added to the built-in directory, as the Members page sends it, flat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewMemberForm {
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub password: String,
}

/// Where the signed-in staff member stands with two-step verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorView {
    pub email: String,
    pub authenticator_app: bool,
    pub recovery_codes_left: i64,
    pub passkeys: Vec<PasskeyView>,
    /// Whether this installation can add passkeys (its dashboard has a host name).
    pub passkeys_available: bool,
    /// Required of them (by the installation or their Cloud ID).
    pub required: bool,
}

impl SecondFactorView {
    /// Whether a password alone no longer signs them in.
    pub fn enrolled(&self) -> bool {
        self.authenticator_app || !self.passkeys.is_empty()
    }
}

/// One of the staff member's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// Half of a passkey ceremony: the `publicKey` options for the browser (JSON) and the sealed
/// state to send back with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyCeremonyView {
    pub options: String,
    pub state: String,
}

/// The second factors a waiting sign-in may be finished with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInFactorsView {
    pub authenticator_app: bool,
    pub passkey: Option<PasskeyCeremonyView>,
}

/// An authenticator app being set up: a QR code to scan, or the secret to type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetupView {
    /// Grouped base32.
    pub secret: String,
    pub uri: String,
    /// The QR code of `uri`, as SVG markup made on the server.
    pub qr_svg: String,
}

/// One thing a vendor needs, on the "Send to your vendor" sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorFactView {
    pub label: String,
    pub value: String,
    /// Several lines (a certificate, a list): shown as a block.
    pub block: bool,
}

/// Everything a vendor needs to connect an app, never a secret: as facts, as plain text for an
/// e-mail, and as a file to download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorSheetView {
    pub app_name: String,
    /// `OpenID Connect` or `SAML 2.0`.
    pub protocol: String,
    /// The app's list page.
    pub back_href: String,
    /// Empty until the Cloud ID has an SSO domain: every address depends on it.
    pub facts: Vec<VendorFactView>,
    pub text: String,
    /// The file: the client and provider metadata as JSON, or the IdP metadata XML.
    pub download_href: Option<String>,
    pub download_name: String,
}

/// A SAML signing certificate on the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningCertificateView {
    pub kid: String,
    pub published_since: String,
    pub signs_from: String,
    pub valid_until: String,
}

/// A token signing key of OpenID Connect on the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenKeyView {
    pub kid: String,
    pub algorithm: String,
    pub signs_from: String,
    pub signs_until: String,
    pub published_until: String,
}

/// The Cloud ID's signing certificates and keys: what signs now, what comes next and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningCalendarView {
    pub saml_current: Option<SigningCertificateView>,
    pub saml_next: Option<SigningCertificateView>,
    pub oidc_keys: Vec<TokenKeyView>,
}

/// Something that needs an admin, in words, and the page where it is fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningView {
    pub text: String,
    pub href: String,
}

/// One app's flight recorder: its latest protocol exchanges, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderView {
    pub app_name: String,
    /// `OpenID Connect` or `SAML 2.0`.
    pub protocol: String,
    /// The app's list page.
    pub back_href: String,
    pub entries: Vec<ExchangeRowView>,
    /// How many answered exchanges an app keeps, and how many refused ones.
    pub kept: i64,
    /// Whether this reader may open exchanges in full (the tenant's admins).
    pub can_reveal: bool,
}

/// One exchange in the recorder's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRowView {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub member: String,
    pub answered: bool,
    /// Why it was refused; empty when answered.
    pub reason: String,
    pub href: String,
}

/// A message as the recorder shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownMessageView {
    /// `json`, `xml` or `text`.
    pub format: String,
    pub text: String,
}

/// One recorded exchange opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeView {
    pub app_name: String,
    pub protocol: String,
    /// The recorder's list.
    pub list_href: String,
    pub row: ExchangeRowView,
    /// What was signed and what was checked, in words; empty when nothing is signed.
    pub signature: String,
    pub redacted: ShownMessageView,
    /// The full message, when an admin asked for it within its day.
    pub full: Option<ShownMessageView>,
    /// When the full detail is deleted; `None` once it is gone.
    pub detail_until: Option<String>,
    pub can_reveal: bool,
}

/// A read of a service provider's published metadata, compared with the app field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataComparisonView {
    /// The address read: Apply reads it again.
    pub url: String,
    /// What was applied by this read (Apply, or a certificate rollover the subscription allows).
    pub applied: Vec<MetadataChangeView>,
    /// What the metadata would change and waits for the admin.
    pub waiting: Vec<MetadataChangeView>,
    /// The app's subscription after this read, if it has one.
    pub subscription: Option<MetadataSubscriptionView>,
}

/// An app's subscription to its service provider's metadata address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataSubscriptionView {
    pub url: String,
    pub apply_certificates: bool,
    /// RFC 3339, like every time in the views.
    pub checked_at: Option<String>,
    pub next_check_at: String,
    pub failure: Option<String>,
    pub waiting: Vec<MetadataChangeView>,
}

/// A SAML app's edit page: the form and the metadata subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlAppEditView {
    pub form: SamlAppForm,
    pub subscription: Option<MetadataSubscriptionView>,
    /// The tenant's SSO domains, the primary first: what the app can be used on.
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataChangeView {
    pub field: String,
    pub before: String,
    pub after: String,
}
