//! Consent: applications that ask for it show members what they will share, and members are
//! asked again once the application's grace period has passed or it asks for more.

use vestibule_domain::{Seconds, Timestamp};
use vestibule_storage::Store;

use crate::{Client, OidcError, Prompt};

#[derive(Clone)]
pub struct Consents {
    store: Store,
}

impl Consents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Whether the member must be asked before the application gets its tokens. `prompt=consent`
    /// always asks (OpenID Connect Core §3.1.2.1); otherwise only applications with consent on,
    /// when there is no consent covering these scopes within the grace period.
    pub async fn needed(
        &self,
        client: &Client,
        subject: &str,
        scopes: &[String],
        prompt: &[Prompt],
        now: Timestamp,
    ) -> Result<bool, OidcError> {
        if prompt.contains(&Prompt::Consent) {
            return Ok(true);
        }
        if !client.settings.consent {
            return Ok(false);
        }
        let Some((granted, at)) = self
            .store
            .consent(client.tenant, &client.client_id, subject)
            .await?
        else {
            return Ok(true);
        };
        let grace = Seconds::hours(24 * client.settings.consent_grace_days);
        let covered = scopes
            .iter()
            .all(|scope| granted.split(' ').any(|g| g == scope));
        Ok(!covered || at + grace <= now)
    }

    /// Records the member's consent to these scopes.
    pub async fn grant(
        &self,
        client: &Client,
        subject: &str,
        scopes: &[String],
        now: Timestamp,
    ) -> Result<(), OidcError> {
        self.store
            .put_consent(
                client.tenant,
                &client.client_id,
                subject,
                &scopes.join(" "),
                now,
            )
            .await?;
        Ok(())
    }
}
