//! `strongroom-control`: `run` serves the REST API; `migrate` brings the database schema
//! up to date and exits.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, or exit
//! code 0 / 1 with a one-line error on stderr. The sandbox (privilege drop, no core
//! dumps, no_new_privs, Landlock) is applied before the async runtime starts any thread.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use strongroom_control::Config;

#[derive(Parser)]
#[command(name = "strongroom-control", version, about = "Strongroom control API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API.
    Run {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Validate the configuration and exit.
        #[arg(long)]
        check_config: bool,
    },
    /// Apply the sandbox exactly as `run` does, then try to open each probe path and an IPv4
    /// socket, and print what happened (for operators and tests).
    SandboxCheck {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Paths to try to open.
        #[arg(long = "probe")]
        probes: Vec<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// Configuration file (its database URL is used).
        #[arg(long)]
        config: PathBuf,
        /// Database URL of the schema owner (default: the configuration's); the daemons
        /// then run with their own narrow roles.
        #[arg(long, env = "STRONGROOM_OWNER_DATABASE_URL", hide_env_values = true)]
        owner_url: Option<String>,
        /// Also create the per-daemon PostgreSQL roles and grants (migrations/postgres/roles.sql).
        #[arg(long)]
        roles: bool,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run {
            config,
            check_config,
        } => Config::load(&config).and_then(|c| {
            if check_config {
                println!("{}: ok", config.display());
                return Ok(());
            }
            strongroom_control::sandbox::apply(&config, &c)?;
            runtime()?.block_on(strongroom_control::server::run(c))
        }),
        Command::SandboxCheck { config, probes } => Config::load(&config).and_then(|c| {
            strongroom_control::sandbox::apply(&config, &c)?;
            for line in strongroom_sandbox::probe(&probes) {
                println!("{line}");
            }
            Ok(())
        }),
        Command::Migrate {
            config,
            owner_url,
            roles,
        } => Config::load(&config).and_then(|c| {
            let url = match owner_url {
                Some(u) => u,
                None => c.database_url()?,
            };
            runtime()?.block_on(async {
                let store = strongroom_store::Store::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("database schema is up to date ({:?})", store.backend());
                if roles {
                    store
                        .apply_postgres_roles()
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("roles strongroom_control and strongroom_front granted");
                }
                store.close().await;
                Ok(())
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-control: {e}");
            ExitCode::FAILURE
        }
    }
}
