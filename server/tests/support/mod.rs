//! What the server's tests and benchmarks share: the engines as `vestibule serve` wires them,
//! on a given store, with password hashing cheap enough for tests. Included with `mod support;`
//! (the benchmark with `#[path]`).

pub mod http;

use vestibule_provisioning::Provisioning;
use vestibule_secrets::SecretKey;
use vestibule_server::{Config, Engines};
use vestibule_staff::PasswordHasher;
use vestibule_storage::Store;

/// `config` must carry a `secret_key`.
pub fn engines(config: &Config, store: Store) -> Engines {
    let secret = config
        .load_secret_key()
        .expect("the test config's secret key");
    let provisioning = Provisioning::new(
        config.provisioning_settings(),
        store.clone(),
        secret.clone(),
    )
    .expect("provisioning");
    Engines::with_hasher(
        config,
        store,
        secret,
        provisioning,
        PasswordHasher::new(1024, 1, 2),
    )
}

/// An outbox that queues without sending (its SMTP port is closed): what makes e-mail on
/// (password resets offered, warnings queued) for a test.
#[allow(dead_code)] // Not every test that shares this module mails.
pub fn queueing_outbox(store: &Store) -> vestibule_mail::Outbox {
    let sender = vestibule_mail::SmtpSender::new(&vestibule_mail::SmtpSettings {
        host: "127.0.0.1".to_string(),
        port: 9,
        security: vestibule_mail::Security::None,
        credentials: None,
        from: vestibule_domain::Email::parse("sso@vestibule.test").unwrap(),
        extra_roots_pem: None,
        timeout: std::time::Duration::from_secs(1),
    })
    .expect("an SMTP sender");
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).expect("a key");
    vestibule_mail::Outbox::new(
        store.clone(),
        key,
        sender,
        "node-test".into(),
        vestibule_mail::OutboxPolicy::default(),
    )
}

/// The defaults with a fresh secret key, serving `test_domains` (`name=cloud-id`) over plain
/// HTTP as `vestibule serve` does.
pub fn config(test_domains: &[&str]) -> Config {
    Config {
        secret_key: Some(SecretKey::generate_base64()),
        edge: vestibule_server::config::EdgeConfig {
            test_domains: test_domains.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        },
        // The iMIS emulator runs on loopback.
        members: vestibule_server::config::MemberConfig {
            imis_private_network: true,
            ..Default::default()
        },
        ..Config::default()
    }
}
