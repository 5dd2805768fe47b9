//! `strongroom-signer`: run the signer, run a key ceremony, verify the journal.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, a new
//! CA, or a verdict on the journal; exit code 0 on success, 1 with a one-line error.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use strongroom_hsm::{Hsm, HsmConfig, Pin};
use strongroom_signer::ceremony::{self, CeremonyFile};
use strongroom_signer::config::SignerConfig;
use strongroom_signer::dispatch::Signer;
use strongroom_signer::entropy::SystemEntropy;
use strongroom_signer::hsm_signer::HsmHandle;
use strongroom_signer::journal;
use strongroom_signer::peer::{own_uid, PeerGate};
use strongroom_signer::preflight::{self, PeerUidView};
use strongroom_signer::server;
use strongroom_signer::state::StateDir;
use strongroom_signer::Error;
use strongroom_types::clock::SystemClock;

#[derive(Parser)]
#[command(
    name = "strongroom-signer",
    version,
    about = "Strongroom's key-holding signer daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signer daemon.
    Run {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Only validate the configuration (and the PIN file) and exit.
        #[arg(long)]
        check_config: bool,
    },
    /// Create a root or intermediate CA from a ceremony file (the signer must be stopped).
    Ceremony {
        /// Signer configuration (for the HSM and the state directory).
        #[arg(long)]
        config: PathBuf,
        /// Ceremony file (TOML).
        #[arg(long)]
        file: PathBuf,
    },
    /// Apply the sandbox of `run` and report what it denies (an IPv4 socket, the paths
    /// given with --probe). For operators and tests.
    SandboxCheck {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Paths to try to open after the sandbox is applied.
        #[arg(long = "probe")]
        probes: Vec<PathBuf>,
    },
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Verify the whole hash chain.
    Verify {
        /// Signer configuration (the journal is in its state directory).
        #[arg(long, conflicts_with = "file")]
        config: Option<PathBuf>,
        /// A journal file to verify directly.
        #[arg(long)]
        file: Option<PathBuf>,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run {
            config,
            check_config,
        } => run(config, check_config),
        Command::Ceremony { config, file } => run_ceremony(config, file),
        Command::SandboxCheck { config, probes } => sandbox_check(config, probes),
        Command::Journal {
            command: JournalCommand::Verify { config, file },
        } => verify(config, file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-signer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config_path: PathBuf, check_only: bool) -> Result<(), Error> {
    let config = SignerConfig::load(&config_path)?;
    // Refusals that depend on where the signer runs; before the sandbox hides /proc.
    preflight::check_dev_mode(&config, |name| std::env::var_os(name))?;
    preflight::check_peer_table(&config.peers, &PeerUidView::of_this_process())?;
    let socket_gid = config
        .socket_group
        .as_deref()
        .map(server::group_id)
        .transpose()?;
    if check_only {
        Pin::read_file(&config.hsm.pin_file)?;
        println!("{}: configuration OK", config_path.display());
        return Ok(());
    }
    if let Some(user) = &config.user {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let (uid, gid) = strongroom_sandbox::drop_privileges(user)?;
            tracing::info!(user = %user, uid, gid, "dropped root privileges");
        }
    }
    strongroom_sandbox::harden(config.allow_root)?;
    // Before any thread exists: Landlock and seccomp bind this thread and its children.
    strongroom_signer::sandbox::apply(&config)?;
    let hsm = HsmHandle::open(&config.hsm, Duration::from_secs(5))?;
    let gate = PeerGate::new(&config, own_uid());
    let socket = config.socket.clone();
    let mode = config.socket_mode;
    let signer = Signer::new(
        config,
        hsm,
        gate,
        Box::new(SystemClock),
        Box::new(SystemEntropy::default()),
    )?;
    let listener = server::bind(&socket, mode, socket_gid).map_err(|e| Error::Socket {
        action: "bind",
        path: socket.clone(),
        detail: e.to_string(),
    })?;
    tracing::info!(
        socket = %socket.display(),
        socket_mode = format!("{mode:04o}"),
        socket_gid,
        cas = signer.cas().iter().count(),
        policy_version = signer.policy().current().version,
        journal_records = signer.journal().records(),
        "strongroom-signer ready"
    );
    server::serve(listener, Arc::new(signer)).map_err(|e| Error::Socket {
        action: "serve",
        path: socket,
        detail: e.to_string(),
    })
}

fn run_ceremony(config_path: PathBuf, file: PathBuf) -> Result<(), Error> {
    let config = SignerConfig::load(&config_path)?;
    let text = std::fs::read_to_string(&file).map_err(|e| Error::file(&file, e))?;
    let ceremony = CeremonyFile::parse(&text).map_err(|e| Error::file(&file, e))?;
    strongroom_sandbox::harden(config.allow_root)?;
    let state = StateDir::open(&config.state_dir).map_err(|e| Error::file(&config.state_dir, e))?;
    let pin = Pin::read_file(&config.hsm.pin_file)?;
    let hsm = Hsm::open(HsmConfig {
        module_path: config.hsm.module.clone(),
        token_label: config.hsm.token_label.clone(),
        pin,
        sessions: 1,
    })?;
    let outcome = ceremony::run(
        &ceremony,
        &state,
        &hsm,
        &SystemClock,
        &SystemEntropy::default(),
    )?;
    print!("{}", outcome.transcript);
    Ok(())
}

fn sandbox_check(config_path: PathBuf, probes: Vec<PathBuf>) -> Result<(), Error> {
    let config = SignerConfig::load(&config_path)?;
    strongroom_sandbox::harden(config.allow_root)?;
    strongroom_signer::sandbox::apply(&config)?;
    for line in strongroom_sandbox::probe(&probes) {
        println!("{line}");
    }
    Ok(())
}

fn verify(config: Option<PathBuf>, file: Option<PathBuf>) -> Result<(), Error> {
    let path = match (config, file) {
        (_, Some(f)) => f,
        (Some(c), None) => {
            let config = SignerConfig::load(&c)?;
            StateDir::open(&config.state_dir)
                .map_err(|e| Error::file(&config.state_dir, e))?
                .journal()
        }
        (None, None) => return Err(Error::Usage("give --config or --file")),
    };
    let summary = journal::verify_file(&path).map_err(|e| Error::file(&path, e))?;
    println!(
        "{}: {} records, chain intact, head {}",
        path.display(),
        summary.records,
        summary.head
    );
    if summary.torn_tail_bytes > 0 {
        println!("note: {} bytes of a torn final record (crash before fsync) follow; the signer drops them at start", summary.torn_tail_bytes);
    }
    Ok(())
}
