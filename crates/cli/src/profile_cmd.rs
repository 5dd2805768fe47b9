//! `strongroom profile …`: list, show, create or replace, delete certificate profiles.
//!
//! In: the subcommand, a profile JSON file for `put`, and a ready [`Api`]. Out: a table or
//! JSON on stdout (`get` always prints JSON: a profile does not fit a table).

use crate::client::{Api, Failure};
use crate::output::{encode, print, read_json};
use clap::Subcommand;
use std::path::PathBuf;

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

/// Runs one profile command.
pub fn profile(api: &Api, out: &str, c: ProfileCmd) -> Result<(), Failure> {
    match c {
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
            let body = read_json(&file)?;
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
    }
    Ok(())
}
