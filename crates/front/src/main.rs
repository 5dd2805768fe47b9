//! `strongroom-front`: `run` serves OCSP and CRLs; `sandbox-check` applies the production
//! sandbox and reports what it allows.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, or exit
//! code 0 / 1 with a one-line error on stderr. The sandbox is applied before the async
//! runtime starts any thread; both commands are the shared daemon `main`
//! ([`strongroom_httpd::daemon`]).

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use strongroom_front::Config;
use strongroom_httpd::daemon::{Daemon, RunArgs, SandboxCheckArgs};

const FRONT: Daemon<Config> = Daemon {
    name: "strongroom-front",
    load: Config::load,
    confinement: Config::confinement,
};

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
    Run(RunArgs),
    /// Apply the sandbox as `run` does, then try each probe path and an IPv4 socket.
    SandboxCheck(SandboxCheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    FRONT.main(|front| match cli.command {
        Command::Run(args) => front.run(&args, strongroom_front::server::run),
        Command::SandboxCheck(args) => front.sandbox_check(&args),
    })
}
