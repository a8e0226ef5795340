//! Web Browser SSO (SAML 2.0 Profiles §4.1) and Single Logout (§4.4) as the IdP plays them:
//! an AuthnRequest is checked against the registered app, remembered while the member signs
//! in, and answered once with a signed response posted to an exact, registered assertion
//! consumer service. What the seed crosses out gets the status Core §3.2.2.2 names.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use vestibule_domain::{web_origin, Seconds, SiteAddress, TenantId, Timestamp};
use vestibule_secrets::token::{random_token, token_hash};
use vestibule_secrets::SecretKey;
use vestibule_storage::{SamlParticipantRecord, SamlPendingRecord, Store};

use crate::binding::{signed_redirect_query, verified_element, RedirectQuery};
use crate::logout::{
    logout_request, logout_response, parse_logout_request, parse_logout_response, LogoutAddress,
    STATUS_SUCCESS,
};
use crate::metadata_subscriptions::MetadataSubscriptions;
use crate::request::{decode_post, decode_redirect, parse_authn_request, relay_state};
use crate::response::{signed_status_response, StatusContent};
use crate::signature_shape::{inspect, SignatureShape};
use crate::workers::SignatureWorkers;
use crate::{
    signed_response, Attribute, EncryptionKey, LogoutBinding, NameId, NameIdFormat, RequestProblem,
    ResponseContent, SamlApp, SamlApps, SamlError, SamlKeys,
};

pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_INVALID_NAME_ID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
pub const STATUS_NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const STATUS_UNSUPPORTED_BINDING: &str =
    "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";

const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Timing rules for requests and responses.
#[derive(Debug, Clone, Copy)]
pub struct SsoPolicy {
    /// How far clocks may disagree: requests from up to this far in the future are accepted,
    /// and assertions are valid from this far in the past.
    pub clock_skew: Seconds,
    /// How old an AuthnRequest or LogoutRequest may be when it arrives.
    pub request_lifetime: Seconds,
    /// How long a member has to sign in before the request is forgotten.
    pub sign_in_window: Seconds,
}

impl Default for SsoPolicy {
    fn default() -> Self {
        Self {
            clock_skew: Seconds(60),
            request_lifetime: Seconds(300),
            sign_in_window: Seconds(1800),
        }
    }
}

/// Which binding a message arrived by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

/// A SAML protocol message as it arrived, before anything is trusted.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub binding: Binding,
    /// `SAMLRequest` or `SAMLResponse`, decoded from the query or form (still base64).
    pub encoded: String,
    pub relay_state: Option<String>,
    /// The Redirect binding's query as received, for its signature.
    pub query: Option<RedirectQuery>,
}

impl IncomingMessage {
    /// The Redirect binding: `parameter` (`SAMLRequest` or `SAMLResponse`) from the raw query.
    pub fn redirect(raw_query: &str, parameter: &str) -> Option<Self> {
        let query = RedirectQuery::parse(raw_query);
        Some(Self {
            binding: Binding::Redirect,
            encoded: query.get(parameter)?,
            relay_state: query.get("RelayState"),
            query: Some(query),
        })
    }

    pub fn post(encoded: String, relay_state: Option<String>) -> Self {
        Self {
            binding: Binding::Post,
            encoded,
            relay_state,
            query: None,
        }
    }

    /// The message's XML, decoded (not yet checked in any way).
    pub fn xml(&self) -> Result<String, RequestProblem> {
        match self.binding {
            Binding::Redirect => decode_redirect(&self.encoded),
            Binding::Post => decode_post(&self.encoded),
        }
    }
}

/// The IdP of one tenant as reached now: its entity id and endpoints.
#[derive(Debug, Clone)]
pub struct Idp {
    pub tenant: TenantId,
    pub entity_id: String,
    pub single_sign_on: String,
    pub single_logout: String,
    /// The name in the signing certificate's subject (the tenant's domain or Cloud ID).
    pub common_name: String,
    /// Which of the tenant's addresses this is: apps bound to another are not served here.
    pub address: SiteAddress,
}

impl Idp {
    /// Refuses `app` when it is used on another of the tenant's domains: its service provider
    /// trusts that domain's entity ID, not this one's.
    pub(crate) fn check_serves(&self, app: &SamlApp) -> Result<(), SsoRefusal> {
        let bound = app.settings.domain.as_deref();
        match self.address.serves(bound) {
            true => Ok(()),
            false => Err(SsoRefusal::Page(self.address.refusal(&app.name, bound))),
        }
    }
}

/// The member a response is about, as the identity source describes them.
#[derive(Debug, Clone)]
pub struct Principal<'a> {
    /// Stable within the tenant (`imis:<id>` or `directory:<username>`).
    pub subject: &'a str,
    pub id: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub attributes: &'a BTreeMap<String, String>,
}

/// A signed message to post to a service provider from the member's browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMessage {
    pub url: String,
    /// `SAMLResponse` or `SAMLRequest`.
    pub field: &'static str,
    /// Base64 of the signed XML.
    pub value: String,
    pub relay_state: Option<String>,
}

/// Why a sign-in request is not answered with an assertion.
#[derive(Debug)]
pub enum SsoRefusal {
    /// Nowhere trustworthy to send an answer (unknown service provider, unregistered assertion
    /// consumer service, bad signature, unreadable message): the member sees an error page.
    Page(String),
    /// The request came from a known app to a registered address: it gets a signed status.
    Status(Box<StatusAnswer>),
    Failed(SamlError),
}

impl From<SamlError> for SsoRefusal {
    fn from(error: SamlError) -> Self {
        SsoRefusal::Failed(error)
    }
}

/// A status response to send instead of an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAnswer {
    pub app_id: String,
    pub acs_url: String,
    pub in_response_to: Option<String>,
    pub relay_state: Option<String>,
    pub status: &'static str,
    pub sub_status: Option<&'static str>,
    pub message: String,
}

/// A checked sign-in request, waiting for the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSso {
    pub app_id: String,
    pub app_name: String,
    /// The AuthnRequest's ID; `None` for an IdP-initiated sign-in.
    pub request_id: Option<String>,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub name_id_format: NameIdFormat,
    pub force_authn: bool,
    pub is_passive: bool,
    /// When the request arrived: `ForceAuthn` needs a sign-in after this.
    pub received_at: Timestamp,
    /// The NameID the request's `<Subject>` names: only that member may be answered for.
    #[serde(default)]
    pub requested_subject: Option<String>,
    /// `ForceAuthn` arrived while a member session existed: the hash of that session's token,
    /// which may not answer it (the member must sign in again, and keeps that session until
    /// they do).
    #[serde(default)]
    pub replaced_session: Option<String>,
}

/// The browser's member session, as a pending request's decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsoSession<'a> {
    pub token: &'a str,
    pub signed_in_at: Timestamp,
}

/// Where a pending request is being answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// It just arrived (or an IdP-initiated link was followed).
    JustReceived,
    /// The member is back from the hosted sign-in page.
    BackFromSignIn,
}

/// What to do with a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoDecision {
    /// Answer with an assertion about the signed-in member.
    Answer,
    /// `IsPassive` and no usable session: `NoPassive` to the service provider.
    NoPassive(Box<StatusAnswer>),
    /// The member must sign in; `again` when a session exists that may not answer.
    SignIn { again: bool },
}

/// The status of the answer to a LogoutRequest: `Requester` when this browser's member is not
/// the one it names (their session is left alone); `Success` otherwise, including when nobody
/// was signed in here (there was nothing left to end).
pub fn logout_status(signed_in: bool, ends_session: bool) -> &'static str {
    if signed_in && !ends_session {
        STATUS_REQUESTER
    } else {
        STATUS_SUCCESS
    }
}

impl PendingSso {
    /// Whether the member session `session_token`, made at `created_at`, may answer this
    /// request once the member is back from the sign-in page: any session, unless the request
    /// asked for `ForceAuthn`; then only one made since it arrived, and not the one it arrived
    /// with (which may have been made in the same second).
    pub fn accepts_session(&self, session_token: &str, created_at: Timestamp) -> bool {
        !self.force_authn
            || (created_at >= self.received_at
                && self.replaced_session.as_deref() != Some(token_hash(session_token).as_str()))
    }

    /// The status response for this request, when it cannot be answered with an assertion.
    pub fn refusal(&self, sub_status: &'static str, message: &str) -> StatusAnswer {
        StatusAnswer {
            app_id: self.app_id.clone(),
            acs_url: self.acs_url.clone(),
            in_response_to: self.request_id.clone(),
            relay_state: self.relay_state.clone(),
            status: STATUS_RESPONDER,
            sub_status: Some(sub_status),
            message: message.to_string(),
        }
    }
}

/// A sign-in request accepted: `token` names it in the member's sign-in journey.
#[derive(Debug, Clone)]
pub struct Received {
    pub token: String,
    pub pending: PendingSso,
    /// What the request's signature check established (an IdP-initiated sign-in has none).
    pub signature: SignatureCheck,
}

/// A LogoutRequest accepted from a service provider.
#[derive(Debug)]
pub struct ReceivedLogout {
    pub app: SamlApp,
    pub request: crate::LogoutRequest,
    pub relay_state: Option<String>,
    pub signature: SignatureCheck,
}

/// What the signature check established about a message from a service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The Redirect binding's query signature verified with the app's certificate.
    QueryVerified,
    /// The enveloped XML signature verified with the app's certificate.
    XmlVerified,
    /// Signed, but the app has no certificate to check it with (and does not require one):
    /// read as unsigned.
    NotChecked,
    /// Not signed, and the app does not require it.
    NotSigned,
}

impl SignatureCheck {
    /// In words, for the flight recorder.
    pub fn describe(self) -> &'static str {
        match self {
            SignatureCheck::QueryVerified => {
                "Signed (Redirect binding query signature): verified with the app's certificate"
            }
            SignatureCheck::XmlVerified => {
                "Signed (XML signature): verified with the app's certificate"
            }
            SignatureCheck::NotChecked => {
                "Signed, but not checked: the app has no signing certificate registered"
            }
            SignatureCheck::NotSigned => "Not signed (the app does not require signed requests)",
        }
    }
}

/// What a single logout asks of the member site next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutStep {
    /// Send the member's browser to this URL (a signed Redirect-binding message).
    Redirect(String),
    /// Post this signed message from the member's browser to `app_name` (the service provider
    /// takes logout messages by HTTP-POST only).
    Post {
        app_name: String,
        message: PostMessage,
    },
    /// Logout is complete; no service provider is waiting for an answer.
    Done,
}

/// The SAML IdP for every tenant.
#[derive(Clone)]
pub struct SamlIdp {
    store: Store,
    pub apps: SamlApps,
    pub keys: SamlKeys,
    /// Apps subscribed to their service provider's metadata address.
    pub metadata: MetadataSubscriptions,
    policy: SsoPolicy,
    pub(crate) workers: SignatureWorkers,
}

/// A logout journey's state, kept server-side under the RelayState token while the member's
/// browser visits each service provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutJourney {
    /// Participants still to be told, as (app id, name id, format, session index).
    remaining: Vec<(String, String, String, String)>,
    /// The LogoutRequest ID sent to the service provider being visited now.
    awaiting: Option<(String, String)>,
    /// The service provider that started the logout, waiting for our LogoutResponse.
    answer: Option<LogoutAnswer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutAnswer {
    app_id: String,
    in_response_to: String,
    relay_state: Option<String>,
    status: String,
}

impl SamlIdp {
    pub fn new(store: Store, secret: SecretKey, policy: SsoPolicy) -> Self {
        Self {
            apps: SamlApps::new(store.clone()),
            keys: SamlKeys::new(store.clone(), secret),
            metadata: MetadataSubscriptions::new(store.clone()),
            store,
            policy,
            workers: SignatureWorkers::sized_to_cores(),
        }
    }

    /// Checks an AuthnRequest and remembers it for the member's sign-in. Every check a service
    /// provider could have got wrong either refuses with a page (when there is no trustworthy
    /// address to answer) or with a status to the registered assertion consumer service.
    pub async fn receive_authn_request(
        &self,
        idp: &Idp,
        incoming: &IncomingMessage,
        now: Timestamp,
    ) -> Result<Received, SsoRefusal> {
        let (app, request, relay_state, signature) = self
            .read_request(idp, incoming, parse_authn_request)
            .await?;
        let issuer = app.entity_id.clone();
        let Some(acs_url) = app.assertion_consumer(request.acs_url.as_deref(), request.acs_index)
        else {
            return Err(SsoRefusal::Page(
                match (&request.acs_url, request.acs_index) {
                    (Some(url), _) => format!(
                        "the assertion consumer service {url:?} is not registered for {}",
                        app.name
                    ),
                    (None, Some(index)) => format!(
                        "no assertion consumer service with index {index} is registered for {}",
                        app.name
                    ),
                    (None, None) => format!("{} has no assertion consumer service", app.name),
                },
            ));
        };
        let acs_url = acs_url.to_string();
        if let Some(destination) = &request.destination {
            if destination != &idp.single_sign_on {
                return Err(SsoRefusal::Page(format!(
                    "the request is addressed to {destination:?}, not to this sign-in service"
                )));
            }
        }
        if request.issue_instant > now + self.policy.clock_skew {
            return Err(SsoRefusal::Page(
                "the request was issued in the future: check the service provider's clock".into(),
            ));
        }
        if request.issue_instant + self.policy.request_lifetime + self.policy.clock_skew <= now {
            return Err(SsoRefusal::Page(
                "the request is too old: start again from the service provider".into(),
            ));
        }
        let refuse = |status: &'static str, sub_status: Option<&'static str>, message: &str| {
            SsoRefusal::Status(Box::new(StatusAnswer {
                app_id: app.app_id.clone(),
                acs_url: acs_url.clone(),
                in_response_to: Some(request.id.clone()),
                relay_state: relay_state.clone(),
                status,
                sub_status,
                message: message.to_string(),
            }))
        };
        if let Some(binding) = &request.protocol_binding {
            if binding != BINDING_POST {
                return Err(refuse(
                    STATUS_REQUESTER,
                    Some(STATUS_UNSUPPORTED_BINDING),
                    "responses are sent with the HTTP-POST binding only",
                ));
            }
        }
        // The app's format wins; a service provider may ask for another only when the admin
        // allowed it, and then only for one the IdP supports.
        let name_id_format = match request.name_id_format.as_deref() {
            None | Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified") => {
                app.settings.name_id_format
            }
            Some(uri) => {
                let asked = NameIdFormat::from_uri(uri).ok_or_else(|| {
                    refuse(
                        STATUS_REQUESTER,
                        Some(STATUS_INVALID_NAME_ID_POLICY),
                        &format!("the NameID format {uri} is not supported"),
                    )
                })?;
                if asked != app.settings.name_id_format
                    && !app.settings.sp_may_request_name_id_format
                {
                    return Err(refuse(
                        STATUS_REQUESTER,
                        Some(STATUS_INVALID_NAME_ID_POLICY),
                        &format!(
                            "{} is set up to answer with the NameID format {} only",
                            app.name,
                            app.settings.name_id_format.uri()
                        ),
                    ));
                }
                asked
            }
        };
        if let Some(context) = &request.requested_context {
            if !context.satisfied_by_password_transport() {
                return Err(refuse(
                    STATUS_REQUESTER,
                    Some(STATUS_NO_AUTHN_CONTEXT),
                    "members sign in with a password over HTTPS (PasswordProtectedTransport) only",
                ));
            }
        }
        let replay_window = request.issue_instant
            + self.policy.request_lifetime
            + self.policy.clock_skew
            + self.policy.clock_skew;
        let first_time = self
            .store
            .remember_saml_request_id(idp.tenant, &issuer, &request.id, replay_window, now)
            .await
            .map_err(SamlError::from)?;
        if !first_time {
            return Err(SsoRefusal::Page(
                "this sign-in request was already used: start again from the service provider"
                    .into(),
            ));
        }
        let pending = PendingSso {
            app_id: app.app_id.clone(),
            app_name: app.name.clone(),
            request_id: Some(request.id.clone()),
            acs_url,
            relay_state,
            name_id_format,
            force_authn: request.force_authn,
            is_passive: request.is_passive,
            received_at: now,
            requested_subject: request.subject.clone(),
            replaced_session: None,
        };
        let received = self.remember(idp.tenant, pending, now).await?;
        Ok(Received {
            signature,
            ..received
        })
    }

    /// A sign-in the IdP starts for an app (the link a tenant puts on its own website).
    /// `relay_state` is where the service provider should take the member; the app's default
    /// when absent.
    pub async fn start_idp_initiated(
        &self,
        idp: &Idp,
        app_id: &str,
        relay_state_value: Option<&str>,
        now: Timestamp,
    ) -> Result<Received, SsoRefusal> {
        let app = match self.apps.get(idp.tenant, app_id).await {
            Ok(app) => app,
            Err(SamlError::NoSuchApp) => {
                return Err(SsoRefusal::Page(
                    "there is no application at this sign-in link".to_string(),
                ))
            }
            Err(error) => return Err(error.into()),
        };
        idp.check_serves(&app)?;
        let relay_state = relay_state(relay_state_value)
            .map_err(|problem| SsoRefusal::Page(problem.to_string()))?;
        if let Some(asked) = &relay_state {
            if !idp_initiated_relay_state_allowed(&app, asked) {
                return Err(SsoRefusal::Page(format!(
                    "this sign-in link may only send members to a page of {} (a path, or an \
                     address on the site its assertion consumer service is on)",
                    app.name
                )));
            }
        }
        let relay_state = relay_state.or_else(|| {
            Some(app.settings.default_relay_state.clone()).filter(|state| !state.is_empty())
        });
        let acs_url = app
            .assertion_consumer(None, None)
            .ok_or_else(|| {
                SsoRefusal::Page(format!("{} has no assertion consumer service", app.name))
            })?
            .to_string();
        let pending = PendingSso {
            app_id: app.app_id.clone(),
            app_name: app.name.clone(),
            request_id: None,
            acs_url,
            relay_state,
            name_id_format: app.settings.name_id_format,
            force_authn: false,
            is_passive: false,
            received_at: now,
            requested_subject: None,
            replaced_session: None,
        };
        Ok(self.remember(idp.tenant, pending, now).await?)
    }

    pub(crate) async fn remember(
        &self,
        tenant: TenantId,
        pending: PendingSso,
        now: Timestamp,
    ) -> Result<Received, SamlError> {
        let token = random_token();
        let request =
            serde_json::to_string(&pending).map_err(|e| corrupt("pending request", &e))?;
        self.store
            .insert_saml_pending(&SamlPendingRecord {
                token_hash: token_hash(&token),
                tenant,
                request,
                created_at: now,
                expires_at: now + self.policy.sign_in_window,
            })
            .await?;
        Ok(Received {
            token,
            pending,
            signature: SignatureCheck::NotSigned,
        })
    }

    /// What to do with a pending request given the browser's member session: answer it, tell
    /// the service provider `NoPassive`, or send the member to sign in (again). A `ForceAuthn`
    /// request that finds a session just as it arrives records it, so that session never
    /// answers it; the member keeps it until they sign in again.
    pub async fn decide(
        &self,
        tenant: TenantId,
        token: &str,
        pending: &PendingSso,
        session: Option<SsoSession<'_>>,
        arrival: Arrival,
        now: Timestamp,
    ) -> Result<SsoDecision, SamlError> {
        let usable = session.is_some_and(|session| match arrival {
            Arrival::JustReceived => !pending.force_authn,
            Arrival::BackFromSignIn => pending.accepts_session(session.token, session.signed_in_at),
        });
        if usable {
            return Ok(SsoDecision::Answer);
        }
        if pending.is_passive {
            let refusal = pending.refusal(STATUS_NO_PASSIVE, "the member is not signed in");
            return Ok(SsoDecision::NoPassive(Box::new(refusal)));
        }
        let Some(session) = session else {
            return Ok(SsoDecision::SignIn { again: false });
        };
        if arrival == Arrival::JustReceived {
            self.require_new_session(tenant, token, session.token, now)
                .await?;
        }
        Ok(SsoDecision::SignIn { again: true })
    }

    /// `ForceAuthn` found the member signed in with `session_token`: that session may not
    /// answer the request (see [`PendingSso::accepts_session`]).
    pub async fn require_new_session(
        &self,
        tenant: TenantId,
        token: &str,
        session_token: &str,
        now: Timestamp,
    ) -> Result<(), SamlError> {
        let Some(mut pending) = self.pending(tenant, token, now).await? else {
            return Ok(());
        };
        pending.replaced_session = Some(token_hash(session_token));
        let request =
            serde_json::to_string(&pending).map_err(|e| corrupt("pending request", &e))?;
        self.store
            .update_saml_pending(tenant, &token_hash(token), &request)
            .await?;
        Ok(())
    }

    /// The request `token` names, if it is still waiting.
    pub async fn pending(
        &self,
        tenant: TenantId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<PendingSso>, SamlError> {
        let Some(record) = self
            .store
            .saml_pending(tenant, &token_hash(token), now)
            .await?
        else {
            return Ok(None);
        };
        let pending =
            serde_json::from_str(&record.request).map_err(|e| corrupt("pending request", &e))?;
        Ok(Some(pending))
    }

    /// Answers the pending request with a signed assertion about the member, once: the token
    /// is spent by the first answer. `None` when it was already answered or has expired.
    pub async fn respond(
        &self,
        idp: &Idp,
        token: &str,
        session: &MemberSession<'_>,
        now: Timestamp,
    ) -> Result<Option<PostMessage>, SamlError> {
        let Some(pending) = self.pending(idp.tenant, token, now).await? else {
            return Ok(None);
        };
        if !self
            .store
            .take_saml_pending(idp.tenant, &token_hash(token))
            .await?
        {
            return Ok(None);
        }
        let app = self.apps.get(idp.tenant, &pending.app_id).await?;
        let principal = &session.principal;
        let missing = match pending.name_id_format {
            NameIdFormat::EmailAddress => principal.email.is_empty(),
            NameIdFormat::Unspecified if app.settings.unspecified_is_imis_id => {
                principal.id.is_empty()
            }
            NameIdFormat::Unspecified => principal.username.is_empty(),
            NameIdFormat::Persistent | NameIdFormat::Transient => false,
        };
        if missing {
            let answer = pending.refusal(
                STATUS_INVALID_NAME_ID_POLICY,
                "the member's record has no value for the NameID format asked for",
            );
            return self.refuse(idp, &answer, None, now).await.map(Some);
        }
        let participant = self
            .participant(idp.tenant, &app, pending.name_id_format, session, now)
            .await?;
        // Core §3.4.1.4: a request that names its subject is answered for that subject or not
        // at all; the signed-in member is someone else, so the sign-in fails.
        if let Some(subject) = &pending.requested_subject {
            if *subject != participant.name_id {
                let answer = pending.refusal(
                    STATUS_AUTHN_FAILED,
                    "the request names a member other than the one signed in",
                );
                return self.refuse(idp, &answer, None, now).await.map(Some);
            }
        }
        let attributes = attributes(&app, &session.principal);
        let key = self
            .keys
            .signing_key(idp.tenant, &idp.common_name, now)
            .await?;
        let encryption_key = app
            .settings
            .encryption_certificate()
            .map(EncryptionKey::from_certificate)
            .transpose()
            .map_err(SamlError::Encryption)?;
        let issuer = idp.entity_id.clone();
        let (destination, audience) = (pending.acs_url.clone(), app.entity_id.clone());
        let in_response_to = pending.request_id.clone();
        let format = pending.name_id_format;
        let authn_instant = session.authn_instant;
        let (lifetime, skew) = (
            Seconds(app.settings.assertion_seconds),
            self.policy.clock_skew,
        );
        let signed = app.settings.signed.into();
        let xml = self
            .workers
            .run(move || {
                signed_response(
                    &ResponseContent {
                        issuer: &issuer,
                        destination: &destination,
                        in_response_to: in_response_to.as_deref(),
                        audience: &audience,
                        name_id: NameId {
                            format: format.uri(),
                            value: &participant.name_id,
                            sp_name_qualifier: (format == NameIdFormat::Persistent)
                                .then_some(audience.as_str()),
                        },
                        session_index: &participant.session_index,
                        authn_instant,
                        attributes: &attributes,
                        now,
                        lifetime,
                        skew,
                        signed,
                        encrypt_to: encryption_key.as_ref(),
                    },
                    &key,
                )
            })
            .await
            .map_err(|_| SamlError::Signing("the signature workers are busy".into()))??;
        Ok(Some(PostMessage {
            url: pending.acs_url,
            field: "SAMLResponse",
            value: STANDARD.encode(xml),
            relay_state: pending.relay_state,
        }))
    }

    /// A signed status response for a request that is not answered with an assertion. A
    /// pending request it answers is spent.
    pub async fn refuse(
        &self,
        idp: &Idp,
        answer: &StatusAnswer,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<PostMessage, SamlError> {
        if let Some(token) = token {
            self.store
                .take_saml_pending(idp.tenant, &token_hash(token))
                .await?;
        }
        let key = self
            .keys
            .signing_key(idp.tenant, &idp.common_name, now)
            .await?;
        let issuer = idp.entity_id.clone();
        let answer_owned = answer.clone();
        let xml = self
            .workers
            .run(move || {
                signed_status_response(
                    &StatusContent {
                        issuer: &issuer,
                        destination: &answer_owned.acs_url,
                        in_response_to: answer_owned.in_response_to.as_deref(),
                        status: answer_owned.status,
                        sub_status: answer_owned.sub_status,
                        message: &answer_owned.message,
                        now,
                    },
                    &key,
                )
            })
            .await
            .map_err(|_| SamlError::Signing("the signature workers are busy".into()))??;
        Ok(PostMessage {
            url: answer.acs_url.clone(),
            field: "SAMLResponse",
            value: STANDARD.encode(xml),
            relay_state: answer.relay_state.clone(),
        })
    }

    /// The NameID and SessionIndex the session has with the app, made the first time.
    async fn participant(
        &self,
        tenant: TenantId,
        app: &SamlApp,
        format: NameIdFormat,
        session: &MemberSession<'_>,
        now: Timestamp,
    ) -> Result<SamlParticipantRecord, SamlError> {
        let principal = &session.principal;
        let name_id = match format {
            NameIdFormat::Unspecified if app.settings.unspecified_is_imis_id => {
                principal.id.to_string()
            }
            NameIdFormat::Unspecified => principal.username.to_string(),
            NameIdFormat::EmailAddress => principal.email.to_string(),
            NameIdFormat::Persistent => {
                self.store
                    .saml_persistent_id(
                        tenant,
                        &app.app_id,
                        principal.subject,
                        &random_token(),
                        now,
                    )
                    .await?
            }
            NameIdFormat::Transient => format!("_{}", random_token()),
        };
        let record = SamlParticipantRecord {
            session_hash: token_hash(session.session_token),
            tenant,
            app_id: app.app_id.clone(),
            name_id,
            name_id_format: format.uri().to_string(),
            session_index: format!("_{}", random_token()),
            created_at: now,
            expires_at: session.expires_at,
        };
        Ok(self.store.saml_participant_or_insert(&record).await?)
    }

    /// Reads a LogoutRequest from a service provider. Unsigned requests are accepted only from
    /// apps that do not require signed requests, and they end a session only when the NameID
    /// (and SessionIndex, if given) match what this session told that app.
    pub async fn receive_logout_request(
        &self,
        idp: &Idp,
        incoming: &IncomingMessage,
        now: Timestamp,
    ) -> Result<ReceivedLogout, SsoRefusal> {
        let (app, request, relay_state, signature) = self
            .read_request(idp, incoming, parse_logout_request)
            .await?;
        let issuer = app.entity_id.clone();
        if app.settings.single_logout.is_none() {
            return Err(SsoRefusal::Page(format!(
                "{} has no single logout address registered",
                app.name
            )));
        }
        if let Some(destination) = &request.destination {
            if destination != &idp.single_logout {
                return Err(SsoRefusal::Page(format!(
                    "the logout request is addressed to {destination:?}, not to this service"
                )));
            }
        }
        if request.issue_instant > now + self.policy.clock_skew
            || request.issue_instant + self.policy.request_lifetime + self.policy.clock_skew <= now
        {
            return Err(SsoRefusal::Page(
                "the logout request is stale or from the future: check the service provider's \
                 clock"
                    .into(),
            ));
        }
        let first_time = self
            .store
            .remember_saml_request_id(
                idp.tenant,
                &issuer,
                &request.id,
                request.issue_instant + self.policy.request_lifetime + self.policy.clock_skew,
                now,
            )
            .await
            .map_err(SamlError::from)?;
        if !first_time {
            return Err(SsoRefusal::Page(
                "this logout request was already used".into(),
            ));
        }
        Ok(ReceivedLogout {
            app,
            request,
            relay_state,
            signature,
        })
    }

    /// Whether the logout request names this member session (by its NameID with the app, and
    /// its SessionIndex when given).
    pub async fn logout_names_session(
        &self,
        app: &SamlApp,
        request: &crate::LogoutRequest,
        session_token: &str,
    ) -> Result<bool, SamlError> {
        let participants = self
            .store
            .saml_participants(&token_hash(session_token))
            .await?;
        // Profiles §4.4.4.1: an app that can sign must sign its logout requests. From an app
        // that cannot, a request must also carry the SessionIndex this session gave it: the
        // NameID alone (an e-mail address, a username) is easy to guess.
        if app.settings.sp_certificate.is_some() && !request.signed {
            return Ok(false);
        }
        Ok(participants.iter().any(|p| {
            p.app_id == app.app_id
                && p.name_id == request.name_id
                && if request.signed {
                    request.session_indexes.is_empty()
                        || request.session_indexes.contains(&p.session_index)
                } else {
                    request.session_indexes.contains(&p.session_index)
                }
        }))
    }

    /// Starts telling the session's service providers that it ended (`session_token`, if it
    /// ended): the first step of the journey. `answer` is the service provider that asked for
    /// the logout, with the status it gets in its LogoutResponse, last.
    pub async fn begin_logout(
        &self,
        idp: &Idp,
        session_token: Option<&str>,
        answer: Option<(&SamlApp, &crate::LogoutRequest, Option<String>, &str)>,
        now: Timestamp,
    ) -> Result<LogoutStep, SamlError> {
        let mut participants = Vec::new();
        if let Some(session_token) = session_token {
            let session_hash = token_hash(session_token);
            participants = self.store.saml_participants(&session_hash).await?;
            self.store
                .delete_saml_participants(&session_hash, now)
                .await?;
        }
        let initiator = answer.as_ref().map(|(app, _, _, _)| app.app_id.clone());
        let journey = LogoutJourney {
            remaining: participants
                .into_iter()
                .filter(|p| Some(&p.app_id) != initiator.as_ref())
                .map(|p| (p.app_id, p.name_id, p.name_id_format, p.session_index))
                .collect(),
            awaiting: None,
            answer: answer.map(|(app, request, relay_state, status)| LogoutAnswer {
                app_id: app.app_id.clone(),
                in_response_to: request.id.clone(),
                relay_state,
                status: status.to_string(),
            }),
        };
        self.next_logout_step(idp, journey, now).await
    }

    /// A service provider answered our LogoutRequest (the RelayState names the journey).
    /// Whatever its status, the journey goes on: one service provider failing to log out
    /// must not keep the member signed in to the others.
    pub async fn continue_logout(
        &self,
        idp: &Idp,
        incoming: &IncomingMessage,
        now: Timestamp,
    ) -> Result<LogoutStep, SsoRefusal> {
        let page = |problem: RequestProblem| SsoRefusal::Page(problem.to_string());
        let xml = incoming.xml().map_err(page)?;
        let shape = self.signature_shape(idp, &xml).map_err(page)?;
        let response = parse_logout_response(&xml).map_err(page)?;
        let token = incoming
            .relay_state
            .clone()
            .ok_or_else(|| SsoRefusal::Page("the logout response has no RelayState".into()))?;
        let Some(record) = self
            .store
            .saml_pending(idp.tenant, &token_hash(&token), now)
            .await
            .map_err(SamlError::from)?
        else {
            return Err(SsoRefusal::Page("this logout has already finished".into()));
        };
        if !self
            .store
            .take_saml_pending(idp.tenant, &token_hash(&token))
            .await
            .map_err(SamlError::from)?
        {
            return Err(SsoRefusal::Page("this logout has already finished".into()));
        }
        let journey: LogoutJourney = serde_json::from_str(&record.request)
            .map_err(|e| SsoRefusal::Page(format!("this logout cannot continue: {e}")))?;
        let Some((app_id, request_id)) = &journey.awaiting else {
            return Err(SsoRefusal::Page("no logout response was expected".into()));
        };
        let app = self.apps.get(idp.tenant, app_id).await?;
        if response.issuer.as_deref() != Some(app.entity_id.as_str())
            || response.in_response_to.as_deref() != Some(request_id.as_str())
        {
            return Err(SsoRefusal::Page(
                "the logout response does not answer the request sent".into(),
            ));
        }
        self.check_signature(&app, incoming, &xml, "SAMLResponse", shape)
            .await
            .map_err(page)?;
        if response.status != STATUS_SUCCESS {
            tracing::info!(app = %app.app_id, status = %response.status, "a service provider did not log the member out");
        }
        Ok(self.next_logout_step(idp, journey, now).await?)
    }

    async fn next_logout_step(
        &self,
        idp: &Idp,
        mut journey: LogoutJourney,
        now: Timestamp,
    ) -> Result<LogoutStep, SamlError> {
        let key = self
            .keys
            .signing_key(idp.tenant, &idp.common_name, now)
            .await?;
        while let Some((app_id, name_id, format, session_index)) = journey.remaining.pop() {
            let app = match self.apps.get(idp.tenant, &app_id).await {
                Ok(app) => app,
                // Deleted since: nobody to tell.
                Err(SamlError::NoSuchApp) => continue,
                Err(error) => return Err(error),
            };
            let Some(slo) = app.settings.single_logout.clone() else {
                continue;
            };
            let binding = app.settings.single_logout_binding;
            let token = random_token();
            let (payload, request_id) = {
                let (issuer, destination, key) = (idp.entity_id.clone(), slo.clone(), key.clone());
                let relay_state = token.clone();
                self.on_workers(move || {
                    let to = LogoutAddress {
                        issuer: &issuer,
                        destination: &destination,
                        now,
                    };
                    let (xml, id) = logout_request(
                        &to,
                        &name_id,
                        &format,
                        &session_index,
                        binding.signs_document().then_some(&key),
                    )?;
                    Ok((
                        signed_for(binding, "SAMLRequest", xml, Some(&relay_state), &key)?,
                        id,
                    ))
                })
                .await?
            };
            journey.awaiting = Some((app_id, request_id));
            let state =
                serde_json::to_string(&journey).map_err(|e| corrupt("logout journey", &e))?;
            self.store
                .insert_saml_pending(&SamlPendingRecord {
                    token_hash: token_hash(&token),
                    tenant: idp.tenant,
                    request: state,
                    created_at: now,
                    expires_at: now + self.policy.sign_in_window,
                })
                .await?;
            return Ok(deliver(
                &app.name,
                &slo,
                "SAMLRequest",
                payload,
                Some(&token),
            ));
        }
        let Some(answer) = journey.answer else {
            return Ok(LogoutStep::Done);
        };
        let app = match self.apps.get(idp.tenant, &answer.app_id).await {
            Ok(app) => app,
            Err(SamlError::NoSuchApp) => return Ok(LogoutStep::Done),
            Err(error) => return Err(error),
        };
        let Some(slo) = app.settings.single_logout.clone() else {
            return Ok(LogoutStep::Done);
        };
        let binding = app.settings.single_logout_binding;
        let payload = {
            let (issuer, destination) = (idp.entity_id.clone(), slo.clone());
            let (in_response_to, status) = (answer.in_response_to.clone(), answer.status.clone());
            let relay_state = answer.relay_state.clone();
            self.on_workers(move || {
                let to = LogoutAddress {
                    issuer: &issuer,
                    destination: &destination,
                    now,
                };
                let xml = logout_response(
                    &to,
                    &in_response_to,
                    &status,
                    binding.signs_document().then_some(&key),
                )?;
                signed_for(binding, "SAMLResponse", xml, relay_state.as_deref(), &key)
            })
            .await?
        };
        Ok(deliver(
            &app.name,
            &slo,
            "SAMLResponse",
            payload,
            answer.relay_state.as_deref(),
        ))
    }

    /// Signing on the signature workers, off the async runtime.
    async fn on_workers<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, SamlError> + Send + 'static,
    ) -> Result<T, SamlError> {
        self.workers
            .run(work)
            .await
            .map_err(|_| SamlError::Signing("the signature workers are busy".into()))?
    }

    /// The shape of any XML signature in an incoming message, checked before anything else
    /// reads it; a refusal is logged with the tenant, for the integrator to find.
    fn signature_shape(&self, idp: &Idp, xml: &str) -> Result<SignatureShape, RequestProblem> {
        inspect(xml).inspect_err(|problem| {
            tracing::warn!(tenant = ?idp.tenant, %problem, "SAML message refused before signature verification");
        })
    }

    /// Reads a request from a service provider: decoded, parsed, its app found by `Issuer`, its
    /// signature checked. When an XML signature is checked, what is returned is the element the
    /// signature covers, parsed again: an unsigned wrapper around a signed request is never read.
    async fn read_request<T: SpRequest>(
        &self,
        idp: &Idp,
        incoming: &IncomingMessage,
        parse: fn(&str) -> Result<T, RequestProblem>,
    ) -> Result<(SamlApp, T, Option<String>, SignatureCheck), SsoRefusal> {
        let page = |problem: RequestProblem| SsoRefusal::Page(problem.to_string());
        let relay_state = relay_state(incoming.relay_state.as_deref()).map_err(page)?;
        let xml = incoming.xml().map_err(page)?;
        let shape = self.signature_shape(idp, &xml).map_err(page)?;
        let request = parse(&xml).map_err(page)?;
        let issuer = request.issuer().map(str::to_string).ok_or_else(|| {
            SsoRefusal::Page("the request does not say which service provider sent it".into())
        })?;
        let Some(app) = self.apps.by_entity_id(idp.tenant, &issuer).await? else {
            return Err(SsoRefusal::Page(format!(
                "the service provider {issuer:?} is not registered with this sign-in service"
            )));
        };
        idp.check_serves(&app)?;
        let signed = self
            .check_signature(&app, incoming, &xml, "SAMLRequest", shape)
            .await
            .map_err(page)?;
        let query_signed = incoming
            .query
            .as_ref()
            .is_some_and(RedirectQuery::is_signed);
        let (request, check) = match signed {
            Verified::Xml(signed) => (
                parse(&signed).map_err(page)?.signed(),
                SignatureCheck::XmlVerified,
            ),
            Verified::Query => (request.signed(), SignatureCheck::QueryVerified),
            Verified::Unsigned if query_signed || shape == SignatureShape::Enveloped => {
                (request, SignatureCheck::NotChecked)
            }
            Verified::Unsigned => (request, SignatureCheck::NotSigned),
        };
        // Bindings §3.4.5.2 and §3.5.5.2: a signed message names where it is going, so that it
        // cannot be replayed to another endpoint that trusts the same key.
        if request.is_signed() && request.destination().is_none() {
            return Err(SsoRefusal::Page(
                "the request is signed but has no Destination; a signed request must name the \
                 endpoint it is sent to"
                    .into(),
            ));
        }
        if request.issuer() != Some(issuer.as_str()) {
            return Err(SsoRefusal::Page(
                "the signed request names another issuer".into(),
            ));
        }
        Ok((app, request, relay_state, check))
    }

    /// The signed element to read instead of the whole message, when the message is signed
    /// with an XML signature; `None` when the message is fine as it is (its query signature
    /// checked, or no signature needed).
    async fn check_signature(
        &self,
        app: &SamlApp,
        incoming: &IncomingMessage,
        xml: &str,
        parameter: &str,
        shape: SignatureShape,
    ) -> Result<Verified, RequestProblem> {
        let has_xml_signature = shape == SignatureShape::Enveloped;
        let certificate = app.settings.sp_certificate.as_deref();
        let query_signed = incoming
            .query
            .as_ref()
            .is_some_and(RedirectQuery::is_signed);
        match (certificate, query_signed, has_xml_signature) {
            (Some(certificate), true, _) => {
                // The Redirect binding signs the query; an XML signature inside is ignored
                // (Bindings §3.4.4.1 says it must not be there).
                let query = incoming.query.as_ref().ok_or(RequestProblem::Unsigned)?;
                query.verify(parameter, certificate)?;
                Ok(Verified::Query)
            }
            (Some(certificate), false, true) => {
                let (xml, certificate) = (xml.to_string(), certificate.to_vec());
                self.workers
                    .run(move || verified_element(&xml, &certificate))
                    .await
                    .map_err(|_| RequestProblem::Busy)?
                    .map(Verified::Xml)
            }
            _ if app.settings.require_signed_requests => Err(RequestProblem::Unsigned),
            // Signed, but no certificate to check it with, and signatures not required: the
            // message is read as unsigned, which is all the app's settings ask for.
            _ => Ok(Verified::Unsigned),
        }
    }
}

/// What every request from a service provider has.
trait SpRequest: Sized {
    fn issuer(&self) -> Option<&str>;
    fn destination(&self) -> Option<&str>;
    fn is_signed(&self) -> bool;
    /// The request, marked as carrying a verified signature.
    fn signed(self) -> Self;
}

/// What the signature check established about a message.
enum Verified {
    /// The Redirect binding's query signature verified; the message is read as it is.
    Query,
    /// An enveloped signature verified: the element it covers, to be read instead.
    Xml(String),
    /// No signature that could be checked, and the app does not require one.
    Unsigned,
}

impl SpRequest for crate::AuthnRequest {
    fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    fn is_signed(&self) -> bool {
        self.signed
    }

    fn signed(mut self) -> Self {
        self.signed = true;
        self
    }
}

impl SpRequest for crate::LogoutRequest {
    fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    fn is_signed(&self) -> bool {
        self.signed
    }

    fn signed(mut self) -> Self {
        self.signed = true;
        self
    }
}

/// The member session an answer is made in.
#[derive(Debug, Clone)]
pub struct MemberSession<'a> {
    /// The session cookie's value: participants are recorded against its hash.
    pub session_token: &'a str,
    pub principal: Principal<'a>,
    pub authn_instant: Timestamp,
    pub expires_at: Timestamp,
}

fn corrupt(what: &str, error: &serde_json::Error) -> SamlError {
    SamlError::Storage(vestibule_storage::StorageError::Corrupt(format!(
        "SAML {what}: {error}"
    )))
}

/// Whether an IdP-initiated link may carry `relay_state`: anyone can build such a link, and
/// service providers that follow RelayState would otherwise turn it into an open redirect. The
/// app's default, a path on the service provider's site, or an absolute address on an origin
/// the admin registered for the app (its assertion consumer services and logout address).
fn idp_initiated_relay_state_allowed(app: &SamlApp, relay_state: &str) -> bool {
    if relay_state == app.settings.default_relay_state {
        return true;
    }
    if relay_state.starts_with('/') {
        return !relay_state.starts_with("//") && !relay_state.contains('\\');
    }
    let Some(asked) = web_origin(relay_state) else {
        return false;
    };
    app.settings
        .assertion_consumers
        .iter()
        .map(|acs| acs.url.as_str())
        .chain(app.settings.single_logout.as_deref())
        .filter_map(web_origin)
        .any(|registered| registered == asked)
}

/// A logout message ready to leave, signed in its binding.
enum Outgoing {
    /// The Redirect binding's signed query string.
    Query(String),
    /// The POST binding's document, its signature inside.
    Document(String),
}

/// The signing step of a logout message, run on the signature workers: the Redirect binding
/// signs the query string (`xml` is unsigned), the POST binding already signed `xml`.
fn signed_for(
    binding: LogoutBinding,
    field: &str,
    xml: String,
    relay_state: Option<&str>,
    key: &crate::SigningKey,
) -> Result<Outgoing, SamlError> {
    Ok(match binding {
        LogoutBinding::Redirect => {
            Outgoing::Query(signed_redirect_query(field, &xml, relay_state, key)?)
        }
        LogoutBinding::Post => Outgoing::Document(xml),
    })
}

/// Where the member's browser takes a signed logout message next.
fn deliver(
    app_name: &str,
    slo: &str,
    field: &'static str,
    payload: Outgoing,
    relay_state: Option<&str>,
) -> LogoutStep {
    match payload {
        Outgoing::Query(query) => LogoutStep::Redirect(join_query(slo, &query)),
        Outgoing::Document(xml) => LogoutStep::Post {
            app_name: app_name.to_string(),
            message: PostMessage {
                url: slo.to_string(),
                field,
                value: STANDARD.encode(xml),
                relay_state: relay_state.map(str::to_string),
            },
        },
    }
}

fn join_query(url: &str, query: &str) -> String {
    if url.contains('?') {
        format!("{url}&{query}")
    } else {
        format!("{url}?{query}")
    }
}

/// The app's attribute mapping applied to the member's profile; empty values are left out.
fn attributes(app: &SamlApp, principal: &Principal<'_>) -> Vec<Attribute> {
    app.settings
        .attributes
        .iter()
        .filter_map(|mapping| {
            let value = principal
                .attributes
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&mapping.property))
                .map(|(_, value)| value.clone())
                .or_else(|| match mapping.property.to_ascii_lowercase().as_str() {
                    "email" => Some(principal.email.to_string()),
                    "username" => Some(principal.username.to_string()),
                    "id" | "imisid" => Some(principal.id.to_string()),
                    _ => None,
                })
                .filter(|value| !value.is_empty())?;
            Some(Attribute {
                name: mapping.attribute.clone(),
                values: vec![value],
            })
        })
        .collect()
}
