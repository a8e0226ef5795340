//! Vestibule's configuration: one typed file (TOML) plus `VESTIBULE_*` environment overrides.
//!
//! Every setting has a default that runs a single node on SQLite; `vestibule config check`
//! prints the effective configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vestibule_domain::{CloudId, Email, Seconds, SessionLifetime};
use vestibule_mail::{Security, SmtpSettings};
use vestibule_members::MemberPolicy;
use vestibule_provisioning::{reserved_names, AcmeSettings, ProvisioningSettings};
use vestibule_saml::SsoPolicy;
use vestibule_secrets::SecretKey;
use vestibule_staff::Policy;

use crate::client_address::TrustedProxies;
use crate::listen::Front;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid configuration: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{variable} is not valid: {message}")]
    Env {
        variable: &'static str,
        message: String,
    },
    #[error("{variable} is not a setting{}", closest.map(|name| format!("; did you mean {name}?")).unwrap_or_default())]
    UnknownEnv {
        variable: String,
        closest: Option<&'static str>,
    },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path` (the default, one node) or `postgres://…` (several nodes).
    pub database_url: String,
    /// Address the dashboard listens on.
    pub listen: SocketAddr,
    /// `/metrics`, `/healthz` and `/readyz` for operators: keep it off the public network.
    pub operator_listen: SocketAddr,
    /// The URL people use to reach the dashboard; decides cookie security and setup links.
    pub public_url: String,
    /// Folder with the compiled front-end (`pkg/`) and public assets, written by cargo-leptos.
    pub site_root: PathBuf,
    /// `tracing` filter, e.g. `info` or `vestibule=debug,info`.
    pub log: String,
    /// `text` for people, `json` (one object per line) for log collectors.
    pub log_format: LogFormat,
    /// Proxies and load balancers whose word on a request's client address counts
    /// (`Forwarded`, `X-Forwarded-For`, PROXY protocol): addresses or networks such as
    /// `10.0.0.0/8`. Empty, the default, trusts no one: the client is the TCP peer.
    pub trusted_proxies: Vec<String>,
    pub sessions: SessionConfig,
    pub sign_in_limits: SignInLimits,
    pub members: MemberConfig,
    pub saml: SamlConfig,
    /// Seals secrets at rest (certificate keys): 32 bytes, base64. Every node needs the same
    /// key. When unset, the key is read from `secret_key_file`, created there on first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    pub secret_key_file: PathBuf,
    pub edge: EdgeConfig,
    pub acme: AcmeConfig,
    pub provisioning: ProvisioningConfig,
    pub mail: MailConfig,
}

/// Outgoing e-mail (invitations, password resets). With no `smtp_host`, nothing is sent:
/// setup links are handed over by hand and "Forgot password" is not offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server (a relay or a provider's submission host). Empty: no e-mail.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls` (port 587), `tls` (implicit TLS, port 465), or `none`, allowed only for a
    /// relay on this machine (`localhost`, `127.0.0.1`, `::1`).
    pub security: MailSecurity,
    /// Sign in to the SMTP server with these, when `username` is set.
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The address every message is sent from. Tenants' messages carry the association's name
    /// before it, and its support address as Reply-To.
    pub from_address: String,
    /// A PEM root to trust for the SMTP server's certificate besides the system's (a private
    /// relay's own CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<PathBuf>,
    pub timeout_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailSecurity {
    Starttls,
    Tls,
    None,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            security: MailSecurity::Starttls,
            username: String::new(),
            password: String::new(),
            from_address: String::new(),
            trusted_root: None,
            timeout_seconds: 30,
        }
    }
}

/// The listeners that serve tenant domains, and what tenants point their DNS at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Plain HTTP: ACME HTTP-01 answers, and a redirect to HTTPS for everything else. Port 80
    /// in production (the CA always connects to port 80).
    pub http_listen: SocketAddr,
    /// HTTPS for tenant domains, certificates picked by SNI. Port 443 in production.
    pub https_listen: SocketAddr,
    /// The port members and applications reach HTTPS on, when it is not `https_listen`'s (a
    /// load balancer or port forward in front): it goes into issuer URLs and redirects. Unset,
    /// `https_listen`'s port is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_https_port: Option<u16>,
    /// The name tenants create their CNAME record for.
    pub cname_target: String,
    /// DNS servers for the CNAME and CAA checks (`host:port`); empty uses the system's.
    pub dns_servers: Vec<SocketAddr>,
    /// Every connection to the edge listeners starts with a PROXY protocol v2 header (a TCP
    /// load balancer in front that sends one); connections without it are dropped. Its client
    /// address counts only when the balancer is in `trusted_proxies`.
    pub proxy_protocol: bool,
    /// Development and test domains, `name=cloud-id`, served over plain HTTP on `http_listen`
    /// without ACME. Names must end in `.localhost`: browsers resolve those to this machine and
    /// treat them as secure, so the hosted pages' `Secure` cookies work as in production.
    pub test_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcmeConfig {
    /// The CA's ACME directory URL.
    pub directory: String,
    /// A PEM root to trust for the directory's HTTPS instead of the public roots (test CAs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<PathBuf>,
    /// `mailto:` contact for the CA's expiry notices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// CAA `issue` values naming our CA; empty skips the CAA check.
    pub caa_identities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningConfig {
    pub lease_seconds: i64,
    pub max_attempts: i64,
    pub retry_seconds: i64,
    pub check_seconds: i64,
    pub reload_seconds: i64,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            https_listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_https_port: None,
            cname_target: "edge.vestibule.localhost".to_string(),
            dns_servers: Vec::new(),
            proxy_protocol: false,
            test_domains: Vec::new(),
        }
    }
}

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            directory: "https://acme-v02.api.letsencrypt.org/directory".to_string(),
            trusted_root: None,
            contact: None,
            caa_identities: vec!["letsencrypt.org".to_string()],
        }
    }
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 180,
            max_attempts: 6,
            retry_seconds: 30,
            check_seconds: 300,
            reload_seconds: 15,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
    pub setup_link_hours: i64,
    /// Every staff member must sign in with a second factor (an authenticator app); those
    /// without one are asked to add it before anything else.
    pub second_factor_required: bool,
}

/// Member sign-in on tenant domains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemberConfig {
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// How long a member may spend at the iMIS sign-in page.
    pub pending_sign_in_minutes: i64,
    /// How long one call to a tenant's iMIS may take.
    pub imis_timeout_seconds: i64,
    /// Development and tests only: lets tenants' iMIS addresses be plain HTTP and private,
    /// loopback or link-local (the iMIS emulator on this machine). Off, as in production, every
    /// call goes over HTTPS to public addresses only.
    pub imis_private_network: bool,
}

impl Default for MemberConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            session_absolute_hours: 10,
            pending_sign_in_minutes: 15,
            imis_timeout_seconds: 10,
            imis_private_network: false,
        }
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Timing rules of the SAML identity provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamlConfig {
    /// How far service providers' clocks may disagree with ours: requests issued up to this far
    /// in the future are accepted, and assertions are valid from this far in the past.
    pub clock_skew_seconds: i64,
    /// How old an AuthnRequest or LogoutRequest may be when it arrives.
    pub request_lifetime_seconds: i64,
    /// How long a member has to sign in before a service provider's request is forgotten.
    pub sign_in_window_minutes: i64,
}

impl Default for SamlConfig {
    fn default() -> Self {
        let policy = SsoPolicy::default();
        Self {
            clock_skew_seconds: policy.clock_skew.0,
            request_lifetime_seconds: policy.request_lifetime.0,
            sign_in_window_minutes: policy.sign_in_window.0 / 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignInLimits {
    pub per_account: i64,
    pub per_address: i64,
    pub window_minutes: i64,
}

/// Every environment variable that sets something (see `Config::apply_env`), for the
/// suggestion when one is misspelt.
const ENV_SETTINGS: [&str; 47] = [
    "VESTIBULE_ACME_CAA_IDENTITIES",
    "VESTIBULE_ACME_CONTACT",
    "VESTIBULE_ACME_DIRECTORY",
    "VESTIBULE_ACME_ROOT",
    "VESTIBULE_CERTIFICATE_RELOAD_SECONDS",
    "VESTIBULE_CNAME_TARGET",
    "VESTIBULE_DATABASE_URL",
    "VESTIBULE_DNS_SERVERS",
    "VESTIBULE_DOMAIN_CHECK_SECONDS",
    "VESTIBULE_EDGE_PROXY_PROTOCOL",
    "VESTIBULE_HTTPS_LISTEN",
    "VESTIBULE_HTTP_LISTEN",
    "VESTIBULE_IMIS_PRIVATE_NETWORK",
    "VESTIBULE_IMIS_TIMEOUT_SECONDS",
    "VESTIBULE_LISTEN",
    "VESTIBULE_LOG",
    "VESTIBULE_LOG_FORMAT",
    "VESTIBULE_MAIL_FROM",
    "VESTIBULE_MAIL_PASSWORD",
    "VESTIBULE_MAIL_ROOT",
    "VESTIBULE_MAIL_SECURITY",
    "VESTIBULE_MAIL_SMTP_HOST",
    "VESTIBULE_MAIL_SMTP_PORT",
    "VESTIBULE_MAIL_USERNAME",
    "VESTIBULE_MEMBER_SESSION_ABSOLUTE_HOURS",
    "VESTIBULE_MEMBER_SESSION_IDLE_MINUTES",
    "VESTIBULE_OPERATOR_LISTEN",
    "VESTIBULE_PROVISIONING_LEASE_SECONDS",
    "VESTIBULE_PROVISIONING_MAX_ATTEMPTS",
    "VESTIBULE_PROVISIONING_RETRY_SECONDS",
    "VESTIBULE_PUBLIC_HTTPS_PORT",
    "VESTIBULE_PUBLIC_URL",
    "VESTIBULE_SAML_CLOCK_SKEW_SECONDS",
    "VESTIBULE_SAML_REQUEST_LIFETIME_SECONDS",
    "VESTIBULE_SAML_SIGN_IN_WINDOW_MINUTES",
    "VESTIBULE_SECOND_FACTOR_REQUIRED",
    "VESTIBULE_SECRET_KEY",
    "VESTIBULE_SECRET_KEY_FILE",
    "VESTIBULE_SESSION_ABSOLUTE_HOURS",
    "VESTIBULE_SESSION_IDLE_MINUTES",
    "VESTIBULE_SETUP_LINK_HOURS",
    "VESTIBULE_SIGN_IN_FAILURES_PER_ACCOUNT",
    "VESTIBULE_SIGN_IN_FAILURES_PER_ADDRESS",
    "VESTIBULE_SIGN_IN_WINDOW_MINUTES",
    "VESTIBULE_SITE_ROOT",
    "VESTIBULE_TEST_DOMAINS",
    "VESTIBULE_TRUSTED_PROXIES",
];

/// `VESTIBULE_` variables that are not settings: the command line's `--config`, and the test
/// tooling's own (PostgreSQL and sandbox switches, the browser tests' hand-offs).
const NOT_SETTINGS: [&str; 5] = [
    "VESTIBULE_CONFIG",
    "VESTIBULE_TEST_",
    "VESTIBULE_E2E_",
    "VESTIBULE_REQUIRE_",
    "VESTIBULE_SETUP_URL",
];

/// The setting `variable` most likely meant: the nearest by edit distance, if it is near.
fn closest_setting(variable: &str) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous + usize::from(ca != *cb);
                previous = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    }
    ENV_SETTINGS
        .iter()
        .map(|name| (distance(variable, name), *name))
        .filter(|(d, _)| *d <= 6)
        .min()
        .map(|(_, name)| name)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/vestibule.db".to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            operator_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            public_url: "http://localhost:3000".to_string(),
            site_root: PathBuf::from("target/site"),
            log: "info".to_string(),
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            sessions: SessionConfig::default(),
            sign_in_limits: SignInLimits::default(),
            members: MemberConfig::default(),
            saml: SamlConfig::default(),
            secret_key: None,
            secret_key_file: PathBuf::from("data/secret.key"),
            edge: EdgeConfig::default(),
            acme: AcmeConfig::default(),
            provisioning: ProvisioningConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
            setup_link_hours: 72,
            second_factor_required: false,
        }
    }
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_address: 30,
            window_minutes: 15,
        }
    }
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "vestibule.toml";

impl Config {
    /// Reads `file` (or [`DEFAULT_FILE`] when present), then applies `VESTIBULE_*` variables
    /// from `env`, then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None if Path::new(DEFAULT_FILE).exists() => Self::from_file(Path::new(DEFAULT_FILE))?,
            None => Self::default(),
        };
        for (key, value) in env {
            config.apply_env(&key, &value)?;
        }
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn apply_env(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            variable: &'static str,
            value: &str,
        ) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                variable,
                message: e.to_string(),
            })
        }
        match key {
            "VESTIBULE_DATABASE_URL" => self.database_url = value.to_string(),
            "VESTIBULE_LISTEN" => self.listen = parse("VESTIBULE_LISTEN", value)?,
            "VESTIBULE_PUBLIC_URL" => self.public_url = value.to_string(),
            "VESTIBULE_SITE_ROOT" => self.site_root = PathBuf::from(value),
            "VESTIBULE_LOG" => self.log = value.to_string(),
            "VESTIBULE_SESSION_IDLE_MINUTES" => {
                self.sessions.idle_minutes = parse("VESTIBULE_SESSION_IDLE_MINUTES", value)?
            }
            "VESTIBULE_SESSION_ABSOLUTE_HOURS" => {
                self.sessions.absolute_hours = parse("VESTIBULE_SESSION_ABSOLUTE_HOURS", value)?
            }
            "VESTIBULE_SECOND_FACTOR_REQUIRED" => {
                self.sessions.second_factor_required =
                    parse("VESTIBULE_SECOND_FACTOR_REQUIRED", value)?
            }
            "VESTIBULE_SETUP_LINK_HOURS" => {
                self.sessions.setup_link_hours = parse("VESTIBULE_SETUP_LINK_HOURS", value)?
            }
            "VESTIBULE_SIGN_IN_FAILURES_PER_ACCOUNT" => {
                self.sign_in_limits.per_account =
                    parse("VESTIBULE_SIGN_IN_FAILURES_PER_ACCOUNT", value)?
            }
            "VESTIBULE_SIGN_IN_FAILURES_PER_ADDRESS" => {
                self.sign_in_limits.per_address =
                    parse("VESTIBULE_SIGN_IN_FAILURES_PER_ADDRESS", value)?
            }
            "VESTIBULE_SIGN_IN_WINDOW_MINUTES" => {
                self.sign_in_limits.window_minutes =
                    parse("VESTIBULE_SIGN_IN_WINDOW_MINUTES", value)?
            }
            "VESTIBULE_OPERATOR_LISTEN" => {
                self.operator_listen = parse("VESTIBULE_OPERATOR_LISTEN", value)?
            }
            "VESTIBULE_LOG_FORMAT" => {
                self.log_format = match value.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => {
                        return Err(ConfigError::Invalid {
                            setting: "VESTIBULE_LOG_FORMAT",
                            message: "use text or json".to_string(),
                        })
                    }
                }
            }
            "VESTIBULE_SECRET_KEY" => self.secret_key = Some(value.trim().to_string()),
            "VESTIBULE_SECRET_KEY_FILE" => self.secret_key_file = PathBuf::from(value),
            "VESTIBULE_HTTP_LISTEN" => {
                self.edge.http_listen = parse("VESTIBULE_HTTP_LISTEN", value)?
            }
            "VESTIBULE_HTTPS_LISTEN" => {
                self.edge.https_listen = parse("VESTIBULE_HTTPS_LISTEN", value)?
            }
            "VESTIBULE_PUBLIC_HTTPS_PORT" => {
                self.edge.public_https_port = Some(parse("VESTIBULE_PUBLIC_HTTPS_PORT", value)?)
            }
            "VESTIBULE_CNAME_TARGET" => self.edge.cname_target = value.trim().to_string(),
            "VESTIBULE_TRUSTED_PROXIES" => {
                self.trusted_proxies = list(value).map(str::to_string).collect()
            }
            "VESTIBULE_EDGE_PROXY_PROTOCOL" => {
                self.edge.proxy_protocol = parse("VESTIBULE_EDGE_PROXY_PROTOCOL", value)?
            }
            "VESTIBULE_DNS_SERVERS" => {
                self.edge.dns_servers = list(value)
                    .map(|server| parse("VESTIBULE_DNS_SERVERS", server))
                    .collect::<Result<_, _>>()?
            }
            "VESTIBULE_TEST_DOMAINS" => {
                self.edge.test_domains = list(value).map(str::to_string).collect()
            }
            "VESTIBULE_MEMBER_SESSION_IDLE_MINUTES" => {
                self.members.session_idle_minutes =
                    parse("VESTIBULE_MEMBER_SESSION_IDLE_MINUTES", value)?
            }
            "VESTIBULE_MEMBER_SESSION_ABSOLUTE_HOURS" => {
                self.members.session_absolute_hours =
                    parse("VESTIBULE_MEMBER_SESSION_ABSOLUTE_HOURS", value)?
            }
            "VESTIBULE_IMIS_TIMEOUT_SECONDS" => {
                self.members.imis_timeout_seconds = parse("VESTIBULE_IMIS_TIMEOUT_SECONDS", value)?
            }
            "VESTIBULE_IMIS_PRIVATE_NETWORK" => {
                self.members.imis_private_network = parse("VESTIBULE_IMIS_PRIVATE_NETWORK", value)?
            }
            "VESTIBULE_SAML_CLOCK_SKEW_SECONDS" => {
                self.saml.clock_skew_seconds = parse("VESTIBULE_SAML_CLOCK_SKEW_SECONDS", value)?
            }
            "VESTIBULE_SAML_REQUEST_LIFETIME_SECONDS" => {
                self.saml.request_lifetime_seconds =
                    parse("VESTIBULE_SAML_REQUEST_LIFETIME_SECONDS", value)?
            }
            "VESTIBULE_SAML_SIGN_IN_WINDOW_MINUTES" => {
                self.saml.sign_in_window_minutes =
                    parse("VESTIBULE_SAML_SIGN_IN_WINDOW_MINUTES", value)?
            }
            "VESTIBULE_ACME_DIRECTORY" => self.acme.directory = value.trim().to_string(),
            "VESTIBULE_ACME_ROOT" => {
                self.acme.trusted_root = (!value.is_empty()).then(|| PathBuf::from(value))
            }
            "VESTIBULE_ACME_CONTACT" => {
                self.acme.contact = Some(value.trim().to_string()).filter(|c| !c.is_empty())
            }
            "VESTIBULE_ACME_CAA_IDENTITIES" => {
                self.acme.caa_identities = list(value).map(str::to_string).collect()
            }
            "VESTIBULE_PROVISIONING_LEASE_SECONDS" => {
                self.provisioning.lease_seconds =
                    parse("VESTIBULE_PROVISIONING_LEASE_SECONDS", value)?
            }
            "VESTIBULE_PROVISIONING_MAX_ATTEMPTS" => {
                self.provisioning.max_attempts =
                    parse("VESTIBULE_PROVISIONING_MAX_ATTEMPTS", value)?
            }
            "VESTIBULE_PROVISIONING_RETRY_SECONDS" => {
                self.provisioning.retry_seconds =
                    parse("VESTIBULE_PROVISIONING_RETRY_SECONDS", value)?
            }
            "VESTIBULE_DOMAIN_CHECK_SECONDS" => {
                self.provisioning.check_seconds = parse("VESTIBULE_DOMAIN_CHECK_SECONDS", value)?
            }
            "VESTIBULE_CERTIFICATE_RELOAD_SECONDS" => {
                self.provisioning.reload_seconds =
                    parse("VESTIBULE_CERTIFICATE_RELOAD_SECONDS", value)?
            }
            "VESTIBULE_MAIL_SMTP_HOST" => self.mail.smtp_host = value.trim().to_string(),
            "VESTIBULE_MAIL_SMTP_PORT" => {
                self.mail.smtp_port = parse("VESTIBULE_MAIL_SMTP_PORT", value)?
            }
            "VESTIBULE_MAIL_SECURITY" => {
                self.mail.security = match value.trim() {
                    "starttls" => MailSecurity::Starttls,
                    "tls" => MailSecurity::Tls,
                    "none" => MailSecurity::None,
                    _ => {
                        return Err(ConfigError::Invalid {
                            setting: "VESTIBULE_MAIL_SECURITY",
                            message: "use starttls, tls or none".to_string(),
                        })
                    }
                }
            }
            "VESTIBULE_MAIL_USERNAME" => self.mail.username = value.trim().to_string(),
            "VESTIBULE_MAIL_PASSWORD" => self.mail.password = value.to_string(),
            "VESTIBULE_MAIL_FROM" => self.mail.from_address = value.trim().to_string(),
            "VESTIBULE_MAIL_ROOT" => {
                self.mail.trusted_root = (!value.is_empty()).then(|| PathBuf::from(value))
            }
            other
                if other.starts_with("VESTIBULE_")
                    && !NOT_SETTINGS.iter().any(|prefix| other.starts_with(prefix)) =>
            {
                // A misspelt variable would otherwise be ignored without a word.
                return Err(ConfigError::UnknownEnv {
                    variable: other.to_string(),
                    closest: closest_setting(other),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, message: &str| {
            Err(ConfigError::Invalid {
                setting,
                message: message.to_string(),
            })
        };
        self.trusted_proxies()?;
        let db = &self.database_url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return invalid("database_url", "use sqlite://path or postgres://…");
        }
        let url = self.public_url.trim_end_matches('/');
        let authority = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match authority {
            Some(authority) if !authority.is_empty() && !authority.contains('/') => {}
            _ => {
                return invalid(
                    "public_url",
                    "use a scheme and host only, like https://dashboard.example.org",
                )
            }
        }
        let positive = [
            ("sessions.idle_minutes", self.sessions.idle_minutes),
            ("sessions.absolute_hours", self.sessions.absolute_hours),
            ("sessions.setup_link_hours", self.sessions.setup_link_hours),
            (
                "sign_in_limits.per_account",
                self.sign_in_limits.per_account,
            ),
            (
                "sign_in_limits.per_address",
                self.sign_in_limits.per_address,
            ),
            (
                "sign_in_limits.window_minutes",
                self.sign_in_limits.window_minutes,
            ),
        ];
        let positive = positive.into_iter().chain([
            (
                "members.session_idle_minutes",
                self.members.session_idle_minutes,
            ),
            (
                "members.session_absolute_hours",
                self.members.session_absolute_hours,
            ),
            (
                "members.pending_sign_in_minutes",
                self.members.pending_sign_in_minutes,
            ),
            (
                "members.imis_timeout_seconds",
                self.members.imis_timeout_seconds,
            ),
            (
                "saml.request_lifetime_seconds",
                self.saml.request_lifetime_seconds,
            ),
            (
                "saml.sign_in_window_minutes",
                self.saml.sign_in_window_minutes,
            ),
            (
                "provisioning.lease_seconds",
                self.provisioning.lease_seconds,
            ),
            ("provisioning.max_attempts", self.provisioning.max_attempts),
            (
                "provisioning.retry_seconds",
                self.provisioning.retry_seconds,
            ),
            (
                "provisioning.check_seconds",
                self.provisioning.check_seconds,
            ),
            (
                "provisioning.reload_seconds",
                self.provisioning.reload_seconds,
            ),
        ]);
        if !self.acme.directory.starts_with("https://") {
            return invalid(
                "acme.directory",
                "the ACME directory must be an https:// URL",
            );
        }
        if self.edge.cname_target.trim().is_empty() || self.edge.cname_target.contains('/') {
            return invalid(
                "edge.cname_target",
                "use a host name such as edge.example.net",
            );
        }
        for (setting, value) in positive {
            if value <= 0 {
                return invalid(setting, "must be greater than zero");
            }
        }
        // A small skew, as the seed asks: minutes of disagreement stretch every assertion's
        // validity by as much.
        if !(0..=600).contains(&self.saml.clock_skew_seconds) {
            return invalid("saml.clock_skew_seconds", "use 0 to 600 seconds");
        }
        self.test_domains()?;
        self.smtp_settings()?;
        Ok(())
    }

    /// How to send e-mail, or `None` when no SMTP server is configured.
    pub fn smtp_settings(&self) -> Result<Option<SmtpSettings>, ConfigError> {
        let mail = &self.mail;
        let host = mail.smtp_host.trim();
        if host.is_empty() {
            return Ok(None);
        }
        let invalid = |setting, message: String| ConfigError::Invalid { setting, message };
        let from = Email::parse(&mail.from_address).map_err(|_| {
            invalid(
                "mail.from_address",
                "set the address messages are sent from, like sso@example.org".to_string(),
            )
        })?;
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let security = match mail.security {
            MailSecurity::Starttls => Security::StartTls,
            MailSecurity::Tls => Security::Tls,
            MailSecurity::None if loopback => Security::None,
            MailSecurity::None => {
                return Err(invalid(
                    "mail.security",
                    format!(
                        "{host} is not on this machine: use starttls or tls (none is for a relay \
                         on localhost only)"
                    ),
                ))
            }
        };
        if mail.smtp_port == 0 {
            return Err(invalid(
                "mail.smtp_port",
                "use the SMTP port, like 587".to_string(),
            ));
        }
        if mail.timeout_seconds <= 0 {
            return Err(invalid(
                "mail.timeout_seconds",
                "must be greater than zero".to_string(),
            ));
        }
        let extra_roots_pem = match &mail.trusted_root {
            Some(path) => Some(std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let credentials =
            (!mail.username.is_empty()).then(|| (mail.username.clone(), mail.password.clone()));
        Ok(Some(SmtpSettings {
            host: host.trim_matches(['[', ']']).to_string(),
            port: mail.smtp_port,
            security,
            credentials,
            from,
            extra_roots_pem,
            timeout: std::time::Duration::from_secs(mail.timeout_seconds.unsigned_abs()),
        }))
    }

    /// What stands in front of the dashboard (trusted proxies' headers; never the PROXY
    /// protocol, which only the edge speaks).
    pub fn dashboard_front(&self) -> Result<Front, ConfigError> {
        Ok(Front {
            trusted: Arc::new(self.trusted_proxies()?),
            proxy_protocol: false,
        })
    }

    /// What stands in front of the tenant edge's listeners.
    pub fn edge_front(&self) -> Result<Front, ConfigError> {
        Ok(Front {
            trusted: Arc::new(self.trusted_proxies()?),
            proxy_protocol: self.edge.proxy_protocol,
        })
    }

    fn trusted_proxies(&self) -> Result<TrustedProxies, ConfigError> {
        TrustedProxies::parse(&self.trusted_proxies).map_err(|message| ConfigError::Invalid {
            setting: "trusted_proxies",
            message,
        })
    }

    /// The HTTPS port members and applications use: see `edge.public_https_port`.
    pub fn public_https_port(&self) -> u16 {
        self.edge
            .public_https_port
            .unwrap_or_else(|| self.edge.https_listen.port())
    }

    /// `edge.test_domains` as (name, Cloud ID) pairs.
    pub fn test_domains(&self) -> Result<Vec<(String, CloudId)>, ConfigError> {
        self.edge
            .test_domains
            .iter()
            .map(|entry| {
                let invalid = |message: String| ConfigError::Invalid {
                    setting: "edge.test_domains",
                    message,
                };
                let (name, cloud_id) = entry
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("{entry}: use name=cloud-id")))?;
                let name = name.trim().to_ascii_lowercase();
                let plausible = name.ends_with(".localhost")
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if !plausible {
                    return Err(invalid(format!(
                        "{name}: test domains are names ending in .localhost"
                    )));
                }
                let cloud_id = CloudId::parse(cloud_id.trim())
                    .map_err(|e| invalid(format!("{entry}: {e}")))?;
                Ok((name, cloud_id))
            })
            .collect()
    }

    pub fn member_policy(&self) -> MemberPolicy {
        MemberPolicy {
            sessions: SessionLifetime {
                idle_timeout: Seconds::minutes(self.members.session_idle_minutes),
                absolute_timeout: Seconds::hours(self.members.session_absolute_hours),
            },
            pending_timeout: Seconds::minutes(self.members.pending_sign_in_minutes),
            ..MemberPolicy::default()
        }
    }

    pub fn saml_policy(&self) -> SsoPolicy {
        SsoPolicy {
            clock_skew: Seconds(self.saml.clock_skew_seconds),
            request_lifetime: Seconds(self.saml.request_lifetime_seconds),
            sign_in_window: Seconds::minutes(self.saml.sign_in_window_minutes),
        }
    }

    pub fn imis_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.members.imis_timeout_seconds.unsigned_abs())
    }

    /// The public URL without a trailing slash.
    pub fn public_origin(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    pub fn staff_policy(&self) -> Policy {
        Policy {
            sessions: SessionLifetime {
                idle_timeout: Seconds::minutes(self.sessions.idle_minutes),
                absolute_timeout: Seconds::hours(self.sessions.absolute_hours),
            },
            setup_link_lifetime: Seconds::hours(self.sessions.setup_link_hours),
            failures_per_account: self.sign_in_limits.per_account,
            failures_per_address: self.sign_in_limits.per_address,
            failure_window: Seconds::minutes(self.sign_in_limits.window_minutes),
            require_second_factor: self.sessions.second_factor_required,
            ..Policy::default()
        }
    }

    /// What the provisioning engine needs from this configuration.
    pub fn provisioning_settings(&self) -> ProvisioningSettings {
        let public_host = self
            .public_origin()
            .split_once("://")
            .map(|(_, authority)| authority.rsplit_once(':').map_or(authority, |(h, _)| h))
            .unwrap_or_default();
        ProvisioningSettings {
            cname_target: self
                .edge
                .cname_target
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            own_domains: reserved_names(&[&self.edge.cname_target, public_host]),
            dns_servers: self.edge.dns_servers.clone(),
            acme: AcmeSettings {
                directory_url: self.acme.directory.clone(),
                trusted_root: self.acme.trusted_root.clone(),
                contact: self.acme.contact.clone(),
            },
            caa_identities: self.acme.caa_identities.clone(),
            edge_address: self.edge.https_listen,
            edge_proxy_protocol: self.edge.proxy_protocol,
            lease: Seconds(self.provisioning.lease_seconds),
            max_attempts: self.provisioning.max_attempts,
            retry_base: Seconds(self.provisioning.retry_seconds),
            check_interval: Seconds(self.provisioning.check_seconds),
            reload_interval: Seconds(self.provisioning.reload_seconds),
        }
    }

    /// The key that seals secrets at rest: `secret_key` when set, else the key file, which is
    /// created with a fresh key (readable by this user only) when it does not exist yet.
    pub fn load_secret_key(&self) -> Result<SecretKey, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            setting: "secret_key",
            message,
        };
        if let Some(encoded) = &self.secret_key {
            return SecretKey::from_base64(encoded).map_err(|e| invalid(e.to_string()));
        }
        let path = &self.secret_key_file;
        if !path.exists() {
            if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).map_err(|source| ConfigError::Read {
                    path: folder.to_path_buf(),
                    source,
                })?;
            }
            write_private_file(path, &SecretKey::generate_base64()).map_err(|source| {
                ConfigError::Read {
                    path: path.clone(),
                    source,
                }
            })?;
            tracing::warn!(path = %path.display(), "created a new secret key; back it up, and give every node the same one");
        }
        let encoded = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        SecretKey::from_base64(&encoded).map_err(|e| invalid(format!("{}: {e}", path.display())))
    }

    /// The effective configuration as TOML, with the database password hidden.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url_password(&shown.database_url);
        shown.secret_key = shown.secret_key.map(|_| "***".to_string());
        if !shown.mail.password.is_empty() {
            shown.mail.password = "***".to_string();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

/// Items of a comma-separated environment value, trimmed, empty ones dropped.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_misspelt_variable_is_an_error_that_names_the_setting() {
        let error = Config::load(None, env(&[("VESTIBULE_DATABSE_URL", "sqlite://x.db")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("VESTIBULE_DATABSE_URL is not a setting"),
            "{error}"
        );
        assert!(
            error.contains("did you mean VESTIBULE_DATABASE_URL?"),
            "{error}"
        );
        let far = Config::load(None, env(&[("VESTIBULE_ZZZZZZZZZZZZZZZZZZZZ", "1")]))
            .unwrap_err()
            .to_string();
        assert!(!far.contains("did you mean"), "{far}");
        // The test tooling's variables and other programs' are not settings, and not errors.
        let others = env(&[
            ("VESTIBULE_TEST_POSTGRES_URL", "postgres://x"),
            ("VESTIBULE_E2E_PORT", "1"),
            ("VESTIBULE_REQUIRE_SANDBOX", "1"),
            ("VESTIBULE_CONFIG", "v.toml"),
            ("PATH", "/bin"),
        ]);
        assert!(Config::load(None, others).is_ok());
        // Every listed setting is one apply_env knows (its value may still be refused).
        for name in ENV_SETTINGS {
            let mut config = Config::default();
            let outcome = config.apply_env(name, "");
            assert!(
                !matches!(outcome, Err(ConfigError::UnknownEnv { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn defaults_run_one_node_on_sqlite() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.database_url, "sqlite://data/vestibule.db");
        assert_eq!(config.staff_policy().failures_per_account, 5);
    }

    #[test]
    fn file_then_environment() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("v.toml");
        std::fs::write(
            &path,
            "public_url = \"https://dash.example.org\"\n[sessions]\nidle_minutes = 10\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("VESTIBULE_DATABASE_URL", "postgres://u:secret@db/vestibule"),
                ("VESTIBULE_SESSION_IDLE_MINUTES", "5"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.public_url, "https://dash.example.org");
        assert_eq!(config.sessions.idle_minutes, 5);
        assert_eq!(config.sessions.absolute_hours, 12);
        let shown = config.redacted_toml();
        assert!(shown.contains("postgres://u:***@db/vestibule"), "{shown}");
        assert!(!shown.contains(":secret@"), "{shown}");
    }

    #[test]
    fn edge_and_acme_settings_come_from_the_environment() {
        let key = SecretKey::generate_base64();
        let config = Config::load(
            None,
            env(&[
                ("VESTIBULE_CNAME_TARGET", "edge.vestibule.example."),
                ("VESTIBULE_DNS_SERVERS", "127.0.0.1:8053, [::1]:53"),
                ("VESTIBULE_ACME_DIRECTORY", "https://127.0.0.1:14000/dir"),
                ("VESTIBULE_ACME_CAA_IDENTITIES", ""),
                ("VESTIBULE_HTTPS_LISTEN", "0.0.0.0:8443"),
                ("VESTIBULE_PUBLIC_HTTPS_PORT", "443"),
                ("VESTIBULE_SECRET_KEY", &key),
                (
                    "VESTIBULE_PUBLIC_URL",
                    "https://dashboard.vestibule.example",
                ),
            ]),
        )
        .unwrap();
        let settings = config.provisioning_settings();
        assert_eq!(settings.cname_target, "edge.vestibule.example");
        assert_eq!(settings.dns_servers.len(), 2);
        assert!(settings.caa_identities.is_empty());
        assert!(settings
            .own_domains
            .contains(&"vestibule.example".to_string()));
        assert!(config.load_secret_key().is_ok());
        assert!(!config.redacted_toml().contains(&key));
        assert_eq!(config.public_https_port(), 443);
        assert_eq!(Config::default().public_https_port(), 8443);
        let error =
            Config::load(None, env(&[("VESTIBULE_DNS_SERVERS", "dns.example")])).unwrap_err();
        assert!(
            error.to_string().contains("VESTIBULE_DNS_SERVERS"),
            "{error}"
        );
        let error =
            Config::load(None, env(&[("VESTIBULE_ACME_DIRECTORY", "http://ca/dir")])).unwrap_err();
        assert!(error.to_string().contains("acme.directory"), "{error}");
    }

    #[test]
    fn a_missing_key_file_is_created_once_and_kept_private() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("keys/secret.key");
        let config = Config {
            secret_key_file: path.clone(),
            ..Config::default()
        };
        config.load_secret_key().unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        config.load_secret_key().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        }
    }

    #[test]
    fn bad_values_are_explained() {
        let error = Config::load(None, env(&[("VESTIBULE_LISTEN", "nowhere")])).unwrap_err();
        assert!(error.to_string().contains("VESTIBULE_LISTEN"), "{error}");
        let error =
            Config::load(None, env(&[("VESTIBULE_PUBLIC_URL", "dash.example.org")])).unwrap_err();
        assert!(error.to_string().contains("public_url"), "{error}");
        let error =
            Config::load(None, env(&[("VESTIBULE_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(error.to_string().contains("database_url"), "{error}");
        let error = Config::load(None, env(&[("VESTIBULE_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(
            error.to_string().contains("VESTIBULE_LOG_FORMAT"),
            "{error}"
        );
        let json = Config::load(None, env(&[("VESTIBULE_LOG_FORMAT", "json")])).unwrap();
        assert_eq!(json.log_format, LogFormat::Json);
        let error =
            Config::load(None, env(&[("VESTIBULE_SAML_CLOCK_SKEW_SECONDS", "3600")])).unwrap_err();
        assert!(
            error.to_string().contains("saml.clock_skew_seconds"),
            "{error}"
        );
        let error = Config::load(
            None,
            env(&[("VESTIBULE_SAML_REQUEST_LIFETIME_SECONDS", "0")]),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("saml.request_lifetime_seconds"),
            "{error}"
        );
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("v.toml");
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
    }
}
