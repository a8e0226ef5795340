//! Passkeys (WebAuthn) as a second factor for staff, through webauthn-rs.
//!
//! Each ceremony has two halves, and the second may land on another node: the state between
//! them travels to the browser sealed with the installation's key, bound to who it is for
//! (the staff member adding one, or the sign-in challenge being answered) and to a deadline.
//! A sign-in's state is only as good as its challenge, which is used up when the sign-in
//! completes, so an assertion cannot be replayed.

use ring::digest;
use serde::{Deserialize, Serialize};
use vestibule_domain::{Seconds, StaffId, StaffMember, Timestamp};
use vestibule_storage::PasskeyRecord;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::service::CurrentStaff;
use crate::token::token_hash;
use crate::{StaffAccounts, StaffError};

/// How long the browser has between the two halves of a ceremony.
const CEREMONY_LIFETIME: Seconds = Seconds::minutes(5);
/// The longest name a passkey may be given.
const NAME_LIMIT: usize = 60;

/// The dashboard as a WebAuthn relying party: its host name is the RP ID, its public URL the
/// only origin accepted.
#[derive(Clone)]
pub struct PasskeyRelyingParty {
    webauthn: std::sync::Arc<Webauthn>,
}

impl PasskeyRelyingParty {
    /// `None` when `public_url` cannot be a relying party: browsers refuse passkeys on an IP
    /// address, and anywhere but https or localhost.
    pub fn for_dashboard(public_url: &str) -> Option<Self> {
        let origin = Url::parse(public_url).ok()?;
        let host = origin.domain()?.to_string();
        let local = host == "localhost" || host.ends_with(".localhost");
        if origin.scheme() != "https" && !local {
            return None;
        }
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .ok()?
            .rp_name("Vestibule Cloud Dashboard")
            .timeout(std::time::Duration::from_secs(CEREMONY_LIFETIME.0 as u64))
            .build()
            .ok()?;
        Some(Self {
            webauthn: std::sync::Arc::new(webauthn),
        })
    }
}

/// One half of a ceremony for the browser: `options` for `navigator.credentials` (the
/// `publicKey` member, as JSON) and the sealed `state` to send back with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    pub options: String,
    pub state: String,
}

/// A passkey as its owner sees it in their account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl From<PasskeyRecord> for PasskeyInfo {
    fn from(record: PasskeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed<S> {
    expires_at: i64,
    state: S,
}

const REGISTRATION: &str = "staff-passkey-registration";
const SIGN_IN: &str = "staff-passkey-sign-in";

/// The user handle authenticators store with the credential: stable per account, and no
/// e-mail address or database id in the clear.
fn user_handle(staff: &StaffMember) -> Uuid {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"vestibule staff passkey user handle\0");
    context.update(staff.id.0.to_string().as_bytes());
    context.update(b"\0");
    context.update(staff.email.as_str().as_bytes());
    let hash = context.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    Uuid::from_bytes(bytes)
}

/// The credential id in base64url, as browsers show it.
fn credential_id(passkey: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id())
}

/// The `publicKey` member of what webauthn-rs answers, as the browser's JSON parsers take it.
fn public_key_options(options: &impl Serialize) -> Result<String, StaffError> {
    let value = serde_json::to_value(options).map_err(|e| StaffError::Sealing(e.to_string()))?;
    Ok(value
        .get("publicKey")
        .map(serde_json::Value::to_string)
        .unwrap_or_default())
}

impl StaffAccounts {
    fn relying_party(&self) -> Result<&Webauthn, StaffError> {
        self.passkey_relying_party()
            .map(|party| party.webauthn.as_ref())
            .ok_or(StaffError::PasskeysUnavailable)
    }

    fn seal_state<S: Serialize>(
        &self,
        context: &str,
        state: S,
        now: Timestamp,
    ) -> Result<String, StaffError> {
        let sealed = Sealed {
            expires_at: (now + CEREMONY_LIFETIME).0,
            state,
        };
        let json = serde_json::to_vec(&sealed).map_err(|e| StaffError::Sealing(e.to_string()))?;
        self.secret_key()
            .ok_or_else(|| StaffError::Sealing("no secret key for passkeys".to_string()))?
            .seal(context, &json)
            .map_err(|e| StaffError::Sealing(e.to_string()))
    }

    /// The state of a ceremony begun for `context`; `None` when it was begun for someone else,
    /// was tampered with or took too long.
    fn open_state<S: for<'de> Deserialize<'de>>(
        &self,
        context: &str,
        sealed: &str,
        now: Timestamp,
    ) -> Option<S> {
        let json = self.secret_key()?.open(context, sealed).ok()?;
        let sealed: Sealed<S> = serde_json::from_slice(&json).ok()?;
        (sealed.expires_at > now.0).then_some(sealed.state)
    }

    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, caller: &CurrentStaff) -> Result<Vec<PasskeyInfo>, StaffError> {
        Ok(self
            .store()
            .staff_passkeys(caller.staff.id)
            .await?
            .into_iter()
            .map(PasskeyInfo::from)
            .collect())
    }

    /// Whether this installation can offer passkeys (its dashboard has a host name on https).
    pub fn passkeys_available(&self) -> bool {
        self.passkey_relying_party().is_some()
    }

    /// Starts adding a passkey to the caller's account. Passkeys they already have are
    /// excluded, so one authenticator is not added twice.
    pub async fn begin_passkey(
        &self,
        caller: &CurrentStaff,
        now: Timestamp,
    ) -> Result<PasskeyCeremony, StaffError> {
        let webauthn = self.relying_party()?;
        let staff = &caller.staff;
        let existing = self.stored_passkeys(staff.id).await?;
        let exclude = existing
            .iter()
            .map(|(_, passkey)| passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let (options, state) = webauthn
            .start_passkey_registration(
                user_handle(staff),
                staff.email.as_str(),
                staff.email.as_str(),
                Some(exclude),
            )
            .map_err(|e| StaffError::PasskeyNotAdded(e.to_string()))?;
        Ok(PasskeyCeremony {
            options: public_key_options(&options)?,
            state: self.seal_state(&format!("{REGISTRATION}:{}", staff.id.0), state, now)?,
        })
    }

    /// Finishes adding a passkey with the browser's answer (`credential`, the JSON of the new
    /// `PublicKeyCredential`); from now on sign-in asks for a second factor.
    pub async fn finish_passkey(
        &self,
        caller: &CurrentStaff,
        name: &str,
        state: &str,
        credential: &str,
        now: Timestamp,
    ) -> Result<PasskeyInfo, StaffError> {
        let webauthn = self.relying_party()?;
        let staff = &caller.staff;
        let name = passkey_name(name)?;
        let state: PasskeyRegistration = self
            .open_state(&format!("{REGISTRATION}:{}", staff.id.0), state, now)
            .ok_or(StaffError::ChallengeExpired)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_str(credential)
            .map_err(|e| StaffError::PasskeyNotAdded(format!("the browser's answer: {e}")))?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| StaffError::PasskeyNotAdded(e.to_string()))?;
        let json =
            serde_json::to_string(&passkey).map_err(|e| StaffError::Sealing(e.to_string()))?;
        let id = self
            .store()
            .insert_staff_passkey(staff.id, &credential_id(&passkey), &name, &json, now)
            .await?;
        tracing::info!(staff = %staff.email, "passkey added");
        Ok(PasskeyInfo {
            id,
            name,
            created_at: now,
            last_used_at: None,
        })
    }

    /// Removes one of the caller's passkeys, given their password (a stolen session alone
    /// cannot take a second factor away).
    pub async fn remove_passkey(
        &self,
        caller: &CurrentStaff,
        id: i64,
        password: &str,
        now: Timestamp,
    ) -> Result<PasskeyInfo, StaffError> {
        self.confirm_password(caller, password, now).await?;
        let removed = self
            .store()
            .staff_passkeys(caller.staff.id)
            .await?
            .into_iter()
            .find(|record| record.id == id)
            .ok_or(StaffError::NotFound)?;
        if !self
            .store()
            .delete_staff_passkey(caller.staff.id, id)
            .await?
        {
            return Err(StaffError::NotFound);
        }
        tracing::info!(staff = %caller.staff.email, "passkey removed");
        Ok(removed.into())
    }

    /// For a sign-in waiting on its second factor: what the browser asks the account's
    /// passkeys, or `None` when the account has none.
    pub async fn passkey_sign_in(
        &self,
        challenge: &str,
        now: Timestamp,
    ) -> Result<Option<PasskeyCeremony>, StaffError> {
        let challenge_hash = token_hash(challenge);
        let staff = self
            .store()
            .sign_in_challenge(&challenge_hash, now)
            .await?
            .ok_or(StaffError::ChallengeExpired)?;
        let passkeys: Vec<Passkey> = self
            .stored_passkeys(staff)
            .await?
            .into_iter()
            .map(|(_, passkey)| passkey)
            .collect();
        if passkeys.is_empty() {
            return Ok(None);
        }
        let webauthn = self.relying_party()?;
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| StaffError::Sealing(e.to_string()))?;
        Ok(Some(PasskeyCeremony {
            options: public_key_options(&options)?,
            state: self.seal_state(&format!("{SIGN_IN}:{challenge_hash}"), state, now)?,
        }))
    }

    /// Whether the browser's answer (`credential`) to [`Self::passkey_sign_in`] proves one of
    /// `staff`'s passkeys; records its use.
    pub(crate) async fn check_passkey(
        &self,
        staff: StaffId,
        challenge_hash: &str,
        state: &str,
        credential: &str,
        now: Timestamp,
    ) -> Result<bool, StaffError> {
        let webauthn = self.relying_party()?;
        let Some(state): Option<PasskeyAuthentication> =
            self.open_state(&format!("{SIGN_IN}:{challenge_hash}"), state, now)
        else {
            return Ok(false);
        };
        let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(credential) else {
            return Ok(false);
        };
        let result = match webauthn.finish_passkey_authentication(&credential, &state) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "a passkey assertion was refused");
                return Ok(false);
            }
        };
        // The state allowed only this account's passkeys; find which one answered.
        for (id, mut passkey) in self.stored_passkeys(staff).await? {
            if passkey.update_credential(&result).is_some() {
                let json = serde_json::to_string(&passkey)
                    .map_err(|e| StaffError::Sealing(e.to_string()))?;
                self.store()
                    .record_staff_passkey_use(id, &json, now)
                    .await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn stored_passkeys(&self, staff: StaffId) -> Result<Vec<(i64, Passkey)>, StaffError> {
        self.store()
            .staff_passkeys(staff)
            .await?
            .into_iter()
            .map(|record| {
                serde_json::from_str(&record.passkey)
                    .map(|passkey| (record.id, passkey))
                    .map_err(|e| StaffError::Sealing(format!("a stored passkey: {e}")))
            })
            .collect()
    }
}

/// A passkey's name as its owner typed it: trimmed, "Passkey" when left empty.
fn passkey_name(name: &str) -> Result<String, StaffError> {
    let name = name.trim();
    if name.chars().count() > NAME_LIMIT {
        return Err(StaffError::InvalidInput(
            vestibule_domain::InvalidInput::new(
                "name",
                format!("A passkey's name is at most {NAME_LIMIT} characters."),
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(StaffError::InvalidInput(
            vestibule_domain::InvalidInput::new(
                "name",
                "A passkey's name cannot contain control characters.".to_string(),
            ),
        ));
    }
    Ok(if name.is_empty() { "Passkey" } else { name }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_host_name_on_https_or_localhost_is_a_relying_party() {
        assert!(PasskeyRelyingParty::for_dashboard("https://dashboard.example.org").is_some());
        assert!(PasskeyRelyingParty::for_dashboard("http://localhost:3000").is_some());
        assert!(PasskeyRelyingParty::for_dashboard("http://127.0.0.1:3000").is_none());
        assert!(PasskeyRelyingParty::for_dashboard("https://[::1]:3000").is_none());
        assert!(PasskeyRelyingParty::for_dashboard("http://dashboard.example.org").is_none());
        assert!(PasskeyRelyingParty::for_dashboard("not a url").is_none());
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  Laptop  ").unwrap(), "Laptop");
        assert_eq!(passkey_name("").unwrap(), "Passkey");
        assert!(passkey_name(&"x".repeat(61)).is_err());
        assert!(passkey_name("a\nb").is_err());
    }
}
