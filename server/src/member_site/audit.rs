//! Member sign-in outcomes per application, in the tenant's audit log beside the admins'
//! changes: who signed in to which application, and who was turned away and why.
//!
//! A success is written when an application receives the member (a code, tokens or an
//! assertion), whether the member typed a password just now or came with a session. A failure
//! is written where the member was turned away: wrong credentials at the hosted sign-in page
//! (against the application the page was shown for), a refused consent, a SAML request answered
//! with an error status after sign-in, the password grant.
//!
//! Writing it down must never stand between a member and their sign-in: a failed write is
//! logged and the sign-in goes on.

use serde_json::json;
use vestibule_audit::{AuditAction, Change};
use vestibule_domain::{TenantId, Timestamp};
use vestibule_members::SignInOutcome;

use super::site::MemberSite;

/// The audit action of a member reaching an application.
pub(crate) const SUCCEEDED: AuditAction = AuditAction::SignInSucceeded;
/// The audit action of a member turned away.
pub(crate) const FAILED: AuditAction = AuditAction::SignInFailed;

/// Where the member was signing in to, as the audit log names it.
pub(crate) enum Destination<'a> {
    Oidc {
        name: &'a str,
        client_id: &'a str,
    },
    Saml {
        name: &'a str,
        app_id: &'a str,
    },
    /// The tenant's own sign-in page, with no application waiting.
    HostedLogin,
}

impl Destination<'_> {
    /// The destination as the audit log's target and the sign-in log's application name it.
    pub(crate) fn label(&self) -> String {
        match self {
            Destination::Oidc { name, client_id } => format!("OIDC app {name} ({client_id})"),
            Destination::Saml { name, app_id } => format!("SAML app {name} ({app_id})"),
            Destination::HostedLogin => "Hosted sign-in page".to_string(),
        }
    }
}

/// Who an outcome is about. Only a member whose identity was established is an audit actor:
/// a failed attempt's username is whatever was typed (by anyone, about anyone), so it is kept
/// as the event's data and the actor stays empty.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who<'a> {
    /// Signed in (or holding a session): their username.
    Member(&'a str),
    /// Not established: the username as typed, possibly empty.
    Typed(&'a str),
}

/// Whether a hosted sign-in page returning to `return_to` continues to an application, which
/// then records the sign-in itself.
fn continues_to_application(return_to: &str) -> bool {
    let path = return_to
        .split_once('?')
        .map_or(return_to, |(path, _)| path);
    path == vestibule_oidc::paths::AUTHORIZE || path == super::site::SAML_CONTINUE
}

/// A member signed in on the hosted page: written down here only when they go nowhere else;
/// an application they continue to writes the sign-in down when it is answered.
pub(crate) async fn record_hosted_sign_in(
    site: &MemberSite,
    tenant: TenantId,
    member: &str,
    return_to: &str,
) {
    if !continues_to_application(return_to) {
        record(
            site,
            tenant,
            Who::Member(member),
            Destination::HostedLogin,
            SignInOutcome::SignedIn,
        )
        .await;
    }
}

/// Writes one outcome down.
pub(crate) async fn record(
    site: &MemberSite,
    tenant: TenantId,
    who: Who<'_>,
    destination: Destination<'_>,
    outcome: SignInOutcome,
) {
    record_target(site, tenant, who, destination.label(), outcome).await;
}

async fn record_target(
    site: &MemberSite,
    tenant: TenantId,
    who: Who<'_>,
    target: String,
    outcome: SignInOutcome,
) {
    let action = if outcome.is_success() {
        SUCCEEDED
    } else {
        FAILED
    };
    let (actor, after) = match who {
        Who::Member(member) => (member, json!({ "outcome": outcome.as_str() })),
        Who::Typed(typed) => (
            "",
            json!({ "outcome": outcome.as_str(), "typed_username": typed }),
        ),
    };
    let change = Change {
        tenant: Some(tenant),
        actor,
        action,
        target,
        before: None,
        after: Some(after),
    };
    site.audit.record_after(change, Timestamp::now()).await;
}

/// The application a hosted sign-in page was shown for, named as the audit log names it, from
/// the address the page returns to: an OIDC authorization request or a pending SAML request.
/// Anything else (the account page, an application since deleted) is the hosted sign-in page
/// itself: `None`.
pub(crate) async fn application_for_return_to(
    site: &MemberSite,
    tenant: TenantId,
    return_to: &str,
) -> Option<String> {
    let (path, query) = return_to.split_once('?').unwrap_or((return_to, ""));
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if path == vestibule_oidc::paths::AUTHORIZE {
        let client_id = param("client_id")?;
        let client = site.oidc.clients.get(tenant, &client_id).await.ok()?;
        let destination = Destination::Oidc {
            name: &client.name,
            client_id: &client.client_id,
        };
        Some(destination.label())
    } else if path == super::site::SAML_CONTINUE {
        let token = param("request")?;
        let pending = site
            .saml
            .pending(tenant, &token, Timestamp::now())
            .await
            .ok()??;
        let destination = Destination::Saml {
            name: &pending.app_name,
            app_id: &pending.app_id,
        };
        Some(destination.label())
    } else {
        None
    }
}

/// A member turned away at the hosted sign-in page, against the application the page was
/// shown for (see [`application_for_return_to`]), or the page itself.
pub(crate) async fn record_refused_at_login(
    site: &MemberSite,
    tenant: TenantId,
    typed: &str,
    application: Option<&str>,
    outcome: SignInOutcome,
) {
    let target = match application {
        Some(application) => application.to_string(),
        None => Destination::HostedLogin.label(),
    };
    record_target(site, tenant, Who::Typed(typed), target, outcome).await;
}
