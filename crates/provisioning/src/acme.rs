//! Certificates from an ACME CA (RFC 8555) through instant-acme, validated with HTTP-01. The
//! challenge answers go to the database, so whichever node's plain-HTTP listener the CA
//! reaches can answer.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, Problem, RetryPolicy,
};
use rcgen::{CertificateParams, DistinguishedName, KeyPair};
use tokio::sync::Mutex;
use vestibule_domain::{ProvisioningPhase, Seconds, Timestamp};
use vestibule_storage::Store;

use crate::certificates::validity;
use vestibule_secrets::SecretKey;

use crate::{ProvisioningError, SsoDomain};

/// Where certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    pub directory_url: String,
    /// A PEM root to trust for the directory's HTTPS instead of the public roots (test CAs).
    pub trusted_root: Option<PathBuf>,
    /// `mailto:` address the CA may write to about expiring certificates.
    pub contact: Option<String>,
}

/// A certificate just issued: the chain as PEM and the private key as PKCS#8 PEM.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// Talks to the CA for this deployment, with one account created on first use and kept sealed
/// in the database.
pub struct AcmeIssuer {
    settings: AcmeSettings,
    store: Store,
    secret: SecretKey,
    account: Mutex<Option<Account>>,
    /// Hears each order placed at the CA (the operator's metrics count them).
    order_observer: OnceLock<OrderObserver>,
}

/// Told when this node places a certificate order at the CA.
pub type OrderObserver = Box<dyn Fn() + Send + Sync>;

/// How the order polls: the CA validates within seconds; give slow CAs two minutes.
const POLLING: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(1.5)
    .timeout(Duration::from_secs(120));

impl AcmeIssuer {
    pub fn new(settings: AcmeSettings, store: Store, secret: SecretKey) -> Self {
        Self {
            settings,
            store,
            secret,
            account: Mutex::new(None),
            order_observer: OnceLock::new(),
        }
    }

    /// Sets the one observer of certificate orders; false when one was set before.
    pub fn observe_orders(&self, observer: OrderObserver) -> bool {
        self.order_observer.set(observer).is_ok()
    }

    /// Orders a certificate for `domain`, answering HTTP-01 through the database. `progress`
    /// hears each step as it starts.
    pub async fn issue<F, Fut>(
        &self,
        domain: &SsoDomain,
        domain_id: i64,
        now: Timestamp,
        mut progress: F,
    ) -> Result<Issued, ProvisioningError>
    where
        F: FnMut(ProvisioningPhase) -> Fut,
        Fut: std::future::Future<Output = Result<(), ProvisioningError>>,
    {
        let account = self.account(now).await?;
        let identifiers = [Identifier::Dns(domain.as_str().to_string())];
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| self.failure("start a certificate order", e))?;
        tracing::info!(domain = %domain, "certificate ordered");
        if let Some(observer) = self.order_observer.get() {
            observer();
        }

        progress(ProvisioningPhase::Challenge).await?;
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization =
                authorization.map_err(|e| self.failure("read the order's authorizations", e))?;
            match authorization.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(ProvisioningError::Acme(format!(
                        "The certificate authority marked the validation of {domain} as \
                         {other:?}. Try again."
                    )))
                }
            }
            let mut challenge =
                authorization
                    .challenge(ChallengeType::Http01)
                    .ok_or_else(|| {
                        ProvisioningError::Acme(format!(
                            "The certificate authority offers no HTTP validation for {domain}."
                        ))
                    })?;
            let answer = challenge.key_authorization();
            self.store
                .put_challenge(
                    &challenge.token,
                    answer.as_str(),
                    domain_id,
                    now + Seconds::hours(1),
                )
                .await?;
            challenge
                .set_ready()
                .await
                .map_err(|e| self.failure("ask for validation", e))?;
        }

        let status = order
            .poll_ready(&POLLING)
            .await
            .map_err(|e| self.validation_failure(domain, e))?;
        if status != OrderStatus::Ready {
            let mut details = Vec::new();
            let mut authorizations = order.authorizations();
            while let Some(Ok(authorization)) = authorizations.next().await {
                for challenge in &authorization.challenges {
                    if let Some(problem) = &challenge.error {
                        details.push(problem_text(problem));
                    }
                }
            }
            return Err(ProvisioningError::Acme(validation_message(
                domain,
                &details.join("; "),
            )));
        }

        progress(ProvisioningPhase::Issued).await?;
        let key = KeyPair::generate()
            .map_err(|e| ProvisioningError::Certificate(format!("cannot make a key: {e}")))?;
        let mut params = CertificateParams::new(vec![domain.as_str().to_string()])
            .map_err(|e| ProvisioningError::Certificate(format!("cannot make a request: {e}")))?;
        params.distinguished_name = DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| ProvisioningError::Certificate(format!("cannot sign a request: {e}")))?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(|e| self.failure("finalise the order", e))?;
        let chain_pem = order
            .poll_certificate(&POLLING)
            .await
            .map_err(|e| self.failure("download the certificate", e))?;
        self.store.delete_challenges(domain_id).await?;
        let (not_before, not_after) = validity(&chain_pem)?;
        Ok(Issued {
            chain_pem,
            key_pem: key.serialize_pem(),
            not_before,
            not_after,
        })
    }

    /// The deployment's account: from memory, from the database, or created at the CA.
    async fn account(&self, now: Timestamp) -> Result<Account, ProvisioningError> {
        let mut cached = self.account.lock().await;
        if let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        let directory = self.settings.directory_url.clone();
        let context = format!("acme-account:{directory}");
        let account = match self.store.acme_account(&directory).await? {
            Some(sealed) => self.restore(&context, &sealed).await?,
            None => {
                let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
                let (account, credentials) = self
                    .builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        directory.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| self.failure("create an account", e))?;
                let json = serde_json::to_vec(&credentials)
                    .map_err(|e| ProvisioningError::Acme(format!("account credentials: {e}")))?;
                let sealed = self.secret.seal(&context, &json)?;
                let stored = self
                    .store
                    .put_acme_account(&directory, &sealed, now)
                    .await?;
                if stored == sealed {
                    account
                } else {
                    // Another node created an account at the same moment and stored it first.
                    self.restore(&context, &stored).await?
                }
            }
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    async fn restore(&self, context: &str, sealed: &str) -> Result<Account, ProvisioningError> {
        let json = self.secret.open(context, sealed)?;
        let credentials: AccountCredentials = serde_json::from_slice(&json)
            .map_err(|e| ProvisioningError::Acme(format!("stored ACME account: {e}")))?;
        self.builder()?
            .from_credentials(credentials)
            .await
            .map_err(|e| self.failure("load the account", e))
    }

    fn builder(&self) -> Result<AccountBuilder, ProvisioningError> {
        let builder = match &self.settings.trusted_root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        };
        builder.map_err(|e| {
            ProvisioningError::Config(format!("cannot set up the ACME HTTP client: {e}"))
        })
    }

    /// Maps a client error: the CA's refusals are final, anything else means we could not
    /// reach it and is worth retrying later.
    fn failure(&self, step: &str, error: instant_acme::Error) -> ProvisioningError {
        match error {
            instant_acme::Error::Api(problem) if !is_transient(&problem) => {
                ProvisioningError::Acme(format!(
                    "The certificate authority refused to {step}: {}",
                    problem_text(&problem)
                ))
            }
            other => ProvisioningError::AcmeUnavailable(format!(
                "Could not reach the certificate authority ({}) to {step}: {other}. Vestibule \
                 will try again automatically.",
                self.settings.directory_url
            )),
        }
    }

    fn validation_failure(
        &self,
        domain: &SsoDomain,
        error: instant_acme::Error,
    ) -> ProvisioningError {
        match error {
            instant_acme::Error::Api(problem) if !is_transient(&problem) => {
                ProvisioningError::Acme(validation_message(domain, &problem_text(&problem)))
            }
            other => self.failure("check the domain validation", other),
        }
    }
}

fn validation_message(domain: &SsoDomain, detail: &str) -> String {
    format!(
        "The certificate authority could not confirm that {domain} points to Vestibule \
         ({detail}). Check that the CNAME record is in place and that no proxy or CDN sits in \
         front of it, then try again."
    )
}

fn problem_text(problem: &Problem) -> String {
    let mut text = problem
        .detail
        .clone()
        .or_else(|| problem.r#type.clone())
        .unwrap_or_else(|| "no details given".to_string());
    for sub in &problem.subproblems {
        if let Some(detail) = &sub.detail {
            text.push_str("; ");
            text.push_str(detail);
        }
    }
    text
}

fn is_transient(problem: &Problem) -> bool {
    let kind = problem.r#type.as_deref().unwrap_or_default();
    kind.ends_with(":rateLimited")
        || kind.ends_with(":serverInternal")
        || kind.ends_with(":badNonce")
        || problem.status.is_some_and(|status| status >= 500)
}
