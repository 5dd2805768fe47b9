//! `strongroom`: run the appliance for development (`up`) and talk to the signer.
//!
//! In: command-line arguments. Out: running daemons, or the answer of one signer
//! operation; exit code 0 on success, 1 with a one-line error on stderr, 2 for usage.
//! This crate never links the HSM: ceremonies run in `strongroom-signer`, by exec.

mod devtoken;
mod pem;
mod signer_cmd;
mod up;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Strongroom certificate authority"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Strongroom with embedded defaults in DIR: a private SoftHSM2 token, a root and
    /// an issuing CA (first run only), and the daemons. Ctrl-C stops everything.
    Up(up::UpArgs),
    /// Talk to the signer socket directly (development and break-glass use).
    Signer(signer_cmd::SignerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Signer(args) => signer_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom: {e}");
            ExitCode::FAILURE
        }
    }
}
