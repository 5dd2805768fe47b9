//! `strongroom ca …`: list the CAs, show the hierarchy, create an intermediate, retire one,
//! name its successor.
//!
//! In: the subcommand and a ready [`Api`]. Out: a table, an indented tree or JSON on
//! stdout.

use crate::client::{Api, Failure};
use crate::output::{encode, print, read_json};
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;

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
    /// Name the CA that takes over from a CA (SCEP devices fetch it with GetNextCACert), or
    /// clear it.
    Successor {
        id: String,
        /// The successor's id.
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        set: Option<String>,
        /// Clear the link.
        #[arg(long)]
        clear: bool,
    },
}

/// Runs one CA command.
pub fn ca(api: &Api, out: &str, c: CaCmd) -> Result<(), Failure> {
    match c {
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
                for r in v["roots"].as_array().into_iter().flatten() {
                    print_tree(r, 0);
                }
            }
        }
        CaCmd::CreateIntermediate { file } => {
            let body = read_json(&file)?;
            print(&api.call("POST", "/api/v1/cas", Some(&body))?, out, &[]);
        }
        CaCmd::Successor { id, set, clear: _ } => print(
            &api.call(
                "PUT",
                &format!("/api/v1/cas/{}/successor", encode(&id)),
                Some(&serde_json::json!({ "successor": set })),
            )?,
            out,
            &[],
        ),
        CaCmd::Retire { id } => print(
            &api.call("POST", &format!("/api/v1/cas/{}/retire", encode(&id)), None)?,
            out,
            &[],
        ),
    }
    Ok(())
}

/// One CA of the tree and, indented below it, the CAs it issued.
fn print_tree(n: &Value, depth: usize) {
    println!(
        "{}{} ({}, {})",
        "  ".repeat(depth),
        n["id"].as_str().unwrap_or("?"),
        n["state"].as_str().unwrap_or("?"),
        n["subject"].as_str().unwrap_or("?")
    );
    for c in n["children"].as_array().into_iter().flatten() {
        print_tree(c, depth + 1);
    }
}
