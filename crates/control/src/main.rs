//! `strongroom-control`: `run` serves the REST API; `migrate` brings the database schema
//! up to date and exits.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, or exit
//! code 0 / 1 with a one-line error on stderr. The sandbox (privilege drop, no core
//! dumps, no_new_privs, Landlock) is applied before the async runtime starts any thread;
//! `run` and `sandbox-check` are the shared daemon `main` ([`strongroom_httpd::daemon`]).

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use strongroom_control::Config;
use strongroom_httpd::daemon::{runtime, Daemon, RunArgs, SandboxCheckArgs};

const CONTROL: Daemon<Config> = Daemon {
    name: "strongroom-control",
    load: Config::load,
    confinement: strongroom_control::sandbox::confinement,
};

#[derive(Parser)]
#[command(name = "strongroom-control", version, about = "Strongroom control API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API.
    Run(RunArgs),
    /// Apply the sandbox exactly as `run` does, then try to open each probe path and an IPv4
    /// socket, and print what happened (for operators and tests).
    SandboxCheck(SandboxCheckArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    CONTROL.main(|control| match cli.command {
        Command::Run(args) => control.run(&args, strongroom_control::server::run),
        Command::SandboxCheck(args) => control.sandbox_check(&args),
        Command::Migrate {
            config,
            owner_url,
            roles,
        } => migrate(&config, owner_url, roles),
    })
}

/// `migrate`: the schema up to date, and with `roles` the PostgreSQL roles and grants.
fn migrate(config: &Path, owner_url: Option<String>, roles: bool) -> Result<(), String> {
    let c = Config::load(config)?;
    let url = match owner_url {
        Some(u) => u,
        None => c.database()?.url()?,
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
}
