//! OpenID Connect client applications: what the OIDC Client Apps page manages and what the
//! protocol endpoints check requests against.
//!
//! Client secrets are random values shown once and stored as SHA-256 (a slow hash adds nothing
//! to that much entropy); checking one compares hashes in constant time against every secret
//! still valid, so a rotation can keep the old secret working for an overlap.
//!
//! An HS512 application's ID tokens are signed with its client secret's octets (OpenID Connect
//! Core §10.1), which is the key relying-party libraries verify with. Its secrets are 512 bits
//! (RFC 7518 §3.2 asks an HS512 key to be as long as the hash) and kept sealed as well as
//! hashed; the token endpoint signs with the secret the caller authenticated with, so both
//! sides of a rotation overlap verify what they receive.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use vestibule_domain::{app_domain, check_app_address, InvalidInput, Seconds, TenantId, Timestamp};
use vestibule_secrets::SecretKey;
use vestibule_storage::{
    ClientSecretChange, ClientSecretRecord, Failures, NewClientSecret, OidcClientRecord, Store,
};

use crate::random::{random, stored_hash};
use crate::{OidcError, SigningAlgorithm};

/// A claim in the ID token and userinfo, filled from a member profile property. Dotted claim
/// names (`address.country`) become nested objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    pub claim: String,
    pub property: String,
}

/// A client application's settings, as stored (JSON) and as the endpoints read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    /// Matched exactly, character for character.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Confidential applications authenticate with a secret; public ones must use PKCE.
    pub confidential: bool,
    pub require_pkce: bool,
    pub allow_implicit: bool,
    pub allow_password: bool,
    pub algorithm: SigningAlgorithm,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub consent: bool,
    /// How long a member's consent lasts before it is asked again.
    pub consent_grace_days: i64,
    pub claims: Vec<ClaimMapping>,
    /// The application's login initiation endpoint (OpenID Connect Core §4): members start a
    /// sign-in from the launcher on the signed-in page there. `None`: not in the launcher.
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    /// The tenant's domain the application is used on (its issuer); `None`: the primary.
    #[serde(default)]
    pub domain: Option<String>,
}

impl ClaimMapping {
    /// `claim = Property`, one per line, as the OIDC Client Apps form sends them (blank lines
    /// are skipped). The names themselves are checked when the app is saved.
    pub fn parse_lines(text: &str) -> Result<Vec<ClaimMapping>, InvalidInput> {
        numbered_lines(text)
            .map(|(number, line)| match line.split_once('=') {
                Some((claim, property)) => Ok(ClaimMapping {
                    claim: claim.trim().to_string(),
                    property: property.trim().to_string(),
                }),
                None => Err(InvalidInput::new(
                    "claims",
                    format!(
                        "Claim mapping line {number}: write it as claim = Property, e.g. email \
                         = Email."
                    ),
                )),
            })
            .collect()
    }
}

/// The non-empty lines of a text area, trimmed, numbered from 1.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| (index + 1, line))
}

/// The OIDC Client Apps form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInput {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub confidential: bool,
    pub require_pkce: bool,
    pub allow_implicit: bool,
    pub allow_password: bool,
    /// `RS256`, `RS512` or `HS512`.
    pub algorithm: String,
    pub id_token_minutes: i64,
    pub access_token_minutes: i64,
    pub consent: bool,
    pub consent_grace_days: i64,
    pub claims: Vec<ClaimMapping>,
    /// Where members start signing in to the application from the launcher; empty: nowhere.
    pub initiate_login_uri: String,
    /// One of the tenant's domains; blank: the primary one.
    pub domain: String,
}

impl Default for ClientInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            confidential: true,
            require_pkce: false,
            allow_implicit: false,
            allow_password: false,
            algorithm: "RS256".to_string(),
            id_token_minutes: 60,
            access_token_minutes: 60,
            consent: false,
            consent_grace_days: 90,
            initiate_login_uri: String::new(),
            domain: String::new(),
            claims: vec![
                ClaimMapping {
                    claim: "email".into(),
                    property: "Email".into(),
                },
                ClaimMapping {
                    claim: "given_name".into(),
                    property: "FirstName".into(),
                },
                ClaimMapping {
                    claim: "family_name".into(),
                    property: "LastName".into(),
                },
                ClaimMapping {
                    claim: "name".into(),
                    property: "FullName".into(),
                },
            ],
        }
    }
}

/// Failed client authentications one address may make per [`CLIENT_AUTH_WINDOW`].
pub const CLIENT_AUTH_FAILURES_PER_ADDRESS: i64 = 20;
pub const CLIENT_AUTH_WINDOW: Seconds = Seconds(15 * 60);

/// A client secret as the dashboard lists it: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// A client application as the dashboard and the endpoints see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub tenant: TenantId,
    pub client_id: String,
    pub name: String,
    pub settings: ClientSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    row: i64,
    /// The sealed secret this caller authenticated with, when it has one: an HS512 answer
    /// from the token endpoint is signed with it.
    authenticated_with: Option<String>,
}

#[cfg(test)]
impl ClientSettings {
    /// A confidential RS256 application with nothing else set, for tests of decisions.
    pub(crate) fn for_tests() -> Self {
        Self {
            redirect_uris: vec!["https://events.example.org/cb".into()],
            post_logout_redirect_uris: vec![],
            confidential: true,
            require_pkce: false,
            allow_implicit: false,
            allow_password: false,
            algorithm: SigningAlgorithm::RS256,
            id_token_seconds: 3600,
            access_token_seconds: 3600,
            consent: false,
            consent_grace_days: 90,
            claims: vec![],
            initiate_login_uri: None,
            domain: None,
        }
    }
}

#[cfg(test)]
impl Client {
    /// A client application as the engine sees it, for tests of request checks.
    pub(crate) fn for_tests(client_id: &str, settings: ClientSettings) -> Self {
        Self {
            tenant: TenantId(1),
            client_id: client_id.to_string(),
            name: "Test".to_string(),
            settings,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            row: 0,
            authenticated_with: None,
        }
    }
}

/// A value shown once: a new client secret (on creation, and on switching to HS512).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShownOnce {
    pub client_secret: Option<String>,
}

/// How fresh a secret's "last used" time is kept.
const LAST_USED_PRECISION: Seconds = Seconds(60);

#[derive(Clone)]
pub struct OidcClients {
    store: Store,
    secret: SecretKey,
}

fn secret_context(tenant: TenantId, client_id: &str) -> String {
    format!("oidc-client-secret:tenant-{}:{client_id}", tenant.0)
}

/// A new client secret: 256 bits, or 512 for an application that signs HS512 with it.
fn new_secret(algorithm: SigningAlgorithm) -> String {
    random(match algorithm {
        SigningAlgorithm::HS512 => 64,
        _ => 32,
    })
}

fn check_claim(mapping: &ClaimMapping) -> Result<(), InvalidInput> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
    };
    if !plain(&mapping.claim) || !plain(&mapping.property) {
        return Err(InvalidInput::new(
            "claims",
            format!(
                "{} → {}: claim and property names are letters, digits, _ and -, with dots for \
                 nested claims",
                mapping.claim, mapping.property
            ),
        ));
    }
    // These come from the protocol, not from the profile.
    const RESERVED: [&str; 9] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "azp",
    ];
    if RESERVED.contains(&mapping.claim.as_str()) {
        return Err(InvalidInput::new(
            "claims",
            format!(
                "{} is set by the protocol and cannot be mapped",
                mapping.claim
            ),
        ));
    }
    Ok(())
}

impl ClientInput {
    fn validated(mut self) -> Result<(Self, SigningAlgorithm), InvalidInput> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 100 {
            return Err(InvalidInput::new(
                "name",
                "Give the application a name of at most 100 characters.",
            ));
        }
        let clean = |uris: Vec<String>| -> Vec<String> {
            uris.iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        };
        self.redirect_uris = clean(self.redirect_uris);
        self.post_logout_redirect_uris = clean(self.post_logout_redirect_uris);
        if self.redirect_uris.is_empty() {
            return Err(InvalidInput::new(
                "redirect_uris",
                "Add the redirect URI the vendor gave you.",
            ));
        }
        for uri in &self.redirect_uris {
            check_app_address("redirect_uris", uri)?;
        }
        for uri in &self.post_logout_redirect_uris {
            check_app_address("post_logout_redirect_uris", uri)?;
        }
        self.initiate_login_uri = self.initiate_login_uri.trim().to_string();
        if !self.initiate_login_uri.is_empty() {
            check_app_address("initiate_login_uri", &self.initiate_login_uri)?;
        }
        let algorithm = SigningAlgorithm::parse(&self.algorithm)
            .ok_or_else(|| InvalidInput::new("algorithm", "Choose RS256, RS512 or HS512."))?;
        if algorithm == SigningAlgorithm::HS512 && !self.confidential {
            return Err(InvalidInput::new(
                "algorithm",
                "HS512 shares a key with the application, so only a confidential application \
                 (one that keeps a secret on its server) can use it.",
            ));
        }
        for (field, minutes, max) in [
            ("id_token_minutes", self.id_token_minutes, 24 * 60),
            ("access_token_minutes", self.access_token_minutes, 24 * 60),
        ] {
            if !(1..=max).contains(&minutes) {
                return Err(InvalidInput::new(
                    field,
                    format!("A token lifetime is 1 to {max} minutes."),
                ));
            }
        }
        if !(0..=365).contains(&self.consent_grace_days) {
            return Err(InvalidInput::new(
                "consent_grace_days",
                "Consent is remembered for 0 to 365 days.",
            ));
        }
        for mapping in &self.claims {
            check_claim(mapping)?;
        }
        Ok((self, algorithm))
    }
}

impl OidcClients {
    pub fn new(store: Store, secret: SecretKey) -> Self {
        Self { store, secret }
    }

    fn client(&self, record: OidcClientRecord) -> Result<Client, OidcError> {
        let settings: ClientSettings = serde_json::from_str(&record.settings).map_err(|e| {
            OidcError::Storage(vestibule_storage::StorageError::Corrupt(format!(
                "client {}: {e}",
                record.client_id
            )))
        })?;
        Ok(Client {
            tenant: record.tenant,
            client_id: record.client_id,
            name: record.name,
            settings,
            created_at: record.created_at,
            updated_at: record.updated_at,
            row: record.id,
            authenticated_with: None,
        })
    }

    fn settings(input: ClientInput, algorithm: SigningAlgorithm) -> ClientSettings {
        ClientSettings {
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            confidential: input.confidential,
            // Public applications have no secret: PKCE is what protects their codes.
            require_pkce: input.require_pkce || !input.confidential,
            allow_implicit: input.allow_implicit,
            allow_password: input.allow_password,
            algorithm,
            id_token_seconds: Seconds::minutes(input.id_token_minutes).0,
            access_token_seconds: Seconds::minutes(input.access_token_minutes).0,
            consent: input.consent,
            consent_grace_days: input.consent_grace_days,
            claims: input.claims,
            initiate_login_uri: Some(input.initiate_login_uri).filter(|uri| !uri.is_empty()),
            domain: app_domain(Some(&input.domain)),
        }
    }

    /// Refuses a domain that is not one of the tenant's.
    async fn check_domain(
        &self,
        tenant: TenantId,
        settings: &ClientSettings,
    ) -> Result<(), OidcError> {
        match &settings.domain {
            Some(domain) if !self.store.tenant_has_domain(tenant, domain).await? => {
                Err(OidcError::Invalid(InvalidInput::new(
                    "domain",
                    format!("{domain} is not one of this Cloud ID's SSO domains: choose another."),
                )))
            }
            _ => Ok(()),
        }
    }

    /// `secret` as stored: hashed, and sealed when the application signs HS512 with it.
    fn sealed_for(
        &self,
        tenant: TenantId,
        client_id: &str,
        algorithm: SigningAlgorithm,
        secret: &str,
    ) -> Result<Option<String>, OidcError> {
        Ok(match algorithm {
            SigningAlgorithm::HS512 => Some(
                self.secret
                    .seal(&secret_context(tenant, client_id), secret.as_bytes())?,
            ),
            _ => None,
        })
    }

    /// Registers a client application; the secret is returned to show once.
    pub async fn create(
        &self,
        tenant: TenantId,
        input: ClientInput,
        now: Timestamp,
    ) -> Result<(Client, ShownOnce), OidcError> {
        let (input, algorithm) = input.validated().map_err(OidcError::Invalid)?;
        let client_id = random(18);
        let name = input.name.clone();
        let confidential = input.confidential;
        let settings = Self::settings(input, algorithm);
        self.check_domain(tenant, &settings).await?;
        let client_secret = confidential.then(|| new_secret(algorithm));
        let stored_secret = match &client_secret {
            Some(secret) => Some((
                stored_hash(secret),
                self.sealed_for(tenant, &client_id, algorithm, secret)?,
            )),
            None => None,
        };
        let record = OidcClientRecord {
            id: 0,
            tenant,
            client_id,
            name,
            settings: serde_json::to_string(&settings)
                .map_err(|e| OidcError::Key(e.to_string()))?,
            created_at: now,
            updated_at: now,
        };
        let stored = self
            .store
            .insert_oidc_client(
                &record,
                stored_secret
                    .as_ref()
                    .map(|(hash, sealed)| NewClientSecret {
                        hash,
                        sealed: sealed.as_deref(),
                    }),
            )
            .await?;
        tracing::info!(tenant = tenant.0, client_id = %stored.client_id, "OIDC client created");
        Ok((self.client(stored)?, ShownOnce { client_secret }))
    }

    pub async fn list(&self, tenant: TenantId) -> Result<Vec<Client>, OidcError> {
        self.store
            .oidc_clients(tenant)
            .await?
            .into_iter()
            .map(|record| self.client(record))
            .collect()
    }

    /// The tenant's applications bound to its domain `name` (not those following the primary).
    pub async fn on_domain(&self, tenant: TenantId, name: &str) -> Result<Vec<Client>, OidcError> {
        let mut clients = self.list(tenant).await?;
        clients.retain(|client| client.settings.domain.as_deref() == Some(name));
        Ok(clients)
    }

    pub async fn get(&self, tenant: TenantId, client_id: &str) -> Result<Client, OidcError> {
        let record = self
            .store
            .oidc_client(tenant, client_id)
            .await?
            .ok_or(OidcError::NoSuchClient)?;
        self.client(record)
    }

    /// Saves an edited application. Switching to HS512 replaces the secrets with a new one
    /// (shown once): the current ones were kept only as hashes, so nothing could sign with
    /// them. Leaving HS512 forgets the sealed copies.
    pub async fn update(
        &self,
        tenant: TenantId,
        client_id: &str,
        input: ClientInput,
        now: Timestamp,
    ) -> Result<(Client, ShownOnce), OidcError> {
        let existing = self.get(tenant, client_id).await?;
        let (input, algorithm) = input.validated().map_err(OidcError::Invalid)?;
        if input.confidential != existing.settings.confidential {
            return Err(OidcError::Invalid(InvalidInput::new(
                "confidential",
                "An application cannot switch between confidential and public; create a new one.",
            )));
        }
        let name = input.name.clone();
        let settings = Self::settings(input, algorithm);
        self.check_domain(tenant, &settings).await?;
        let json = serde_json::to_string(&settings).map_err(|e| OidcError::Key(e.to_string()))?;
        let was_hs512 = existing.settings.algorithm == SigningAlgorithm::HS512;
        let is_hs512 = algorithm == SigningAlgorithm::HS512;
        let new_secret = (is_hs512 && !was_hs512).then(|| new_secret(algorithm));
        let replacement = match &new_secret {
            Some(secret) => Some((
                stored_hash(secret),
                self.sealed_for(tenant, client_id, algorithm, secret)?,
            )),
            None => None,
        };
        let change = match &replacement {
            Some((hash, sealed)) => ClientSecretChange::ReplaceAll(NewClientSecret {
                hash,
                sealed: sealed.as_deref(),
            }),
            None if was_hs512 && !is_hs512 => ClientSecretChange::ForgetSealed,
            None => ClientSecretChange::Keep,
        };
        if !self
            .store
            .update_oidc_client(tenant, client_id, &name, &json, change, now)
            .await?
        {
            return Err(OidcError::NoSuchClient);
        }
        if new_secret.is_some() {
            tracing::info!(
                tenant = tenant.0,
                client_id,
                "OIDC client switched to HS512: new secret"
            );
        }
        Ok((
            self.get(tenant, client_id).await?,
            ShownOnce {
                client_secret: new_secret,
            },
        ))
    }

    pub async fn delete(&self, tenant: TenantId, client_id: &str) -> Result<(), OidcError> {
        if self.store.delete_oidc_client(tenant, client_id).await? {
            tracing::info!(tenant = tenant.0, client_id, "OIDC client deleted");
            Ok(())
        } else {
            Err(OidcError::NoSuchClient)
        }
    }

    /// A new client secret, shown once; the current ones keep working for `overlap`.
    pub async fn rotate_secret(
        &self,
        tenant: TenantId,
        client_id: &str,
        overlap: Seconds,
        now: Timestamp,
    ) -> Result<String, OidcError> {
        let client = self.get(tenant, client_id).await?;
        if !client.settings.confidential {
            return Err(OidcError::Invalid(InvalidInput::new(
                "client_secret",
                "A public application has no secret.",
            )));
        }
        let secret = new_secret(client.settings.algorithm);
        let sealed = self.sealed_for(tenant, client_id, client.settings.algorithm, &secret)?;
        self.store
            .rotate_client_secret(
                client.row,
                NewClientSecret {
                    hash: &stored_hash(&secret),
                    sealed: sealed.as_deref(),
                },
                now,
                now + overlap,
            )
            .await?;
        Ok(secret)
    }

    /// The application's secrets that still work, newest first.
    pub async fn secrets(
        &self,
        client: &Client,
        now: Timestamp,
    ) -> Result<Vec<SecretInfo>, OidcError> {
        Ok(self
            .store
            .client_secrets(client.row, now)
            .await?
            .into_iter()
            .map(|s| SecretInfo {
                created_at: s.created_at,
                expires_at: s.expires_at,
                last_used_at: s.last_used_at,
            })
            .collect())
    }

    /// The application calling the token, introspection or revocation endpoint: a
    /// confidential one by its secret, a public one (where `require_secret` is false) by its id
    /// alone. Failures are counted per calling address; past
    /// [`CLIENT_AUTH_FAILURES_PER_ADDRESS`] in [`CLIENT_AUTH_WINDOW`] the address must wait.
    /// Secrets are 256 random bits, so this is not what keeps them safe: it keeps one address
    /// from turning the endpoint into a database load. Per-application limits would let anyone
    /// lock a vendor out, so there are none.
    pub async fn authenticate_caller(
        &self,
        tenant: TenantId,
        client_id: &str,
        secret: Option<&str>,
        require_secret: bool,
        address: &str,
        now: Timestamp,
    ) -> Result<Client, OidcError> {
        // Per tenant and client: one address's failures against one application never lock
        // the token, introspection and revocation endpoints of every other application.
        let bucket = format!("oidc-client-address:{}:{client_id}:{address}", tenant.0);
        let since = Failures::counted_since(CLIENT_AUTH_WINDOW, now);
        let caller = self
            .store
            .oidc_caller(tenant, client_id, Some((&bucket, since)), now)
            .await?;
        if let Some(retry_after) =
            caller
                .failures
                .retry_after(CLIENT_AUTH_FAILURES_PER_ADDRESS, CLIENT_AUTH_WINDOW, now)
        {
            return Err(OidcError::TooManyAttempts { retry_after });
        }
        let outcome = match (secret, caller.client) {
            (Some(secret), found) => self.check_secret(found, secret, now).await,
            (None, _) if require_secret => Err(OidcError::InvalidClient),
            (None, Some((record, _))) => match self.client(record)? {
                client if !client.settings.confidential => Ok(client),
                _ => Err(OidcError::InvalidClient),
            },
            (None, None) => Err(OidcError::InvalidClient),
        };
        if matches!(outcome, Err(OidcError::InvalidClient)) {
            self.store
                .record_sign_in_failure(&[&bucket], now, since)
                .await?;
        }
        outcome
    }

    /// Authenticates a confidential client (`client_secret_basic` or `client_secret_post`):
    /// the same answer, in constant time per secret, for an unknown client and a wrong secret.
    pub async fn authenticate(
        &self,
        tenant: TenantId,
        client_id: &str,
        secret: &str,
        now: Timestamp,
    ) -> Result<Client, OidcError> {
        let found = self
            .store
            .oidc_client_with_secrets(tenant, client_id, now)
            .await?;
        self.check_secret(found, secret, now).await
    }

    async fn check_secret(
        &self,
        found: Option<(OidcClientRecord, Vec<ClientSecretRecord>)>,
        secret: &str,
        now: Timestamp,
    ) -> Result<Client, OidcError> {
        let Some((record, secrets)) = found else {
            return Err(OidcError::InvalidClient);
        };
        let mut client = self.client(record)?;
        let offered = stored_hash(secret);
        let mut matched = None;
        for stored in secrets {
            if bool::from(stored.secret_hash.as_bytes().ct_eq(offered.as_bytes())) {
                matched = Some(stored);
            }
        }
        let used = matched.ok_or(OidcError::InvalidClient)?;
        client.authenticated_with = used.secret_sealed.clone();
        // "Last used" is shown to the minute: one write a minute per secret, not per token.
        if used
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_PRECISION)
        {
            self.store.touch_client_secret(used.id, now).await?;
        }
        Ok(client)
    }

    /// The key an HS512 ID token for `client` is signed with: the secret it authenticated
    /// with at the token endpoint, or else (the implicit flow) its newest secret.
    pub async fn hs512_signing_key(
        &self,
        client: &Client,
        now: Timestamp,
    ) -> Result<Vec<u8>, OidcError> {
        let sealed = match &client.authenticated_with {
            Some(sealed) => sealed.clone(),
            None => self
                .store
                .client_secrets(client.row, now)
                .await?
                .into_iter()
                .find_map(|secret| secret.secret_sealed)
                .ok_or(OidcError::NoHs512Secret)?,
        };
        Ok(self
            .secret
            .open(&secret_context(client.tenant, &client.client_id), &sealed)?)
    }

    /// Every key an HS512 ID token for `client` may have been signed with: its secrets still
    /// in use, newest first.
    pub async fn hs512_verifying_keys(
        &self,
        client: &Client,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, OidcError> {
        let context = secret_context(client.tenant, &client.client_id);
        self.store
            .client_secrets(client.row, now)
            .await?
            .into_iter()
            .filter_map(|secret| secret.secret_sealed)
            .map(|sealed| Ok(self.secret.open(&context, &sealed)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_mappings_are_read_one_per_line() {
        let read =
            ClaimMapping::parse_lines(" email = Email \n\n member.type=MemberType\n").unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[1].claim.as_str(), read[1].property.as_str()),
            ("member.type", "MemberType")
        );
        let refused = ClaimMapping::parse_lines("email = Email\nemail Email").unwrap_err();
        assert!(refused.message.contains("line 2"), "{refused}");
    }

    #[test]
    fn claims_map_plain_names_and_keep_protocol_claims() {
        let mapping = |claim: &str, property: &str| ClaimMapping {
            claim: claim.into(),
            property: property.into(),
        };
        assert!(check_claim(&mapping("address.country", "Country")).is_ok());
        assert!(check_claim(&mapping("member_type", "MemberType")).is_ok());
        assert!(check_claim(&mapping("sub", "ID")).is_err());
        assert!(check_claim(&mapping("a..b", "X")).is_err());
        assert!(check_claim(&mapping("name", "Full Name")).is_err());
    }
}
