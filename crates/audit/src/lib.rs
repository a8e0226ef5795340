//! The audit log: every change a tenant admin or operator makes, with who, when, which tenant,
//! what, and the values before and after. Secrets never reach it: [`redact`] replaces them
//! before anything is stored.
//!
//! It knows nothing of HTTP or Leptos: the dashboard's server functions record changes here
//! after the engines made them, and the dashboard lists and exports them.

use serde::Serialize;
use serde_json::Value;
use vestibule_domain::{TenantId, Timestamp};
use vestibule_storage::{AuditEventRecord, StorageError, Store};

pub use vestibule_storage::{AuditEventRecord as AuditEvent, AuditFilter};

mod describe;
pub use describe::{action_label, describe, FieldChange};

/// What stands in for a secret's value.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the change could not be written down: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("“{0}” is not a date: write it as YYYY-MM-DD")]
    InvalidDate(String),
}

/// The filter a search form describes: `action` a prefix (`saml_app`), `actor` part of an
/// e-mail address; blank fields filter nothing.
pub fn filter(action: &str, actor: &str) -> AuditFilter {
    let given = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    AuditFilter {
        action: given(action),
        actor: given(actor),
        ..AuditFilter::default()
    }
}

/// `filter` narrowed to the days `from` to `to`, both included, both `YYYY-MM-DD` in UTC
/// (what a date input sends); a blank one leaves that end open.
pub fn with_dates(filter: AuditFilter, from: &str, to: &str) -> Result<AuditFilter, AuditError> {
    let day = |text: &str| -> Result<Option<Timestamp>, AuditError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Timestamp::from_date(text)
            .map(Some)
            .ok_or_else(|| AuditError::InvalidDate(text.trim().to_string()))
    };
    Ok(AuditFilter {
        since: day(from)?,
        until: day(to)?.map(|start| start + vestibule_domain::Seconds::hours(24)),
        ..filter
    })
}

/// What an audit event records, as `thing.verb`. The log stores and filters the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// a tenant (Cloud ID) created.
    TenantCreate,
    /// a tenant admin invited from the dashboard.
    TeamInvite,
    /// a staff member added from the command line.
    TeamAdd,
    /// a pending invitation sent again (a new link; the earlier ones stop working).
    TeamResend,
    /// a pending invitation revoked.
    TeamRevoke,
    /// a staff member removed from a tenant's team.
    TeamRemove,
    /// what a member of a tenant's team may do there changed (admin or read-only).
    TeamAccessChange,
    /// a staff member added an authenticator app (a second factor).
    TeamSecondFactorAdd,
    /// a staff member's authenticator app removed (by them, or by an operator).
    TeamSecondFactorRemove,
    /// a Cloud ID's rule that its admins must use a second factor, turned on or off.
    TeamSecondFactorRule,
    /// Settings saved.
    SettingsSave,
    /// a logo uploaded.
    BrandingUploadLogo,
    /// the logo removed.
    BrandingRemoveLogo,
    /// a domain claimed and provisioning queued.
    DomainProvision,
    /// a failed provisioning queued again.
    DomainRetry,
    /// a domain released.
    DomainRelease,
    /// another of the Cloud ID's domains made its primary.
    DomainMakePrimary,
    /// a directory member added.
    MemberAdd,
    /// a directory member's password set by an admin.
    MemberSetPassword,
    /// a directory member removed.
    MemberRemove,
    /// an OIDC client app registered.
    OidcAppCreate,
    /// an OIDC client app edited.
    OidcAppUpdate,
    /// an OIDC client app's secret rotated.
    OidcAppRotateSecret,
    /// an OIDC client app deleted.
    OidcAppDelete,
    /// a SAML app registered.
    SamlAppCreate,
    /// a SAML app edited.
    SamlAppUpdate,
    /// a SAML app deleted.
    SamlAppDelete,
    /// a SAML app subscribed to its service provider's metadata address, or no longer.
    SamlAppMetadataSubscription,
    /// the next SAML signing certificate made and published ahead.
    SamlCertificatePrepare,
    /// the SAML signing certificate rolled over to the next one, now.
    SamlCertificateRoll,
    /// the next SAML signing certificate's start postponed.
    SamlCertificatePostpone,
    /// a tenant admin opened the full detail of a recorded protocol exchange.
    FlightRecorderReveal,
    /// a tenant admin started a test sign-in of an app.
    TestSignInStart,
    /// a member signed in to an application (or the hosted page).
    SignInSucceeded,
    /// a member's sign-in failed, with the reason.
    SignInFailed,
}

impl AuditAction {
    /// Every action, in the order the dashboard lists them.
    pub const ALL: [AuditAction; 35] = [
        AuditAction::TenantCreate,
        AuditAction::TeamInvite,
        AuditAction::TeamAdd,
        AuditAction::TeamResend,
        AuditAction::TeamRevoke,
        AuditAction::TeamRemove,
        AuditAction::TeamAccessChange,
        AuditAction::TeamSecondFactorAdd,
        AuditAction::TeamSecondFactorRemove,
        AuditAction::TeamSecondFactorRule,
        AuditAction::SettingsSave,
        AuditAction::BrandingUploadLogo,
        AuditAction::BrandingRemoveLogo,
        AuditAction::DomainProvision,
        AuditAction::DomainRetry,
        AuditAction::DomainRelease,
        AuditAction::DomainMakePrimary,
        AuditAction::MemberAdd,
        AuditAction::MemberSetPassword,
        AuditAction::MemberRemove,
        AuditAction::OidcAppCreate,
        AuditAction::OidcAppUpdate,
        AuditAction::OidcAppRotateSecret,
        AuditAction::OidcAppDelete,
        AuditAction::SamlAppCreate,
        AuditAction::SamlAppUpdate,
        AuditAction::SamlAppDelete,
        AuditAction::SamlAppMetadataSubscription,
        AuditAction::SamlCertificatePrepare,
        AuditAction::SamlCertificateRoll,
        AuditAction::SamlCertificatePostpone,
        AuditAction::FlightRecorderReveal,
        AuditAction::TestSignInStart,
        AuditAction::SignInSucceeded,
        AuditAction::SignInFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreate => "tenant.create",
            AuditAction::TeamInvite => "team.invite",
            AuditAction::TeamAdd => "team.add",
            AuditAction::TeamResend => "team.resend",
            AuditAction::TeamRevoke => "team.revoke",
            AuditAction::TeamRemove => "team.remove",
            AuditAction::TeamAccessChange => "team.access_change",
            AuditAction::TeamSecondFactorAdd => "team.second_factor_add",
            AuditAction::TeamSecondFactorRemove => "team.second_factor_remove",
            AuditAction::TeamSecondFactorRule => "team.second_factor_rule",
            AuditAction::SettingsSave => "settings.save",
            AuditAction::BrandingUploadLogo => "branding.upload_logo",
            AuditAction::BrandingRemoveLogo => "branding.remove_logo",
            AuditAction::DomainProvision => "domain.provision",
            AuditAction::DomainRetry => "domain.retry",
            AuditAction::DomainRelease => "domain.release",
            AuditAction::DomainMakePrimary => "domain.primary",
            AuditAction::MemberAdd => "member.add",
            AuditAction::MemberSetPassword => "member.set_password",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::OidcAppCreate => "oidc_app.create",
            AuditAction::OidcAppUpdate => "oidc_app.update",
            AuditAction::OidcAppRotateSecret => "oidc_app.rotate_secret",
            AuditAction::OidcAppDelete => "oidc_app.delete",
            AuditAction::SamlAppCreate => "saml_app.create",
            AuditAction::SamlAppUpdate => "saml_app.update",
            AuditAction::SamlAppDelete => "saml_app.delete",
            AuditAction::SamlAppMetadataSubscription => "saml_app.metadata_subscription",
            AuditAction::SamlCertificatePrepare => "saml_certificate.prepare",
            AuditAction::SamlCertificateRoll => "saml_certificate.roll",
            AuditAction::SamlCertificatePostpone => "saml_certificate.postpone",
            AuditAction::FlightRecorderReveal => "flight_recorder.reveal",
            AuditAction::TestSignInStart => "test_sign_in.start",
            AuditAction::SignInSucceeded => "sign_in.succeeded",
            AuditAction::SignInFailed => "sign_in.failed",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change, as the caller describes it.
pub struct Change<'a> {
    pub tenant: Option<TenantId>,
    /// The staff member's e-mail address.
    pub actor: &'a str,
    pub action: AuditAction,
    /// Which one, in words an admin recognises: `Events (k3Jd9sLq)`, `sso.acme.org`.
    pub target: String,
    /// `None` for creations.
    pub before: Option<Value>,
    /// `None` for deletions.
    pub after: Option<Value>,
}

/// A value for [`Change::before`] or [`Change::after`].
pub fn snapshot(value: &impl Serialize) -> Result<Value, AuditError> {
    Ok(serde_json::to_value(value)?)
}

/// Field names that hold secrets, wherever they appear.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret", "password", "private", "token", "api_key", "sealed",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `value` with every secret's value replaced by [`REDACTED`]. Flags, nulls and empty strings
/// stay, so the log still shows whether a secret was set.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    // Flags (`has_secret`), nulls and empty strings say whether a secret is
                    // set without saying what it is: they stay.
                    let value = if !is_secret(&key) {
                        redact(value)
                    } else if matches!(&value, Value::Null | Value::Bool(_))
                        || value.as_str().is_some_and(str::is_empty)
                    {
                        value
                    } else {
                        Value::String(REDACTED.to_string())
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[derive(Clone)]
pub struct AuditLog {
    store: Store,
}

/// How many events a search returns at most: the CSV download, or a check in a test.
pub const SEARCH_LIMIT: i64 = 500;

/// How many events a page of the dashboard's log lists.
pub const PAGE_SIZE: i64 = 50;

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Writes `change` down, secrets redacted. Nothing is recorded when before and after are
    /// the same: saving an unchanged form is not a change.
    pub async fn record(&self, change: Change<'_>, now: Timestamp) -> Result<(), AuditError> {
        let before = change.before.map(redact);
        let after = change.after.map(redact);
        if before.is_some() && before == after {
            return Ok(());
        }
        let event = AuditEventRecord {
            id: 0,
            tenant: change.tenant,
            at: now,
            actor: change.actor.to_string(),
            action: change.action.to_string(),
            target: change.target,
            before: before.map(|value| value.to_string()),
            after: after.map(|value| value.to_string()),
        };
        self.store.record_audit_event(&event).await?;
        Ok(())
    }

    /// Records `change` after it was made. The change stands when the log cannot be written
    /// (undoing a saved setting because the log is down would lose the admin's work): the
    /// failure goes to the server's own log, for operators to see.
    pub async fn record_after(&self, change: Change<'_>, now: Timestamp) {
        let action = change.action;
        if let Err(error) = self.record(change, now).await {
            tracing::error!(%error, %action, "an audit event could not be recorded");
        }
    }

    /// A tenant's events matching `filter`, newest first, at most [`SEARCH_LIMIT`].
    pub async fn search(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        Ok(self
            .store
            .audit_events(tenant, filter, SEARCH_LIMIT)
            .await?)
    }

    /// One page of a tenant's events matching `filter`, newest first: [`PAGE_SIZE`] of them,
    /// older than event `older_than` when given. The second value says whether older ones
    /// remain.
    pub async fn page(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        older_than: Option<i64>,
    ) -> Result<(Vec<AuditEvent>, bool), AuditError> {
        let filter = AuditFilter {
            older_than,
            ..filter.clone()
        };
        let mut events = self
            .store
            .audit_events(tenant, &filter, PAGE_SIZE + 1)
            .await?;
        let more = events.len() as i64 > PAGE_SIZE;
        events.truncate(PAGE_SIZE as usize);
        Ok((events, more))
    }
}

/// One CSV field (RFC 4180). A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
/// tab, carriage return first) is prefixed with `'`: values come from tenant admins' input.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The events as CSV with a header row: time (UTC, ISO 8601), actor, action, target, before,
/// after.
pub fn to_csv(events: &[AuditEvent]) -> String {
    let mut csv = String::from("time,actor,action,target,before,after\r\n");
    for event in events {
        let fields = [
            event.at.to_xml_datetime(),
            event.actor.clone(),
            event.action.clone(),
            event.target.clone(),
            event.before.clone().unwrap_or_default(),
            event.after.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    csv
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_action_is_a_distinct_thing_dot_verb() {
        let names: std::collections::BTreeSet<&str> =
            AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for name in names {
            let (thing, verb) = name.split_once('.').unwrap();
            assert!(!thing.is_empty() && !verb.is_empty(), "{name}");
        }
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_wherever_they_are_and_empty_ones_stay_visible() {
        let value = json!({
            "name": "Events",
            "client_secret": "s3cr3t",
            "imis": {"background_password": "hunter2", "base_url": "https://imis.acme.org"},
            "hs512_key": "",
            "keys": [{"private_key": "-----BEGIN"}],
            "refresh_token": null,
            "has_secret": true,
        });
        assert_eq!(
            redact(value),
            json!({
                "name": "Events",
                "client_secret": REDACTED,
                "imis": {"background_password": REDACTED, "base_url": "https://imis.acme.org"},
                "hs512_key": "",
                "keys": [{"private_key": REDACTED}],
                "refresh_token": null,
                "has_secret": true,
            })
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let event = AuditEvent {
            id: 1,
            tenant: Some(TenantId(1)),
            at: Timestamp(1_900_000_000),
            actor: "admin@acme.test".into(),
            action: "saml_app.update".into(),
            target: "=HYPERLINK(\"http://evil\")".into(),
            before: Some("{\"name\":\"Old, \\\"quoted\\\"\"}".into()),
            after: None,
        };
        assert_eq!(
            to_csv(&[event]),
            "time,actor,action,target,before,after\r\n\
             2030-03-17T17:46:40Z,admin@acme.test,saml_app.update,\
             \"'=HYPERLINK(\"\"http://evil\"\")\",\
             \"{\"\"name\"\":\"\"Old, \\\"\"quoted\\\"\"\"\"}\",\r\n"
        );
    }
}
