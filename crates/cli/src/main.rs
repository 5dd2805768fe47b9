//! `strongroom`: run the appliance for development (`up`) and talk to the signer.
//!
//! In: command-line arguments. Out: running daemons, or the answer of one signer
//! operation; exit code 0 on success, 1 with a one-line error on stderr, 2 for usage.
//! This crate never links the HSM: ceremonies run in `strongroom-signer`, by exec.

mod acme_cmd;
mod api_cmd;
mod apikey_cmd;
mod approval_cmd;
mod audit_cmd;
mod audit_verify;
mod ca_cmd;
mod cert_cmd;
mod client;
mod devtoken;
mod est_cmd;
mod output;
mod pem;
mod profile_cmd;
mod scep_cmd;
mod signer_cmd;
mod totp_cmd;
mod up;
mod user_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Every command, for the top-level help and the API commands, which take the control
/// API's connection options anywhere on the line.
#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Strongroom certificate authority"
)]
struct Cli {
    #[command(flatten)]
    connection: client::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Local(LocalCommand),
    #[command(flatten)]
    Api(api_cmd::ApiCommand),
}

/// The commands that do not talk to the control API, parsed without its connection
/// options: `strongroom up --help` lists only what `up` takes.
#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Strongroom certificate authority"
)]
struct LocalCli {
    #[command(subcommand)]
    command: LocalCommand,
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Run Strongroom with embedded defaults in DIR: a private SoftHSM2 token, a root and
    /// an issuing CA (first run only), and the daemons. Ctrl-C stops everything.
    Up(up::UpArgs),
    /// Talk to the signer socket directly (development and break-glass use).
    Signer(signer_cmd::SignerArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn run_local(command: LocalCommand) -> Result<(), client::Failure> {
    match command {
        LocalCommand::Up(args) => up::run(args).map_err(client::Failure::local),
        LocalCommand::Signer(args) => signer_cmd::run(args).map_err(client::Failure::local),
        LocalCommand::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "strongroom",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let local = matches!(
        std::env::args().nth(1).as_deref(),
        Some("up" | "signer" | "completions")
    );
    let result = if local {
        run_local(LocalCli::parse().command)
    } else {
        let cli = Cli::parse();
        match cli.command {
            Command::Local(c) => run_local(c),
            Command::Api(cmd) => api_cmd::run(cmd, &cli.connection),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("strongroom: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
