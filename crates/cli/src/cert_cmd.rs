//! `strongroom cert …`: search, show, issue, renew, revoke (one or many), download.
//!
//! In: the subcommand and a ready [`Api`]. Out: tables or JSON, certificate files, progress
//! on stderr for long walks and bulk revocations.

use crate::client::{Api, Failure};
use crate::output::{encode, print, query, read_file};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ListFilter {
    /// valid or revoked.
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    profile: Option<String>,
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    tag: Option<String>,
    /// A SAN (`dns:www.example.com`) or subject CN.
    #[arg(long)]
    name: Option<String>,
    /// A serial number (hex, colons allowed), under any issuer.
    #[arg(long)]
    serial: Option<String>,
    #[arg(long)]
    expiring_within_days: Option<u32>,
    /// Walk every page (progress on stderr).
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Search the inventory.
    List(ListFilter),
    /// Show one.
    Get { id: i64 },
    /// Issue from a CSR (PEM).
    Issue {
        #[arg(long)]
        profile: String,
        #[arg(long)]
        csr: PathBuf,
        /// Names (dns:…, ip:…); default: the CSR's.
        #[arg(long = "name")]
        names: Vec<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        team: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        validity_secs: Option<u64>,
        /// Write the certificate and chain (PEM) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Renew with a new CSR (same profile and names).
    Renew {
        id: i64,
        #[arg(long)]
        csr: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke one certificate.
    Revoke {
        id: i64,
        /// RFC 5280 reason name or code.
        #[arg(long)]
        reason: String,
    },
    /// Revoke many: ids one per line in a file (progress on stderr).
    RevokeBulk {
        #[arg(long)]
        ids_file: PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Download as pem, der or chain.
    Download {
        id: i64,
        #[arg(long, default_value = "pem")]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Record the certificates the signer's journal holds and the inventory lacks (control
    /// also does this every five minutes for records older than ten minutes).
    Reconcile {
        /// Compare only journal records at least this old, in seconds (default 600; lower
        /// it only when no issuance is in flight).
        #[arg(long)]
        grace_secs: Option<i64>,
    },
}

const CERT_COLUMNS: &[&str] = &[
    "id",
    "serial",
    "profile",
    "subject_cn",
    "names",
    "not_after",
    "status",
    "owner",
];

fn write_out(out: &Option<PathBuf>, v: &Value) -> Result<(), Failure> {
    if let Some(p) = out {
        let text = format!(
            "{}{}",
            v["pem"].as_str().unwrap_or_default(),
            v["chain_pem"].as_str().unwrap_or_default()
        );
        std::fs::write(p, text).map_err(|e| Failure::local(format!("{}: {e}", p.display())))?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// Runs one certificate command.
pub fn cert(api: &Api, out: &str, c: CertCmd) -> Result<(), Failure> {
    match c {
        CertCmd::List(f) => {
            let base = query(&[
                ("status", f.status),
                ("profile", f.profile),
                ("issuer", f.issuer),
                ("owner", f.owner),
                ("tag", f.tag),
                ("name", f.name),
                ("serial", f.serial),
                (
                    "expiring_within_days",
                    f.expiring_within_days.map(|d| d.to_string()),
                ),
            ]);
            let sep = if base.is_empty() { "?" } else { "&" };
            let mut items = Vec::new();
            let mut path = format!(
                "/api/v1/certificates{base}{sep}limit={}",
                if f.all { 1000 } else { 100 }
            );
            loop {
                let page = api.call("GET", &path, None)?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match (f.all, page["next"].as_str()) {
                    (true, Some(next)) => {
                        eprintln!("… {} certificates", items.len());
                        path = format!(
                            "/api/v1/certificates{base}{sep}limit=1000&cursor={}",
                            encode(next)
                        );
                    }
                    _ => break,
                }
            }
            print(&json!({"items": items}), out, CERT_COLUMNS);
        }
        CertCmd::Get { id } => print(
            &api.call("GET", &format!("/api/v1/certificates/{id}"), None)?,
            out,
            &[],
        ),
        CertCmd::Issue {
            profile,
            csr,
            names,
            owner,
            team,
            tags,
            validity_secs,
            out: file,
        } => {
            let mut body =
                json!({"profile": profile, "csr": read_file(&csr)?, "names": names, "tags": tags});
            if let Some(o) = owner {
                body["owner"] = json!(o);
            }
            if let Some(t) = team {
                body["team"] = json!(t);
            }
            if let Some(v) = validity_secs {
                body["validity_secs"] = json!(v);
            }
            let v = api.call("POST", "/api/v1/certificates", Some(&body))?;
            if v.get("approval").is_some() {
                eprintln!(
                    "approval request {} filed: the certificate is issued when it is approved",
                    v["approval"]
                );
            } else {
                write_out(&file, &v)?;
            }
            print(&v, out, &[]);
        }
        CertCmd::Renew { id, csr, out: file } => {
            let v = api.call(
                "POST",
                &format!("/api/v1/certificates/{id}/renew"),
                Some(&json!({"csr": read_file(&csr)?})),
            )?;
            write_out(&file, &v)?;
            print(&v, out, &[]);
        }
        CertCmd::Reconcile { grace_secs } => {
            let body = match grace_secs {
                Some(g) => json!({"grace_secs": g}),
                None => json!({}),
            };
            print(
                &api.call("POST", "/api/v1/system/reconcile", Some(&body))?,
                out,
                &[],
            )
        }
        CertCmd::Revoke { id, reason } => print(
            &api.call(
                "POST",
                &format!("/api/v1/certificates/{id}/revoke"),
                Some(&json!({"reason": reason})),
            )?,
            out,
            &[],
        ),
        CertCmd::RevokeBulk { ids_file, reason } => {
            let ids = read_file(&ids_file)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    l.parse::<i64>().map_err(|_| Failure {
                        code: 6,
                        message: format!("{}: {l:?} is not a certificate id", ids_file.display()),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (mut revoked, mut failed) = (0, 0);
            for (n, chunk) in ids.chunks(100).enumerate() {
                let v = api.call(
                    "POST",
                    "/api/v1/certificates/revoke",
                    Some(&json!({"ids": chunk, "reason": reason})),
                )?;
                revoked += v["revoked"].as_i64().unwrap_or(0);
                failed += v["failed"].as_i64().unwrap_or(0);
                for r in v["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["outcome"] != "revoked")
                {
                    eprintln!(
                        "certificate {}: {} ({})",
                        r["id"],
                        r["outcome"].as_str().unwrap_or("?"),
                        r["detail"].as_str().unwrap_or("")
                    );
                }
                eprintln!(
                    "… {}/{} processed",
                    (n * 100 + chunk.len()).min(ids.len()),
                    ids.len()
                );
            }
            print(&json!({"revoked": revoked, "failed": failed}), out, &[]);
            if failed > 0 {
                return Err(Failure {
                    code: 5,
                    message: format!("{failed} of {} certificates were not revoked", ids.len()),
                });
            }
        }
        CertCmd::Download {
            id,
            format,
            out: file,
        } => {
            // A clear 404 (exit 4) before asking for the download.
            api.call("GET", &format!("/api/v1/certificates/{id}"), None)?;
            let (status, bytes) = api.raw_bytes(
                "GET",
                &format!(
                    "/api/v1/certificates/{id}/download?format={}",
                    encode(&format)
                ),
                None,
            )?;
            if status != 200 {
                return Err(Failure {
                    code: 6,
                    message: format!("{status}: {}", String::from_utf8_lossy(&bytes)),
                });
            }
            std::fs::write(&file, bytes)
                .map_err(|e| Failure::local(format!("{}: {e}", file.display())))?;
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(())
}
