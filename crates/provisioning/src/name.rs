//! Turning what staff type into an SSO domain name, or telling them what is wrong with it.

use std::fmt;
use std::net::IpAddr;

use crate::ProvisioningError;

/// A tenant's SSO domain: lower-case ASCII (IDNA) form, no trailing dot, a subdomain of a
/// registrable domain, not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SsoDomain(String);

impl SsoDomain {
    /// Normalises and checks `input`. `own_domains` are the names Vestibule itself serves (the
    /// CNAME target's and the dashboard's); tenants may not claim them or anything below them.
    pub fn parse(input: &str, own_domains: &[String]) -> Result<Self, ProvisioningError> {
        let invalid = |message: String| Err(ProvisioningError::InvalidDomain(message));
        let typed = input.trim();
        if typed.is_empty() {
            return invalid("Enter the SSO domain, for example sso.your-association.org.".into());
        }
        if let Some((scheme, rest)) = typed.split_once("://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            return invalid(format!(
                "Enter only the domain name, without \"{scheme}://\": for example {host}."
            ));
        }
        if let Some(at) = typed.find(['/', '?', '#']) {
            return invalid(format!(
                "Enter only the domain name, without a path: {}.",
                &typed[..at]
            ));
        }
        if typed.chars().any(char::is_whitespace) {
            return invalid("A domain name cannot contain spaces.".into());
        }
        if typed.starts_with('[') || typed.parse::<IpAddr>().is_ok() {
            return invalid(
                "Enter a domain name, not an IP address: the CNAME record goes on a name such as \
                 sso.your-association.org."
                    .into(),
            );
        }
        if let Some((host, port)) = typed.rsplit_once(':') {
            if port.chars().all(|c| c.is_ascii_digit()) {
                return invalid(format!(
                    "Enter the domain name without a port: {host}. Members always reach it on \
                     the standard HTTPS port."
                ));
            }
        }
        if typed.contains('*') {
            return invalid(
                "Wildcard domains cannot be used: enter the one name members will see, such as \
                 sso.your-association.org."
                    .into(),
            );
        }
        let trimmed = typed.strip_suffix('.').unwrap_or(typed);
        let ascii = match idna::domain_to_ascii(trimmed) {
            Ok(ascii) => ascii,
            Err(_) => {
                return invalid(format!(
                    "\"{typed}\" is not a valid domain name: use letters, digits and hyphens \
                     between dots."
                ))
            }
        };
        check_labels(&ascii, typed)?;
        if !ascii.contains('.') {
            return invalid(format!(
                "\"{typed}\" is not a full domain name: enter it with your organisation's domain, \
                 such as sso.your-association.org."
            ));
        }
        for own in own_domains {
            let own = own.trim_end_matches('.').to_ascii_lowercase();
            if own.is_empty() {
                continue;
            }
            if ascii == own || ascii.ends_with(&format!(".{own}")) {
                return invalid(format!(
                    "{typed} belongs to Vestibule itself. Enter a domain under your \
                     organisation's own domain."
                ));
            }
        }
        match psl::domain(ascii.as_bytes()) {
            None => {
                return invalid(format!(
                    "\"{typed}\" is a public suffix that no single organisation owns: enter a \
                     name under your own domain, such as sso.your-association.org."
                ))
            }
            Some(registrable) if registrable.as_bytes() == ascii.as_bytes() => {
                return invalid(format!(
                    "{typed} is your organisation's main domain, which cannot carry a CNAME \
                     record. Use a subdomain such as sso.{typed}."
                ))
            }
            Some(_) => {}
        }
        Ok(Self(ascii))
    }

    /// A domain read back from storage, where it was stored after [`SsoDomain::parse`].
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    /// The ASCII form, as DNS, ACME and TLS use it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form people read: internationalised labels shown in their own script.
    pub fn to_unicode(&self) -> String {
        let (unicode, result) = idna::domain_to_unicode(&self.0);
        if result.is_ok() {
            unicode
        } else {
            self.0.clone()
        }
    }
}

/// The names Vestibule keeps for itself given the hosts it serves from: each host and the
/// registrable domain it belongs to (so `edge.vestibule.net` reserves all of `vestibule.net`).
pub fn reserved_names(hosts: &[&str]) -> Vec<String> {
    let mut reserved = Vec::new();
    for host in hosts {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.parse::<IpAddr>().is_ok() {
            continue;
        }
        if let Some(registrable) = psl::domain_str(&host) {
            reserved.push(registrable.to_string());
        }
        reserved.push(host);
    }
    reserved.sort();
    reserved.dedup();
    reserved
}

fn check_labels(ascii: &str, typed: &str) -> Result<(), ProvisioningError> {
    let invalid = |detail: &str| {
        Err(ProvisioningError::InvalidDomain(format!(
            "\"{typed}\" is not a valid domain name: {detail}"
        )))
    };
    if ascii.len() > 253 {
        return invalid("it is longer than 253 characters.");
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return invalid("it has two dots in a row or starts with a dot.");
        }
        if label.len() > 63 {
            return invalid("one of its parts is longer than 63 characters.");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return invalid("use only letters, digits and hyphens between dots.");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid("a part cannot start or end with a hyphen.");
        }
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return invalid("it ends in a number.");
    }
    Ok(())
}

impl fmt::Display for SsoDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<String, String> {
        SsoDomain::parse(input, &["vestibule.example".to_string()])
            .map(|d| d.as_str().to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn normalises_case_spaces_and_the_trailing_dot() {
        assert_eq!(
            parse("  SSO.Acme-Assoc.org. ").unwrap(),
            "sso.acme-assoc.org"
        );
    }

    #[test]
    fn internationalised_names_become_their_ascii_form_and_read_back() {
        let domain = SsoDomain::parse("anmeldung.bücher.de", &[]).unwrap();
        assert_eq!(domain.as_str(), "anmeldung.xn--bcher-kva.de");
        assert_eq!(domain.to_unicode(), "anmeldung.bücher.de");
    }

    #[test]
    fn a_pasted_url_is_explained_with_the_name_to_use() {
        let error = parse("https://sso.acme.org/login").unwrap_err();
        assert!(error.contains("without \"https://\""), "{error}");
        assert!(error.contains("sso.acme.org"), "{error}");
        assert!(parse("sso.acme.org/login")
            .unwrap_err()
            .contains("without a path"));
        assert!(parse("sso.acme.org:8443")
            .unwrap_err()
            .contains("without a port"));
    }

    #[test]
    fn refuses_wildcards_ips_public_suffixes_apexes_and_our_own_names() {
        assert!(parse("*.acme.org").unwrap_err().contains("Wildcard"));
        assert!(parse("192.0.2.1").unwrap_err().contains("IP address"));
        assert!(parse("[2001:db8::1]").unwrap_err().contains("IP address"));
        assert!(parse("co.uk").unwrap_err().contains("public suffix"));
        assert!(parse("github.io").unwrap_err().contains("public suffix"));
        assert!(parse("acme.org").unwrap_err().contains("main domain"));
        assert!(parse("edge.vestibule.example")
            .unwrap_err()
            .contains("Vestibule itself"));
        assert!(parse("vestibule.example")
            .unwrap_err()
            .contains("Vestibule itself"));
        assert!(parse("localhost")
            .unwrap_err()
            .contains("not a full domain"));
    }

    #[test]
    fn refuses_malformed_labels() {
        assert!(parse("sso..acme.org").is_err());
        assert!(parse("-sso.acme.org").is_err());
        assert!(parse("sso_1.acme.org").is_err());
        assert!(parse(&format!("{}.acme.org", "a".repeat(64))).is_err());
        assert!(parse("sso.acme.123").is_err());
    }
}
