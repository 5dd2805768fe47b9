//! `strongroom-front`: `run` serves OCSP and CRLs; `sandbox-check` applies the production
//! sandbox and reports what it allows.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, or exit
//! code 0 / 1 with a one-line error on stderr. The sandbox is applied before the async
//! runtime starts any thread.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use strongroom_front::Config;

#[derive(Parser)]
#[command(
    name = "strongroom-front",
    version,
    about = "Strongroom front: OCSP and CRLs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve.
    Run {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Validate the configuration and exit.
        #[arg(long)]
        check_config: bool,
    },
    /// Apply the sandbox as `run` does, then try each probe path and an IPv4 socket.
    SandboxCheck {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Paths to try to open.
        #[arg(long = "probe")]
        probes: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let result = match cli.command {
        Command::Run {
            config,
            check_config,
        } => Config::load(&config).and_then(|c| {
            if check_config {
                println!("{}: ok", config.display());
                return Ok(());
            }
            c.confinement().apply()?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?
                .block_on(strongroom_front::server::run(c))
        }),
        Command::SandboxCheck { config, probes } => Config::load(&config).and_then(|c| {
            c.confinement().apply()?;
            for line in strongroom_sandbox::probe(&probes) {
                println!("{line}");
            }
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-front: {e}");
            ExitCode::FAILURE
        }
    }
}
