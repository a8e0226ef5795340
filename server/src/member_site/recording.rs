//! What the member site tells the flight recorder: each protocol exchange of an app, described
//! from what arrived and what was answered. The recorder redacts and keeps; this only decides
//! which app an exchange belongs to and what its outcome was.
//!
//! An exchange is kept only under an app of the request's tenant: a request naming no
//! registered app is nobody's to read (it still reaches the logs).

use serde_json::{json, Value};
use vestibule_domain::{TenantId, Timestamp};
use vestibule_oidc::{AuthorizationRequest, Client, Decision, ResponseType};
use vestibule_recorder::{
    first_difference, id_token_facts, pairs_json, AppRef, Exchange, Kind, Message, Outcome,
};
use vestibule_saml::{IncomingMessage, SsoRefusal};

use super::site::SiteState;

type Params = [(String, String)];

async fn record(state: &SiteState, tenant: TenantId, exchange: Exchange) {
    let recorder = &state.site.recorder;
    recorder.record(tenant, exchange, Timestamp::now()).await;
}

fn single<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

// --- OpenID Connect ---------------------------------------------------------------------------

/// An authorization request the engine refused, kept under the client it names (when that is
/// one of the tenant's). A redirect URI that is not registered gets the exact difference.
pub(super) async fn refused_authorization(
    state: &SiteState,
    tenant: TenantId,
    params: &Params,
    decision: &Decision,
) {
    let (reason, answer) = match decision {
        Decision::ErrorPage(message) => {
            (message.clone(), json!({ "shown_to_the_member": message }))
        }
        Decision::ErrorRedirect(error) => (
            format!("{}: {}", error.error, error.description),
            json!({
                "redirect_uri": error.redirect_uri,
                "error": error.error,
                "error_description": error.description,
                "state": error.state,
            }),
        ),
        _ => return,
    };
    let Some(client_id) = single(params, "client_id") else {
        return;
    };
    let Ok(client) = state.site.oidc.clients.get(tenant, client_id).await else {
        return;
    };
    let registered = &client.settings.redirect_uris;
    let reason = match single(params, "redirect_uri") {
        Some(given) if !registered.iter().any(|uri| uri == given) => {
            first_difference("redirect_uri", given, registered)
        }
        _ => reason,
    };
    let exchange = Exchange {
        app: AppRef::oidc(&client.client_id),
        kind: Kind::Authorization,
        member: None,
        outcome: Outcome::Refused { reason },
        signature: String::new(),
        message: Message::oauth(params, Some(answer)),
    };
    record(state, tenant, exchange).await;
}

/// The authorization request as the engine read it, as parameters.
fn request_pairs(request: &AuthorizationRequest) -> Vec<(String, String)> {
    let response_type = match request.response_type {
        ResponseType::Code => "code",
        ResponseType::Token => "token",
        ResponseType::IdTokenToken => "id_token token",
    };
    let mut pairs = vec![
        ("client_id", request.client_id.clone()),
        ("redirect_uri", request.redirect_uri.clone()),
        ("response_type", response_type.to_string()),
        ("scope", request.scopes.join(" ")),
    ];
    let optional = [
        ("state", request.state.clone()),
        ("nonce", request.nonce.clone()),
        ("login_hint", request.login_hint.clone()),
        (
            "code_challenge_method",
            request
                .code_challenge
                .as_ref()
                .map(|challenge| format!("{:?}", challenge.method)),
        ),
        (
            "max_age",
            request.max_age.map(|seconds| seconds.0.to_string()),
        ),
    ];
    pairs.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value))),
    );
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// An authorization request answered with a code or tokens for `member`.
pub(super) async fn answered_authorization(
    state: &SiteState,
    tenant: TenantId,
    request: &AuthorizationRequest,
    member: &str,
    answer: &[(&str, String)],
) {
    let answer = pairs_json(answer);
    let (_, signature) = id_token_facts(&answer);
    let exchange = Exchange {
        app: AppRef::oidc(&request.client_id),
        kind: Kind::Authorization,
        member: Some(member.to_string()),
        outcome: Outcome::Answered,
        signature: signature.unwrap_or_default(),
        message: Message::oauth(&request_pairs(request), Some(answer)),
    };
    record(state, tenant, exchange).await;
}

/// The member said no on the consent page.
pub(super) async fn consent_denied(
    state: &SiteState,
    tenant: TenantId,
    client: &Client,
    member: Option<&str>,
    error: &vestibule_oidc::RedirectError,
) {
    let answer = json!({ "error": error.error, "error_description": error.description });
    let exchange = Exchange {
        app: AppRef::oidc(&client.client_id),
        kind: Kind::Authorization,
        member: member.map(str::to_string),
        outcome: Outcome::Refused {
            reason: "the member declined to share their details (access_denied)".into(),
        },
        signature: String::new(),
        message: Message::oauth(&[], Some(answer)),
    };
    record(state, tenant, exchange).await;
}

/// A token request, kept under the client it authenticated as or, when authentication failed,
/// the client it named (an admin whose app sends the wrong secret sees it here).
pub(super) async fn token(
    state: &SiteState,
    tenant: TenantId,
    client_id: Option<&str>,
    form: &Params,
    member: Option<&str>,
    answer: Result<Value, (String, Value)>,
) {
    let Some(client_id) = client_id else {
        return;
    };
    // An answer means the client authenticated; a refusal may name any client id.
    let clients = &state.site.oidc.clients;
    if answer.is_err() && clients.get(tenant, client_id).await.is_err() {
        return;
    }
    let (outcome, answer, subject, signature) = match answer {
        Ok(answer) => {
            let (subject, signature) = id_token_facts(&answer);
            (Outcome::Answered, answer, subject, signature)
        }
        Err((reason, answer)) => (Outcome::Refused { reason }, answer, None, None),
    };
    let exchange = Exchange {
        app: AppRef::oidc(client_id),
        kind: Kind::Token,
        member: member.map(str::to_string).or(subject),
        outcome,
        signature: signature.unwrap_or_default(),
        message: Message::oauth(form, Some(answer)),
    };
    record(state, tenant, exchange).await;
}

/// RP-initiated logout with an ID token hint naming `client`.
pub(super) async fn end_session(
    state: &SiteState,
    tenant: TenantId,
    client: &Client,
    member: Option<&str>,
    query: &[(String, String)],
    answer: Value,
) {
    let exchange = Exchange {
        app: AppRef::oidc(&client.client_id),
        kind: Kind::EndSession,
        member: member.map(str::to_string),
        outcome: Outcome::Answered,
        signature: "id_token_hint: an ID token this provider signed, verified".into(),
        message: Message::oauth(query, Some(answer)),
    };
    record(state, tenant, exchange).await;
}

// --- SAML -------------------------------------------------------------------------------------

/// The message's XML as it arrived, or why it could not be read.
fn incoming_message(incoming: &IncomingMessage) -> Message {
    match incoming.xml() {
        Ok(xml) => Message::saml(&xml),
        Err(problem) => Message::text(&format!("The message could not be decoded: {problem}")),
    }
}

/// The tenant's app a message names as its issuer, before anything about it is trusted: a
/// refused message is kept under the app it claims to come from (its admins are the ones
/// debugging it).
async fn claimed_app(
    state: &SiteState,
    tenant: TenantId,
    incoming: &IncomingMessage,
) -> Option<String> {
    let xml = incoming.xml().ok()?;
    let issuer = vestibule_saml::parse_authn_request(&xml)
        .ok()
        .and_then(|request| request.issuer)
        .or_else(|| {
            vestibule_saml::parse_logout_request(&xml)
                .ok()
                .and_then(|request| request.issuer)
        })
        .or_else(|| {
            vestibule_saml::parse_logout_response(&xml)
                .ok()
                .and_then(|response| response.issuer)
        })?;
    let apps = &state.site.saml.apps;
    let app = apps.by_entity_id(tenant, &issuer).await.ok()??;
    Some(app.app_id)
}

/// A refusal in words for the recorder, and the app it is about when the refusal says.
fn refusal_reason(refusal: &SsoRefusal) -> Option<(Option<String>, String)> {
    match refusal {
        SsoRefusal::Page(message) => Some((None, message.clone())),
        SsoRefusal::Status(answer) => {
            let status = answer
                .sub_status
                .unwrap_or(answer.status)
                .rsplit(':')
                .next()
                .unwrap_or_default();
            Some((
                Some(answer.app_id.clone()),
                format!("{} (status {status})", answer.message),
            ))
        }
        SsoRefusal::Failed(_) => None,
    }
}

/// A message from a service provider (AuthnRequest, LogoutRequest, LogoutResponse): accepted
/// with its signature check in words, or refused with the reason. `app`: the app the engine
/// accepted it for; otherwise the one its issuer names.
pub(super) async fn received(
    state: &SiteState,
    tenant: TenantId,
    kind: Kind,
    incoming: &IncomingMessage,
    app: Option<&str>,
    accepted: Result<&str, &SsoRefusal>,
) {
    let (refusal_app, outcome, signature) = match accepted {
        Ok(signature) => (None, Outcome::Answered, signature.to_string()),
        Err(refusal) => {
            let Some((app, reason)) = refusal_reason(refusal) else {
                return;
            };
            (app, Outcome::Refused { reason }, String::new())
        }
    };
    let app = match app.map(str::to_string).or(refusal_app) {
        Some(app) => Some(app),
        None => claimed_app(state, tenant, incoming).await,
    };
    let Some(app) = app else {
        return;
    };
    let exchange = Exchange {
        app: AppRef::saml(&app),
        kind,
        member: None,
        outcome,
        signature,
        message: incoming_message(incoming),
    };
    record(state, tenant, exchange).await;
}

/// The IdP-initiated link followed for `app_id`.
pub(super) async fn idp_initiated(
    state: &SiteState,
    tenant: TenantId,
    app_id: &str,
    relay_state: Option<&str>,
    refusal: Option<&SsoRefusal>,
) {
    // Anyone can follow a link naming any app id: only the tenant's apps keep exchanges.
    if state.site.saml.apps.get(tenant, app_id).await.is_err() {
        return;
    }
    let outcome = match refusal.map(refusal_reason) {
        None => Outcome::Answered,
        Some(None) => return,
        Some(Some((_, reason))) => Outcome::Refused { reason },
    };
    let exchange = Exchange {
        app: AppRef::saml(app_id),
        kind: Kind::IdpInitiated,
        member: None,
        outcome,
        signature: String::new(),
        message: Message::text(&format!(
            "GET /saml/idp/{app_id}{}",
            relay_state
                .map(|relay| format!("?RelayState={relay}"))
                .unwrap_or_default()
        )),
    };
    record(state, tenant, exchange).await;
}

/// A response posted to a service provider: an assertion about `member`, or a status.
pub(super) async fn response_sent(
    state: &SiteState,
    tenant: TenantId,
    app_id: &str,
    member: Option<&str>,
    message: &vestibule_saml::PostMessage,
    refused: Option<&str>,
) {
    let xml = vestibule_saml::decode_post(&message.value).unwrap_or_default();
    let signature = signed_parts(&xml);
    let exchange = Exchange {
        app: AppRef::saml(app_id),
        kind: Kind::Response,
        member: member.map(str::to_string),
        outcome: match refused {
            None => Outcome::Answered,
            Some(reason) => Outcome::Refused {
                reason: reason.to_string(),
            },
        },
        signature,
        message: Message::saml(&xml),
    };
    record(state, tenant, exchange).await;
}

/// Which parts of a response this IdP signed (and whether the assertion is encrypted), read
/// from the response itself so the recorder shows what was sent, not what was meant.
fn signed_parts(xml: &str) -> String {
    // `<ds:Signature` followed by what ends its name (not `<ds:SignatureValue`).
    let starts: Vec<usize> = xml
        .match_indices("<ds:Signature")
        .map(|(at, found)| at + found.len())
        .filter(|end| matches!(xml.as_bytes().get(*end), Some(b' ' | b'>' | b'/')))
        .collect();
    let signatures = starts.len();
    let encrypted = xml.contains("EncryptedAssertion");
    // A signature before the assertion (or in a response without one) is the response's.
    let signed_response = match (starts.first(), xml.find("Assertion")) {
        (Some(signature), Some(assertion)) => *signature < assertion,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let parts = match (signatures, signed_response, encrypted) {
        (0, _, true) => "the assertion is encrypted (its signature is inside)".to_string(),
        (0, _, false) => "not signed".to_string(),
        (1, true, _) => "the response".to_string(),
        (1, false, _) => "the assertion".to_string(),
        _ => "the response and the assertion".to_string(),
    };
    let encrypted = if encrypted {
        "; the assertion is encrypted for the service provider"
    } else {
        ""
    };
    format!("Signed by this IdP's current key: {parts}{encrypted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_parts_are_read_from_the_response() {
        let response = "<samlp:Response><ds:Signature><ds:SignatureValue/></ds:Signature>\
                        <saml:Assertion/></samlp:Response>";
        assert_eq!(
            signed_parts(response),
            "Signed by this IdP's current key: the response"
        );
        let assertion =
            "<samlp:Response><saml:Assertion><ds:Signature/></saml:Assertion></samlp:Response>";
        assert_eq!(
            signed_parts(assertion),
            "Signed by this IdP's current key: the assertion"
        );
        let both = "<samlp:Response><ds:Signature/><saml:Assertion><ds:Signature/></saml:Assertion></samlp:Response>";
        assert!(signed_parts(both).ends_with("the response and the assertion"));
        let status = "<samlp:Response><ds:Signature/><samlp:Status/></samlp:Response>";
        assert_eq!(
            signed_parts(status),
            "Signed by this IdP's current key: the response"
        );
    }
}
