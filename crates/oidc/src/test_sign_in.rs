//! The built-in test relying party: what an admin's "Test sign-in" runs for an app, with the
//! app's exact configuration (flows, claim mapping, signing algorithm and keys), for the member
//! signed in on the tenant's domain. It asks for a code as the app would (with PKCE), redeems
//! it, checks the ID token the way a vendor's library does (signature against the published
//! keys, iss, aud, nonce, expiry), reads userinfo with the access token, then revokes it: nothing
//! issued here outlives the report, and the report shows claims, never a token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use serde_json::Value;
use vestibule_domain::{TenantId, Timestamp};

use crate::random::random;
use crate::{
    AuthorizationRequest, ChallengeMethod, Client, CodeChallenge, Grants, OidcError, ResponseMode,
    ResponseType, SigningAlgorithm, Subject, Verifier,
};

/// One check a vendor's library makes, and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCheck {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// What the test relying party saw.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    pub checks: Vec<TestCheck>,
    /// The ID token's header and claims (after its signature verified, or as read if it did
    /// not).
    pub id_token_header: Value,
    pub id_token_claims: Value,
    /// What userinfo answered with the access token.
    pub userinfo: Value,
    pub scope: String,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }
}

/// Where the test relying party says the answer goes: never an address the app registered, so
/// the code is bound to it and the app could not redeem it.
pub fn test_redirect_uri(issuer: &str) -> String {
    format!("{issuer}/test-sign-in/oidc/callback")
}

fn decoded_part(token: &str, index: usize) -> Value {
    token
        .split('.')
        .nth(index)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

impl Grants {
    /// Runs the app's sign-in for `subject` (signed in at `auth_time`) on the tenant's domain
    /// `issuer`, as the test relying party.
    pub async fn test_sign_in(
        &self,
        tenant: TenantId,
        issuer: &str,
        client: &Client,
        subject: Subject,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<TestReport, OidcError> {
        let redirect_uri = test_redirect_uri(issuer);
        let (nonce, verifier) = (random(16), random(32));
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        let request = AuthorizationRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            response_type: ResponseType::Code,
            response_mode: ResponseMode::Query,
            scopes: vec!["openid".to_string(), "profile".to_string()],
            state: None,
            nonce: Some(nonce.clone()),
            code_challenge: Some(CodeChallenge {
                challenge,
                method: ChallengeMethod::S256,
            }),
            prompt: Vec::new(),
            max_age: None,
            login_hint: None,
        };
        let code = self
            .issue_code(tenant, &request, subject, auth_time, now)
            .await?;
        let redeemed = self
            .redeem_code(
                issuer,
                client,
                &code,
                Some(&redirect_uri),
                Some(&verifier),
                now,
            )
            .await?
            .map_err(|error| OidcError::TestStopped(error.description))?;
        let (header, claims) = (
            decoded_part(&redeemed.id_token, 0),
            decoded_part(&redeemed.id_token, 1),
        );
        let signature = self.test_signature(client, &redeemed.id_token, now).await?;
        let userinfo = match self
            .access_grant(tenant, &redeemed.access_token, now)
            .await?
        {
            Some((_, grant)) => crate::userinfo(client, &grant.subject, &grant.scopes),
            None => Value::Null,
        };
        // The test is over: the access token goes, so nothing issued here can be used.
        self.revoke(client, &redeemed.access_token, now).await?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let number = |value: &Value| value.as_i64().unwrap_or_default();
        let audience_matches = match &claims["aud"] {
            Value::String(aud) => aud == &client.client_id,
            Value::Array(auds) => auds.iter().any(|aud| aud == client.client_id.as_str()),
            _ => false,
        };
        let (exp, iat) = (number(&claims["exp"]), number(&claims["iat"]));
        let checks = vec![
            signature,
            TestCheck {
                name: "Issuer (iss)",
                passed: text(&claims["iss"]) == issuer,
                detail: format!("{} — expected {issuer}", text(&claims["iss"])),
            },
            TestCheck {
                name: "Audience (aud)",
                passed: audience_matches,
                detail: format!(
                    "{} — expected the client ID {}",
                    claims["aud"], client.client_id
                ),
            },
            TestCheck {
                name: "Nonce",
                passed: text(&claims["nonce"]) == nonce,
                detail: "the nonce the request sent came back in the ID token".to_string(),
            },
            TestCheck {
                name: "Expiry (exp)",
                passed: exp > now.0 && iat <= now.0 + 60,
                detail: format!("valid for {} seconds after it was issued", exp - iat),
            },
            TestCheck {
                name: "UserInfo subject",
                passed: userinfo["sub"] == claims["sub"],
                detail: "userinfo's sub is the ID token's sub".to_string(),
            },
        ];
        Ok(TestReport {
            checks,
            id_token_header: header,
            id_token_claims: claims,
            userinfo,
            scope: redeemed.scope,
        })
    }

    /// The ID token's signature, checked as the app's library would: against the keys the
    /// tenant publishes (RS256, RS512), or the app's client secret (HS512).
    async fn test_signature(
        &self,
        client: &Client,
        id_token: &str,
        now: Timestamp,
    ) -> Result<TestCheck, OidcError> {
        let algorithm = client.settings.algorithm;
        let verified = match algorithm {
            SigningAlgorithm::HS512 => {
                let secrets = self.clients.hs512_verifying_keys(client, now).await?;
                secrets
                    .iter()
                    .any(|secret| Verifier::Hs512 { secret }.verify(id_token).is_ok())
            }
            _ => {
                let keys = self.keys.publish(client.tenant, &[algorithm], now).await?;
                Verifier::Rsa {
                    algorithm,
                    keys: &keys,
                }
                .verify(id_token)
                .is_ok()
            }
        };
        let against = match algorithm {
            SigningAlgorithm::HS512 => "the app's client secret",
            _ => "the keys published at /oidc/jwks",
        };
        Ok(TestCheck {
            name: "Signature",
            passed: verified,
            detail: format!("{} verified with {against}", algorithm.as_str()),
        })
    }
}
