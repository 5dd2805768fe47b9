//! `strongroom audit …`: recent events, export of the chain, offline verification of an
//! export, a signed checkpoint now, and the server's check of its stored chain.
//!
//! In: the subcommand and the connection options (`verify` runs offline, before any
//! connection or session is read). Out: a table or JSON on stdout, the export as JSON lines
//! in a file, counts and the first broken link on stderr.

use crate::client::{Api, Connection, Failure};
use crate::output::{print, query};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recent events.
    List {
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        action: Option<String>,
    },
    /// Export the chain as JSON lines.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export offline: reports the first deleted, reordered or edited event.
    Verify {
        file: PathBuf,
        /// Root certificate (PEM or DER) to check the signed checkpoints against.
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Have the signer sign the current chain head now.
    Checkpoint,
    /// Ask the server to verify its stored chain.
    VerifyServer,
}

/// The audit commands; `verify` runs offline, before any connection or session is read.
pub fn audit(c: AuditCmd, conn: &Connection, out: &str) -> Result<(), Failure> {
    if let AuditCmd::Verify { file, root } = &c {
        return crate::audit_verify::run(file, root.as_deref());
    }
    let api = Api::new(conn)?;
    match c {
        AuditCmd::List { actor, action } => {
            let v = api.call(
                "GET",
                &format!(
                    "/api/v1/audit{}",
                    query(&[("actor", actor), ("action", action)])
                ),
                None,
            )?;
            if out == "json" {
                print(&v, out, &[]);
            } else {
                for e in v["items"].as_array().into_iter().flatten() {
                    let ev = &e["event"];
                    println!(
                        "{:>6} {} {:<24} {:<26} {:<8} {} {}",
                        e["seq"],
                        e["at"],
                        ev["actor"].as_str().unwrap_or(""),
                        ev["action"].as_str().unwrap_or(""),
                        ev["outcome"].as_str().unwrap_or(""),
                        ev["target"].as_str().unwrap_or(""),
                        ev["detail"].as_str().unwrap_or("")
                    );
                }
            }
        }
        AuditCmd::Export { out: file } => {
            let (status, text) = api.raw("GET", "/api/v1/audit/export", None)?;
            if status != 200 {
                return Err(Failure {
                    code: if status == 401 || status == 403 { 3 } else { 7 },
                    message: format!("{status}: {text}"),
                });
            }
            std::fs::write(&file, &text)
                .map_err(|e| Failure::local(format!("{}: {e}", file.display())))?;
            eprintln!(
                "{} events written to {}",
                text.lines().count(),
                file.display()
            );
        }
        AuditCmd::VerifyServer => print(&api.call("GET", "/api/v1/audit/verify", None)?, out, &[]),
        AuditCmd::Checkpoint => {
            let v = api.call("POST", "/api/v1/audit/checkpoints", None)?;
            eprintln!("checkpoint signed over event {}", v["seq"]);
        }
        AuditCmd::Verify { .. } => {} // ran above, before any connection
    }
    Ok(())
}
