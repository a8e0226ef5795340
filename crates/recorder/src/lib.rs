//! The flight recorder: for each app, the latest protocol exchanges (authorization and token
//! requests, AuthnRequests, responses, logout messages) with time, member, outcome, signature
//! and the decoded message — what integrators otherwise piece together from browser SAML
//! tracers, because identity providers show them nothing.
//!
//! What is kept, and for how long (docs/decisions.md, "The flight recorder"):
//! - the latest [`KEEP`] answered and the latest [`KEEP`] refused exchanges per app; older ones
//!   are deleted as new ones are written (apart, so that a flood of forged requests naming an
//!   app cannot push out the exchanges that worked);
//! - a redacted copy of each message for anyone who may read the tenant: secrets, tokens and
//!   assertion contents (NameID, attribute values) replaced by `[redacted]`;
//! - the full decoded message for [`DETAIL_KEPT`] only, sealed with the installation's secret
//!   key, shown only to the tenant's admins. Credentials themselves (client secrets, passwords,
//!   codes, access and refresh tokens) are never kept at all: an ID token is kept as its
//!   decoded header and claims.
//!
//! Recording never fails an exchange: a write that fails is logged and the member goes on. A
//! node writes at most [`PER_APP_PER_MINUTE`] exchanges of one app a minute.
//! It knows nothing of HTTP: the member site describes each exchange, this keeps it.

mod difference;
mod message;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_storage::{ExchangeApp, ExchangeRecord, StorageError, Store};

pub use difference::first_difference;
pub use message::{id_token_facts, pairs_json, Message, Shown};

/// How many answered exchanges each app keeps, and how many refused ones.
pub const KEEP: i64 = 200;

/// How long an exchange's full detail is kept.
pub const DETAIL_KEPT: Seconds = Seconds::hours(24);

/// How many exchanges of one app a node writes down per minute. Past it the rest of the minute
/// goes unrecorded: a flood of requests anyone can send (IdP-initiated links, forged
/// AuthnRequests) costs one write a second at most and leaves most of the app's history.
pub const PER_APP_PER_MINUTE: u32 = 60;

/// Past this many apps in a minute, the counts start over (they are per node and per minute).
const APPS_COUNTED: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the exchange's detail could not be opened: {0}")]
    Seal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Oidc,
    Saml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oidc => "oidc",
            Protocol::Saml => "saml",
        }
    }
}

/// The app an exchange belongs to: an OIDC client id or a SAML app id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    pub protocol: Protocol,
    pub id: String,
}

impl AppRef {
    pub fn oidc(client_id: &str) -> Self {
        Self {
            protocol: Protocol::Oidc,
            id: client_id.to_string(),
        }
    }

    pub fn saml(app_id: &str) -> Self {
        Self {
            protocol: Protocol::Saml,
            id: app_id.to_string(),
        }
    }

    fn stored(&self) -> ExchangeApp<'_> {
        ExchangeApp {
            protocol: self.protocol.as_str(),
            app: &self.id,
        }
    }

    /// What the sealed detail is bound to: it opens for this tenant's app only.
    fn seal_context(&self, tenant: TenantId) -> String {
        format!(
            "flight-recorder:{}:{}:{}",
            tenant.0,
            self.protocol.as_str(),
            self.id
        )
    }
}

/// Which step of a protocol an exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Authorization,
    Token,
    Userinfo,
    EndSession,
    AuthnRequest,
    IdpInitiated,
    Response,
    LogoutRequest,
    LogoutResponse,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::Authorization,
        Kind::Token,
        Kind::Userinfo,
        Kind::EndSession,
        Kind::AuthnRequest,
        Kind::IdpInitiated,
        Kind::Response,
        Kind::LogoutRequest,
        Kind::LogoutResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Authorization => "authorization",
            Kind::Token => "token",
            Kind::Userinfo => "userinfo",
            Kind::EndSession => "end_session",
            Kind::AuthnRequest => "authn_request",
            Kind::IdpInitiated => "idp_initiated",
            Kind::Response => "response",
            Kind::LogoutRequest => "logout_request",
            Kind::LogoutResponse => "logout_response",
        }
    }

    /// In the recorder's list.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Authorization => "Authorization request",
            Kind::Token => "Token request",
            Kind::Userinfo => "UserInfo request",
            Kind::EndSession => "Logout (end session)",
            Kind::AuthnRequest => "AuthnRequest received",
            Kind::IdpInitiated => "IdP-initiated sign-in",
            Kind::Response => "Response sent",
            Kind::LogoutRequest => "LogoutRequest received",
            Kind::LogoutResponse => "LogoutResponse received",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    /// `reason`: exactly why, for the admin (never shown to members).
    Refused {
        reason: String,
    },
}

/// One exchange as the member site saw it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub app: AppRef,
    pub kind: Kind,
    /// The member's username, when one is known.
    pub member: Option<String>,
    pub outcome: Outcome,
    /// What was signed and what was checked, in words; empty when nothing is signed.
    pub signature: String,
    pub message: Message,
}

/// One exchange in the recorder's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: Timestamp,
    pub kind: Option<Kind>,
    pub member: String,
    pub answered: bool,
    pub reason: String,
    pub signature: String,
    /// Until when the full detail can be shown; `None` once it is gone.
    pub detail_until: Option<Timestamp>,
}

/// One exchange opened: the redacted message, and the full one when asked for and still kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDetail {
    pub entry: Entry,
    pub redacted: Shown,
    pub full: Option<Shown>,
}

/// Whether the reader may see the full detail (a tenant admin or operator) and asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    Redacted,
    Full,
}

#[derive(Clone)]
pub struct FlightRecorder {
    store: Store,
    secret: SecretKey,
    counted: Arc<Mutex<MinuteCounts>>,
}

/// The minute (Unix seconds / 60) and how many exchanges of each app were written in it (see
/// [`PER_APP_PER_MINUTE`]).
type MinuteCounts = (i64, HashMap<(TenantId, String), u32>);

impl FlightRecorder {
    pub fn new(store: Store, secret: SecretKey) -> Self {
        Self {
            store,
            secret,
            counted: Arc::default(),
        }
    }

    /// Whether this minute still has room for one more of `app`'s exchanges.
    fn room_for(&self, tenant: TenantId, app: &AppRef, now: Timestamp) -> bool {
        let Ok(mut counted) = self.counted.lock() else {
            return true;
        };
        let minute = now.0.div_euclid(60);
        if counted.0 != minute || counted.1.len() >= APPS_COUNTED {
            *counted = (minute, HashMap::new());
        }
        let key = (tenant, format!("{}:{}", app.protocol.as_str(), app.id));
        let count = counted.1.entry(key).or_insert(0);
        *count += 1;
        *count <= PER_APP_PER_MINUTE
    }

    /// Writes `exchange` down for `tenant`. Never fails the caller: a failure is logged.
    pub async fn record(&self, tenant: TenantId, exchange: Exchange, now: Timestamp) {
        if !self.room_for(tenant, &exchange.app, now) {
            tracing::debug!(app = %exchange.app.id, "flight recorder: this app's minute is full");
            return;
        }
        if let Err(error) = self.try_record(tenant, exchange, now).await {
            tracing::warn!(%error, "the flight recorder could not write an exchange down");
        }
    }

    async fn try_record(
        &self,
        tenant: TenantId,
        exchange: Exchange,
        now: Timestamp,
    ) -> Result<i64, RecorderError> {
        let (redacted, full) = exchange.message.into_parts();
        let detail = self
            .secret
            .seal(
                &exchange.app.seal_context(tenant),
                full.to_json().as_bytes(),
            )
            .map_err(|error| RecorderError::Seal(error.to_string()))?;
        let (outcome, reason) = match exchange.outcome {
            Outcome::Answered => ("answered", String::new()),
            Outcome::Refused { reason } => ("refused", reason),
        };
        let record = ExchangeRecord {
            id: 0,
            tenant,
            protocol: exchange.app.protocol.as_str().to_string(),
            app: exchange.app.id.clone(),
            at: now,
            kind: exchange.kind.as_str().to_string(),
            member: exchange.member.unwrap_or_default(),
            outcome: outcome.to_string(),
            reason,
            signature: exchange.signature,
            summary: redacted.to_json(),
            detail: Some(detail),
            detail_until: Some(now + DETAIL_KEPT),
        };
        Ok(self.store.record_exchange(&record, KEEP).await?)
    }

    /// The app's exchanges, newest first.
    pub async fn recent(
        &self,
        tenant: TenantId,
        app: &AppRef,
        now: Timestamp,
    ) -> Result<Vec<Entry>, RecorderError> {
        let records = self.store.exchanges(tenant, app.stored(), 2 * KEEP).await?;
        Ok(records
            .into_iter()
            .map(|record| entry(&record, now))
            .collect())
    }

    /// One of the app's exchanges, with its full detail when `reveal` asks for it and it is
    /// still kept. `None` when the app has no such exchange (any more).
    pub async fn open(
        &self,
        tenant: TenantId,
        app: &AppRef,
        id: i64,
        reveal: Reveal,
        now: Timestamp,
    ) -> Result<Option<EntryDetail>, RecorderError> {
        let Some(record) = self.store.exchange(tenant, app.stored(), id).await? else {
            return Ok(None);
        };
        let entry = entry(&record, now);
        let full = match (reveal, &record.detail, entry.detail_until) {
            (Reveal::Full, Some(sealed), Some(_)) => {
                let opened = self
                    .secret
                    .open(&app.seal_context(tenant), sealed)
                    .map_err(|error| RecorderError::Seal(error.to_string()))?;
                Some(Shown::from_json(&String::from_utf8_lossy(&opened)))
            }
            _ => None,
        };
        Ok(Some(EntryDetail {
            redacted: Shown::from_json(&record.summary),
            entry,
            full,
        }))
    }

    /// Empties every full detail older than [`DETAIL_KEPT`] (reading already hides them).
    pub async fn forget_expired_details(&self, now: Timestamp) -> Result<u64, RecorderError> {
        Ok(self.store.forget_exchange_details(now).await?)
    }

    /// Forgets a deleted app's exchanges.
    pub async fn forget_app(&self, tenant: TenantId, app: &AppRef) -> Result<(), RecorderError> {
        Ok(self.store.delete_exchanges(tenant, app.stored()).await?)
    }
}

fn entry(record: &ExchangeRecord, now: Timestamp) -> Entry {
    Entry {
        id: record.id,
        at: record.at,
        kind: Kind::parse(&record.kind),
        member: record.member.clone(),
        answered: record.outcome == "answered",
        reason: record.reason.clone(),
        signature: record.signature.clone(),
        // The sweeper empties details every few minutes; until it has, reading hides them.
        detail_until: record
            .detail_until
            .filter(|until| record.detail.is_some() && *until > now),
    }
}
