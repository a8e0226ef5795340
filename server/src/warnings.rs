//! Warnings by e-mail: a problem that lasts (a certificate that will not renew, iMIS refusing
//! sign-ins, a SAML app whose service provider certificate expires or whose metadata fails)
//! told to the people who can fix it, once a day while it lasts. Operators see the same in
//! their metrics.

use vestibule_domain::{CloudId, Email, Seconds, TenantId, Timestamp};
use vestibule_mail::{ImisFailures, Mail, MailError, MailKind, Outbox};
use vestibule_members::{ImisTrouble, ImisTroubleObserver, SignInOutcome};
use vestibule_provisioning::{RenewalFailure, RenewalWarner};
use vestibule_saml::{AppAttention, SamlIdp};
use vestibule_storage::Store;

/// A warning about a problem that lasts goes out again after this long.
pub const REPEAT_AFTER: Seconds = Seconds::hours(24);
/// iMIS failures count toward a warning within this window...
pub const IMIS_WINDOW: Seconds = Seconds::minutes(15);
/// ...once there are this many: one failed sign-in may be a blip, three are a pattern.
pub const IMIS_FAILURES: usize = 3;

/// Queues the warning `mail` makes (from an admin's address and Cloud ID) for each admin of
/// `tenant` who acts on warnings (invitations not yet accepted are left out: nobody acts on
/// those yet) and was not sent one of `kind` within [`REPEAT_AFTER`]. Each is queued once per
/// period even when several nodes send it at once. Answers how many were warned.
async fn warn_admins(
    store: &Store,
    outbox: &Outbox,
    tenant: TenantId,
    kind: MailKind,
    now: Timestamp,
    mail: impl Fn(Email, &CloudId) -> Mail,
) -> Result<usize, MailError> {
    let mut warned = 0;
    for admin in store.list_tenant_staff(tenant).await? {
        let Some(cloud_id) = admin.cloud_id.as_ref().filter(|_| admin.has_password) else {
            continue;
        };
        if outbox
            .sent_within(&admin.email, kind, REPEAT_AFTER, now)
            .await?
        {
            continue;
        }
        let warning = mail(admin.email.clone(), cloud_id);
        if outbox
            .enqueue_once(&warning, REPEAT_AFTER, now)
            .await?
            .is_some()
        {
            warned += 1;
        }
    }
    Ok(warned)
}

/// E-mails each admin of the failing domain's Cloud ID who was not warned within
/// [`REPEAT_AFTER`]; invitations not yet accepted are left out (nobody acts on those yet).
/// Answers how many were warned.
pub async fn certificate_renewal_failed(
    store: &Store,
    outbox: &Outbox,
    dashboard: &str,
    failure: &RenewalFailure,
    now: Timestamp,
) -> Result<usize, MailError> {
    let expires = failure.expires_at.map(|at| at.to_utc_string());
    let kind = MailKind::CertificateWarning;
    warn_admins(store, outbox, failure.tenant, kind, now, |to, cloud_id| {
        Mail::certificate_renewal_failing(
            to,
            failure.tenant,
            &failure.domain,
            &failure.reason,
            expires.as_deref(),
            &format!("{dashboard}/t/{cloud_id}/domain"),
        )
    })
    .await
}

/// The listener the provisioning engine tells of failed renewals: it queues the warnings
/// without holding up the renewal job.
pub fn renewal_warner(store: Store, outbox: Outbox, dashboard: String) -> RenewalWarner {
    Box::new(move |failure| {
        let (store, outbox, dashboard) = (store.clone(), outbox.clone(), dashboard.clone());
        tokio::spawn(async move {
            let now = Timestamp::now();
            match certificate_renewal_failed(&store, &outbox, &dashboard, &failure, now).await {
                Ok(warned) => {
                    tracing::info!(domain = %failure.domain, warned, "renewal failure warned of")
                }
                Err(error) => {
                    tracing::error!(domain = %failure.domain, %error, "warning of a failed renewal")
                }
            }
        });
    })
}

/// When `trouble` makes [`IMIS_FAILURES`] such failures of its tenant within [`IMIS_WINDOW`],
/// e-mails each admin not warned within [`REPEAT_AFTER`]. Answers how many were warned.
pub async fn imis_trouble(
    store: &Store,
    outbox: &Outbox,
    dashboard: &str,
    trouble: &ImisTrouble,
    now: Timestamp,
) -> Result<usize, MailError> {
    let since = now - IMIS_WINDOW;
    let recent = store
        .sign_in_events(trouble.tenant, None, 50)
        .await?
        .into_iter()
        .filter(|event| event.at >= since && SignInOutcome::text_is_for_admins(&event.outcome))
        .count();
    if recent < IMIS_FAILURES {
        return Ok(0);
    }
    let kind = MailKind::ImisWarning;
    warn_admins(store, outbox, trouble.tenant, kind, now, |to, cloud_id| {
        let failing = ImisFailures {
            cloud_id: cloud_id.as_str(),
            failures: recent,
            minutes: IMIS_WINDOW.0 / 60,
            outcome: trouble.outcome,
            detail: &trouble.detail,
        };
        Mail::imis_sign_ins_failing(to, trouble.tenant, &failing, dashboard)
    })
    .await
}

/// The listener the members engine tells of iMIS trouble: it queues the warnings without
/// holding up the member's answer.
pub fn imis_trouble_observer(
    store: Store,
    outbox: Outbox,
    dashboard: String,
) -> ImisTroubleObserver {
    std::sync::Arc::new(move |trouble| {
        let (store, outbox, dashboard) = (store.clone(), outbox.clone(), dashboard.clone());
        tokio::spawn(async move {
            let now = Timestamp::now();
            match imis_trouble(&store, &outbox, &dashboard, &trouble, now).await {
                Ok(0) => {}
                Ok(warned) => {
                    tracing::info!(tenant = trouble.tenant.0, warned, "iMIS trouble warned of")
                }
                Err(error) => tracing::error!(%error, "warning of iMIS trouble"),
            }
        });
    })
}

/// How often the SAML apps of every Cloud ID are looked at for what they need.
pub const SAML_APPS_LOOKED_AT_EVERY: Seconds = Seconds::hours(1);

/// E-mails each admin of `tenant` not warned within [`REPEAT_AFTER`] what its SAML apps
/// `need` (nothing when they need nothing). Answers how many were warned.
pub async fn saml_apps_need_attention(
    store: &Store,
    outbox: &Outbox,
    dashboard: &str,
    tenant: TenantId,
    need: &[AppAttention],
    now: Timestamp,
) -> Result<usize, MailError> {
    if need.is_empty() {
        return Ok(0);
    }
    let lines: Vec<(String, String)> = need
        .iter()
        .map(|attention| (attention.app_name.clone(), attention.text.clone()))
        .collect();
    let kind = MailKind::SamlAppWarning;
    warn_admins(store, outbox, tenant, kind, now, |to, cloud_id| {
        Mail::saml_apps_need_attention(to, tenant, cloud_id.as_str(), &lines, dashboard)
    })
    .await
}

/// Looks at every Cloud ID's SAML apps and warns the admins of those that need them; a
/// Cloud ID that cannot be read is logged and the others are still looked at. Answers how
/// many admins were warned.
pub async fn warn_of_saml_apps(
    store: &Store,
    saml: &SamlIdp,
    outbox: &Outbox,
    dashboard: &str,
    now: Timestamp,
) -> Result<usize, MailError> {
    let mut warned = 0;
    for tenant in store.list_tenants().await? {
        let need = match saml.apps_needing_attention(tenant.id, now).await {
            Ok(need) => need,
            Err(error) => {
                tracing::error!(tenant = tenant.id.0, %error, "reading what SAML apps need");
                continue;
            }
        };
        warned += saml_apps_need_attention(store, outbox, dashboard, tenant.id, &need, now).await?;
    }
    Ok(warned)
}

/// Looks at the SAML apps every [`SAML_APPS_LOOKED_AT_EVERY`].
pub fn spawn_saml_app_warnings(store: Store, saml: SamlIdp, outbox: Outbox, dashboard: String) {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(SAML_APPS_LOOKED_AT_EVERY.0.unsigned_abs());
        let mut every = tokio::time::interval(period);
        loop {
            every.tick().await;
            match warn_of_saml_apps(&store, &saml, &outbox, &dashboard, Timestamp::now()).await {
                Ok(0) => {}
                Ok(warned) => tracing::info!(warned, "SAML apps needing their admins warned of"),
                Err(error) => tracing::error!(%error, "warning of SAML apps"),
            }
        }
    });
}
