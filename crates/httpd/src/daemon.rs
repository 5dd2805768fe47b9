//! The `main` of a network daemon, written once for control and the front: the `run` and
//! `sandbox-check` commands, logging, the sandbox before any thread, the runtime, the exit.
//!
//! In: the parsed [`RunArgs`] or [`SandboxCheckArgs`], and a [`Daemon`]: the binary's name,
//! how it loads its configuration and which [`Confinement`] a configuration asks for. Out:
//! a running server; `PATH: ok` for `--check-config`; one line per probe for
//! `sandbox-check`; exit code 0, or 1 with `NAME: error` on stderr. The sandbox is applied
//! before the async runtime starts any thread, so every thread inherits it.

use clap::Args;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use strongroom_sandbox::network_daemon::Confinement;

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Validate the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// Arguments of `sandbox-check`.
#[derive(Args, Debug)]
pub struct SandboxCheckArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Paths to try to open.
    #[arg(long = "probe")]
    pub probes: Vec<PathBuf>,
}

/// What a network daemon brings to the shared `main`.
#[derive(Debug)]
pub struct Daemon<C> {
    /// The binary's name, which starts its error line.
    pub name: &'static str,
    /// Reads and validates the configuration file.
    pub load: fn(&Path) -> Result<C, String>,
    /// The sandbox a configuration asks for.
    pub confinement: fn(&C) -> Confinement,
}

impl<C> Daemon<C> {
    /// Logs to stderr (`STRONGROOM_LOG`, default `info`), runs `command` and turns its
    /// result into the exit code: 0, or 1 with `NAME: error` on stderr.
    pub fn main(&self, command: impl FnOnce(&Self) -> Result<(), String>) -> ExitCode {
        init_logging();
        match command(self) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", self.name);
                ExitCode::FAILURE
            }
        }
    }

    /// `run`: loads the configuration; with `--check-config` says it is valid and stops;
    /// otherwise applies the sandbox, starts the runtime and serves until `serve` returns.
    pub fn run<F>(&self, args: &RunArgs, serve: impl FnOnce(C) -> F) -> Result<(), String>
    where
        F: Future<Output = Result<(), String>>,
    {
        let config = (self.load)(&args.config)?;
        if args.check_config {
            println!("{}: ok", args.config.display());
            return Ok(());
        }
        (self.confinement)(&config).apply()?;
        runtime()?.block_on(serve(config))
    }

    /// `sandbox-check`: applies the sandbox exactly as `run` does, then tries each probe
    /// path and an IPv4 socket and prints what happened.
    pub fn sandbox_check(&self, args: &SandboxCheckArgs) -> Result<(), String> {
        let config = (self.load)(&args.config)?;
        (self.confinement)(&config).apply()?;
        for line in strongroom_sandbox::probe(&args.probes) {
            println!("{line}");
        }
        Ok(())
    }
}

/// The multi-threaded runtime a daemon serves on (also for one-shot commands such as
/// control's `migrate`).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
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
