//! Addresses applications register with us, matched exactly when they come back.

use crate::InvalidInput;

use url::{Host, Url};

/// This machine, by name or address: where plain `http://` is allowed (RFC 8252 §7.3).
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Host::Ipv4(address) => address.is_loopback(),
        Host::Ipv6(address) => address.is_loopback(),
    }
}

/// The origin of an absolute http(s) URL as browsers compare them (`scheme://host[:port]`,
/// host lowercased, the scheme's default port left out, user information ignored); `None` for
/// anything else. Where a message may go, where a form came from and where secrets may be sent
/// are all decided by origin.
pub fn web_origin(url: &str) -> Option<String> {
    let parsed = Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

/// An exact address an application registers (an OAuth redirect URI, a SAML assertion consumer
/// service): absolute, https (http only on this machine, as OAuth 2.0 for native apps allows),
/// no user information, no fragment, no wildcard. Parsed as a URL (WHATWG), so the host checked
/// is the host a browser would go to: `http://127.0.0.1:1@evil.example/` is evil.example.
pub fn check_app_address(field: &'static str, uri: &str) -> Result<(), InvalidInput> {
    let invalid = |why: &str| Err(InvalidInput::new(field, format!("{uri}: {why}")));
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("the address is too long or contains spaces");
    }
    if uri.contains('*') {
        return invalid("wildcards are not allowed; list each address");
    }
    if uri.contains('#') {
        return invalid("addresses may not contain a # fragment");
    }
    let Some((_, after_scheme)) = uri.split_once("://") else {
        return invalid("use a full address such as https://events.example.org/callback");
    };
    // WHATWG parsing would read `https:///cb` as host `cb`; what was written names no host.
    if after_scheme.starts_with(['/', '\\']) {
        return invalid("the address names no host");
    }
    let Ok(parsed) = Url::parse(uri) else {
        return invalid("this is not a valid address");
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return invalid("addresses may not contain a user name or password (user@host)");
    }
    let Some(host) = parsed.host() else {
        return invalid("the address names no host");
    };
    if matches!(&host, Host::Domain(name) if name.is_empty()) {
        return invalid("the address names no host");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&host) => Ok(()),
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
            "http://[::1]:8080/cb",
            "http://sso.demo.localhost:8080/cb",
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
            // The review's bypass: the host is what follows the @.
            "http://127.0.0.1:1@evil.example/cb",
            "http://localhost@evil.example/cb",
            "https://user:secret@events.example.org/cb",
            "http://127.0.0.1.evil.example/cb",
        ] {
            assert!(check_app_address("redirect_uris", bad).is_err(), "{bad}");
        }
    }
}

/// The address a request came from, as the listener established it: the TCP peer, or what a
/// trusted proxy in front said (PROXY protocol, `Forwarded`, `X-Forwarded-For`). Rate limits
/// and the audit log use this, never a header read on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);
