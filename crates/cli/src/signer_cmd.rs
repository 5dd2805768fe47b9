//! `strongroom signer …`: one signer operation from the command line.
//!
//! In: a socket path and the operation's arguments (CSR files in PEM or DER, names as
//! `dns:…`/`ip:…`). Out: PEM files or a short report on stdout. The signer checks the
//! caller's uid; this command has no privileges of its own.

use crate::pem;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use strongroom_types::clock::{Clock, SystemClock};
use strongroom_types::{CaId, Policy, ProfileName, RequestedName, RevocationReason, Serial};
use strongroom_wire::{
    IssuanceRequest, Request, Response, RevocationRecord, SignerClient, SubjectKey,
};

/// Arguments of `strongroom signer`.
#[derive(Args, Debug)]
pub struct SignerArgs {
    /// The signer socket (default: DATA_DIR/run/signer.sock of `strongroom up`).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// The data directory of `strongroom up`, to find the socket.
    #[arg(long, global = true, default_value = "data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: SignerCommand,
}

#[derive(Subcommand, Debug)]
enum SignerCommand {
    /// Show the signer's health, token, policy version and CAs.
    Health,
    /// Issue a certificate from a PKCS#10 CSR.
    Issue {
        /// Profile to issue under.
        #[arg(long)]
        profile: String,
        /// CSR file (PEM or DER).
        #[arg(long)]
        csr: PathBuf,
        /// Names (dns:…, ip:…, email:…, uri:…); default: the CSR's.
        #[arg(long = "name")]
        names: Vec<String>,
        /// Validity in days (default: the profile's maximum).
        #[arg(long)]
        days: Option<u64>,
        /// Where to write the certificate (PEM).
        #[arg(long)]
        out: PathBuf,
        /// Where to write the chain (PEM, issuing CA first).
        #[arg(long)]
        chain_out: Option<PathBuf>,
    },
    /// Record a revocation.
    Revoke {
        /// Issuing CA id.
        #[arg(long)]
        ca: String,
        /// Serial number (hex).
        #[arg(long)]
        serial: String,
        /// RFC 5280 reason name or code.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Sign a fresh CRL for a CA.
    Crl {
        /// CA id.
        #[arg(long)]
        ca: String,
        /// Output file (DER).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a CA's chain (PEM).
    Chain {
        /// CA id.
        #[arg(long)]
        ca: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Push a policy file (TOML) to the signer.
    PushPolicy {
        /// Policy file.
        #[arg(long)]
        file: PathBuf,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a policy file.
pub fn read_policy(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy: Policy = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    policy
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(policy)
}

/// Unix time now (the CLI's only clock read: it stamps revocations with the wall clock).
fn now() -> i64 {
    SystemClock.now()
}

/// Runs one operation.
pub fn run(args: SignerArgs) -> Result<(), String> {
    let socket = args
        .socket
        .unwrap_or_else(|| args.data_dir.join("run/signer.sock"));
    let mut client = SignerClient::connect(&socket).map_err(|e| e.to_string())?;
    let mut call = |r: &Request| client.call(r).map_err(|e| e.to_string());
    match args.command {
        SignerCommand::Health => {
            if let Response::Health(h) = call(&Request::Health)? {
                println!(
                    "hsm:            {}",
                    h.hsm_degraded.as_deref().unwrap_or("ok")
                );
                println!("token:          {}", h.token);
                println!("policy version: {}", h.policy_version);
                println!("journal:        {} records", h.journal_records);
                for ca in h.cas {
                    println!(
                        "ca {:<12} {} (notAfter {})",
                        ca.id.as_str(),
                        ca.subject,
                        ca.not_after
                    );
                }
            }
        }
        SignerCommand::Issue {
            profile,
            csr,
            names,
            days,
            out,
            chain_out,
        } => {
            let csr = pem::der_from_file(&read(&csr)?, "CERTIFICATE REQUEST")?;
            let names = names
                .iter()
                .map(|n| n.parse::<RequestedName>().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let request = IssuanceRequest {
                profile: profile.parse::<ProfileName>().map_err(|e| e.to_string())?,
                subject_key: SubjectKey::Csr(csr),
                names,
                validity_secs: days.map(|d| d * 86400),
            };
            if let Response::Certificate(c) = call(&Request::IssueCertificate(request))? {
                write(&out, &pem::encode("CERTIFICATE", &c.der))?;
                if let Some(chain_out) = chain_out {
                    write(
                        &chain_out,
                        &c.chain
                            .iter()
                            .map(|d| pem::encode("CERTIFICATE", d))
                            .collect::<String>(),
                    )?;
                }
                println!("issued serial {} -> {}", c.serial, out.display());
            }
        }
        SignerCommand::Revoke { ca, serial, reason } => {
            let record = RevocationRecord {
                ca: ca.parse::<CaId>().map_err(|e| e.to_string())?,
                serial: serial.parse::<Serial>().map_err(|e| e.to_string())?,
                reason: reason
                    .parse::<RevocationReason>()
                    .map_err(|e| e.to_string())?,
                revoked_at: now(),
                invalidity_date: None,
            };
            if let Response::RevocationRecorded { already_revoked } =
                call(&Request::RecordRevocation(record))?
            {
                println!(
                    "{}",
                    if already_revoked {
                        "already revoked"
                    } else {
                        "revoked"
                    }
                );
            }
        }
        SignerCommand::Crl { ca, out } => {
            if let Response::Crl { der, number } = call(&Request::IssueCrl {
                ca: ca.parse::<CaId>().map_err(|e| e.to_string())?,
            })? {
                std::fs::write(&out, der).map_err(|e| format!("{}: {e}", out.display()))?;
                println!("CRL number {number} -> {}", out.display());
            }
        }
        SignerCommand::Chain { ca, out } => {
            if let Response::CaChain(chain) = call(&Request::GetCaChain {
                ca: ca.parse::<CaId>().map_err(|e| e.to_string())?,
            })? {
                write(
                    &out,
                    &chain
                        .iter()
                        .map(|d| pem::encode("CERTIFICATE", d))
                        .collect::<String>(),
                )?;
            }
        }
        SignerCommand::PushPolicy { file } => {
            let policy = read_policy(&file)?;
            if let Response::PolicyAccepted { version } = call(&Request::PutPolicy { policy })? {
                println!("policy version {version} accepted");
            }
        }
    }
    Ok(())
}
