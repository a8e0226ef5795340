//! The `vestibule` command line.

use serde_json::json;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use vestibule_audit::{AuditLog, Change};

use clap::{Parser, Subcommand, ValueEnum};
use vestibule_domain::{CloudId, DomainState, Role, Tenant, Timestamp};
use vestibule_staff::generate_password;
use vestibule_storage::Store;

use vestibule_provisioning::{DomainOverview, Provisioning};
use vestibule_secrets::SecretKey;

use crate::config::Config;
use crate::operator::Listener;
use crate::tenant_edge;

#[derive(Debug, Parser)]
#[command(
    name = "vestibule",
    version,
    about = "Hosted single sign-on for member associations"
)]
pub struct Cli {
    /// Configuration file (TOML). Defaults to ./vestibule.toml when it exists.
    #[arg(long, global = true, env = "VESTIBULE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants ("Cloud IDs").
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage dashboard staff.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Manage tenants' SSO domains (what the Domain Setup page does).
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage a tenant's OpenID Connect client applications (as the OIDC Client Apps page does).
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Set up a demo tenant whose members sign in through the iMIS emulator's demo data
    /// (tools/imis-emulator/demo.toml), for trying Vestibule on this machine. Does nothing
    /// when the tenant exists.
    Demo {
        /// Where the emulator runs, e.g. http://127.0.0.1:8090.
        #[arg(long)]
        imis_url: String,
        #[arg(long, default_value = "demo")]
        cloud_id: String,
    },
    /// E-mail: what the outbox holds, and a test message through the configured SMTP server.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// The newest messages in the outbox: when, to whom, what, and how sending went.
    Outbox {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Sends a test message to an address now, through the outbox, and says how it went.
    Test { to: String },
}

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Register an application; prints its client id, its secret (once) and the discovery URL.
    Add {
        cloud_id: String,
        name: String,
        /// Exact redirect URI; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Exact address to return to after signing out; repeat for several.
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// A public application (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Enable the implicit flow (token, token id_token).
        #[arg(long)]
        implicit: bool,
        /// Enable the password grant (ROPC).
        #[arg(long)]
        password: bool,
        /// RS256, RS512 or HS512.
        #[arg(long, default_value = "RS256")]
        algorithm: String,
        /// Ask members for consent.
        #[arg(long)]
        consent: bool,
    },
    /// List a tenant's applications.
    List { cloud_id: String },
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Claim a domain for a tenant and queue provisioning; a running `vestibule serve` does
    /// the work, and `domain status` follows it.
    Provision { cloud_id: String, domain: String },
    /// Queue a failed provisioning again.
    Retry { cloud_id: String },
    /// Show a tenant's domains (the primary first), their status and the CNAME record they need.
    Status { cloud_id: String },
    /// Every claimed domain.
    List,
    /// Release one of a tenant's domains. SSO connections that use it stop working; when it was
    /// the primary, the tenant's oldest other domain becomes primary.
    Release {
        cloud_id: String,
        /// Repeat the name of the domain to release (any of the Cloud ID's) to confirm.
        #[arg(long)]
        confirm: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Add {
        /// The Cloud ID: 3-40 letters, digits and hyphens, starting with a letter.
        cloud_id: String,
        /// The association's name as staff see it.
        display_name: String,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Operator,
    TenantAdmin,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff member with a password.
    Add {
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The tenant's Cloud ID (tenant admins only).
        #[arg(long)]
        tenant: Option<String>,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a staff member's authenticator app (a lost phone, no recovery codes left): they
    /// sign in with their password alone again and are told so by e-mail.
    ResetSecondFactor { email: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it (database password hidden).
    Check,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Storage(#[from] vestibule_storage::StorageError),
    #[error(transparent)]
    Staff(#[from] vestibule_staff::StaffError),
    #[error(transparent)]
    Input(#[from] vestibule_domain::InvalidInput),
    #[error(transparent)]
    Provisioning(#[from] vestibule_provisioning::ProvisioningError),
    #[error(transparent)]
    Mail(#[from] vestibule_mail::MailError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub async fn open_store(config: &Config) -> Result<Store, CliError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Domain(command) => domain(config, command).await,
        Command::Demo { imis_url, cloud_id } => demo(config, &imis_url, &cloud_id).await,
        Command::Oidc(command) => oidc(config, command).await,
        Command::Mail(command) => mail(config, command).await,
        Command::Config(ConfigCommand::Check) => {
            println!("# configuration is valid\n{}", config.redacted_toml());
            Ok(())
        }
        Command::Tenant(TenantCommand::Add {
            cloud_id,
            display_name,
        }) => {
            let store = open_store(&config).await?;
            let cloud_id = CloudId::parse(&cloud_id)?;
            let display_name = Tenant::parse_display_name(&display_name)?;
            let tenant = store
                .create_tenant(&cloud_id, &display_name, Timestamp::now())
                .await?;
            let after = json!({ "cloud_id": cloud_id.as_str(), "display_name": display_name });
            record_change(
                &store,
                Some(tenant.id),
                vestibule_audit::AuditAction::TenantCreate,
                cloud_id.to_string(),
                after,
            )
            .await;
            println!(
                "Created tenant {} ({})",
                tenant.cloud_id, tenant.display_name
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open_store(&config).await?;
            for tenant in store.list_tenants().await? {
                println!(
                    "{}\t{}\t{}",
                    tenant.cloud_id, tenant.display_name, tenant.created_at
                );
            }
            Ok(())
        }
        Command::Staff(StaffCommand::ResetSecondFactor { email }) => {
            let store = open_store(&config).await?;
            let secret = config.load_secret_key()?;
            let accounts = crate::staff_accounts(&config, store.clone(), secret.clone());
            let staff = accounts.reset_second_factor(&email).await?;
            let actor = command_line_actor();
            let removed = vestibule_mail::SecondFactorChange::AllRemoved;
            let change = app::ssr::second_factor_audit(&staff, removed, Some(&actor));
            write_down(&store, change).await;
            if let Some(outbox) = crate::outbox(&config, store.clone(), secret)? {
                let notice = vestibule_mail::Mail::second_factor_changed(
                    staff.email.clone(),
                    removed,
                    Some(&actor),
                    config.public_origin(),
                );
                // Queued: a running server's worker sends it.
                outbox.enqueue(&notice, Timestamp::now()).await?;
            }
            println!("Removed the authenticator app and passkeys of {staff}; they sign in with their password alone until they add one again.");
            Ok(())
        }
        Command::Staff(StaffCommand::Add {
            email,
            role,
            tenant,
            password_stdin,
        }) => {
            let store = open_store(&config).await?;
            let role = match (role, tenant) {
                (RoleArg::Operator, None) => Role::Operator,
                (RoleArg::Operator, Some(_)) => {
                    return Err(CliError::Usage(
                        "operators belong to no tenant; drop --tenant".into(),
                    ))
                }
                (RoleArg::TenantAdmin, Some(cloud_id)) => {
                    let cloud_id = CloudId::parse(&cloud_id)?;
                    let tenant = store.tenant_by_cloud_id(&cloud_id).await?.ok_or_else(|| {
                        CliError::Usage(format!("no tenant has the Cloud ID {cloud_id}"))
                    })?;
                    Role::TenantAdmin(tenant.id)
                }
                (RoleArg::TenantAdmin, None) => {
                    return Err(CliError::Usage(
                        "a tenant admin needs --tenant <cloud-id>".into(),
                    ))
                }
            };
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (generate_password(), true)
            };
            let (tenant, role_name) = (role.tenant(), role.label());
            let accounts = crate::staff_accounts(&config, store.clone(), config.load_secret_key()?);
            let staff = accounts
                .add_with_password(&email, role, &password, Timestamp::now())
                .await?;
            let after = json!({ "email": staff.email.as_str(), "role": role_name });
            record_change(
                &store,
                tenant,
                vestibule_audit::AuditAction::TeamAdd,
                staff.email.to_string(),
                after,
            )
            .await;
            println!("Created {staff}");
            if generated {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
    }
}

async fn oidc(config: Config, command: OidcCommand) -> Result<(), CliError> {
    let store = open_store(&config).await?;
    let secret = config.load_secret_key()?;
    let provisioning = provisioning(&config, store.clone(), secret.clone())?;
    let engines = crate::Engines::new(&config, store.clone(), secret, provisioning);
    let clients = &engines.oidc.clients;
    let usage = |e: vestibule_oidc::OidcError| CliError::Usage(e.to_string());
    match command {
        OidcCommand::Add {
            cloud_id,
            name,
            redirect_uris,
            post_logout_uris,
            public,
            implicit,
            password,
            algorithm,
            consent,
        } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            let input = vestibule_oidc::ClientInput {
                name,
                redirect_uris,
                post_logout_redirect_uris: post_logout_uris,
                confidential: !public,
                allow_implicit: implicit,
                allow_password: password,
                algorithm,
                consent,
                ..vestibule_oidc::ClientInput::default()
            };
            let (client, shown) = clients
                .create(tenant.id, input, Timestamp::now())
                .await
                .map_err(usage)?;
            let target = format!("{} ({})", client.name, client.client_id);
            let after =
                json!({ "name": client.name, "redirect_uris": client.settings.redirect_uris });
            record_change(
                &store,
                Some(tenant.id),
                vestibule_audit::AuditAction::OidcAppCreate,
                target,
                after,
            )
            .await;
            println!("client_id: {}", client.client_id);
            if let Some(secret) = shown.client_secret {
                println!("client_secret (shown once): {secret}");
            }
            let addresses = engines.member_site(&config)?.addresses;
            let domain = engines
                .provisioning
                .overview(tenant.id)
                .await?
                .map(|overview| overview.domain.as_str().to_string());
            match addresses.origin(&tenant.cloud_id, domain.as_deref()) {
                Some(origin) => println!("discovery: {origin}{}", vestibule_oidc::paths::DISCOVERY),
                None => println!("discovery: provision the tenant's domain first"),
            }
        }
        OidcCommand::List { cloud_id } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            for client in clients.list(tenant.id).await.map_err(usage)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    client.client_id,
                    client.name,
                    client.settings.algorithm.as_str(),
                    client.settings.redirect_uris.join(" ")
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// The demo tenant: Settings that match the emulator's demo data, branding, and one member in
/// the member directory for trying the directory too.
async fn demo(mut config: Config, imis_url: &str, cloud_id: &str) -> Result<(), CliError> {
    // The demo tenant's iMIS is the emulator on this machine: saving its address needs the
    // development network rule (a server reaching it needs the same setting, as run-local sets).
    config.members.imis_private_network = true;
    let store = open_store(&config).await?;
    let cloud_id = CloudId::parse(cloud_id)?;
    if store.tenant_by_cloud_id(&cloud_id).await?.is_some() {
        // Whatever was changed on the demo tenant since stays as it is.
        println!("Demo tenant {cloud_id} exists; its Settings and members are left as they are.");
        store.close().await;
        return Ok(());
    }
    let tenant = store
        .create_tenant(&cloud_id, "Demo Association", Timestamp::now())
        .await?;
    let secret = config.load_secret_key()?;
    let provisioning = provisioning(&config, store.clone(), secret.clone())?;
    let engines = crate::Engines::new(&config, store.clone(), secret, provisioning);
    let input = vestibule_settings::SettingsInput {
        imis_base_url: imis_url.to_string(),
        oidc_client_id: "vestibule-oidc".into(),
        oidc_client_secret: "demo-oidc-secret".into(),
        oidc_sso_page: "/sso/oidc".into(),
        saml_client_id: "vestibule-saml".into(),
        saml_client_secret: "demo-saml-secret".into(),
        saml_sso_page: "/sso/saml".into(),
        api_username: "vestibule-api".into(),
        api_password: "demo-api-password".into(),
        profile_iqa: "$/Vestibule/MemberProfile".into(),
        brand_name: "Demo Association".into(),
        brand_colour: "#7a1f5c".into(),
        sign_in_text: "Members of the Demo Association sign in here for events, learning and \
                       the community."
            .into(),
        support_contact: "membership@demo.example".into(),
        identity_source: "imis".into(),
        // The emulator's home page, where a signed-in member signs out of "iMIS".
        imis_sign_out_url: "/".into(),
    };
    engines
        .settings
        .save(tenant.id, input, Timestamp::now())
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let added = engines
        .members
        .add_directory_member(
            tenant.id,
            vestibule_members::NewDirectoryMember {
                username: "demo.member".into(),
                email: "demo.member@demo.example".into(),
                given_name: "Demo".into(),
                family_name: "Member".into(),
                password: "demo-member-password".into(),
            },
            Timestamp::now(),
        )
        .await;
    if let Err(error) = added {
        return Err(CliError::Usage(error.to_string()));
    }
    println!("Demo tenant {cloud_id} signs members in through the iMIS at {imis_url}.");
    store.close().await;
    Ok(())
}

fn read_password_line() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn tenant_by_cloud_id(store: &Store, cloud_id: &str) -> Result<Tenant, CliError> {
    let cloud_id = CloudId::parse(cloud_id)?;
    store
        .tenant_by_cloud_id(&cloud_id)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no tenant has the Cloud ID {cloud_id}")))
}

fn provisioning(
    config: &Config,
    store: Store,
    secret: SecretKey,
) -> Result<Provisioning, CliError> {
    Ok(Provisioning::new(
        config.provisioning_settings(),
        store,
        secret,
    )?)
}

async fn domain(config: Config, command: DomainCommand) -> Result<(), CliError> {
    let store = open_store(&config).await?;
    let engine = provisioning(&config, store.clone(), config.load_secret_key()?)?;
    let print = |overview: &DomainOverview, target: &str| {
        let record = &overview.record;
        println!(
            "Domain:  {} ({})",
            overview.domain.to_unicode(),
            overview.domain
        );
        println!("Status:  {}", record.state);
        // The step says where a job is, or where it stopped; a provisioned domain has none.
        match record.state {
            DomainState::Provisioning => println!("Step:    {}", record.phase.label()),
            DomainState::Failed => println!("Stopped: at {}", record.phase.label()),
            DomainState::Online | DomainState::Offline => {}
        }
        if !record.message.is_empty() {
            println!("Note:    {}", record.message);
        }
        if !record.check_message.is_empty() {
            println!("Check:   {}", record.check_message);
        }
        if let Some(expires) = overview.certificate_expires {
            println!("Expires: {}", expires.to_utc_string());
        }
        println!("CNAME:   {} -> {}", overview.domain, target);
    };
    match command {
        DomainCommand::Provision { cloud_id, domain } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            let overview = engine.start(tenant.id, &domain, Timestamp::now()).await?;
            let name = overview.domain.as_str().to_string();
            let after = json!({ "domain": name, "state": overview.record.state.as_str() });
            record_change(
                &store,
                Some(tenant.id),
                vestibule_audit::AuditAction::DomainProvision,
                name,
                after,
            )
            .await;
            print(&overview, &engine.cname_target(tenant.id).await?);
            println!("Queued: a running `vestibule serve` provisions it.");
        }
        DomainCommand::Retry { cloud_id } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            let overview = engine.retry(tenant.id, None, Timestamp::now()).await?;
            let name = overview.domain.as_str().to_string();
            let after = json!({ "domain": name, "state": overview.record.state.as_str() });
            record_change(
                &store,
                Some(tenant.id),
                vestibule_audit::AuditAction::DomainRetry,
                name,
                after,
            )
            .await;
            print(&overview, &engine.cname_target(tenant.id).await?);
        }
        DomainCommand::Status { cloud_id } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            let domains = engine.domains(tenant.id).await?;
            if domains.is_empty() {
                println!(
                    "Status:  Not Provisioned\nCNAME:   <your SSO domain> -> {}",
                    engine.cname_target(tenant.id).await?
                );
            }
            // The primary first, then the others, a blank line between.
            for (position, overview) in domains.iter().enumerate() {
                if position > 0 {
                    println!();
                }
                print(overview, &engine.cname_target(tenant.id).await?);
            }
        }
        DomainCommand::List => {
            for tenant in store.list_tenants().await? {
                for overview in engine.domains(tenant.id).await? {
                    let role = if overview.record.is_primary {
                        "primary"
                    } else {
                        "other"
                    };
                    println!(
                        "{}\t{}\t{}\t{role}",
                        tenant.cloud_id, overview.domain, overview.record.state
                    );
                }
            }
        }
        DomainCommand::Release { cloud_id, confirm } => {
            let tenant = tenant_by_cloud_id(&store, &cloud_id).await?;
            let domains = engine.domains(tenant.id).await?;
            if domains.is_empty() {
                return Err(vestibule_provisioning::ProvisioningError::NoDomain.into());
            }
            // --confirm names the domain to release: any of the Cloud ID's.
            let confirm = confirm.trim().trim_end_matches('.').to_lowercase();
            let Some(overview) = domains.iter().find(|overview| {
                confirm == overview.domain.as_str() || confirm == overview.domain.to_unicode()
            }) else {
                let names: Vec<String> = domains.iter().map(|d| d.domain.to_string()).collect();
                return Err(CliError::Usage(format!(
                    "--confirm must repeat the name of the domain to release ({})",
                    names.join(", ")
                )));
            };
            let released = engine
                .release(tenant.id, Some(overview.domain.as_str()))
                .await?;
            let change = Change {
                tenant: Some(tenant.id),
                actor: &command_line_actor(),
                action: vestibule_audit::AuditAction::DomainRelease,
                target: released.as_str().to_string(),
                before: Some(json!({ "domain": released.as_str() })),
                after: None,
            };
            write_down(&store, change).await;
            println!("Released {released}. SSO connections that used it no longer work.");
            // Read after the release: what it leaves without a domain is what the operator
            // needs to hear about. The apps' settings are read, never a secret.
            let oidc = vestibule_oidc::OidcClients::new(store.clone(), config.load_secret_key()?);
            let saml = vestibule_saml::SamlApps::new(store.clone());
            let stranded = app::ssr::apps_bound_to(&oidc, &saml, tenant.id, released.as_str())
                .await
                .map_err(|e| CliError::Usage(format!("the apps on {released}: {e}")))?;
            if !stranded.is_empty() {
                println!(
                    "These apps were used on it and are refused on every domain until an admin \
                     chooses another on their edit page: {}",
                    stranded.join(", ")
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Who made a change from the command line, as the audit log names them.
fn command_line_actor() -> String {
    let user = std::env::var("USER").unwrap_or_default();
    if user.is_empty() {
        "command line".to_string()
    } else {
        format!("command line ({user})")
    }
}

/// Writes a creation made from the command line to the audit log, as the dashboard writes its
/// own. A failure to write it is reported and does not undo the change.
async fn record_change(
    store: &Store,
    tenant: Option<vestibule_domain::TenantId>,
    action: vestibule_audit::AuditAction,
    target: String,
    after: serde_json::Value,
) {
    let change = Change {
        tenant,
        actor: &command_line_actor(),
        action,
        target,
        before: None,
        after: Some(after),
    };
    write_down(store, change).await;
}

async fn write_down(store: &Store, change: Change<'_>) {
    let action = change.action.to_string();
    if let Err(error) = AuditLog::new(store.clone())
        .record(change, Timestamp::now())
        .await
    {
        eprintln!("warning: the audit log did not record {action}: {error}");
    }
}

async fn mail(config: Config, command: MailCommand) -> Result<(), CliError> {
    let store = open_store(&config).await?;
    let secret = config.load_secret_key()?;
    let Some(outbox) = crate::outbox(&config, store.clone(), secret)? else {
        return Err(CliError::Usage(
            "e-mail is off: set mail.smtp_host and mail.from_address (docs/deploy.md)".to_string(),
        ));
    };
    match command {
        MailCommand::Outbox { limit } => {
            for message in outbox.recent(limit).await? {
                let kind = vestibule_mail::MailKind::parse(&message.kind)
                    .map_or(message.kind.clone(), |kind| kind.label().to_string());
                let state = match message.state.as_str() {
                    "pending" if message.attempts > 0 => format!(
                        "retrying ({} attempts, next {})",
                        message.attempts,
                        message.next_attempt_at.to_utc_string()
                    ),
                    other => other.to_string(),
                };
                println!(
                    "{}  {}  {kind}  {state}",
                    message.created_at.to_utc_string(),
                    message.recipient
                );
                if !message.last_error.is_empty() {
                    println!("    {}", message.last_error);
                }
            }
        }
        MailCommand::Test { to } => {
            let to = vestibule_domain::Email::parse(&to)?;
            let now = Timestamp::now();
            outbox
                .enqueue(&vestibule_mail::Mail::test(to.clone()), now)
                .await?;
            let delivered = outbox.deliver_due(now).await?;
            if delivered.sent > 0 {
                println!("sent a test message to {to}");
            } else {
                let last = outbox.recent(1).await?;
                let why = last.first().map_or("", |m| m.last_error.as_str());
                return Err(CliError::Usage(format!(
                    "the test message to {to} was not sent: {why}"
                )));
            }
        }
    }
    Ok(())
}

async fn serve(config: Config) -> Result<(), CliError> {
    let store = open_store(&config).await?;
    // Read (or, on first start, create) the key once; every engine seals with it.
    let secret = config.load_secret_key()?;
    let provisioning = provisioning(&config, store.clone(), secret.clone())?;
    let mut engines =
        crate::Engines::new(&config, store.clone(), secret.clone(), provisioning.clone());
    engines.mail = crate::outbox(&config, store.clone(), secret)?;
    match &engines.mail {
        Some(outbox) => {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.run(std::time::Duration::from_secs(15)).await });
            tracing::info!(host = %config.mail.smtp_host, "e-mail on: invitations and password resets are sent");
        }
        None => {
            tracing::info!("e-mail off (no mail.smtp_host): setup links are handed over by hand")
        }
    }
    let accounts = engines.accounts.clone();
    if let Some(token) = accounts.first_operator_link(Timestamp::now()).await? {
        println!(
            "\nNo staff account exists yet. Open this one-time link to create the first operator:\n\n    {}/setup?token={token}\n\nThe link works once and expires in {} hours; restarting prints a new one.\n",
            config.public_origin(),
            config.sessions.setup_link_hours
        );
    }
    spawn_session_sweeper(accounts);
    spawn_member_session_sweeper(engines.members.clone());
    spawn_grant_sweeper(engines.oidc.grants.clone());
    spawn_recorder_sweeper(engines.recorder.clone());
    crate::metadata_refresh::spawn(
        engines.saml.clone(),
        engines.settings.clone(),
        engines.audit.clone(),
    );
    let site = engines.member_site(&config)?;
    let metrics = crate::operator::Metrics::default();
    engines.members.observe_sign_ins(metrics.sign_in_observer());
    provisioning.observe_orders(metrics.order_observer());
    if let Some(outbox) = engines.mail.clone() {
        let dashboard = config.public_origin().to_string();
        provisioning.warn_of_failed_renewals(crate::warnings::renewal_warner(
            store.clone(),
            outbox.clone(),
            dashboard.clone(),
        ));
        crate::warnings::spawn_saml_app_warnings(
            store.clone(),
            engines.saml.clone(),
            outbox.clone(),
            dashboard.clone(),
        );
        engines
            .members
            .observe_imis_trouble(crate::warnings::imis_trouble_observer(
                store.clone(),
                outbox,
                dashboard,
            ));
    }
    let operator = tokio::net::TcpListener::bind(config.operator_listen).await?;
    let operator_router = crate::operator::operator_router(metrics.clone(), store.clone());
    tokio::spawn(crate::listen::serve(
        operator,
        operator_router,
        crate::listen::Front::default(),
        std::future::pending(),
    ));
    tracing::info!(listen = %config.operator_listen, "operator endpoints listening (/metrics, /healthz, /readyz)");
    let plain = tokio::net::TcpListener::bind(config.edge.http_listen).await?;
    let https = tokio::net::TcpListener::bind(config.edge.https_listen).await?;
    let https_port = config.public_https_port();
    tokio::spawn(provisioning.clone().run_background());
    let plain_router = metrics.track(
        Listener::Edge,
        tenant_edge::plain_http_router(provisioning.clone(), https_port, site.clone()),
    );
    let edge_front = config.edge_front()?;
    tokio::spawn(crate::listen::serve(
        plain,
        plain_router,
        edge_front.clone(),
        std::future::pending(),
    ));
    tokio::spawn(tenant_edge::serve_https(
        https,
        provisioning.clone(),
        metrics.track(Listener::Edge, crate::member_site::https_router(site)),
        edge_front,
    ));
    tracing::info!(http = %config.edge.http_listen, https = %config.edge.https_listen, cname_target = %config.edge.cname_target, "tenant edge listening");
    for (name, cloud_id) in config.test_domains()? {
        println!(
            "Test domain for {cloud_id}: http://{name}:{}/",
            config.edge.http_listen.port()
        );
    }

    let router = metrics.track(
        Listener::Dashboard,
        crate::dashboard_router(&config, &engines)?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "dashboard listening");
    println!("Cloud Dashboard: {}", config.public_origin());
    crate::listen::serve(
        listener,
        router,
        config.dashboard_front()?,
        shutdown_signal(),
    )
    .await?;
    store.close().await;
    Ok(())
}

/// Deletes OIDC codes and access tokens long past their expiry every ten minutes.
fn spawn_grant_sweeper(grants: vestibule_oidc::Grants) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = grants.sweep(Timestamp::now()).await {
                tracing::warn!(%error, "sweeping expired codes and tokens failed");
            }
        }
    });
}

/// Empties the flight recorder's full details once their day is up, every ten minutes (reading
/// hides them at once; this deletes them).
fn spawn_recorder_sweeper(recorder: vestibule_recorder::FlightRecorder) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = recorder.forget_expired_details(Timestamp::now()).await {
                tracing::warn!(%error, "emptying the flight recorder's old details failed");
            }
        }
    });
}

/// Deletes members' expired sessions every ten minutes.
fn spawn_member_session_sweeper(members: vestibule_members::Members) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = members.delete_stale_sessions(Timestamp::now()).await {
                tracing::warn!(%error, "member session sweep failed");
            }
        }
    });
}

/// Deletes expired sessions every ten minutes so the table does not grow without bound.
fn spawn_session_sweeper(accounts: vestibule_staff::StaffAccounts) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = accounts.sweep_sessions(Timestamp::now()).await {
                tracing::warn!(%error, "session sweep failed");
            }
        }
    });
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
