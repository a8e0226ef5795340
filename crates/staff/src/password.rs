use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::token::random_token;
use crate::StaffError;

pub const MIN_PASSWORD_LEN: usize = 12;
/// Long enough for any passphrase, short enough that nobody can make us hash megabytes.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
///
/// Each hash costs ~15 ms of CPU and 19 MiB of memory, so hashing runs on the blocking pool and at
/// most one hash per core runs at once; further sign-ins wait for a permit instead of starving
/// the async executor or the machine's memory.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Hash of a random password, verified against when an account does not exist or has no
    /// password yet, so those cases take as long as a wrong password.
    dummy_hash: Arc<OnceCell<String>>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, cores)
    }
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, passes: u32, concurrent: usize) -> Self {
        let params = Params::new(memory_kib, passes, 1, None).unwrap_or_default();
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            dummy_hash: Arc::new(OnceCell::new()),
        }
    }

    /// Checks the length rules and returns the PHC-format hash.
    pub async fn hash(&self, password: &str) -> Result<String, StaffError> {
        check_password_rules(password)?;
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        self.run_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| StaffError::Hashing(e.to_string()))
        })
        .await
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is none.
    /// Comparison inside argon2 is constant-time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, StaffError> {
        let (stored, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        if password.len() > MAX_PASSWORD_LEN {
            return Ok(false);
        }
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let matches = self
            .run_blocking(move || {
                let parsed =
                    PasswordHash::new(&stored).map_err(|e| StaffError::Hashing(e.to_string()))?;
                Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(real && matches)
    }

    async fn dummy_hash(&self) -> Result<String, StaffError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let argon2 = self.argon2.clone();
                self.run_blocking(move || {
                    let salt = SaltString::generate(&mut rand::rngs::OsRng);
                    argon2
                        .hash_password(random_token().as_bytes(), &salt)
                        .map(|hash| hash.to_string())
                        .map_err(|e| StaffError::Hashing(e.to_string()))
                })
                .await
            })
            .await
            .cloned()
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, StaffError> + Send + 'static,
    ) -> Result<T, StaffError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StaffError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| StaffError::Hashing(e.to_string()))?
    }
}

pub(crate) fn check_password_rules(password: &str) -> Result<(), StaffError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(vestibule_domain::InvalidInput::new(
            "password",
            format!("Choose a password of at least {MIN_PASSWORD_LEN} characters."),
        )
        .into());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(vestibule_domain::InvalidInput::new(
            "password",
            format!("A password is at most {MAX_PASSWORD_LEN} bytes long."),
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(1024, 1, 2)
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = fast();
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher
            .verify("correct horse battery", Some(&hash))
            .await
            .unwrap());
        assert!(!hasher
            .verify("wrong horse battery", Some(&hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn missing_hash_never_verifies() {
        let hasher = fast();
        let dummy = hasher.dummy_hash().await.unwrap();
        assert!(dummy.starts_with("$argon2id$"));
        assert!(!hasher.verify("anything at all", None).await.unwrap());
    }

    #[tokio::test]
    async fn short_and_huge_passwords_are_refused() {
        let hasher = fast();
        assert!(matches!(
            hasher.hash("short").await,
            Err(StaffError::InvalidInput(_))
        ));
        let huge = "x".repeat(MAX_PASSWORD_LEN + 1);
        assert!(matches!(
            hasher.hash(&huge).await,
            Err(StaffError::InvalidInput(_))
        ));
    }

    #[test]
    fn default_parameters_are_owasp() {
        assert_eq!(Params::DEFAULT_M_COST, 19 * 1024);
        assert_eq!(Params::DEFAULT_T_COST, 2);
    }
}
