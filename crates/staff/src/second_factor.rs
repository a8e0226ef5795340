//! A second factor for staff: an authenticator app (TOTP) with single-use recovery codes, and
//! passkeys (see `passkey.rs`).
//!
//! With either in place, a right password no longer signs in by itself:
//! [`StaffAccounts::sign_in`] answers [`StaffError::SecondFactorNeeded`] with a short-lived
//! challenge, and [`StaffAccounts::complete_second_factor`] starts the session once a proof
//! comes with it: a current code, an unused recovery code, or a passkey's assertion. Failed
//! proofs are rate limited like passwords.

use vestibule_domain::{Email, Seconds, StaffId, StaffMember, Timestamp};
use vestibule_storage::{PasswordLimits, PasswordOutcome, SecondFactorState};

use crate::service::CurrentStaff;
use crate::token::{random_token, token_hash};
use crate::totp::TotpSecret;
use crate::{SignedIn, StaffAccounts, StaffError};

/// How long a right password waits for its second factor.
pub const CHALLENGE_LIFETIME: Seconds = Seconds::minutes(5);
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;

/// An authenticator app being set up: what the staff member scans or types.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// The secret in base32, grouped by four, for typing.
    pub secret: String,
    /// The `otpauth://` URI a QR code carries.
    pub uri: String,
}

/// Where a staff member stands with second factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactorStatus {
    pub authenticator_app: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
    /// By the installation or their Cloud ID.
    pub required: bool,
}

impl SecondFactorStatus {
    /// Whether a right password alone no longer signs them in.
    pub fn enrolled(&self) -> bool {
        self.authenticator_app || self.passkeys > 0
    }
}

/// What a sign-in waiting on its second factor is answered with.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactorProof<'a> {
    /// The authenticator app's current code, or an unused recovery code.
    Code(&'a str),
    /// The browser's answer to [`StaffAccounts::passkey_sign_in`]: the sealed `state` it was
    /// given and the assertion (`PublicKeyCredential` as JSON).
    Passkey { state: &'a str, credential: &'a str },
}

fn seal_context(staff: StaffId) -> String {
    format!("staff-totp:{}", staff.0)
}

/// A recovery code as people read it: three groups of four base32 characters (60 bits).
fn new_recovery_code() -> String {
    let random = random_token();
    let letters: String = crate::totp::base32(random.as_bytes())
        .chars()
        .take(12)
        .collect();
    format!("{}-{}-{}", &letters[..4], &letters[4..8], &letters[8..])
}

/// A typed recovery code in its stored form: case, spaces and dashes do not matter.
fn recovery_code_hash(code: &str) -> String {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&canonical)
}

impl StaffAccounts {
    fn key(&self) -> Result<&vestibule_secrets::SecretKey, StaffError> {
        self.secret_key()
            .ok_or_else(|| StaffError::Sealing("no secret key for second factors".to_string()))
    }

    /// Whether `staff` must have a second factor: the installation requires one for everyone,
    /// or their Cloud ID for its admins.
    pub(crate) fn required(&self, state: SecondFactorState) -> bool {
        self.policy().require_second_factor || state.required_by_tenant
    }

    pub(crate) async fn second_factor_state(
        &self,
        staff: &StaffMember,
    ) -> Result<SecondFactorState, StaffError> {
        let tenant = staff.role.tenant();
        Ok(self.store().second_factor_state(staff.id, tenant).await?)
    }

    /// A right password for an account with an app: the challenge to continue with.
    pub(crate) async fn second_factor_challenge(
        &self,
        staff: StaffId,
        now: Timestamp,
    ) -> Result<String, StaffError> {
        let challenge = random_token();
        self.store()
            .insert_sign_in_challenge(
                &token_hash(&challenge),
                staff,
                now,
                now + CHALLENGE_LIFETIME,
            )
            .await?;
        Ok(challenge)
    }

    /// Finishes a sign-in that [`Self::sign_in`] left waiting. Wrong proofs count against the
    /// account and the address like wrong passwords.
    pub async fn complete_second_factor(
        &self,
        challenge: &str,
        proof: SecondFactorProof<'_>,
        client: &str,
        previous_session: Option<&str>,
        now: Timestamp,
    ) -> Result<SignedIn, StaffError> {
        let challenge_hash = token_hash(challenge);
        let staff_id = self
            .store()
            .sign_in_challenge(&challenge_hash, now)
            .await?
            .ok_or(StaffError::ChallengeExpired)?;
        let account_key = format!("second-factor:{}", staff_id.0);
        let address_key = format!("address:{client}");
        let policy = self.policy();
        let limits = PasswordLimits {
            account: (&account_key, policy.failures_per_account),
            address: (&address_key, policy.failures_per_address),
            window: policy.failure_window,
        };
        let attempt = match self.store().begin_password_check(&limits, now).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => return Err(StaffError::TooManyAttempts { retry_after }),
        };
        let accepted = match proof {
            SecondFactorProof::Code(code) => self.check_code(staff_id, code, now).await,
            SecondFactorProof::Passkey { state, credential } => {
                self.check_passkey(staff_id, &challenge_hash, state, credential, now)
                    .await
            }
        };
        let outcome = match &accepted {
            Ok(true) => PasswordOutcome::Right,
            Ok(false) => PasswordOutcome::Wrong,
            Err(_) => PasswordOutcome::Unjudged,
        };
        self.store()
            .finish_password_check(attempt, &limits, outcome, now)
            .await?;
        if !accepted? {
            tracing::info!(client, "staff second factor refused");
            return Err(match proof {
                SecondFactorProof::Code(_) => StaffError::BadSecondFactor,
                SecondFactorProof::Passkey { .. } => StaffError::PasskeyRefused,
            });
        }
        // Two requests with one challenge: only the first starts a session.
        if !self
            .store()
            .take_sign_in_challenge(&challenge_hash, now)
            .await?
        {
            return Err(StaffError::ChallengeExpired);
        }
        let staff = self
            .store()
            .staff_by_id(staff_id)
            .await?
            .ok_or(StaffError::ChallengeExpired)?;
        self.start_session(staff, previous_session, now).await
    }

    /// Whether the account a waiting sign-in is for has an authenticator app (so the page asks
    /// for a code, not only a passkey).
    pub async fn sign_in_has_authenticator_app(
        &self,
        challenge: &str,
        now: Timestamp,
    ) -> Result<bool, StaffError> {
        let staff = self
            .store()
            .sign_in_challenge(&token_hash(challenge), now)
            .await?
            .ok_or(StaffError::ChallengeExpired)?;
        Ok(self
            .store()
            .staff_totp(staff)
            .await?
            .is_some_and(|record| record.confirmed_at.is_some()))
    }

    /// Whether `code` is the app's current code (not used before) or an unused recovery code;
    /// either is used up by this.
    async fn check_code(
        &self,
        staff: StaffId,
        code: &str,
        now: Timestamp,
    ) -> Result<bool, StaffError> {
        let Some(record) = self.store().staff_totp(staff).await? else {
            return Ok(false);
        };
        if record.confirmed_at.is_none() {
            return Ok(false);
        }
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.open_secret(staff, &record.sealed_secret)?;
            return Ok(match secret.verify(&digits, now, record.last_step) {
                Some(step) => self.store().use_totp_step(staff, step).await?,
                None => false,
            });
        }
        let used = self
            .store()
            .use_recovery_code(staff, &recovery_code_hash(code))
            .await?;
        if used {
            tracing::warn!(staff = staff.0, "a recovery code was used to sign in");
        }
        Ok(used)
    }

    fn open_secret(&self, staff: StaffId, sealed: &str) -> Result<TotpSecret, StaffError> {
        let bytes = self
            .key()?
            .open(&seal_context(staff), sealed)
            .map_err(|e| StaffError::Sealing(e.to_string()))?;
        TotpSecret::from_bytes(&bytes)
            .ok_or_else(|| StaffError::Sealing("a stored secret has the wrong length".to_string()))
    }

    /// Whether `staff` has a second factor (a team's list shows who does, so an admin about to
    /// require one knows who it will stop).
    pub async fn has_second_factor(&self, staff: &StaffMember) -> Result<bool, StaffError> {
        Ok(self.second_factor_state(staff).await?.enrolled())
    }

    /// Where the caller stands with second factors.
    pub async fn second_factor_status(
        &self,
        caller: &CurrentStaff,
    ) -> Result<SecondFactorStatus, StaffError> {
        let state = self.second_factor_state(&caller.staff).await?;
        Ok(SecondFactorStatus {
            authenticator_app: state.authenticator_app,
            passkeys: state.passkeys,
            recovery_codes_left: if state.authenticator_app {
                self.store().recovery_codes_left(caller.staff.id).await?
            } else {
                0
            },
            required: self.required(state),
        })
    }

    /// Starts setting up an authenticator app for the caller: a new secret, not yet asked for at
    /// sign-in. `issuer` names the installation in the app.
    pub async fn begin_totp(
        &self,
        caller: &CurrentStaff,
        issuer: &str,
        now: Timestamp,
    ) -> Result<TotpSetup, StaffError> {
        let secret = TotpSecret::generate();
        let staff = caller.staff.id;
        let sealed = self
            .key()?
            .seal(&seal_context(staff), secret.as_bytes())
            .map_err(|e| StaffError::Sealing(e.to_string()))?;
        if !self.store().begin_staff_totp(staff, &sealed, now).await? {
            return Err(StaffError::Conflict(
                vestibule_storage::Conflict::SecondFactorEnrolled,
            ));
        }
        Ok(TotpSetup {
            secret: secret.base32_grouped(),
            uri: secret.otpauth_uri(issuer, caller.staff.email.as_str()),
        })
    }

    /// Confirms the app being set up with a code from it; from now on sign-in asks for a code.
    /// Returns the recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        caller: &CurrentStaff,
        code: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StaffError> {
        let staff = caller.staff.id;
        let record = self
            .store()
            .staff_totp(staff)
            .await?
            .filter(|record| record.confirmed_at.is_none())
            .ok_or(StaffError::NotFound)?;
        let secret = self.open_secret(staff, &record.sealed_secret)?;
        let step = secret
            .verify(code, now, 0)
            .ok_or(StaffError::BadSecondFactor)?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        if !self
            .store()
            .confirm_staff_totp(staff, step, &hashes, now)
            .await?
        {
            return Err(StaffError::NotFound);
        }
        tracing::info!(staff = %caller.staff.email, "authenticator app added");
        Ok(codes)
    }

    /// Removes the caller's app and recovery codes, given a current code or a recovery code
    /// (a stolen session alone cannot take the second factor away).
    pub async fn remove_totp(
        &self,
        caller: &CurrentStaff,
        code: &str,
        now: Timestamp,
    ) -> Result<(), StaffError> {
        let staff = caller.staff.id;
        if !self.check_code(staff, code, now).await? {
            return Err(StaffError::BadSecondFactor);
        }
        self.store().delete_staff_totp(staff).await?;
        tracing::info!(staff = %caller.staff.email, "authenticator app removed");
        Ok(())
    }

    /// Removes a staff member's app and passkeys for them (a lost phone or key and no recovery
    /// codes left): they sign in with their password alone again, and are asked to add a new
    /// second factor if one is required. For operators at the command line, who are trusted
    /// with the host.
    pub async fn reset_second_factor(&self, email: &str) -> Result<StaffMember, StaffError> {
        let email = Email::parse(email)?;
        let staff = self
            .store()
            .staff_credentials(&email)
            .await?
            .ok_or(StaffError::NotFound)?
            .staff;
        let app = self.store().delete_staff_totp(staff.id).await?;
        let passkeys = self.store().delete_staff_passkeys(staff.id).await?;
        if !app && passkeys == 0 {
            return Err(StaffError::NotFound);
        }
        Ok(staff)
    }

    /// Sets whether every admin of the caller's tenant `cloud_id` must use a second factor.
    pub async fn require_second_factor_for_tenant(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        required: bool,
    ) -> Result<vestibule_domain::Tenant, StaffError> {
        let tenant = self.tenant_to_change(caller, cloud_id).await?;
        self.store()
            .set_tenant_requires_second_factor(tenant.id, required)
            .await?;
        Ok(tenant)
    }

    /// Whether `tenant`'s admins must use a second factor.
    pub async fn tenant_requires_second_factor(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
    ) -> Result<bool, StaffError> {
        let tenant = self.tenant_to_read(caller, cloud_id).await?;
        let state = self
            .store()
            .second_factor_state(caller.staff.id, Some(tenant.id))
            .await?;
        Ok(state.required_by_tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_typed_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 14);
        assert_eq!(
            recovery_code_hash(&code),
            recovery_code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(
            recovery_code_hash(&code),
            recovery_code_hash(&new_recovery_code())
        );
    }
}
