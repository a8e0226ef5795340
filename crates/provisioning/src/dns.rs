//! The DNS check: does the tenant's name point at us, and may our certificate authority issue
//! for it? Every answer becomes a sentence staff can act on.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::caa::Property;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError, TokioResolver};

use crate::{ProvisioningError, SsoDomain};

/// How long a CNAME chain may be before we stop following it.
const MAX_CHAIN: usize = 8;

/// Asks DNS servers about tenant domains. No cache: every check sees the current records.
#[derive(Clone)]
pub struct DnsChecker {
    resolver: TokioResolver,
}

enum CaaEntry {
    Issue(Option<String>),
    Other,
}

/// What a query found, before it is judged.
enum Answer<T> {
    Found(Vec<T>),
    /// The name exists but has no record of this type.
    NoData,
    /// The name does not exist.
    NxDomain,
}

impl DnsChecker {
    /// `servers` empty means the system's resolvers (`/etc/resolv.conf`).
    pub fn new(servers: &[SocketAddr]) -> Result<Self, ProvisioningError> {
        let mut options = ResolverOpts::default();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        options.use_hosts_file = ResolveHosts::Never;
        options.preserve_intermediates = true;
        let resolver = if servers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| {
                    ProvisioningError::Config(format!("cannot read the system's DNS servers: {e}"))
                })?
                .with_options(options)
                .build()
        } else {
            let mut group = NameServerConfigGroup::new();
            for server in servers {
                group.push(NameServerConfig::new(*server, Protocol::Udp));
                group.push(NameServerConfig::new(*server, Protocol::Tcp));
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                TokioConnectionProvider::default(),
            )
            .with_options(options)
            .build()
        };
        Ok(Self { resolver })
    }

    /// Checks that `domain` is a CNAME (directly or through a chain) to `target`.
    pub async fn check_cname(
        &self,
        domain: &SsoDomain,
        target: &str,
    ) -> Result<(), ProvisioningError> {
        let target = normalise(target);
        let record_advice =
            format!("Create a CNAME record with the name {domain} and the value {target}.");
        let mut current = domain.as_str().to_string();
        let mut chain: Vec<String> = Vec::new();
        for _ in 0..MAX_CHAIN {
            let answer = self
                .cnames(&current)
                .await
                .map_err(|e| ProvisioningError::Dns(unreachable_message(domain, &e)))?;
            match answer {
                Answer::Found(names) => {
                    let next = names.into_iter().next().unwrap_or_default();
                    if next == target {
                        return Ok(());
                    }
                    chain.push(next.clone());
                    current = next;
                }
                Answer::NoData | Answer::NxDomain if !chain.is_empty() => {
                    return Err(ProvisioningError::Dns(format!(
                        "{domain} is a CNAME to {}, not to {target}. Change the CNAME record's \
                         value to {target}.",
                        chain.join(" → ")
                    )));
                }
                Answer::NxDomain => {
                    return Err(ProvisioningError::Dns(format!(
                        "No DNS record exists for {domain} yet. {record_advice} New records can \
                         take a few minutes to appear; then try again."
                    )));
                }
                Answer::NoData => {
                    let addresses = self.addresses(&current).await.unwrap_or_default();
                    if addresses.is_empty() {
                        return Err(ProvisioningError::Dns(format!(
                            "{domain} exists in DNS but has no CNAME record. {record_advice}"
                        )));
                    }
                    return Err(ProvisioningError::Dns(format!(
                        "{domain} has an address record ({}) instead of a CNAME. Remove it and \
                         create a CNAME record with the value {target}.",
                        addresses.join(", ")
                    )));
                }
            }
        }
        Err(ProvisioningError::Dns(format!(
            "{domain} leads through more than {MAX_CHAIN} CNAME records ({}) without reaching \
             {target}. Point the CNAME record straight at {target}.",
            chain.join(" → ")
        )))
    }

    /// Refuses when a CAA record set governs `domain` and none of its `issue` entries names one
    /// of `ca_identities` (RFC 8659: the closest ancestor with CAA records decides).
    pub async fn check_caa(
        &self,
        domain: &SsoDomain,
        ca_identities: &[String],
    ) -> Result<(), ProvisioningError> {
        if ca_identities.is_empty() {
            return Ok(());
        }
        let mut name = domain.as_str();
        loop {
            let answer = self
                .caa(name)
                .await
                .map_err(|e| ProvisioningError::Dns(unreachable_message(domain, &e)))?;
            if let Answer::Found(issuers) = answer {
                // An empty list means CAA records exist but none is an `issue` record: only
                // `iodef` and the like, which do not restrict issuance.
                if issuers.is_empty() {
                    return Ok(());
                }
                let allowed = issuers.iter().any(|issuer| {
                    ca_identities
                        .iter()
                        .any(|ours| issuer.as_deref() == Some(normalise(ours).as_str()))
                });
                if allowed {
                    return Ok(());
                }
                let listed: Vec<&str> = issuers
                    .iter()
                    .map(|i| i.as_deref().unwrap_or("no certificate authority"))
                    .collect();
                return Err(ProvisioningError::Caa(format!(
                    "A CAA record on {name} allows only {} to issue certificates, so our \
                     certificate authority ({}) may not. Add a CAA record on {name}: 0 issue \
                     \"{}\", then try again.",
                    listed.join(", "),
                    ca_identities.join(", "),
                    ca_identities[0]
                )));
            }
            match name.split_once('.') {
                Some((_, parent)) if parent.contains('.') => name = parent,
                _ => return Ok(()),
            }
        }
    }

    async fn cnames(&self, name: &str) -> Result<Answer<String>, ResolveError> {
        self.query(name, RecordType::CNAME, |rdata| match rdata {
            RData::CNAME(cname) => Some(normalise(&cname.0.to_ascii())),
            _ => None,
        })
        .await
    }

    async fn addresses(&self, name: &str) -> Result<Vec<String>, ResolveError> {
        let mut found = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            let answer = self
                .query(name, record_type, |rdata| match rdata {
                    RData::A(a) => Some(a.0.to_string()),
                    RData::AAAA(aaaa) => Some(aaaa.0.to_string()),
                    _ => None,
                })
                .await?;
            if let Answer::Found(addresses) = answer {
                found.extend(addresses);
            }
        }
        Ok(found)
    }

    /// The `issue` entries of the CAA set at `name`: `Some(ca)`, or `None` for `issue ";"`.
    /// A set with only other tags (`iodef`, `issuewild`) is found but has no entries.
    async fn caa(&self, name: &str) -> Result<Answer<Option<String>>, ResolveError> {
        let answer = self
            .query(name, RecordType::CAA, |rdata| match rdata {
                RData::CAA(caa) if *caa.tag() == Property::Issue => match caa.value_as_issue() {
                    Ok((issuer, _)) => Some(CaaEntry::Issue(
                        issuer.as_ref().map(|n| normalise(&n.to_ascii())),
                    )),
                    // An unreadable issue value authorises nobody (RFC 8659 section 4.2).
                    Err(_) => Some(CaaEntry::Issue(None)),
                },
                RData::CAA(_) => Some(CaaEntry::Other),
                _ => None,
            })
            .await?;
        Ok(match answer {
            Answer::Found(entries) => Answer::Found(
                entries
                    .into_iter()
                    .filter_map(|entry| match entry {
                        CaaEntry::Issue(issuer) => Some(issuer),
                        CaaEntry::Other => None,
                    })
                    .collect(),
            ),
            Answer::NoData => Answer::NoData,
            Answer::NxDomain => Answer::NxDomain,
        })
    }

    async fn query<T>(
        &self,
        name: &str,
        record_type: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Answer<T>, ResolveError> {
        let fqdn = Name::from_ascii(format!("{name}."))
            .map_err(|e| ResolveError::from(format!("{name} is not a DNS name: {e}")))?;
        match self.resolver.lookup(fqdn, record_type).await {
            Ok(lookup) => {
                let owner = normalise(name);
                let found: Vec<T> = lookup
                    .record_iter()
                    .filter(|record| normalise(&record.name().to_ascii()) == owner)
                    .filter_map(|record| pick(record.data()))
                    .collect();
                let any_of_type = lookup
                    .record_iter()
                    .any(|record| record.record_type() == record_type);
                if found.is_empty() && !any_of_type {
                    Ok(Answer::NoData)
                } else {
                    Ok(Answer::Found(found))
                }
            }
            Err(error) if error.is_nx_domain() => Ok(Answer::NxDomain),
            Err(error) if error.is_no_records_found() && response_code(&error).is_none() => {
                Ok(Answer::NoData)
            }
            Err(error) => Err(error),
        }
    }
}

/// The DNS error code of a failed answer, when it was an error answer (SERVFAIL, REFUSED, …)
/// rather than a plain "no such record".
fn response_code(error: &ResolveError) -> Option<ResponseCode> {
    match error.proto()?.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. }
            if *response_code != ResponseCode::NoError
                && *response_code != ResponseCode::NXDomain =>
        {
            Some(*response_code)
        }
        _ => None,
    }
}

fn unreachable_message(domain: &SsoDomain, error: &ResolveError) -> String {
    if let Some(code) = response_code(error) {
        // The name DNS tools print: SERVFAIL, REFUSED, …
        let code = format!("{code:?}").to_uppercase();
        return format!(
            "The DNS servers for {domain} answered with an error ({code}) instead of records. \
             This is a problem with the DNS hosting of your domain; ask whoever manages it to \
             check the zone, then try again."
        );
    }
    let timed_out = matches!(
        error.proto().map(|p| p.kind()),
        Some(ProtoErrorKind::Timeout)
    ) || error.to_string().contains("timed out");
    if timed_out {
        return format!(
            "No DNS server answered in time when looking up {domain}. Try again in a few \
             minutes; if it keeps happening, ask whoever manages your DNS to check it."
        );
    }
    format!("DNS lookup for {domain} failed: {error}. Try again in a few minutes.")
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
