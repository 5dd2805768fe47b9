//! `strongroom approval …`: list, show, approve and reject two-person approval requests.
//!
//! In: the subcommand, a comment for each decision, and a ready [`Api`]. Out: a table or
//! JSON on stdout; the approval that completes a request runs it on the server.

use crate::client::{Api, Failure};
use crate::output::{print, query};
use clap::Subcommand;
use serde_json::json;

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

const APPROVAL_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "requested_by",
    "required",
    "approved_by",
    "state",
    "expires_at",
];

/// Runs one approval command.
pub fn approval(api: &Api, out: &str, c: ApprovalCmd) -> Result<(), Failure> {
    match c {
        ApprovalCmd::List { state } => print(
            &api.call(
                "GET",
                &format!("/api/v1/approvals{}", query(&[("state", state)])),
                None,
            )?,
            out,
            APPROVAL_COLUMNS,
        ),
        ApprovalCmd::Get { id } => print(
            &api.call("GET", &format!("/api/v1/approvals/{id}"), None)?,
            out,
            &[],
        ),
        ApprovalCmd::Approve { id, comment } => decide(api, out, id, "approve", &comment)?,
        ApprovalCmd::Reject { id, comment } => decide(api, out, id, "reject", &comment)?,
    }
    Ok(())
}

/// `POST /approvals/{id}/{approve|reject}` with the comment; prints the request after.
fn decide(api: &Api, out: &str, id: i64, decision: &str, comment: &str) -> Result<(), Failure> {
    print(
        &api.call(
            "POST",
            &format!("/api/v1/approvals/{id}/{decision}"),
            Some(&json!({ "comment": comment })),
        )?,
        out,
        &[],
    );
    Ok(())
}
