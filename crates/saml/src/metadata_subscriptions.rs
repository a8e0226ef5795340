//! SAML apps subscribed to their service provider's metadata address: re-read daily and on
//! demand, compared with the app, certificate rollovers applied when the admin allowed it and
//! every other change kept for the admin's approval; a failed read is kept and shown on the app.
//!
//! Fetching is the caller's (through the deployment's outbound guard): this engine only judges
//! what was fetched, so it never reaches the network itself.

use vestibule_domain::{InvalidInput, Seconds, TenantId, Timestamp};
use vestibule_storage::{MetadataSubscriptionRecord, Store};

use crate::apps::{SamlApp, SamlApps};
use crate::metadata_changes::MetadataChange;
use crate::{parse_sp_metadata, SamlError};

/// How often a subscribed address is re-read.
pub const REFRESH_EVERY: Seconds = Seconds::hours(24);
/// A read a node claimed but never wrote down (it stopped) is retried after this long.
const CLAIM_FOR: Seconds = Seconds::minutes(15);

/// An app's subscription as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSubscription {
    pub url: String,
    pub apply_certificates: bool,
    pub checked_at: Option<Timestamp>,
    pub next_check_at: Timestamp,
    /// Why the last read failed, in words.
    pub failure: Option<String>,
    /// What the last read would change and waits for the admin.
    pub waiting: Vec<MetadataChange>,
}

/// What may be applied without asking the admin again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyChanges {
    /// Compare only.
    Nothing,
    /// Certificate rollovers (the admin allowed them on the subscription).
    Certificates,
    /// Everything the metadata changes (the admin pressed Apply).
    Everything,
}

/// One read of an app's metadata, judged.
#[derive(Debug, Clone)]
pub struct MetadataCheck {
    /// The app before anything was applied.
    pub before: SamlApp,
    /// The app after what was applied; `None` when nothing was.
    pub after: Option<SamlApp>,
    pub applied: Vec<MetadataChange>,
    pub waiting: Vec<MetadataChange>,
    /// Why the metadata could not be used, in words (nothing was applied).
    pub failure: Option<String>,
}

#[derive(Clone)]
pub struct MetadataSubscriptions {
    store: Store,
    apps: SamlApps,
}

fn subscription(record: MetadataSubscriptionRecord) -> MetadataSubscription {
    MetadataSubscription {
        url: record.url,
        apply_certificates: record.apply_certificates,
        checked_at: record.checked_at,
        next_check_at: record.next_check_at,
        failure: record.failure,
        waiting: record
            .pending
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default(),
    }
}

impl MetadataSubscriptions {
    pub fn new(store: Store) -> Self {
        MetadataSubscriptions {
            apps: SamlApps::new(store.clone()),
            store,
        }
    }

    /// Subscribes the app to `url`, to be read at once by the caller and then daily. Whether
    /// the address may be fetched is the outbound guard's to say (the caller asks it first, and
    /// it is asked again at every read).
    pub async fn subscribe(
        &self,
        tenant: TenantId,
        app_id: &str,
        url: &str,
        apply_certificates: bool,
        now: Timestamp,
    ) -> Result<(), SamlError> {
        let url = url.trim();
        if url.is_empty() || url.len() > 2048 || url.contains(char::is_whitespace) {
            return Err(SamlError::Invalid(InvalidInput::new(
                "metadata_url",
                "The metadata address must be one address, at most 2048 characters.",
            )));
        }
        if self
            .store
            .subscribe_saml_metadata(tenant, app_id, url, apply_certificates, now)
            .await?
        {
            Ok(())
        } else {
            Err(SamlError::NoSuchApp)
        }
    }

    pub async fn unsubscribe(&self, tenant: TenantId, app_id: &str) -> Result<(), SamlError> {
        self.store.unsubscribe_saml_metadata(tenant, app_id).await?;
        Ok(())
    }

    pub async fn get(
        &self,
        tenant: TenantId,
        app_id: &str,
    ) -> Result<Option<MetadataSubscription>, SamlError> {
        Ok(self
            .store
            .saml_metadata_subscription(tenant, app_id)
            .await?
            .map(subscription))
    }

    /// The tenant's subscriptions by app id.
    pub async fn list(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<(String, MetadataSubscription)>, SamlError> {
        Ok(self
            .store
            .saml_metadata_subscriptions(tenant)
            .await?
            .into_iter()
            .map(|record| (record.app_id.clone(), subscription(record)))
            .collect())
    }

    /// Up to `limit` subscriptions due for a read at `now`, claimed for this node: (tenant,
    /// app id, address).
    pub async fn claim_due(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<(TenantId, String, String)>, SamlError> {
        Ok(self
            .store
            .claim_due_saml_metadata(now, now + CLAIM_FOR, limit)
            .await?
            .into_iter()
            .map(|record| (record.tenant, record.app_id, record.url))
            .collect())
    }

    /// Judges `document`, read from `url` (or why it could not be), against the app: compares,
    /// applies what `apply` allows (and, for a subscribed address, what the subscription
    /// allows), and, when the app is subscribed to `url`, writes the outcome down and schedules
    /// the next read.
    pub async fn check(
        &self,
        tenant: TenantId,
        app_id: &str,
        url: &str,
        document: Result<String, String>,
        apply: ApplyChanges,
        now: Timestamp,
    ) -> Result<MetadataCheck, SamlError> {
        let app = self.apps.get(tenant, app_id).await?;
        let subscribed = self
            .store
            .saml_metadata_subscription(tenant, app_id)
            .await?
            .filter(|record| record.url == url.trim());
        let apply = match (apply, &subscribed) {
            (ApplyChanges::Nothing, Some(record)) if record.apply_certificates => {
                ApplyChanges::Certificates
            }
            (apply, _) => apply,
        };
        let mut check = self.judge(app, document, apply, now).await?;
        if let Some(mut record) = subscribed {
            record.checked_at = Some(now);
            record.failure = check.failure.clone();
            record.pending = if check.waiting.is_empty() {
                None
            } else {
                serde_json::to_string(&check.waiting).ok()
            };
            record.next_check_at = now + REFRESH_EVERY;
            if !self.store.record_saml_metadata_check(&record).await? {
                // Re-subscribed meanwhile: this read is not the subscription's.
                check.waiting.clear();
            }
        }
        Ok(check)
    }

    async fn judge(
        &self,
        app: SamlApp,
        document: Result<String, String>,
        apply: ApplyChanges,
        now: Timestamp,
    ) -> Result<MetadataCheck, SamlError> {
        let failed = |app: SamlApp, failure: String| MetadataCheck {
            before: app,
            after: None,
            applied: Vec::new(),
            waiting: Vec::new(),
            failure: Some(failure),
        };
        let document = match document {
            Ok(document) => document,
            Err(why) => {
                return Ok(failed(
                    app,
                    format!("The metadata could not be fetched: {why}."),
                ))
            }
        };
        let fresh = match parse_sp_metadata(document.trim()) {
            Ok(fresh) => fresh,
            Err(why) => return Ok(failed(app, format!("The metadata cannot be read: {why}."))),
        };
        let changes = match app.metadata_changes(&fresh) {
            Ok(changes) => changes,
            Err(why) => {
                return Ok(failed(
                    app,
                    format!("This is not the app's metadata: {why}."),
                ))
            }
        };
        let (input, applied, waiting) = match apply {
            _ if changes.is_empty() => (None, Vec::new(), Vec::new()),
            ApplyChanges::Nothing => (None, Vec::new(), changes),
            ApplyChanges::Everything => (Some(app.with_metadata(&fresh)), changes, Vec::new()),
            ApplyChanges::Certificates => {
                let (certificates, others): (Vec<_>, Vec<_>) = changes
                    .into_iter()
                    .partition(MetadataChange::is_certificate);
                let input =
                    (!certificates.is_empty()).then(|| app.with_metadata_certificates(&fresh));
                (input, certificates, others)
            }
        };
        let after = match input {
            Some(input) => match self.apps.update(app.tenant, &app.app_id, input, now).await {
                Ok(updated) => Some(updated),
                Err(SamlError::Invalid(invalid)) => {
                    let why = format!("What the metadata says cannot be applied: {invalid}");
                    return Ok(failed(app, why));
                }
                Err(error) => return Err(error),
            },
            None => None,
        };
        Ok(MetadataCheck {
            before: app,
            after,
            applied,
            waiting,
            failure: None,
        })
    }
}
