//! `strongroom apikey …`: create, list and revoke API keys.
//!
//! In: the subcommand and a ready [`Api`]. Out: a table or JSON on stdout; a new key's
//! token once, on stdout, with a reminder on stderr that it is not shown again.

use crate::client::{Api, Failure};
use crate::output::{encode, print};
use clap::Subcommand;
use serde_json::json;

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

/// Runs one API key command.
pub fn apikey(api: &Api, out: &str, c: ApikeyCmd) -> Result<(), Failure> {
    match c {
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
    }
    Ok(())
}
