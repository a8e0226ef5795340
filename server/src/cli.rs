//! The `vestibule` command line.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use vestibule_domain::{CloudId, Role, Tenant, Timestamp};
use vestibule_staff::generate_password;
use vestibule_storage::Store;

use crate::config::Config;

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
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
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
            let accounts = crate::staff_accounts(&config, store);
            let staff = accounts
                .add_with_password(&email, role, &password, Timestamp::now())
                .await?;
            println!("Created {staff}");
            if generated {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
    }
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

async fn serve(config: Config) -> Result<(), CliError> {
    let store = open_store(&config).await?;
    let accounts = crate::staff_accounts(&config, store.clone());
    if let Some(token) = accounts.first_operator_link(Timestamp::now()).await? {
        println!(
            "\nNo staff account exists yet. Open this one-time link to create the first operator:\n\n    {}/setup?token={token}\n\nThe link works once and expires in {} hours; restarting prints a new one.\n",
            config.public_origin(),
            config.sessions.setup_link_hours
        );
    }
    spawn_session_sweeper(accounts.clone());

    let router = crate::dashboard_router(&config, accounts);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "dashboard listening");
    println!("Cloud Dashboard: {}", config.public_origin());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    store.close().await;
    Ok(())
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
