//! `strongroom totp …`: the caller's TOTP second factor (enrol, confirm, remove) and an
//! admin's reset of another user's.
//!
//! In: the subcommand and a ready [`Api`] (the caller's saved session). Out: for `enrol`,
//! the `otpauth://` URI and the base32 secret to type or scan into an authenticator app, on
//! stdout only, once; for `confirm`, the ten recovery codes, on stdout only, once — each with
//! a reminder on stderr that it is not shown again.

use crate::client::{Api, Failure};
use crate::output::{encode, print};
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum TotpCmd {
    /// Start enrolling an authenticator: prints the otpauth URI and the secret (once).
    Enrol {
        /// A current code from the active factor, to replace it.
        #[arg(long)]
        code: Option<String>,
    },
    /// Confirm the enrolment with a code from the new authenticator: prints ten recovery
    /// codes (once). From then on every password login needs a code.
    Confirm {
        /// The 6-digit code the authenticator shows.
        code: String,
    },
    /// Remove your second factor (with a current code).
    Remove {
        /// The 6-digit code the authenticator shows.
        code: String,
    },
    /// Remove another user's second factor and recovery codes (user:manage; a lost phone).
    Reset {
        /// The user.
        username: String,
    },
}

/// Runs one TOTP command.
pub fn totp(api: &Api, out: &str, c: TotpCmd) -> Result<(), Failure> {
    match c {
        TotpCmd::Enrol { code } => {
            let body = match code {
                Some(code) => json!({"code": code}),
                None => json!({}),
            };
            let v = api.call("POST", "/api/v1/auth/totp", Some(&body))?;
            if out == "json" {
                print(&v, out, &[]);
            } else {
                println!("{}", v["otpauth_uri"].as_str().unwrap_or_default());
                println!("secret {}", v["secret"].as_str().unwrap_or_default());
            }
            eprintln!("scan the URI (or type the secret) into an authenticator app, then run `strongroom totp confirm CODE`; neither is shown again");
        }
        TotpCmd::Confirm { code } => {
            let v = api.call(
                "POST",
                "/api/v1/auth/totp/confirm",
                Some(&json!({"code": code})),
            )?;
            if out == "json" {
                print(&v, out, &[]);
            } else {
                for c in v["recovery_codes"].as_array().into_iter().flatten() {
                    println!("{}", c.as_str().unwrap_or_default());
                }
            }
            eprintln!("second factor active; each recovery code above logs in once instead of a code (`strongroom login --recovery-code`); they are not shown again");
        }
        TotpCmd::Remove { code } => {
            api.call("DELETE", "/api/v1/auth/totp", Some(&json!({"code": code})))?;
            eprintln!("second factor removed");
        }
        TotpCmd::Reset { username } => {
            api.call(
                "DELETE",
                &format!("/api/v1/users/{}/totp", encode(&username)),
                None,
            )?;
            eprintln!("second factor of {username} removed");
        }
    }
    Ok(())
}
