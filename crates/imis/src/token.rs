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
        let description = description(&field("error_description").unwrap_or_else(|| error.clone()));
        return Err(match error.as_str() {
            "invalid_grant" => ImisError::InvalidGrant(description),
            "invalid_client" | "unauthorized_client" => ImisError::InvalidClient(description),
            _ => ImisError::Unexpected {
                url: url.to_string(),
                status,
                detail: format!("{}: {description}", self::description(&error)),
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
            detail: classify(body),
        }),
    }
}

/// What kind of answer a body is, for messages about answers we did not expect — never the
/// body itself: the address is the tenant admin's to choose, and Test connection must not
/// become a way to read what some other server answers.
pub(crate) fn classify(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    let kind = if trimmed.is_empty() {
        return "an empty answer".to_string();
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        "a JSON document without the expected fields"
    } else if trimmed.starts_with('<') {
        "an HTML or XML page"
    } else {
        "text"
    };
    format!("{kind} ({} bytes)", body.len())
}

/// An OAuth `error_description` as far as it is shown: iMIS's own words for a refusal are
/// useful to an admin, anything long or unusual is not repeated.
fn description(text: &str) -> String {
    let plain = text.len() <= 120
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .,:;'()-_/".contains(c));
    if plain {
        text.to_string()
    } else {
        "(iMIS's description is not repeated)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding: the first 200 characters of whatever answered were shown on the
    /// Settings page, so Test connection could read other servers' pages.
    #[test]
    fn answers_are_described_never_repeated() {
        let secret_page = b"<html><body>internal admin console: token=s3cr3t</body></html>";
        let described = classify(secret_page);
        assert!(!described.contains("s3cr3t"), "{described}");
        assert_eq!(
            described,
            format!("an HTML or XML page ({} bytes)", secret_page.len())
        );
        let error = parse(
            "u",
            400,
            br#"{"error":"server_error","error_description":"<script>x</script> aws_secret=AKIA..."}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("AKIA"), "{error}");
    }

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
