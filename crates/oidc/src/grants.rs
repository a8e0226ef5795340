//! Authorization codes and the tokens issued for them (RFC 6749 §4.1, RFC 7636, OpenID Connect
//! Core §3.1.3), and implicit responses (§3.2.2.5).
//!
//! Codes and access tokens are 256-bit random values stored as SHA-256. A code lives a minute,
//! is bound to its client, redirect URI and PKCE challenge, and works once: a second redemption
//! fails and revokes the access token the first one got.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_storage::{AccessTokenRecord, CodeRecord, CodeRedemption, Redeemed, Store};

use crate::authorize::valid_challenge;
use crate::random::{random, stored_hash};
use crate::{
    AuthorizationRequest, ChallengeMethod, Client, CodeChallenge, IdTokenContent, OidcClients,
    OidcError, Signer, SigningAlgorithm, SigningKeys, Subject, Verifier,
};

/// How long an authorization code may wait to be redeemed.
pub const CODE_LIFETIME: Seconds = Seconds(60);

/// What the member granted the application, kept with the code and the access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub subject: Subject,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub auth_time: Timestamp,
}

/// What a verified `id_token_hint` proves: which application asks, about which member.
#[derive(Debug, Clone)]
pub struct LogoutHint {
    pub client: Client,
    /// The `sub` the hint was issued for.
    pub subject: String,
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
}

/// The error codes of the token, introspection and revocation endpoints (RFC 6749 §5.2, and
/// `temporarily_unavailable` for a wait or an identity source that cannot answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    /// Client authentication failed: HTTP 401.
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// HTTP 503 (or 429 with `Retry-After` after too many failed client authentications).
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl PartialEq<&str> for OAuthErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error of the token endpoint (RFC 6749 §5.2), with the spec's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: OAuthErrorCode,
    pub description: String,
}

impl TokenError {
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    fn invalid_grant(description: &str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }
}

/// What the authorization endpoint returns in the implicit flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitResponse {
    pub access_token: String,
    pub expires_in: i64,
    /// For `token id_token`.
    pub id_token: Option<String>,
}

/// RFC 7636 §4.6.
fn verifier_matches(challenge: &CodeChallenge, verifier: &str) -> bool {
    let derived = match challenge.method {
        ChallengeMethod::S256 => {
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
        }
        ChallengeMethod::Plain => verifier.to_string(),
    };
    derived
        .as_bytes()
        .ct_eq(challenge.challenge.as_bytes())
        .into()
}

/// Why the database refused to issue a token for a code's first redemption.
fn refusal(
    record: &CodeRecord,
    client: &Client,
    redirect_uri: Option<&str>,
    now: Timestamp,
) -> TokenError {
    if record.client_id != client.client_id {
        TokenError::invalid_grant("the code was issued to another client")
    } else if record.expires_at <= now {
        TokenError::invalid_grant("the code has expired")
    } else if redirect_uri != Some(record.redirect_uri.as_str()) {
        TokenError::invalid_grant("redirect_uri does not match the authorization request")
    } else {
        // The checks are the database's; this is the one left if they change without this.
        TokenError::invalid_grant("the code is not valid")
    }
}

/// PKCE (RFC 7636 §4.6): the verifier must match the challenge the authorization request
/// made, and be sent exactly when there was one.
fn check_verifier(grant: &Grant, code_verifier: Option<&str>) -> Result<(), TokenError> {
    match (&grant.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !valid_challenge(verifier) || !verifier_matches(challenge, verifier) {
                return Err(TokenError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
            Ok(())
        }
        (Some(_), None) => Err(TokenError::invalid_grant("code_verifier is missing")),
        (None, Some(_)) => Err(TokenError::invalid_grant(
            "code_verifier was sent but the authorization request had no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

#[derive(Clone)]
pub struct Grants {
    store: Store,
    pub(crate) keys: SigningKeys,
    pub(crate) clients: OidcClients,
}

impl Grants {
    pub fn new(store: Store, keys: SigningKeys, clients: OidcClients) -> Self {
        Self {
            store,
            keys,
            clients,
        }
    }

    /// Deletes codes and access tokens long past their expiry; run now and then by the server.
    pub async fn sweep(&self, now: Timestamp) -> Result<u64, OidcError> {
        Ok(self.store.delete_expired_grants(now).await?)
    }

    /// A code for a checked authorization request and the member who granted it.
    pub async fn issue_code(
        &self,
        tenant: TenantId,
        request: &AuthorizationRequest,
        subject: Subject,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<String, OidcError> {
        let grant = Grant {
            subject,
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
        };
        let code = random(32);
        self.store
            .insert_code(&CodeRecord {
                code_hash: stored_hash(&code),
                tenant,
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                grant_json: to_json(&grant)?,
                subject: grant.subject.sub.clone(),
                expires_at: now + CODE_LIFETIME,
                used_at: None,
            })
            .await?;
        Ok(code)
    }

    /// Redeems a code at the token endpoint for an authenticated (or public) `client`.
    pub async fn redeem_code(
        &self,
        issuer: &str,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: Timestamp,
    ) -> Result<Result<TokenResponse, TokenError>, OidcError> {
        let code_hash = stored_hash(code);
        let access_token = random(32);
        let token_hash = stored_hash(&access_token);
        let redemption = CodeRedemption {
            client_id: &client.client_id,
            // Never equal to a stored redirect URI: a missing one fails the check below.
            redirect_uri: redirect_uri.unwrap_or(""),
            token_hash: &token_hash,
            token_expires_at: now + Seconds(client.settings.access_token_seconds),
        };
        let redeemed = self
            .store
            .redeem_code(client.tenant, &code_hash, &redemption, now)
            .await?;
        let record = match redeemed {
            None => return Ok(Err(TokenError::invalid_grant("the code is not valid"))),
            Some(Redeemed::Replayed(_)) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
                let revoked = self.store.revoke_tokens_of_code(&code_hash, now).await?;
                tracing::warn!(client_id = %client.client_id, revoked, "authorization code replayed");
                return Ok(Err(TokenError::invalid_grant(
                    "the code was already used; the tokens it gave are revoked",
                )));
            }
            Some(Redeemed::Refused(record)) => {
                return Ok(Err(refusal(&record, client, redirect_uri, now)));
            }
            Some(Redeemed::Issued(record)) => record,
        };
        let grant: Grant = from_json(&record.grant_json)?;
        if let Err(refused) = check_verifier(&grant, code_verifier) {
            // The database issued the token before this check could run; it is never handed out.
            self.store
                .delete_access_token(client.tenant, &token_hash)
                .await?;
            return Ok(Err(refused));
        }
        let id_token = self.id_token(issuer, client, &grant, None, now).await?;
        Ok(Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.settings.access_token_seconds,
            id_token,
            scope: grant.scopes.join(" "),
        }))
    }

    /// The application and member an `id_token_hint` names, when the hint is an ID token this
    /// tenant's issuer signed for it (RP-initiated logout). Expired hints are fine: logging out
    /// after the token expired is the usual case.
    pub async fn logout_hint(
        &self,
        tenant: TenantId,
        issuer: &str,
        hint: &str,
        now: Timestamp,
    ) -> Result<Option<LogoutHint>, OidcError> {
        // The audience is read before verifying only to learn which key verifies the hint.
        let Some(client_id) = crate::jws::unverified_claim(hint, "aud") else {
            return Ok(None);
        };
        let client = match self.clients.get(tenant, &client_id).await {
            Ok(client) => client,
            Err(OidcError::NoSuchClient) => return Ok(None),
            Err(error) => return Err(error),
        };
        let claims = match client.settings.algorithm {
            SigningAlgorithm::HS512 => {
                // Signed with one of the secrets in use (a rotation overlap has two).
                let keys = self.clients.hs512_verifying_keys(&client, now).await?;
                keys.iter()
                    .map(|key| Verifier::Hs512 { secret: key }.verify(hint))
                    .find(Result::is_ok)
                    .unwrap_or(Err(OidcError::InvalidToken))
            }
            algorithm => {
                let keys = self.keys.published(tenant, now).await?;
                Verifier::Rsa {
                    algorithm,
                    keys: &keys,
                }
                .verify(hint)
            }
        };
        Ok(claims
            .ok()
            .filter(|claims| claims.get("iss").and_then(|v| v.as_str()) == Some(issuer))
            .map(|claims| LogoutHint {
                subject: claims
                    .get("sub")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                client,
            }))
    }

    /// Tokens for the password grant (ROPC): the member's password was just verified with the
    /// identity source, so the sign-in time is now and there is no nonce.
    pub async fn issue_for_password(
        &self,
        issuer: &str,
        client: &Client,
        subject: Subject,
        scopes: Vec<String>,
        now: Timestamp,
    ) -> Result<TokenResponse, OidcError> {
        let grant = Grant {
            subject,
            scopes,
            nonce: None,
            code_challenge: None,
            auth_time: now,
        };
        let access_token = self.store_access_token(client, &grant, None, now).await?;
        let id_token = self.id_token(issuer, client, &grant, None, now).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.settings.access_token_seconds,
            id_token,
            scope: grant.scopes.join(" "),
        })
    }

    /// The implicit flow's tokens, issued at the authorization endpoint.
    pub async fn issue_implicit(
        &self,
        issuer: &str,
        client: &Client,
        request: &AuthorizationRequest,
        subject: Subject,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<ImplicitResponse, OidcError> {
        let grant = Grant {
            subject,
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: None,
            auth_time,
        };
        let access_token = self.store_access_token(client, &grant, None, now).await?;
        let id_token = match request.response_type {
            crate::ResponseType::IdTokenToken => Some(
                self.id_token(issuer, client, &grant, Some(&access_token), now)
                    .await?,
            ),
            _ => None,
        };
        Ok(ImplicitResponse {
            access_token,
            expires_in: client.settings.access_token_seconds,
            id_token,
        })
    }

    /// The grant behind an access token, if it is this tenant's, unexpired and not revoked.
    pub async fn access_grant(
        &self,
        tenant: TenantId,
        access_token: &str,
        now: Timestamp,
    ) -> Result<Option<(String, Grant)>, OidcError> {
        let Some(record) = self
            .store
            .access_token(tenant, &stored_hash(access_token))
            .await?
        else {
            return Ok(None);
        };
        if record.revoked_at.is_some() || record.expires_at <= now {
            return Ok(None);
        }
        Ok(Some((record.client_id, from_json(&record.grant_json)?)))
    }

    /// RFC 7662: an active token's facts, only to the client it was issued to; anything else
    /// (unknown, expired, revoked, another client's or tenant's) is just `{"active": false}`.
    pub async fn introspect(
        &self,
        client: &Client,
        access_token: &str,
        now: Timestamp,
    ) -> Result<serde_json::Value, OidcError> {
        let Some(record) = self
            .store
            .access_token(client.tenant, &stored_hash(access_token))
            .await?
        else {
            return Ok(serde_json::json!({ "active": false }));
        };
        if record.revoked_at.is_some()
            || record.expires_at <= now
            || record.client_id != client.client_id
        {
            return Ok(serde_json::json!({ "active": false }));
        }
        let grant: Grant = from_json(&record.grant_json)?;
        Ok(serde_json::json!({
            "active": true,
            "client_id": record.client_id,
            "sub": grant.subject.sub,
            "scope": grant.scopes.join(" "),
            "exp": record.expires_at.0,
            "token_type": "Bearer",
        }))
    }

    /// RFC 7009: revokes the token if it is this client's; the caller answers 200 either way,
    /// so nobody learns whether a token existed.
    pub async fn revoke(
        &self,
        client: &Client,
        access_token: &str,
        now: Timestamp,
    ) -> Result<(), OidcError> {
        self.store
            .revoke_access_token(
                client.tenant,
                &client.client_id,
                &stored_hash(access_token),
                now,
            )
            .await?;
        Ok(())
    }

    async fn store_access_token(
        &self,
        client: &Client,
        grant: &Grant,
        code_hash: Option<String>,
        now: Timestamp,
    ) -> Result<String, OidcError> {
        let token = random(32);
        self.store
            .insert_access_token(&AccessTokenRecord {
                token_hash: stored_hash(&token),
                tenant: client.tenant,
                client_id: client.client_id.clone(),
                code_hash,
                grant_json: to_json(grant)?,
                subject: grant.subject.sub.clone(),
                expires_at: now + Seconds(client.settings.access_token_seconds),
                revoked_at: None,
            })
            .await?;
        Ok(token)
    }

    async fn id_token(
        &self,
        issuer: &str,
        client: &Client,
        grant: &Grant,
        access_token: Option<&str>,
        now: Timestamp,
    ) -> Result<String, OidcError> {
        let signer = match client.settings.algorithm {
            SigningAlgorithm::HS512 => {
                Signer::hs512(&self.clients.hs512_signing_key(client, now).await?)
            }
            algorithm => self.keys.signer(client.tenant, algorithm, now).await?,
        };
        let content = IdTokenContent {
            issuer,
            client,
            subject: &grant.subject,
            scopes: &grant.scopes,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
            access_token,
            now,
        };
        signer.sign(&content.claims())
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, OidcError> {
    serde_json::to_string(value).map_err(|e| OidcError::Key(format!("grant: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, OidcError> {
    serde_json::from_str(text).map_err(|e| {
        OidcError::Storage(vestibule_storage::StorageError::Corrupt(format!(
            "grant: {e}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let challenge = CodeChallenge {
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: ChallengeMethod::S256,
        };
        assert!(verifier_matches(
            &challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!verifier_matches(
            &challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
        let plain = CodeChallenge {
            challenge: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            method: ChallengeMethod::Plain,
        };
        assert!(verifier_matches(
            &plain,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
    }
}
