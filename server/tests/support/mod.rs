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
