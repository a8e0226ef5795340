//! Tenant signing keys: generated here, sealed at rest, rotated with overlap.
//!
//! Each tenant has one series of keys per RSA algorithm. A key is published in the JWKS from
//! the moment it exists; the next key is made `publish_ahead` before the current one retires, so
//! relying parties that cache the JWKS already know it when it starts signing; a retired key
//! stays published for `overlap` (at least the longest token lifetime) so tokens it signed still
//! verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_storage::{SigningKeyRecord, Store};

use crate::jws::{RsaPublicKey, RsaSigningKey, Signer};
use crate::random::random;
use crate::{OidcError, SigningAlgorithm};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long one key signs.
    pub lifetime: Seconds,
    /// How long before it signs a key is published.
    pub publish_ahead: Seconds,
    /// How long after it stops signing a key stays published; at least the longest lifetime
    /// of a token it may have signed.
    pub overlap: Seconds,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            lifetime: Seconds::hours(24 * 90),
            publish_ahead: Seconds::hours(24 * 7),
            overlap: Seconds::hours(24 * 2),
        }
    }
}

/// One token signing key's time on the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWindow {
    pub kid: String,
    pub algorithm: String,
    pub signs_from: Timestamp,
    pub signs_until: Timestamp,
    pub published_until: Timestamp,
}

#[derive(Clone)]
pub struct SigningKeys {
    store: Store,
    secret: SecretKey,
    policy: KeyPolicy,
    /// Keys already unsealed and parsed, by tenant and kid: parsing validates the whole RSA key,
    /// which costs a fifth of a signature, on every token otherwise.
    parsed: Arc<Mutex<ParsedKeys>>,
    /// Which key signs for a tenant and algorithm, remembered for at most
    /// [`CURRENT_KEY_HELD`] and never past the moment the series needs its next key: saves the
    /// database read that every token would otherwise make to learn the same answer.
    current: Arc<Mutex<CurrentKeys>>,
}

type ParsedKeys = HashMap<(TenantId, String), Arc<RsaSigningKey>>;

/// The signing key in use, and the window in which it stays the answer.
#[derive(Clone)]
struct CurrentKey {
    kid: String,
    key: Arc<RsaSigningKey>,
    from: Timestamp,
    until: Timestamp,
}

type CurrentKeys = HashMap<(TenantId, SigningAlgorithm), CurrentKey>;

/// How long a node trusts its memory of the current key: keys only change on a schedule set a
/// week ahead, so this bounds nothing but a tenant's deletion.
const CURRENT_KEY_HELD: Seconds = Seconds(60);

/// Past this many parsed keys the cache starts over (retired keys are never asked for again).
const PARSED_KEYS_HELD: usize = 10_000;

fn seal_context(tenant: TenantId, kid: &str) -> String {
    format!("oidc-signing-key:tenant-{}:{kid}", tenant.0)
}

fn public_key(record: &SigningKeyRecord) -> Option<RsaPublicKey> {
    Some(RsaPublicKey {
        kid: record.kid.clone(),
        algorithm: SigningAlgorithm::parse(&record.algorithm)?,
        n: record.modulus.clone(),
        e: record.exponent.clone(),
    })
}

impl SigningKeys {
    pub fn new(store: Store, secret: SecretKey, policy: KeyPolicy) -> Self {
        Self {
            store,
            secret,
            policy,
            parsed: Arc::default(),
            current: Arc::default(),
        }
    }

    /// The key that signs for `tenant` with `algorithm` at `now`, making or rotating keys first
    /// when the series needs it.
    pub async fn signer(
        &self,
        tenant: TenantId,
        algorithm: SigningAlgorithm,
        now: Timestamp,
    ) -> Result<Signer, OidcError> {
        let remembered = self
            .current
            .lock()
            .ok()
            .and_then(|held| held.get(&(tenant, algorithm)).cloned())
            .filter(|held| held.from <= now && now < held.until);
        if let Some(held) = remembered {
            return Ok(Signer::Rsa {
                algorithm,
                kid: held.kid,
                key: held.key,
            });
        }
        let keys = self.series(tenant, algorithm, now).await?;
        let current = keys
            .iter()
            .filter(|k| k.active_from <= now && now < k.active_until)
            .max_by_key(|k| k.active_from)
            .ok_or_else(|| OidcError::Key("no current signing key".to_string()))?;
        let key = self.parsed_key(tenant, current)?;
        // The answer holds until the key retires, or until the next key must be made when it
        // is not there yet, and for at most a minute.
        let has_next = keys.iter().any(|k| k.active_from >= current.active_until);
        let changes_at = if has_next {
            current.active_until
        } else {
            current.active_until - self.policy.publish_ahead
        };
        if let Ok(mut held) = self.current.lock() {
            if held.len() >= PARSED_KEYS_HELD {
                held.clear();
            }
            let remembered = CurrentKey {
                kid: current.kid.clone(),
                key: key.clone(),
                from: now,
                until: changes_at.min(now + CURRENT_KEY_HELD),
            };
            held.insert((tenant, algorithm), remembered);
        }
        Ok(Signer::Rsa {
            algorithm,
            kid: current.kid.clone(),
            key,
        })
    }

    /// The tenant's JWKS at `now`, after bringing each series in `in_use` up to date: an
    /// application's first key, and the next key `publish_ahead` before it signs, are published
    /// even when nothing has signed lately, so a relying party that cached the JWKS knows a key
    /// before it sees a token signed with it.
    pub async fn publish(
        &self,
        tenant: TenantId,
        in_use: &[SigningAlgorithm],
        now: Timestamp,
    ) -> Result<Vec<RsaPublicKey>, OidcError> {
        for algorithm in in_use {
            if algorithm.rsa_bits().is_some() {
                self.series(tenant, *algorithm, now).await?;
            }
        }
        self.published(tenant, now).await
    }

    fn parsed_key(
        &self,
        tenant: TenantId,
        record: &SigningKeyRecord,
    ) -> Result<Arc<RsaSigningKey>, OidcError> {
        let id = (tenant, record.kid.clone());
        if let Some(key) = self
            .parsed
            .lock()
            .ok()
            .and_then(|held| held.get(&id).cloned())
        {
            return Ok(key);
        }
        let pkcs8 = self.secret.open(
            &seal_context(tenant, &record.kid),
            &record.private_key_sealed,
        )?;
        let key = Arc::new(
            RsaSigningKey::from_pkcs8(&pkcs8)
                .map_err(|e| OidcError::Key(format!("stored key {}: {e}", record.kid)))?,
        );
        if let Ok(mut held) = self.parsed.lock() {
            if held.len() >= PARSED_KEYS_HELD {
                held.clear();
            }
            held.insert(id, key.clone());
        }
        Ok(key)
    }

    /// The tenant's keys on the calendar: each published key, when it signs and until when it
    /// stays published, newest first.
    pub async fn calendar(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<KeyWindow>, OidcError> {
        let mut windows: Vec<KeyWindow> = self
            .store
            .signing_keys(tenant, None, now)
            .await?
            .into_iter()
            .map(|record| KeyWindow {
                kid: record.kid,
                algorithm: record.algorithm,
                signs_from: record.active_from,
                signs_until: record.active_until,
                published_until: record.published_until,
            })
            .collect();
        windows.sort_by_key(|window| std::cmp::Reverse(window.signs_from));
        Ok(windows)
    }

    /// Every key the tenant's JWKS publishes at `now`: next, current and recently retired.
    pub async fn published(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<RsaPublicKey>, OidcError> {
        Ok(self
            .store
            .signing_keys(tenant, None, now)
            .await?
            .iter()
            .filter_map(public_key)
            .collect())
    }

    /// The tenant's published keys for `algorithm`, after making a current key when there is
    /// none and the next one when the current one retires within `publish_ahead`.
    async fn series(
        &self,
        tenant: TenantId,
        algorithm: SigningAlgorithm,
        now: Timestamp,
    ) -> Result<Vec<SigningKeyRecord>, OidcError> {
        let bits = algorithm
            .rsa_bits()
            .ok_or(OidcError::NotRsa(algorithm.as_str()))?;
        // At most two keys are ever missing: the current one and the next.
        for _ in 0..3 {
            let keys = self
                .store
                .signing_keys(tenant, Some(algorithm.as_str()), now)
                .await?;
            let current = keys
                .iter()
                .filter(|k| k.active_from <= now && now < k.active_until)
                .max_by_key(|k| k.active_from);
            let missing_from = match current {
                None => Some(now),
                Some(current) => {
                    let due = current.active_until - self.policy.publish_ahead <= now;
                    let has_next = keys.iter().any(|k| k.active_from >= current.active_until);
                    (due && !has_next).then_some(current.active_until)
                }
            };
            match missing_from {
                None => return Ok(keys),
                Some(from) => self.create(tenant, algorithm, bits, from, now).await?,
            }
        }
        Err(OidcError::Key(
            "signing keys could not be set up".to_string(),
        ))
    }

    async fn create(
        &self,
        tenant: TenantId,
        algorithm: SigningAlgorithm,
        bits: usize,
        active_from: Timestamp,
        now: Timestamp,
    ) -> Result<(), OidcError> {
        // RSA key generation takes from milliseconds to seconds: off the async executor.
        let (pkcs8, modulus, exponent) = tokio::task::spawn_blocking(move || {
            let failed = |e: openssl::error::ErrorStack| OidcError::Key(e.to_string());
            let bits = u32::try_from(bits).map_err(|e| OidcError::Key(e.to_string()))?;
            let key = openssl::rsa::Rsa::generate(bits).map_err(failed)?;
            let (modulus, exponent) = (key.n().to_vec(), key.e().to_vec());
            let pkcs8 = openssl::pkey::PKey::from_rsa(key)
                .and_then(|key| key.private_key_to_pkcs8())
                .map_err(failed)?;
            Ok::<_, OidcError>((pkcs8, modulus, exponent))
        })
        .await
        .map_err(|e| OidcError::Key(e.to_string()))??;
        let kid = random(16);
        let active_until = active_from + self.policy.lifetime;
        let record = SigningKeyRecord {
            private_key_sealed: self.secret.seal(&seal_context(tenant, &kid), &pkcs8)?,
            kid,
            tenant,
            algorithm: algorithm.as_str().to_string(),
            modulus,
            exponent,
            active_from,
            active_until,
            published_until: active_until + self.policy.overlap,
            created_at: now,
        };
        if self.store.insert_signing_key(&record).await? {
            tracing::info!(tenant = tenant.0, kid = %record.kid, algorithm = algorithm.as_str(), "signing key created");
        }
        Ok(())
    }

    /// Forgets keys that are no longer published; run now and then.
    pub async fn delete_retired(&self, now: Timestamp) -> Result<u64, OidcError> {
        Ok(self.store.delete_unpublished_signing_keys(now).await?)
    }
}
