//! `strongroom user …`: list, show, create users, change their roles or disable them, and
//! reseal the break-glass account.
//!
//! In: the subcommand, a password file (or one line on stdin) for `create`, and a ready
//! [`Api`]. Out: a table or JSON on stdout; `reseal` prints the new password once.

use crate::client::{Api, Failure};
use crate::output::{encode, password, print};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

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

/// Runs one user command.
pub fn user(api: &Api, out: &str, c: UserCmd) -> Result<(), Failure> {
    match c {
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
    }
    Ok(())
}
