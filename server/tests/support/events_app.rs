//! The confidential OIDC application most tests and benchmarks sign members in to, included
//! with `#[path = "support/events_app.rs"] mod events_app;` where it is needed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use vestibule_domain::{TenantId, Timestamp};
use vestibule_oidc::ClientInput;
use vestibule_server::Engines;

/// "Events", redirecting to `redirect`, without a consent page: its client id and the
/// `Authorization: Basic …` header its back channel sends.
pub async fn create(engines: &Engines, tenant: TenantId, redirect: &str) -> (String, String) {
    let input = ClientInput {
        name: "Events".into(),
        redirect_uris: vec![redirect.into()],
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
