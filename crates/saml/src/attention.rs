//! What a tenant's SAML apps need from its admins before sign-ins break: a service provider
//! certificate that expires within [`SP_CERTIFICATE_WARNING`] (or has), and a subscribed
//! metadata address whose last read failed or whose changes wait for approval. The dashboard's
//! first page and the warning e-mails say the same, from here.

use vestibule_domain::{Seconds, TenantId, Timestamp};

use crate::{MetadataSubscription, SamlApp, SamlError, SamlIdp};

/// How far ahead a service provider's certificate is said to expire.
pub const SP_CERTIFICATE_WARNING: Seconds = Seconds(30 * 86_400);

/// One thing an app needs from the admin, in a sentence about the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAttention {
    pub app_id: String,
    pub app_name: String,
    pub text: String,
}

impl MetadataSubscription {
    /// What the subscription needs from the admin, in one sentence; `None` when all is well.
    pub fn notice(&self) -> Option<String> {
        if let Some(failure) = &self.failure {
            return Some(format!("Reading its metadata failed: {failure}"));
        }
        match self.waiting.len() {
            0 => None,
            1 => Some("1 change from its metadata waits for your approval.".to_string()),
            many => Some(format!(
                "{many} changes from its metadata wait for your approval."
            )),
        }
    }
}

/// What `apps` need at `now`, given their metadata `subscriptions` (by app id): certificates
/// first, in the apps' order.
pub fn needing_attention(
    apps: &[SamlApp],
    subscriptions: &[(String, MetadataSubscription)],
    now: Timestamp,
) -> Vec<AppAttention> {
    let mut found = Vec::new();
    let mut note = |app: &SamlApp, text: String| {
        found.push(AppAttention {
            app_id: app.app_id.clone(),
            app_name: app.name.clone(),
            text,
        })
    };
    for app in apps {
        for (used, not_after) in app.certificate_expiries() {
            if not_after - now > SP_CERTIFICATE_WARNING {
                continue;
            }
            // The day (UTC) is enough for a warning given a month ahead.
            let at = not_after.to_string();
            let day = at.split_once('T').map_or(at.as_str(), |(day, _)| day);
            let when = match not_after <= now {
                true => format!("expired on {day}"),
                false => format!("expires on {day}"),
            };
            let text = format!(
                "the service provider's {} certificate {when}. Ask the vendor for their new \
                 metadata and import it, or paste the new certificate on the app's page.",
                used.as_str()
            );
            note(app, text);
        }
    }
    for (app_id, subscription) in subscriptions {
        let app = apps.iter().find(|app| app.app_id == *app_id);
        if let (Some(app), Some(notice)) = (app, subscription.notice()) {
            note(app, notice);
        }
    }
    found
}

impl SamlIdp {
    /// What the tenant's SAML apps need from its admins at `now`.
    pub async fn apps_needing_attention(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<AppAttention>, SamlError> {
        let apps = self.apps.list(tenant).await?;
        let subscriptions = self.metadata.list(tenant).await?;
        Ok(needing_attention(&apps, &subscriptions, now))
    }
}
