//! Tenant SAML signing keys: an RSA-2048 key and a self-signed certificate per tenant, made on
//! first use, the private key sealed at rest. Service providers pin the certificate from the
//! metadata, so it is long-lived (ten years) and changes only when an admin rolls it over: the
//! next key is made ahead and published beside the current one for an overlap (30 days unless
//! the admin chooses), then signs; the admin may roll over at once or postpone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::pkey::{PKey, Private};
use rand::RngCore;
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_storage::{SamlKeyRecord, Store};

use crate::SamlError;

/// How long a certificate is valid.
const CERTIFICATE_LIFETIME: Seconds = Seconds(10 * 365 * 86_400);

/// Next certificates a Cloud ID may make per [`ROLLOVER_WINDOW`].
pub const ROLLOVERS_PER_WINDOW: i64 = 3;
pub const ROLLOVER_WINDOW: Seconds = Seconds::minutes(15);

/// How long a node keeps a tenant's key in memory before reading it again, and so how long
/// another node may go on signing with the previous key after an admin rolls over at once
/// (a scheduled rollover is never held past its moment).
const KEY_HELD: Seconds = Seconds(60);

/// Past this many tenants the memory of keys starts over.
const KEYS_HELD: usize = 10_000;

/// A tenant's key, read and parsed once, ready to sign. Cloning shares the parsed key.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub certificate_der: Vec<u8>,
    /// For XML signatures (libxmlsec1). Never logged (see the `Debug` implementation).
    pub(crate) xml_key: Arc<vestibule_xmldsig::SigningKey>,
    /// For the Redirect binding's query signature (OpenSSL).
    pub(crate) query_key: PKey<Private>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses an RSA private key (PKCS#8 DER) for both kinds of signature.
    pub fn from_pkcs8(
        kid: String,
        certificate_der: Vec<u8>,
        private_pkcs8: &[u8],
    ) -> Result<Self, SamlError> {
        let unreadable = |why: String| SamlError::Key(format!("stored key {kid}: {why}"));
        let xml_key = vestibule_xmldsig::SigningKey::from_pkcs8(private_pkcs8)
            .map_err(|e| unreadable(e.to_string()))?;
        let query_key =
            PKey::private_key_from_pkcs8(private_pkcs8).map_err(|e| unreadable(e.to_string()))?;
        Ok(Self {
            kid,
            certificate_der,
            xml_key: Arc::new(xml_key),
            query_key,
        })
    }

    /// The certificate as metadata and `KeyInfo` carry it: base64 DER without line breaks.
    pub fn certificate_base64(&self) -> String {
        STANDARD.encode(&self.certificate_der)
    }
}

#[derive(Clone)]
pub struct SamlKeys {
    store: Store,
    secret: SecretKey,
    /// Each tenant's signing key as last read, and until when it stays the answer: saves a
    /// database read, an unsealing and two key parses on every signed message.
    held: Arc<Mutex<HashMap<TenantId, (SigningKey, Timestamp)>>>,
}

fn seal_context(tenant: TenantId, kid: &str) -> String {
    format!("saml-signing-key:tenant-{}:{kid}", tenant.0)
}

impl SamlKeys {
    pub fn new(store: Store, secret: SecretKey) -> Self {
        Self {
            store,
            secret,
            held: Arc::default(),
        }
    }

    /// The key that signs for `tenant` now (the newest generation), made first when the tenant
    /// has none. `common_name` names the certificate's subject (the tenant's domain or Cloud ID).
    pub async fn signing_key(
        &self,
        tenant: TenantId,
        common_name: &str,
        now: Timestamp,
    ) -> Result<SigningKey, SamlError> {
        let held = self
            .held
            .lock()
            .ok()
            .and_then(|held| held.get(&tenant).cloned());
        if let Some((key, until)) = held {
            if now < until {
                return Ok(key);
            }
        }
        let (key, next_signs_from) = self.read_signing_key(tenant, common_name, now).await?;
        let until = next_signs_from.map_or(now + KEY_HELD, |at| at.min(now + KEY_HELD));
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= KEYS_HELD {
                held.clear();
            }
            held.insert(tenant, (key.clone(), until));
        }
        Ok(key)
    }

    /// Forgets this node's memory of the tenant's key, after a rollover changed it.
    fn forget(&self, tenant: TenantId) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&tenant);
        }
    }

    /// The key that signs now, and when a next key takes over, if one is scheduled.
    async fn read_signing_key(
        &self,
        tenant: TenantId,
        common_name: &str,
        now: Timestamp,
    ) -> Result<(SigningKey, Option<Timestamp>), SamlError> {
        let mut generations = self.generations(tenant, now).await?;
        if generations.current.is_none() {
            self.create(tenant, 1, common_name, now, None).await?;
            // Another node may have stored its key first: take whichever was kept.
            generations = self.generations(tenant, now).await?;
        }
        let record = generations
            .current
            .ok_or_else(|| SamlError::Key("no key after creating one".to_string()))?;
        let private_pkcs8 = self.secret.open(
            &seal_context(tenant, &record.kid),
            &record.private_key_sealed,
        )?;
        let key = SigningKey::from_pkcs8(record.kid, record.certificate_der, &private_pkcs8)?;
        Ok((key, generations.next.and_then(|next| next.signs_from)))
    }

    /// The tenant's key that signs at `now` (the newest whose time has come) and the next one
    /// waiting for its time, if any; older generations no longer matter.
    async fn generations(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Generations, SamlError> {
        let records = self.store.saml_keys(tenant, now).await?;
        let signs = |record: &SamlKeyRecord| record.signs_from.is_none_or(|at| at <= now);
        let current = records.iter().rev().find(|record| signs(record)).cloned();
        let next = records
            .iter()
            .filter(|record| !signs(record))
            .filter(|record| {
                current
                    .as_ref()
                    .is_none_or(|c| record.generation > c.generation)
            })
            .min_by_key(|record| record.generation)
            .cloned();
        Ok(Generations { current, next })
    }

    /// Every certificate the metadata publishes: the one that signs and the next one, so
    /// service providers can take it before it signs.
    pub async fn certificates(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, SamlError> {
        let generations = self.generations(tenant, now).await?;
        Ok([generations.current, generations.next]
            .into_iter()
            .flatten()
            .map(|record| record.certificate_der)
            .collect())
    }

    /// The current certificate and the next one, as the dashboard's calendar shows them.
    pub async fn calendar(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<KeyCalendar, SamlError> {
        let generations = self.generations(tenant, now).await?;
        let entry = |record: SamlKeyRecord| CalendarEntry {
            signs_from: record.signs_from.unwrap_or(record.created_at),
            kid: record.kid,
            certificate_der: record.certificate_der,
            created_at: record.created_at,
            not_after: record.not_after,
        };
        Ok(KeyCalendar {
            current: generations.current.map(entry),
            next: generations.next.map(entry),
        })
    }

    /// Makes the next key, published at once and signing after `overlap`. There is one next
    /// key at a time: an admin who wants another date postpones or rolls over this one.
    pub async fn prepare_rollover(
        &self,
        tenant: TenantId,
        common_name: &str,
        overlap: Seconds,
        now: Timestamp,
    ) -> Result<CalendarEntry, SamlError> {
        let generations = self.generations(tenant, now).await?;
        if generations.next.is_some() {
            return Err(SamlError::Invalid(vestibule_domain::InvalidInput::new(
                "rollover",
                "A next certificate is already published: roll over to it now or postpone it.",
            )));
        }
        // Each one is a new RSA key, made on this node's CPU: an admin who rolls over in a
        // loop must not take it from every other Cloud ID.
        let bucket = format!("saml-rollover:{}", tenant.0);
        let taken = self
            .store
            .take_place(&bucket, ROLLOVERS_PER_WINDOW, ROLLOVER_WINDOW, now);
        if let Err(wait) = taken.await? {
            return Err(SamlError::Invalid(vestibule_domain::InvalidInput::new(
                "rollover",
                format!(
                    "{ROLLOVERS_PER_WINDOW} next certificates were made in the last {} minutes: \
                     try again in {} minutes.",
                    ROLLOVER_WINDOW.0 / 60,
                    (wait.0 + 59) / 60
                ),
            )));
        }
        let newest = self
            .store
            .saml_keys(tenant, now)
            .await?
            .iter()
            .map(|record| record.generation)
            .max()
            .unwrap_or(0);
        self.create(tenant, newest + 1, common_name, now, Some(now + overlap))
            .await?;
        self.forget(tenant);
        self.calendar(tenant, now)
            .await?
            .next
            .ok_or_else(|| SamlError::Key("no next key after creating one".to_string()))
    }

    /// Moves the next key's start: `now` rolls over at once; a later time postpones. False
    /// when `kid` is not a key waiting to sign.
    pub async fn reschedule_rollover(
        &self,
        tenant: TenantId,
        kid: &str,
        signs_from: Timestamp,
        now: Timestamp,
    ) -> Result<bool, SamlError> {
        let moved = self
            .store
            .reschedule_saml_key(tenant, kid, signs_from, now)
            .await?;
        self.forget(tenant);
        Ok(moved)
    }

    async fn create(
        &self,
        tenant: TenantId,
        generation: i64,
        common_name: &str,
        now: Timestamp,
        signs_from: Option<Timestamp>,
    ) -> Result<(), SamlError> {
        let common_name = common_name.to_string();
        let not_after = now + CERTIFICATE_LIFETIME;
        // RSA key generation takes tens of milliseconds or more: off the async executor.
        let (pkcs8, certificate_der) =
            tokio::task::spawn_blocking(move || self_signed(&common_name, now, not_after))
                .await
                .map_err(|e| SamlError::Key(e.to_string()))??;
        let mut kid = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut kid);
        let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kid);
        let record = SamlKeyRecord {
            private_key_sealed: self.secret.seal(&seal_context(tenant, &kid), &pkcs8)?,
            kid,
            tenant,
            generation,
            certificate_der,
            not_after,
            created_at: now,
            signs_from,
        };
        if self.store.insert_saml_key(&record).await? {
            tracing::info!(tenant = tenant.0, kid = %record.kid, "SAML signing key created");
        }
        Ok(())
    }
}

struct Generations {
    current: Option<SamlKeyRecord>,
    next: Option<SamlKeyRecord>,
}

/// A tenant's signing certificates on the calendar: the one that signs and the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCalendar {
    pub current: Option<CalendarEntry>,
    pub next: Option<CalendarEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    pub kid: String,
    pub certificate_der: Vec<u8>,
    pub created_at: Timestamp,
    /// When it signs (or signed) from.
    pub signs_from: Timestamp,
    pub not_after: Timestamp,
}

/// A new RSA-2048 key (PKCS#8 DER) and a certificate for it, signed by itself.
fn self_signed(
    common_name: &str,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<(Vec<u8>, Vec<u8>), SamlError> {
    let pkcs8 = openssl::rsa::Rsa::generate(2048)
        .and_then(openssl::pkey::PKey::from_rsa)
        .and_then(|key| key.private_key_to_pkcs8())
        .map_err(|e| SamlError::Key(e.to_string()))?;
    let key_pair =
        rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|e| SamlError::Key(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let day = |at: Timestamp| {
        let (year, month, day) = at.date();
        rcgen::date_time_ymd(
            i32::try_from(year).unwrap_or(9999),
            u8::try_from(month).unwrap_or(1),
            u8::try_from(day).unwrap_or(1),
        )
    };
    params.not_before = day(not_before);
    params.not_after = day(not_after);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| SamlError::Key(e.to_string()))?;
    Ok((pkcs8, certificate.der().to_vec()))
}

/// A certificate as PEM, in 64-character lines, for pasting and downloading.
pub fn certificate_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_reads_back_the_day_it_ends() {
        let not_before = Timestamp(1_900_000_000);
        let not_after = not_before + Seconds(10 * 86_400);
        let (_, der) = self_signed("sp.example.org", not_before, not_after).unwrap();
        let read = crate::certificate_not_after(&der).unwrap();
        // rcgen writes whole days: midnight UTC of the day it ends.
        let (year, month, day) = not_after.date();
        assert_eq!(read.date(), (year, month, day));
        assert_eq!(read.0 % 86_400, 0);
        assert!(crate::certificate_not_after(b"not a certificate").is_none());
    }
}
