//! The scheduled re-read of SAML apps' subscribed metadata: each node claims the reads that are
//! due (so several nodes read each address once), fetches through the outbound guard, and lets
//! the SAML engine compare and apply what the subscription allows. What it applies is in the
//! audit log, done by [`ACTOR`]; failures and changes waiting are on the app's page.

use std::time::Duration;

use vestibule_audit::{AuditAction, AuditLog, Change};
use vestibule_domain::Timestamp;
use vestibule_saml::{ApplyChanges, SamlError, SamlIdp};
use vestibule_settings::TenantSettings;

/// Who the audit log says applied a change the subscription allowed.
pub const ACTOR: &str = "metadata refresh (automatic)";
/// Reads one node takes on at a time: each may wait for a slow service provider.
const BATCH: i64 = 20;

/// Reads every subscription due at `now` that no other node claimed; answers how many it read.
pub async fn refresh_due(
    saml: &SamlIdp,
    settings: &TenantSettings,
    audit: &AuditLog,
    now: Timestamp,
) -> Result<usize, SamlError> {
    let due = saml.metadata.claim_due(now, BATCH).await?;
    for (tenant, app_id, url) in &due {
        let document = settings
            .fetch_document(url)
            .await
            .map_err(|error| error.to_string());
        let check = match saml
            .metadata
            .check(*tenant, app_id, url, document, ApplyChanges::Nothing, now)
            .await
        {
            Ok(check) => check,
            // Deleted meanwhile: its subscription went with it.
            Err(SamlError::NoSuchApp) => continue,
            Err(error) => return Err(error),
        };
        if let Some(failure) = &check.failure {
            tracing::warn!(tenant = tenant.0, app = %app_id, %failure, "a subscribed SAML metadata read failed");
        }
        let Some(after) = &check.after else {
            continue;
        };
        let snapshot = |app| vestibule_audit::snapshot(&app::api::saml_form(app)).ok();
        audit
            .record_after(
                Change {
                    tenant: Some(*tenant),
                    actor: ACTOR,
                    action: AuditAction::SamlAppUpdate,
                    target: app::api::saml_target(after),
                    before: snapshot(&check.before),
                    after: snapshot(after),
                },
                now,
            )
            .await;
    }
    Ok(due.len())
}

/// Looks for due reads every five minutes.
pub fn spawn(saml: SamlIdp, settings: TenantSettings, audit: AuditLog) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(300));
        loop {
            every.tick().await;
            if let Err(error) = refresh_due(&saml, &settings, &audit, Timestamp::now()).await {
                tracing::warn!(%error, "re-reading subscribed SAML metadata failed");
            }
        }
    });
}
