//! `strongroom acme …`: ACME accounts and orders (list, show, deactivate) and external
//! account binding keys (create, list, delete).
//!
//! In: the subcommand and a ready [`Api`]. Out: tables or JSON on stdout; the HMAC key of
//! a new EAB key once, on stdout only (never in a file or on stderr), with a reminder on
//! stderr that it is not shown again.

use crate::client::{Api, Failure};
use crate::output::{encode, print, query};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum AcmeCmd {
    /// List ACME accounts (key thumbprints, never keys).
    Accounts {
        /// Walk every page (progress on stderr).
        #[arg(long)]
        all: bool,
    },
    /// Show one account.
    Account { id: i64 },
    /// List orders.
    Orders {
        /// Only this account's.
        #[arg(long)]
        account: Option<i64>,
        /// Walk every page (progress on stderr).
        #[arg(long)]
        all: bool,
    },
    /// Deactivate an account: it can no longer order; its certificates stay valid.
    Deactivate { id: i64 },
    /// External account binding keys.
    #[command(subcommand)]
    Eab(EabCmd),
}

#[derive(Subcommand, Debug)]
pub enum EabCmd {
    /// Make a key for a profile; prints the kid and the HMAC key (shown once).
    Create {
        #[arg(long)]
        profile: String,
    },
    /// List keys (never the HMAC keys).
    List,
    /// Delete a key no account has used.
    Delete { kid: String },
}

/// GETs `path` (which has a query string or not) page by page: one page, or all of them
/// with `all`.
fn walk(api: &Api, path: &str, all: bool, what: &str) -> Result<Value, Failure> {
    let sep = if path.contains('?') { "&" } else { "?" };
    let limit = if all { 1000 } else { 100 };
    let mut items = Vec::new();
    let mut next_path = format!("{path}{sep}limit={limit}");
    loop {
        let page = api.call("GET", &next_path, None)?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match (all, page["next"].as_str()) {
            (true, Some(next)) => {
                eprintln!("… {} {what}", items.len());
                next_path = format!("{path}{sep}limit={limit}&cursor={}", encode(next));
            }
            _ => break,
        }
    }
    Ok(json!({"items": items}))
}

/// Orders with their identifiers as plain names, for a table.
fn flat_identifiers(v: &Value) -> Value {
    let mut v = v.clone();
    for o in v["items"].as_array_mut().into_iter().flatten() {
        let names: Vec<Value> = o["identifiers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["value"].clone())
            .collect();
        o["identifiers"] = Value::Array(names);
    }
    v
}

/// Runs one ACME command.
pub fn acme(api: &Api, out: &str, c: AcmeCmd) -> Result<(), Failure> {
    match c {
        AcmeCmd::Accounts { all } => print(
            &walk(api, "/api/v1/acme/accounts", all, "accounts")?,
            out,
            &[
                "id",
                "status",
                "contact",
                "eab_kid",
                "thumbprint",
                "created_ip",
                "created_at",
            ],
        ),
        AcmeCmd::Account { id } => print(
            &api.call("GET", &format!("/api/v1/acme/accounts/{id}"), None)?,
            out,
            &[],
        ),
        AcmeCmd::Orders { account, all } => {
            let path = format!(
                "/api/v1/acme/orders{}",
                query(&[("account", account.map(|a| a.to_string()))])
            );
            let v = walk(api, &path, all, "orders")?;
            if out == "json" {
                print(&v, out, &[]);
            } else {
                print(
                    &flat_identifiers(&v),
                    out,
                    &[
                        "id",
                        "account_id",
                        "profile",
                        "status",
                        "identifiers",
                        "expires_at",
                        "certificate_id",
                    ],
                );
            }
        }
        AcmeCmd::Deactivate { id } => print(
            &api.call(
                "POST",
                &format!("/api/v1/acme/accounts/{id}/deactivate"),
                None,
            )?,
            out,
            &[],
        ),
        AcmeCmd::Eab(EabCmd::Create { profile }) => {
            let v = api.call(
                "POST",
                "/api/v1/acme/eab-keys",
                Some(&json!({"profile": profile})),
            )?;
            print(&v, out, &[]);
            eprintln!(
                "the HMAC key is shown once: give it and the kid to the ACME client now \
                 (e.g. certbot --eab-kid KID --eab-hmac-key KEY)"
            );
        }
        AcmeCmd::Eab(EabCmd::List) => print(
            &api.call("GET", "/api/v1/acme/eab-keys", None)?,
            out,
            &[
                "kid",
                "profile",
                "account_id",
                "created_by",
                "created_at",
                "bound_at",
            ],
        ),
        AcmeCmd::Eab(EabCmd::Delete { kid }) => {
            api.call(
                "DELETE",
                &format!("/api/v1/acme/eab-keys/{}", encode(&kid)),
                None,
            )?;
        }
    }
    Ok(())
}
