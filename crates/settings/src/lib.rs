//! A tenant's Settings: how Vestibule reaches their iMIS, and how their sign-in page looks.
//!
//! Secrets (RiSE client secrets, the background account's password) are write-only: they are
//! sealed on the way in, never returned, and an empty field on save keeps the stored one.
//! [`TenantSettings::test_connection`] walks the connection step by step and says in plain words
//! what works and what does not.

mod check;
mod input;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vestibule_domain::{web_origin, IdentitySource, Seconds, TenantId, Timestamp};
use vestibule_imis::{ClientCredentials, Imis, Network};
use vestibule_secrets::{SealError, SecretKey};
use vestibule_storage::{SettingsRecord, StorageError, Store};

/// Documents a Cloud ID's staff may have read at their request per [`DOCUMENT_WINDOW`].
pub const DOCUMENTS_ASKED_PER_WINDOW: i64 = 30;
pub const DOCUMENT_WINDOW: Seconds = Seconds::minutes(15);

pub use check::CheckStep;
pub use input::{FieldError, SettingsInput};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Input the tenant admin can correct, field by field.
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("a stored secret cannot be opened: {0}")]
    Seal(#[from] SealError),
    /// A Test connection for this tenant is still running on this node.
    #[error("A Test connection for this Cloud ID is still running: wait for its result.")]
    CheckRunning,
}

/// One RiSE client application as the Settings page shows it: the secret only as "set" or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientView {
    pub client_id: String,
    pub has_secret: bool,
    pub sso_page: String,
}

/// A tenant's Settings without their secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsView {
    pub imis_base_url: String,
    pub oidc: ClientView,
    pub saml: ClientView,
    pub api_username: String,
    pub has_api_password: bool,
    pub profile_iqa: String,
    pub brand_name: String,
    pub brand_colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    pub identity_source: IdentitySource,
    /// The iMIS sign-out page as entered (a path on the iMIS site, or a full address).
    pub imis_sign_out_url: String,
    pub updated_at: Option<Timestamp>,
}

impl SettingsView {
    /// Where members sign out of iMIS itself, as a full address, when Settings name it.
    pub fn imis_sign_out(&self) -> Option<String> {
        (!self.imis_base_url.is_empty() && !self.imis_sign_out_url.is_empty())
            .then(|| absolute(&self.imis_base_url, &self.imis_sign_out_url))
    }
}

/// Everything needed to talk to a tenant's iMIS, secrets opened. Lives only as long as a
/// request or check needs it.
pub struct ImisConnection {
    pub imis: Imis,
    pub oidc: Option<ClientCredentials>,
    pub saml: Option<ClientCredentials>,
    pub oidc_sso_page: String,
    pub saml_sso_page: String,
    pub api_username: String,
    pub api_password: String,
    pub profile_iqa: String,
    /// Whether members sign in through this connection at all.
    pub identity_source: IdentitySource,
}

#[derive(Clone)]
pub struct TenantSettings {
    store: Store,
    secret: SecretKey,
    timeout: Duration,
    network: Network,
    /// Tenants whose Test connection runs on this node: one at a time each, so pressing the
    /// button again and again (the check outlives the page) cannot pile up calls to an iMIS.
    checks_running: Arc<Mutex<HashSet<TenantId>>>,
}

/// A tenant's turn to run Test connection, from [`TenantSettings::reserve_check`]; the next
/// check may start once it is dropped.
pub struct CheckSlot {
    tenant: TenantId,
    running: Arc<Mutex<HashSet<TenantId>>>,
}

impl Drop for CheckSlot {
    fn drop(&mut self) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&self.tenant);
        }
    }
}

fn context(kind: &str, tenant: TenantId) -> String {
    format!("{kind}:tenant-{}", tenant.0)
}

impl TenantSettings {
    /// `timeout` bounds every call to a tenant's iMIS; `network` says where those calls may
    /// go (public HTTPS addresses only, unless this is development with the emulator).
    pub fn new(store: Store, secret: SecretKey, timeout: Duration, network: Network) -> Self {
        Self {
            store,
            secret,
            timeout,
            network,
            checks_running: Arc::default(),
        }
    }

    /// Takes one of the tenant's [`DOCUMENTS_ASKED_PER_WINDOW`] turns to have a document read
    /// now at its staff's request (an import or a compare; the daily scheduled reads are not
    /// counted), or answers how long until one frees up: the server is no way to send a
    /// stranger requests in a loop.
    pub async fn take_document_turn(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Result<(), Seconds>, SettingsError> {
        let bucket = format!("document-read:{}", tenant.0);
        let (limit, window) = (DOCUMENTS_ASKED_PER_WINDOW, DOCUMENT_WINDOW);
        let taken = self.store.take_place(&bucket, limit, window, now).await?;
        Ok(taken.map(|_| ()))
    }

    /// A document a tenant admin names by address (a service provider's SAML metadata),
    /// fetched through the outbound guard with this installation's network rule and the iMIS
    /// timeout.
    pub async fn fetch_document(&self, address: &str) -> Result<String, vestibule_imis::ImisError> {
        vestibule_imis::fetch_document(address, self.network, self.timeout).await
    }

    /// Whether the outbound guard would fetch a document from `address`, before it is kept to
    /// be read later; why not, in words.
    pub fn check_document_address(&self, address: &str) -> Result<(), String> {
        vestibule_imis::check_document_address(address, self.network)
    }

    pub async fn get(&self, tenant: TenantId) -> Result<SettingsView, SettingsError> {
        Ok(match self.store.tenant_settings(tenant).await? {
            Some(record) => view(&record),
            None => SettingsView::default(),
        })
    }

    /// Validates and saves. Empty secret fields keep the stored secrets — unless the iMIS
    /// address moved to another origin: secrets were entered for one site and are never sent
    /// to another (a changed address would otherwise let an admin post them to any host with
    /// Test connection), so they are cleared and must be entered again.
    pub async fn save(
        &self,
        tenant: TenantId,
        input: SettingsInput,
        now: Timestamp,
    ) -> Result<SettingsView, SettingsError> {
        let input = input
            .validated(self.network)
            .map_err(SettingsError::Invalid)?;
        let previous = self
            .store
            .tenant_settings(tenant)
            .await?
            .unwrap_or_else(|| SettingsRecord::empty(now));
        let same_site = web_origin(&previous.imis_base_url) == web_origin(&input.imis_base_url);
        let seal = |kind: &str, typed: &str, kept: &str| -> Result<String, SettingsError> {
            if typed.is_empty() {
                Ok(if same_site {
                    kept.to_string()
                } else {
                    String::new()
                })
            } else {
                Ok(self.secret.seal(&context(kind, tenant), typed.as_bytes())?)
            }
        };
        let record = SettingsRecord {
            imis_base_url: input.imis_base_url.clone(),
            oidc_client_id: input.oidc_client_id.clone(),
            oidc_client_secret_sealed: seal(
                "oidc-client-secret",
                &input.oidc_client_secret,
                &previous.oidc_client_secret_sealed,
            )?,
            oidc_sso_page: input.oidc_sso_page.clone(),
            saml_client_id: input.saml_client_id.clone(),
            saml_client_secret_sealed: seal(
                "saml-client-secret",
                &input.saml_client_secret,
                &previous.saml_client_secret_sealed,
            )?,
            saml_sso_page: input.saml_sso_page.clone(),
            api_username: input.api_username.clone(),
            api_password_sealed: seal(
                "api-password",
                &input.api_password,
                &previous.api_password_sealed,
            )?,
            profile_iqa: input.profile_iqa.clone(),
            brand_name: input.brand_name.clone(),
            brand_colour: input.brand_colour.clone(),
            sign_in_text: input.sign_in_text.clone(),
            support_contact: input.support_contact.clone(),
            identity_source: input.identity_source.as_str().to_string(),
            imis_sign_out_url: input.imis_sign_out_url.clone(),
            updated_at: now,
        };
        self.store.put_tenant_settings(tenant, &record).await?;
        if !same_connection(&previous, &record) {
            // A test of the old connection says nothing about the new one.
            self.store.record_imis_check(tenant, None).await?;
        }
        tracing::info!(tenant = tenant.0, "settings saved");
        Ok(view(&record))
    }

    /// The tenant's iMIS connection with its secrets opened, or `None` until a base URL is set.
    pub async fn connection(
        &self,
        tenant: TenantId,
    ) -> Result<Option<ImisConnection>, SettingsError> {
        let Some(record) = self.store.tenant_settings(tenant).await? else {
            return Ok(None);
        };
        if record.imis_base_url.is_empty() {
            return Ok(None);
        }
        let open = |kind: &str, sealed: &str| -> Result<String, SettingsError> {
            if sealed.is_empty() {
                return Ok(String::new());
            }
            let bytes = self.secret.open(&context(kind, tenant), sealed)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let credentials = |client_id: &str, secret: String| {
            (!client_id.is_empty() && !secret.is_empty()).then(|| ClientCredentials {
                client_id: client_id.to_string(),
                client_secret: secret,
            })
        };
        let imis = Imis::new(&record.imis_base_url, self.timeout, self.network).map_err(|e| {
            SettingsError::Invalid(vec![FieldError::new("imis_base_url", e.to_string())])
        })?;
        Ok(Some(ImisConnection {
            oidc: credentials(
                &record.oidc_client_id,
                open("oidc-client-secret", &record.oidc_client_secret_sealed)?,
            ),
            saml: credentials(
                &record.saml_client_id,
                open("saml-client-secret", &record.saml_client_secret_sealed)?,
            ),
            oidc_sso_page: absolute(&record.imis_base_url, &record.oidc_sso_page),
            saml_sso_page: absolute(&record.imis_base_url, &record.saml_sso_page),
            api_username: record.api_username.clone(),
            api_password: open("api-password", &record.api_password_sealed)?,
            profile_iqa: record.profile_iqa.clone(),
            identity_source: IdentitySource::parse(&record.identity_source),
            imis,
        }))
    }

    /// Checks the saved connection step by step, so every problem shows, and writes down
    /// whether all passed (the getting-started checklist ticks on it).
    pub async fn test_connection(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<CheckStep>, SettingsError> {
        let slot = self.reserve_check(tenant)?;
        self.test_connection_reporting(slot, now, &|_| {}).await
    }

    /// The tenant's turn to run Test connection, or [`SettingsError::CheckRunning`] while
    /// another of its checks runs on this node.
    pub fn reserve_check(&self, tenant: TenantId) -> Result<CheckSlot, SettingsError> {
        let mut running = self
            .checks_running
            .lock()
            .map_err(|_| SettingsError::CheckRunning)?;
        if !running.insert(tenant) {
            return Err(SettingsError::CheckRunning);
        }
        Ok(CheckSlot {
            tenant,
            running: Arc::clone(&self.checks_running),
        })
    }

    /// [`Self::test_connection`] in a reserved slot, telling `report` each step as soon as it
    /// is known.
    pub async fn test_connection_reporting(
        &self,
        slot: CheckSlot,
        now: Timestamp,
        report: &(dyn Fn(&CheckStep) + Send + Sync),
    ) -> Result<Vec<CheckStep>, SettingsError> {
        let tenant = slot.tenant;
        let Some(connection) = self.connection(tenant).await? else {
            let step = CheckStep::failed(
                "iMIS address",
                "No iMIS address is saved yet. Enter the base URL of your iMIS site and save.",
            );
            report(&step);
            return Ok(vec![step]);
        };
        let steps = check::run(&connection, report).await;
        let passed = steps.iter().all(|step| step.ok);
        self.store
            .record_imis_check(tenant, Some((now, passed)))
            .await?;
        Ok(steps)
    }
}

/// Whether two saved Settings connect to iMIS the same way (branding aside).
fn same_connection(a: &SettingsRecord, b: &SettingsRecord) -> bool {
    let connection = |r: &SettingsRecord| {
        [
            r.imis_base_url.clone(),
            r.oidc_client_id.clone(),
            r.oidc_client_secret_sealed.clone(),
            r.oidc_sso_page.clone(),
            r.saml_client_id.clone(),
            r.saml_client_secret_sealed.clone(),
            r.saml_sso_page.clone(),
            r.api_username.clone(),
            r.api_password_sealed.clone(),
            r.profile_iqa.clone(),
            r.identity_source.clone(),
        ]
    };
    connection(a) == connection(b)
}

/// An SSO page setting as a full URL: paths are taken relative to the iMIS base URL.
fn absolute(base: &str, page: &str) -> String {
    if page.starts_with('/') {
        format!("{}{page}", base.trim_end_matches('/'))
    } else {
        page.to_string()
    }
}

fn view(record: &SettingsRecord) -> SettingsView {
    SettingsView {
        imis_base_url: record.imis_base_url.clone(),
        oidc: ClientView {
            client_id: record.oidc_client_id.clone(),
            has_secret: !record.oidc_client_secret_sealed.is_empty(),
            sso_page: record.oidc_sso_page.clone(),
        },
        saml: ClientView {
            client_id: record.saml_client_id.clone(),
            has_secret: !record.saml_client_secret_sealed.is_empty(),
            sso_page: record.saml_sso_page.clone(),
        },
        api_username: record.api_username.clone(),
        has_api_password: !record.api_password_sealed.is_empty(),
        profile_iqa: record.profile_iqa.clone(),
        brand_name: record.brand_name.clone(),
        brand_colour: record.brand_colour.clone(),
        sign_in_text: record.sign_in_text.clone(),
        support_contact: record.support_contact.clone(),
        identity_source: IdentitySource::parse(&record.identity_source),
        imis_sign_out_url: record.imis_sign_out_url.clone(),
        updated_at: Some(record.updated_at),
    }
}
