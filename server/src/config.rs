//! Vestibule's configuration: one typed file (TOML) plus `VESTIBULE_*` environment overrides.
//!
//! Every setting has a default that runs a single node on SQLite; `vestibule config check`
//! prints the effective configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vestibule_domain::Seconds;
use vestibule_staff::Policy;

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
    /// The URL people use to reach the dashboard; decides cookie security and setup links.
    pub public_url: String,
    /// Folder with the compiled front-end (`pkg/`) and public assets, written by cargo-leptos.
    pub site_root: PathBuf,
    /// `tracing` filter, e.g. `info` or `vestibule=debug,info`.
    pub log: String,
    pub sessions: SessionConfig,
    pub sign_in_limits: SignInLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
    pub setup_link_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignInLimits {
    pub per_account: i64,
    pub per_address: i64,
    pub window_minutes: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/vestibule.db".to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: "http://127.0.0.1:3000".to_string(),
            site_root: PathBuf::from("target/site"),
            log: "info".to_string(),
            sessions: SessionConfig::default(),
            sign_in_limits: SignInLimits::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
            setup_link_hours: 72,
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
        for (setting, value) in positive {
            if value <= 0 {
                return invalid(setting, "must be greater than zero");
            }
        }
        Ok(())
    }

    /// The public URL without a trailing slash.
    pub fn public_origin(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    pub fn staff_policy(&self) -> Policy {
        Policy {
            idle_timeout: Seconds::minutes(self.sessions.idle_minutes),
            absolute_timeout: Seconds::hours(self.sessions.absolute_hours),
            setup_link_lifetime: Seconds::hours(self.sessions.setup_link_hours),
            failures_per_account: self.sign_in_limits.per_account,
            failures_per_address: self.sign_in_limits.per_address,
            failure_window: Seconds::minutes(self.sign_in_limits.window_minutes),
        }
    }

    /// The effective configuration as TOML, with the database password hidden.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url_password(&shown.database_url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
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
        assert!(!shown.contains("secret"));
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
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("v.toml");
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
    }
}
