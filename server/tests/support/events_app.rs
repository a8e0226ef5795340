//! The confidential OIDC application most tests and benchmarks sign members in to, included
//! with `#[path = "support/events_app.rs"] mod events_app;` where it is needed.

// Each includer uses one of the two constructors.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use vestibule_domain::{TenantId, Timestamp};
use vestibule_oidc::ClientInput;
use vestibule_server::Engines;

/// "Events", redirecting to `redirect`, without a consent page: its client id and the
/// `Authorization: Basic …` header its back channel sends.
pub async fn create(engines: &Engines, tenant: TenantId, redirect: &str) -> (String, String) {
    create_signing(engines, tenant, redirect, "RS256").await
}

/// The same application with ID tokens signed by `algorithm` (`RS256`, `RS512` or `HS512`),
/// named after it so several can live in one tenant.
pub async fn create_signing(
    engines: &Engines,
    tenant: TenantId,
    redirect: &str,
    algorithm: &str,
) -> (String, String) {
    let name = match algorithm {
        "RS256" => "Events".to_string(),
        other => format!("Events {other}"),
    };
    let input = ClientInput {
        name,
        redirect_uris: vec![redirect.into()],
        algorithm: algorithm.into(),
        consent: false,
        ..ClientInput::default()
    };
    let (client, shown) = engines
        .oidc
        .clients
        .create(tenant, input, Timestamp::now())
        .await
        .unwrap();
    let secret = shown.client_secret.unwrap();
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{secret}", client.client_id))
    );
    (client.client_id, basic)
}
