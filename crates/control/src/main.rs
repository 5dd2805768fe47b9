//! `strongroom-control`: `run` serves the REST API; `migrate` brings the database schema
//! up to date and exits.
//!
//! In: command-line arguments and the configuration file. Out: a running daemon, or exit
//! code 0 / 1 with a one-line error on stderr. The sandbox (privilege drop, no core
//! dumps, no_new_privs, Landlock) is applied before the async runtime starts any thread.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use strongroom_control::Config;
use strongroom_sandbox::landlock::{restrict_paths, Enforcement, PathPolicy};

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

const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc",
    "/dev/null",
    "/dev/urandom",
    "/sys/devices/system/cpu",
    "/proc/self",
];

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Landlock: system files and the configuration read-only; the SQLite directory, the
/// signer socket's directory and configured paths read-write; TCP left to the firewall
/// and the systemd unit (control must listen).
fn sandbox(config_path: &Path, config: &Config) -> Result<(), String> {
    if let Some(user) = &config.user {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            strongroom_sandbox::drop_privileges(user).map_err(|e| e.to_string())?;
        }
    }
    strongroom_sandbox::harden(config.allow_root).map_err(|e| e.to_string())?;
    let mut read_only: Vec<PathBuf> = SYSTEM_READ_ONLY.iter().map(PathBuf::from).collect();
    read_only.push(parent(config_path));
    read_only.extend(config.sandbox.read_only.iter().cloned());
    if let Some(f) = &config.bootstrap.admin_password_file {
        read_only.push(f.clone());
    }
    if let Some(f) = &config.bootstrap.policy_file {
        read_only.push(f.clone());
    }
    let mut read_write = vec![parent(&config.signer_socket)];
    if let Some(f) = &config.bootstrap.break_glass_file {
        read_write.push(parent(f));
    }
    if let Ok(url) = config.database_url() {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            read_write.push(parent(Path::new(path)));
        }
    }
    read_write.extend(config.sandbox.read_write.iter().cloned());
    match restrict_paths(&PathPolicy {
        read_only,
        read_write,
        allow_tcp: true,
    })
    .map_err(|e| e.to_string())?
    {
        Enforcement::Full => tracing::info!("landlock: fully enforced"),
        Enforcement::Partial => tracing::warn!("landlock: PARTIALLY enforced (older kernel ABI)"),
        Enforcement::None => tracing::error!("landlock: NOT enforced (kernel without Landlock)"),
    }
    Ok(())
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
            sandbox(&config, &c)?;
            runtime()?.block_on(strongroom_control::server::run(c))
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
