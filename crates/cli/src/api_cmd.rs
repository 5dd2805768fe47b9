//! `strongroom login|whoami|ca|profile|cert|approval|user|apikey|audit|acme`: the control
//! API from a shell.
//!
//! In: arguments, files (CSRs, profiles, password files), the connection options. Out:
//! a table or JSON on stdout, progress on stderr for bulk work, and the exit codes of
//! [`crate::client`].

use crate::acme_cmd::{acme, AcmeCmd};
use crate::cert_cmd::{cert, CertCmd};
use crate::client::{save_session, Api, Connection, Failure};
use crate::output::{encode, password, print, query, read_file};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;

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
    /// ACME accounts, orders and external account binding keys.
    #[command(subcommand)]
    Acme(AcmeCmd),
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

#[derive(Subcommand, Debug)]
pub enum ApprovalCmd {
    /// List requests.
    List {
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one.
    Get { id: i64 },
    /// Approve (the approval that completes a request runs it).
    Approve {
        id: i64,
        /// Why: recorded with the decision and in the audit log.
        #[arg(long)]
        comment: String,
    },
    /// Reject.
    Reject {
        id: i64,
        /// Why: recorded with the decision and in the audit log.
        #[arg(long)]
        comment: String,
    },
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

/// Runs one API command.
pub fn run(cmd: ApiCommand, conn: &Connection) -> Result<(), Failure> {
    let out = conn.output.as_str();
    if let ApiCommand::Audit(c) = cmd {
        return audit(c, conn, out);
    }
    let api = Api::new(conn)?;
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
        ApiCommand::Acme(c) => acme(&api, out, c)?,
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
                ApprovalCmd::Approve { id, comment } => print(
                    &api.call(
                        "POST",
                        &format!("/api/v1/approvals/{id}/approve"),
                        Some(&json!({ "comment": comment })),
                    )?,
                    out,
                    &[],
                ),
                ApprovalCmd::Reject { id, comment } => print(
                    &api.call(
                        "POST",
                        &format!("/api/v1/approvals/{id}/reject"),
                        Some(&json!({ "comment": comment })),
                    )?,
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
        ApiCommand::Audit(_) => {} // handled above
    }
    Ok(())
}

/// The audit commands; `verify` runs offline, before any connection or session is read.
fn audit(c: AuditCmd, conn: &Connection, out: &str) -> Result<(), Failure> {
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
