//! `strongroom login|whoami|ca|profile|cert|approval|user|apikey|audit`: the control API
//! from a shell.
//!
//! In: arguments, files (CSRs, profiles, password files), the connection options. Out:
//! a table or JSON on stdout, progress on stderr for bulk work, and the exit codes of
//! [`crate::client`].

use crate::client::{save_session, Api, Connection, Failure};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Commands that talk to the control API.
#[derive(Subcommand, Debug)]
pub enum ApiCommand {
    /// Log in with a password and save a 12-hour session.
    Login {
        /// User name.
        #[arg(long)]
        user: String,
        /// File holding the password (default: read one line from stdin).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// End the saved session (revokes its key).
    Logout,
    /// Show who the API thinks you are.
    Whoami,
    /// CAs.
    #[command(subcommand)]
    Ca(CaCmd),
    /// Certificate profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Certificates.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Two-person approvals.
    #[command(subcommand)]
    Approval(ApprovalCmd),
    /// Users.
    #[command(subcommand)]
    User(UserCmd),
    /// API keys.
    #[command(subcommand)]
    Apikey(ApikeyCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// List CAs.
    List,
    /// Create an intermediate CA (its key made in the HSM) from a ceremony-like JSON file:
    /// `{"id", "parent", "subject", "algorithm", "validity_days", "permitted", ...}`.
    CreateIntermediate {
        #[arg(long)]
        file: PathBuf,
    },
    /// Show the hierarchy.
    Tree,
    /// Retire a CA (needs approval in production mode).
    Retire { id: String },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// List profiles.
    List,
    /// Show one.
    Get { name: String },
    /// Create or replace from a JSON file `{"profile": {...}, "approvals_required": N, "enrollers": [...]}`.
    Put {
        /// Profile name.
        name: String,
        /// JSON file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete one.
    Delete { name: String },
}

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
}

#[derive(Subcommand, Debug)]
pub enum ApprovalCmd {
    /// List requests.
    List {
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one.
    Get { id: i64 },
    /// Approve.
    Approve { id: i64 },
    /// Reject.
    Reject { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// List users.
    List,
    /// Show one.
    Get { name: String },
    /// Create a user.
    Create {
        name: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// File holding the password (default: one line from stdin).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Change roles or enable/disable.
    Set {
        name: String,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Reseal the break-glass account (prints the new password once).
    Reseal { name: String },
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCmd {
    /// Create a key (the token is printed once).
    Create {
        #[arg(long)]
        label: String,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// List keys.
    List {
        /// Everyone's (needs user:read).
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key.
    Revoke { key_id: String },
}

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

fn read_file(p: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(p).map_err(|e| Failure::local(format!("{}: {e}", p.display())))
}

fn password(file: &Option<PathBuf>) -> Result<String, Failure> {
    let text = match file {
        Some(p) => read_file(p)?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Failure::local(e.to_string()))?;
            line
        }
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints JSON, or a table of `columns` for `{"items": [...]}` answers and key: value
/// lines for single objects.
fn print(v: &Value, output: &str, columns: &[&str]) {
    if output == "json" {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let cell = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) => a
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    if let Some(items) = v["items"].as_array() {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| columns.iter().map(|c| cell(&i[*c])).collect())
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(n, c)| {
                rows.iter()
                    .map(|r| r[n].chars().count())
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
                    .min(60)
            })
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        println!(
            "{}",
            line(columns.iter().map(|c| c.to_uppercase()).collect())
        );
        for r in rows {
            println!("{}", line(r));
        }
    } else if let Some(obj) = v.as_object() {
        for (k, x) in obj {
            if k != "pem" && k != "chain_pem" {
                println!("{k:<16} {}", cell(x));
            }
        }
    } else if !v.is_null() {
        println!("{v}");
    }
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

/// Runs one API command.
pub fn run(cmd: ApiCommand, conn: &Connection) -> Result<(), Failure> {
    if let ApiCommand::Audit(AuditCmd::Verify { file, root }) = &cmd {
        return crate::audit_verify::run(file, root.as_deref());
    }
    let api = Api::new(conn)?;
    let out = conn.output.as_str();
    match cmd {
        ApiCommand::Login {
            user,
            password_file,
        } => {
            let pw = password(&password_file)?;
            let v = api.call(
                "POST",
                "/api/v1/auth/login",
                Some(&json!({"username": user, "password": pw})),
            )?;
            let token = v["token"]
                .as_str()
                .ok_or_else(|| Failure::local("no token in the answer"))?;
            let path = save_session(&api.url, api.ca_file.as_ref(), token)?;
            eprintln!(
                "logged in as {user} until {}; session saved in {}",
                v["expires_at"],
                path.display()
            );
        }
        ApiCommand::Logout => {
            api.call("POST", "/api/v1/auth/logout", None)?;
            eprintln!("logged out");
        }
        ApiCommand::Whoami => print(&api.call("GET", "/api/v1/auth/whoami", None)?, out, &[]),
        ApiCommand::Ca(c) => match c {
            CaCmd::List => print(
                &api.call("GET", "/api/v1/cas", None)?,
                out,
                &["id", "parent", "state", "subject", "not_after"],
            ),
            CaCmd::Tree => {
                let v = api.call("GET", "/api/v1/cas/tree", None)?;
                if out == "json" {
                    print(&v, out, &[]);
                } else {
                    fn walk(n: &Value, depth: usize) {
                        println!(
                            "{}{} ({}, {})",
                            "  ".repeat(depth),
                            n["id"].as_str().unwrap_or("?"),
                            n["state"].as_str().unwrap_or("?"),
                            n["subject"].as_str().unwrap_or("?")
                        );
                        for c in n["children"].as_array().into_iter().flatten() {
                            walk(c, depth + 1);
                        }
                    }
                    for r in v["roots"].as_array().into_iter().flatten() {
                        walk(r, 0);
                    }
                }
            }
            CaCmd::CreateIntermediate { file } => {
                let body: Value =
                    serde_json::from_str(&read_file(&file)?).map_err(|e| Failure {
                        code: 6,
                        message: format!("{}: {e}", file.display()),
                    })?;
                print(&api.call("POST", "/api/v1/cas", Some(&body))?, out, &[]);
            }
            CaCmd::Retire { id } => print(
                &api.call("POST", &format!("/api/v1/cas/{}/retire", encode(&id)), None)?,
                out,
                &[],
            ),
        },
        ApiCommand::Profile(c) => match c {
            ProfileCmd::List => {
                let v = api.call("GET", "/api/v1/profiles", None)?;
                if out == "json" {
                    print(&v, out, &[]);
                } else {
                    println!(
                        "{:<20} {:<12} {:>9} {:>8}",
                        "NAME", "ISSUER", "APPROVALS", "VERSION"
                    );
                    for p in v["items"].as_array().into_iter().flatten() {
                        println!(
                            "{:<20} {:<12} {:>9} {:>8}",
                            p["profile"]["name"].as_str().unwrap_or("?"),
                            p["profile"]["issuer"].as_str().unwrap_or("?"),
                            p["approvals_required"],
                            p["version"]
                        );
                    }
                }
            }
            ProfileCmd::Get { name } => print(
                &api.call("GET", &format!("/api/v1/profiles/{}", encode(&name)), None)?,
                "json",
                &[],
            ),
            ProfileCmd::Put { name, file } => {
                let body: Value =
                    serde_json::from_str(&read_file(&file)?).map_err(|e| Failure {
                        code: 6,
                        message: format!("{}: {e}", file.display()),
                    })?;
                print(
                    &api.call(
                        "PUT",
                        &format!("/api/v1/profiles/{}", encode(&name)),
                        Some(&body),
                    )?,
                    out,
                    &[],
                );
            }
            ProfileCmd::Delete { name } => {
                api.call(
                    "DELETE",
                    &format!("/api/v1/profiles/{}", encode(&name)),
                    None,
                )?;
            }
        },
        ApiCommand::Cert(c) => cert(&api, out, c)?,
        ApiCommand::Approval(c) => {
            let cols = &[
                "id",
                "kind",
                "requested_by",
                "required",
                "approved_by",
                "state",
                "expires_at",
            ];
            match c {
                ApprovalCmd::List { state } => print(
                    &api.call(
                        "GET",
                        &format!("/api/v1/approvals{}", query(&[("state", state)])),
                        None,
                    )?,
                    out,
                    cols,
                ),
                ApprovalCmd::Get { id } => print(
                    &api.call("GET", &format!("/api/v1/approvals/{id}"), None)?,
                    out,
                    &[],
                ),
                ApprovalCmd::Approve { id } => print(
                    &api.call("POST", &format!("/api/v1/approvals/{id}/approve"), None)?,
                    out,
                    &[],
                ),
                ApprovalCmd::Reject { id } => print(
                    &api.call("POST", &format!("/api/v1/approvals/{id}/reject"), None)?,
                    out,
                    &[],
                ),
            }
        }
        ApiCommand::User(c) => match c {
            UserCmd::List => print(
                &api.call("GET", "/api/v1/users", None)?,
                out,
                &[
                    "username",
                    "roles",
                    "disabled",
                    "break_glass",
                    "unsealed_at",
                ],
            ),
            UserCmd::Get { name } => print(
                &api.call("GET", &format!("/api/v1/users/{}", encode(&name)), None)?,
                out,
                &[],
            ),
            UserCmd::Create {
                name,
                roles,
                password_file,
            } => {
                let pw = password(&password_file)?;
                print(
                    &api.call(
                        "POST",
                        "/api/v1/users",
                        Some(&json!({"username": name, "password": pw, "roles": roles})),
                    )?,
                    out,
                    &[],
                );
            }
            UserCmd::Set {
                name,
                roles,
                disable,
                enable,
            } => {
                let mut body = json!({});
                if !roles.is_empty() {
                    body["roles"] = json!(roles);
                }
                if disable || enable {
                    body["disabled"] = json!(disable);
                }
                print(
                    &api.call(
                        "PATCH",
                        &format!("/api/v1/users/{}", encode(&name)),
                        Some(&body),
                    )?,
                    out,
                    &[],
                );
            }
            UserCmd::Reseal { name } => print(
                &api.call(
                    "POST",
                    &format!("/api/v1/users/{}/reseal", encode(&name)),
                    None,
                )?,
                out,
                &[],
            ),
        },
        ApiCommand::Apikey(c) => match c {
            ApikeyCmd::Create {
                label,
                roles,
                expires_in_days,
            } => {
                let mut body = json!({"label": label});
                if !roles.is_empty() {
                    body["roles"] = json!(roles);
                }
                if let Some(d) = expires_in_days {
                    body["expires_in_secs"] = json!(d * 86_400);
                }
                let v = api.call("POST", "/api/v1/apikeys", Some(&body))?;
                print(&v, out, &[]);
                eprintln!("the token is shown once: store it now");
            }
            ApikeyCmd::List { all } => print(
                &api.call(
                    "GET",
                    &format!("/api/v1/apikeys{}", if all { "?all=true" } else { "" }),
                    None,
                )?,
                out,
                &["key_id", "label", "roles", "expires_at", "revoked_at"],
            ),
            ApikeyCmd::Revoke { key_id } => {
                api.call(
                    "DELETE",
                    &format!("/api/v1/apikeys/{}", encode(&key_id)),
                    None,
                )?;
            }
        },
        ApiCommand::Audit(c) => match c {
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
            AuditCmd::VerifyServer => {
                print(&api.call("GET", "/api/v1/audit/verify", None)?, out, &[])
            }
            AuditCmd::Checkpoint => {
                let v = api.call("POST", "/api/v1/audit/checkpoints", None)?;
                eprintln!("checkpoint signed over event {}", v["seq"]);
            }
            AuditCmd::Verify { .. } => unreachable_verify()?,
        },
    }
    Ok(())
}

fn unreachable_verify() -> Result<(), Failure> {
    Err(Failure::local(
        "audit verify runs offline and is handled before connecting",
    ))
}

fn cert(api: &Api, out: &str, c: CertCmd) -> Result<(), Failure> {
    match c {
        CertCmd::List(f) => {
            let base = query(&[
                ("status", f.status),
                ("profile", f.profile),
                ("issuer", f.issuer),
                ("owner", f.owner),
                ("tag", f.tag),
                ("name", f.name),
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
