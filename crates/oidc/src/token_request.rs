//! Reading a token, introspection or revocation request: which client is calling and how it
//! authenticates (RFC 6749 §2.3.1: `client_secret_basic` or `client_secret_post`, never both),
//! and which grant it asks for (RFC 6749 §5.2 error codes for the rest).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{OAuthErrorCode, TokenError};

/// How the client presented itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    /// `None` for a public client, which sends only `client_id`.
    pub secret: Option<String>,
}

/// The grants the token endpoint knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    /// Resource owner password credentials, only for applications that enable it.
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut values = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(TokenError::new(
            OAuthErrorCode::InvalidRequest,
            format!("{name} is given more than once"),
        ));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749
/// §2.3.1 encodes client ids and secrets before Base64).
fn form_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = part.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Who is calling: from the `Authorization: Basic` header or from the form. A client using
/// more than one method, or a malformed header, gets `invalid_request` / `invalid_client`.
pub fn client_credentials(
    authorization: Option<&str>,
    form: &[(String, String)],
) -> Result<ClientCredentials, TokenError> {
    let form_id = form_value(form, "client_id")?;
    let form_secret = form_value(form, "client_secret")?;
    if let Some(header) = authorization {
        let Some(encoded) = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
        else {
            return Err(TokenError::new(
                OAuthErrorCode::InvalidClient,
                "use HTTP Basic or client_secret_post to authenticate the client",
            ));
        };
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                TokenError::new(OAuthErrorCode::InvalidClient, "malformed Basic credentials")
            })?;
        let (id, secret) = decoded
            .split_once(':')
            .and_then(|(id, secret)| Some((form_decode(id)?, form_decode(secret)?)))
            .ok_or_else(|| {
                TokenError::new(OAuthErrorCode::InvalidClient, "malformed Basic credentials")
            })?;
        if form_secret.is_some() {
            return Err(TokenError::new(
                OAuthErrorCode::InvalidRequest,
                "the client authenticated with more than one method",
            ));
        }
        if form_id.is_some_and(|form_id| form_id != id) {
            return Err(TokenError::new(
                OAuthErrorCode::InvalidRequest,
                "client_id differs from the authenticated client",
            ));
        }
        return Ok(ClientCredentials {
            client_id: id,
            secret: Some(secret),
        });
    }
    let Some(client_id) = form_id else {
        return Err(TokenError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is missing",
        ));
    };
    Ok(ClientCredentials {
        client_id: client_id.to_string(),
        secret: form_secret.map(str::to_string),
    })
}

/// The grant asked for, or the spec's error for one this provider does not offer.
pub fn grant_request(form: &[(String, String)]) -> Result<GrantRequest, TokenError> {
    let text = |name| form_value(form, name).map(|v| v.map(str::to_string));
    match form_value(form, "grant_type")? {
        Some("authorization_code") => Ok(GrantRequest::AuthorizationCode {
            code: text("code")?.ok_or_else(|| {
                TokenError::new(OAuthErrorCode::InvalidRequest, "code is missing")
            })?,
            redirect_uri: text("redirect_uri")?,
            code_verifier: text("code_verifier")?,
        }),
        Some("password") => Ok(GrantRequest::Password {
            username: text("username")?.ok_or_else(|| {
                TokenError::new(OAuthErrorCode::InvalidRequest, "username is missing")
            })?,
            password: text("password")?.ok_or_else(|| {
                TokenError::new(OAuthErrorCode::InvalidRequest, "password is missing")
            })?,
            scope: text("scope")?,
        }),
        None => Err(TokenError::new(
            OAuthErrorCode::InvalidRequest,
            "grant_type is missing",
        )),
        // Client credentials, device code, refresh tokens, JWT bearer …: seed 002 crosses
        // them out or does not offer them.
        Some(other) => Err(TokenError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type {other} is not supported"),
        )),
    }
}

/// The scopes a password grant issues for (`openid profile` when none are asked): the ones this
/// provider knows, and `openid`, which is required.
pub fn password_grant_scopes(scope: Option<&str>) -> Result<Vec<String>, TokenError> {
    let scopes: Vec<String> = scope
        .unwrap_or("openid profile")
        .split(' ')
        .filter(|s| matches!(*s, "openid" | "profile"))
        .map(str::to_string)
        .collect();
    if scopes.iter().any(|s| s == "openid") {
        Ok(scopes)
    } else {
        Err(TokenError::new(
            OAuthErrorCode::InvalidScope,
            "the openid scope is required",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_and_post_authentication_and_their_conflicts() {
        // RFC 6749 §2.3.1: id and secret are form-encoded before Base64.
        let header = format!("Basic {}", STANDARD.encode("events%3Aapp:s%2Bcret+1"));
        let basic = client_credentials(Some(&header), &form(&[])).unwrap();
        assert_eq!(basic.client_id, "events:app");
        assert_eq!(basic.secret.as_deref(), Some("s+cret 1"));

        let post = client_credentials(
            None,
            &form(&[("client_id", "events"), ("client_secret", "s")]),
        )
        .unwrap();
        assert_eq!(post.secret.as_deref(), Some("s"));
        let public = client_credentials(None, &form(&[("client_id", "spa")])).unwrap();
        assert_eq!(public.secret, None);

        let both = client_credentials(Some(&header), &form(&[("client_secret", "s")]));
        assert_eq!(both.unwrap_err().error, "invalid_request");
        let other_id = client_credentials(Some(&header), &form(&[("client_id", "other")]));
        assert_eq!(other_id.unwrap_err().error, "invalid_request");
        for bad in [
            "Bearer x",
            "Basic !!!",
            &format!("Basic {}", STANDARD.encode("no-colon")),
        ] {
            assert_eq!(
                client_credentials(Some(bad), &form(&[])).unwrap_err().error,
                "invalid_client",
                "{bad}"
            );
        }
        assert_eq!(
            client_credentials(None, &form(&[])).unwrap_err().error,
            "invalid_client"
        );
    }

    #[test]
    fn grant_types_offered_and_refused() {
        let code = grant_request(&form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://x.example/cb"),
        ]))
        .unwrap();
        assert!(matches!(code, GrantRequest::AuthorizationCode { .. }));
        assert!(matches!(
            grant_request(&form(&[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p")
            ])),
            Ok(GrantRequest::Password { .. })
        ));
        for refused in [
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token",
            "implicit",
        ] {
            assert_eq!(
                grant_request(&form(&[("grant_type", refused)]))
                    .unwrap_err()
                    .error,
                "unsupported_grant_type"
            );
        }
        for incomplete in [
            form(&[]),
            form(&[("grant_type", "authorization_code")]),
            form(&[("grant_type", "password"), ("username", "u")]),
            form(&[
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
            ]),
        ] {
            assert_eq!(
                grant_request(&incomplete).unwrap_err().error,
                "invalid_request"
            );
        }
    }

    #[test]
    fn the_password_grant_issues_known_scopes_and_needs_openid() {
        assert_eq!(password_grant_scopes(None).unwrap(), ["openid", "profile"]);
        assert_eq!(
            password_grant_scopes(Some("openid email offline_access")).unwrap(),
            ["openid"]
        );
        assert_eq!(
            password_grant_scopes(Some("profile")).unwrap_err().error,
            "invalid_scope"
        );
    }
}
