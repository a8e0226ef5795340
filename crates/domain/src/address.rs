//! Addresses applications register with us, matched exactly when they come back.

use crate::InvalidInput;

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.ends_with(".localhost")
}

/// An exact address an application registers (an OAuth redirect URI, a SAML assertion consumer
/// service): absolute, https (http only on this machine, as OAuth 2.0 for native apps allows),
/// no fragment, no wildcard.
pub fn check_app_address(field: &'static str, uri: &str) -> Result<(), InvalidInput> {
    let invalid = |why: &str| Err(InvalidInput::new(field, format!("{uri}: {why}")));
    let Some((scheme, rest)) = uri.split_once("://") else {
        return invalid("use a full address such as https://events.example.org/callback");
    };
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit_once(':')
        .map_or_else(
            || rest.split(['/', '?', '#']).next().unwrap_or_default(),
            |(host, _)| host,
        );
    if host.is_empty() {
        return invalid("the address names no host");
    }
    if uri.contains('#') {
        return invalid("addresses may not contain a # fragment");
    }
    if uri.contains('*') {
        return invalid("wildcards are not allowed; list each address");
    }
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("the address is too long or contains spaces");
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        _ => invalid("use https://"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_addresses_are_exact_https_addresses() {
        for good in [
            "https://events.example.org/oidc/callback",
            "https://events.example.org:8443/cb?tenant=acme",
            "http://localhost:3000/callback",
            "http://127.0.0.1:8080/cb",
        ] {
            assert!(check_app_address("redirect_uris", good).is_ok(), "{good}");
        }
        for bad in [
            "events.example.org/callback",
            "http://events.example.org/callback",
            "https://events.example.org/cb#frag",
            "https://*.example.org/cb",
            "https:///cb",
            "javascript://alert(1)",
            "https://events.example.org/a b",
        ] {
            assert!(check_app_address("redirect_uris", bad).is_err(), "{bad}");
        }
    }
}
