//! `strongroom est …`: EST (RFC 7030) HTTP Basic users (create, list, delete, unlock).
//!
//! In: the subcommand, a ready [`Api`], and for `create` optionally a file holding the
//! password. Out: tables or JSON on stdout; a password control drew, once, on stdout only
//! (never in a file or on stderr), with a reminder on stderr that it is not shown again. A
//! password given in a file is never printed.

use crate::client::{Api, Failure};
use crate::output::{encode, password, print, query};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum EstCmd {
    /// HTTP Basic users that EST clients log in with.
    #[command(subcommand)]
    User(EstUserCmd),
}

/// The columns of a user, in tables.
const COLUMNS: &[&str] = &[
    "label",
    "username",
    "locked",
    "failures",
    "locked_until",
    "created_by",
    "created_at",
];

#[derive(Subcommand, Debug)]
pub enum EstUserCmd {
    /// Make a user for an EST label; without --password-file control draws a password and
    /// this prints it (shown once).
    Create {
        /// The EST label (`default` for /.well-known/est/ without one).
        #[arg(long)]
        label: String,
        /// The HTTP Basic username (visible ASCII, no ':').
        #[arg(long)]
        username: String,
        /// File holding the password (at least 12 characters; its first line is used).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users (never a password).
    List {
        /// Only this label's.
        #[arg(long)]
        label: Option<String>,
    },
    /// Delete a user: its next login is refused.
    Delete { label: String, username: String },
    /// Lift a user's lock after too many wrong passwords, and clear the count.
    Unlock { label: String, username: String },
}

/// `/api/v1/est/users/{label}/{username}`, each segment percent-encoded (a username may
/// hold `/`, `?`, `#` or `%`).
fn user_path(label: &str, username: &str) -> String {
    format!("/api/v1/est/users/{}/{}", encode(label), encode(username))
}

/// Runs one EST command.
pub fn est(api: &Api, out: &str, c: EstCmd) -> Result<(), Failure> {
    match c {
        EstCmd::User(EstUserCmd::Create {
            label,
            username,
            password_file,
        }) => {
            let mut body = json!({"label": label, "username": username});
            if password_file.is_some() {
                body["password"] = json!(password(&password_file)?);
            }
            let v = api.call("POST", "/api/v1/est/users", Some(&body))?;
            if out == "json" {
                print(&v, out, &[]);
            } else {
                print(&v["user"], out, &[]);
                if let Some(pw) = v["password"].as_str() {
                    println!("{:<16} {pw}", "password");
                }
            }
            if v["password"].is_string() {
                eprintln!(
                    "the password is shown once: give it to the EST client now \
                     (HTTP Basic, user {username})"
                );
            }
        }
        EstCmd::User(EstUserCmd::List { label }) => {
            let path = format!("/api/v1/est/users{}", query(&[("label", label)]));
            print(&api.call("GET", &path, None)?, out, COLUMNS);
        }
        EstCmd::User(EstUserCmd::Delete { label, username }) => {
            api.call("DELETE", &user_path(&label, &username), None)?;
        }
        EstCmd::User(EstUserCmd::Unlock { label, username }) => {
            let v = api.call(
                "POST",
                &format!("{}/unlock", user_path(&label, &username)),
                None,
            )?;
            print(&v["user"], out, &[]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths_encode_what_a_username_may_hold() {
        assert_eq!(
            user_path("default", "router-1"),
            "/api/v1/est/users/default/router-1"
        );
        assert_eq!(
            user_path("default", "a/b?c#d%e"),
            "/api/v1/est/users/default/a%2Fb%3Fc%23d%25e"
        );
    }
}
