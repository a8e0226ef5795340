use serde_json::Value;

use crate::ImisError;

/// An access token from iMIS's `/token`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    /// Seconds until it expires, when iMIS said.
    pub expires_in: Option<u64>,
    /// The iMIS username, when the token server says (OWIN does, as `userName`).
    pub user_name: Option<String>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"…")
            .field("expires_in", &self.expires_in)
            .field("user_name", &self.user_name)
            .finish()
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a `/token` answer: success JSON, the OAuth error JSON, or something else.
pub(crate) fn parse(url: &str, status: u16, body: &[u8]) -> Result<AccessToken, ImisError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| -> Option<String> {
        let object = json.as_ref()?.as_object()?;
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| text(value))
    };
    if let Some(error) = field("error") {
        let description = field("error_description").unwrap_or_else(|| error.clone());
        return Err(match error.as_str() {
            "invalid_grant" => ImisError::InvalidGrant(description),
            "invalid_client" | "unauthorized_client" => ImisError::InvalidClient(description),
            _ => ImisError::Unexpected {
                url: url.to_string(),
                status,
                detail: format!("{error}: {description}"),
            },
        });
    }
    match field("access_token") {
        Some(token) if (200..300).contains(&status) => Ok(AccessToken {
            token,
            expires_in: field("expires_in").and_then(|s| s.parse().ok()),
            user_name: field("userName"),
        }),
        _ => Err(ImisError::Unexpected {
            url: url.to_string(),
            status,
            detail: snippet(body),
        }),
    }
}

/// The start of a body, for messages about answers we did not expect.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        short.push('…');
    }
    if short.trim().is_empty() {
        "an empty answer".to_string()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_owin_and_lenient_answers() {
        let token = parse(
            "u",
            200,
            br#"{"access_token":"abc","token_type":"bearer","expires_in":1199,"userName":"jane",".issued":"x"}"#,
        )
        .unwrap();
        assert_eq!(token.token, "abc");
        assert_eq!(token.expires_in, Some(1199));
        assert_eq!(token.user_name.as_deref(), Some("jane"));
        let lenient = parse("u", 200, br#"{"Access_Token":"abc","expires_in":"300"}"#).unwrap();
        assert_eq!(lenient.expires_in, Some(300));
        assert_eq!(lenient.user_name, None);
    }

    #[test]
    fn maps_oauth_errors_and_surprises() {
        assert_eq!(
            parse(
                "u",
                400,
                br#"{"error":"invalid_grant","error_description":"expired"}"#
            ),
            Err(ImisError::InvalidGrant("expired".into()))
        );
        assert!(matches!(
            parse("u", 400, br#"{"error":"invalid_client"}"#),
            Err(ImisError::InvalidClient(_))
        ));
        assert!(matches!(
            parse("u", 500, b"<html>Server Error</html>"),
            Err(ImisError::Unexpected { status: 500, .. })
        ));
        assert!(format!(
            "{:?}",
            parse("u", 200, br#"{"access_token":"secret"}"#).unwrap()
        )
        .contains('…'));
    }
}
