#![recursion_limit = "256"]
//! The `vestibule` server: configuration, wiring and the HTTP edge of the Cloud Dashboard.

pub mod cli;
pub mod client_address;
pub mod config;
mod cookies;
mod dashboard;
pub mod listen;
pub mod member_site;
pub mod metadata_refresh;
pub mod operator;
mod security_headers;
pub mod tenant_edge;
pub mod warnings;

use std::sync::Arc;

use app::ssr::DashboardState;
use app::{shell, App};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use member_site::{MemberSite, SiteAddresses, TestDomains};
use vestibule_audit::AuditLog;
use vestibule_domain::CloudId;
use vestibule_mail::{Outbox, OutboxPolicy, SmtpSender};
use vestibule_members::Members;
use vestibule_oidc::{Authorizer, Consents, Grants, KeyPolicy, OidcClients, SigningKeys};
use vestibule_provisioning::Provisioning;
use vestibule_recorder::FlightRecorder;
use vestibule_saml::SamlIdp;
use vestibule_secrets::SecretKey;
use vestibule_settings::TenantSettings;
use vestibule_staff::{PasswordHasher, StaffAccounts};
use vestibule_storage::Store;

pub use config::{Config, ConfigError};

/// The engines every listener shares, built once by `serve` (and by tests).
#[derive(Clone)]
pub struct Engines {
    pub store: Store,
    pub accounts: StaffAccounts,
    pub provisioning: Provisioning,
    pub settings: TenantSettings,
    pub members: Members,
    pub oidc: OidcEngines,
    pub saml: SamlIdp,
    pub audit: AuditLog,
    /// Each app's latest protocol exchanges, for its admins.
    pub recorder: FlightRecorder,
    /// The installation's key, for what the dashboard hands the member site (test sign-ins).
    pub secret: SecretKey,
    /// E-mail, when an SMTP server is configured: set by `serve` (see [`outbox`]) and by the
    /// tests that read what was sent.
    pub mail: Option<Outbox>,
}

/// The outbox for `config`'s SMTP server, or `None` when it names none. `node` tells this
/// server's leases apart from other nodes'.
pub fn outbox(
    config: &Config,
    store: Store,
    secret: SecretKey,
) -> Result<Option<Outbox>, ConfigError> {
    let Some(settings) = config.smtp_settings()? else {
        return Ok(None);
    };
    let sender = SmtpSender::new(&settings).map_err(|error| ConfigError::Invalid {
        setting: "mail",
        message: error.to_string(),
    })?;
    let node = format!("node-{}", &vestibule_secrets::token::random_token()[..12]);
    Ok(Some(Outbox::new(
        store,
        secret,
        sender,
        node,
        OutboxPolicy::default(),
    )))
}

/// The OpenID Connect provider's engines.
#[derive(Clone)]
pub struct OidcEngines {
    pub clients: OidcClients,
    pub keys: SigningKeys,
    pub grants: Grants,
    pub consents: Consents,
    /// The authorization endpoint's decisions.
    pub authorizer: Authorizer,
}

impl Engines {
    /// The engines for `config`, with production password hashing.
    pub fn new(
        config: &Config,
        store: Store,
        secret: SecretKey,
        provisioning: Provisioning,
    ) -> Self {
        Self::with_hasher(
            config,
            store,
            secret,
            provisioning,
            PasswordHasher::default(),
        )
    }

    /// The engines with the given password hashing (tests use cheap parameters).
    pub fn with_hasher(
        config: &Config,
        store: Store,
        secret: SecretKey,
        provisioning: Provisioning,
        hasher: PasswordHasher,
    ) -> Self {
        let clients = OidcClients::new(store.clone(), secret.clone());
        let keys = SigningKeys::new(store.clone(), secret.clone(), KeyPolicy::default());
        let consents = Consents::new(store.clone());
        let oidc = OidcEngines {
            grants: Grants::new(store.clone(), keys.clone(), clients.clone()),
            authorizer: Authorizer::new(clients.clone(), consents.clone()),
            consents,
            clients,
            keys,
        };
        let saml = SamlIdp::new(store.clone(), secret.clone(), config.saml_policy());
        let network = if config.members.imis_private_network {
            vestibule_imis::Network::Development
        } else {
            vestibule_imis::Network::PublicOnly
        };
        let accounts = StaffAccounts::new(store.clone(), hasher.clone(), config.staff_policy())
            .with_secret_key(secret.clone())
            .with_passkeys(&config.public_url);
        let recorder = FlightRecorder::new(store.clone(), secret.clone());
        let settings = TenantSettings::new(
            store.clone(),
            secret.clone(),
            config.imis_timeout(),
            network,
        );
        let members = Members::new(
            store.clone(),
            settings.clone(),
            hasher.clone(),
            config.member_policy(),
        );
        Self {
            accounts,
            audit: AuditLog::new(store.clone()),
            recorder,
            secret,
            store,
            provisioning,
            settings,
            members,
            oidc,
            saml,
            mail: None,
        }
    }

    /// What the tenant-domain listeners serve members.
    pub fn member_site(&self, config: &Config) -> Result<MemberSite, ConfigError> {
        Ok(MemberSite {
            store: self.store.clone(),
            members: self.members.clone(),
            settings: self.settings.clone(),
            oidc: self.oidc.clone(),
            saml: self.saml.clone(),
            audit: self.audit.clone(),
            recorder: self.recorder.clone(),
            secret: self.secret.clone(),
            mail: self.mail.clone(),
            addresses: site_addresses(config)?,
            recent_tenants: Arc::default(),
        })
    }
}

fn site_addresses(config: &Config) -> Result<SiteAddresses, ConfigError> {
    Ok(SiteAddresses {
        test_domains: Arc::new(TestDomains::new(config.test_domains()?)),
        http_port: config.edge.http_listen.port(),
        https_port: config.public_https_port(),
    })
}

/// Builds the dashboard's router. Tests drive it with `oneshot`; `serve` puts it on a socket.
pub fn dashboard_router(config: &Config, engines: &Engines) -> Result<Router, ConfigError> {
    let options = leptos_options(config);
    let addresses = site_addresses(config)?;
    let state = DashboardState {
        accounts: engines.accounts.clone(),
        provisioning: engines.provisioning.clone(),
        settings: engines.settings.clone(),
        members: engines.members.clone(),
        oidc_clients: engines.oidc.clients.clone(),
        oidc_keys: engines.oidc.keys.clone(),
        saml: engines.saml.clone(),
        audit: engines.audit.clone(),
        recorder: engines.recorder.clone(),
        secret_key: engines.secret.clone(),
        mail: engines.mail.clone(),
        public_url: config.public_origin().to_string(),
        member_site_origin: Arc::new(move |cloud_id: &CloudId, domain: Option<&str>| {
            addresses.origin(cloud_id, domain)
        }),
    };
    let routes = generate_route_list(App);
    let router = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .merge(dashboard::assets::router(&config.site_root))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .merge(dashboard::logo_upload::router(
            engines.clone(),
            state.session_cookie_name(),
        ))
        .merge(dashboard::audit_export::router(
            engines.clone(),
            state.session_cookie_name(),
        ));
    Ok(dashboard::harden::harden(
        router,
        Arc::from(config.public_origin()),
        state.secure_cookies(),
    ))
}

/// The account engine with production password hashing.
pub fn staff_accounts(config: &Config, store: Store, secret: SecretKey) -> StaffAccounts {
    StaffAccounts::new(store, PasswordHasher::default(), config.staff_policy())
        .with_secret_key(secret)
        .with_passkeys(&config.public_url)
}

fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(dashboard::assets::output_name(&config.site_root))
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}
