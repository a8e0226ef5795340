use std::net::SocketAddr;

use clap::Parser;
use imis_emulator::{Behaviour, Directory, Emulator, FailMode};

/// An iMIS stand-in for developing and testing Vestibule. Never point it at real members.
#[derive(Debug, Parser)]
#[command(name = "imis-emulator", version)]
struct Cli {
    /// Where to listen.
    #[arg(long, env = "IMIS_EMULATOR_LISTEN", default_value = "127.0.0.1:3400")]
    listen: SocketAddr,
    /// Client applications and users (TOML); see tools/imis-emulator/demo.toml.
    #[arg(
        long,
        env = "IMIS_EMULATOR_DATA",
        default_value = "tools/imis-emulator/demo.toml"
    )]
    data: String,
    /// Delay every answer by this many milliseconds.
    #[arg(long, env = "IMIS_EMULATOR_DELAY_MS", default_value_t = 0)]
    delay_ms: u64,
    /// Make calls fail with 503.
    #[arg(long, env = "IMIS_EMULATOR_FAIL", value_enum, default_value_t = FailMode::None)]
    fail: FailMode,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let directory = match Directory::load(&cli.data) {
        Ok(directory) => directory,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let emulator = Emulator::new(
        directory,
        Behaviour {
            delay_ms: cli.delay_ms,
            fail: cli.fail,
            loose_iqa: false,
        },
    );
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", cli.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("iMIS emulator: http://{}", cli.listen);
    match axum::serve(listener, emulator.router()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
