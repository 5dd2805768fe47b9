//! `strongroom login|logout|whoami|ca|profile|cert|approval|user|apikey|audit|acme|scep|est`: the
//! control API from a shell. The session commands are here; each command group has a
//! module of its own (`ca_cmd`, `profile_cmd`, `cert_cmd`, `approval_cmd`, `user_cmd`,
//! `apikey_cmd`, `audit_cmd`, `acme_cmd`, `scep_cmd`, `est_cmd`), and [`run`] hands each its
//! subcommand.
//!
//! In: arguments, files (CSRs, profiles, password files), the connection options. Out:
//! a table or JSON on stdout, progress on stderr for bulk work, and the exit codes of
//! [`crate::client`].

use crate::acme_cmd::{acme, AcmeCmd};
use crate::apikey_cmd::{apikey, ApikeyCmd};
use crate::approval_cmd::{approval, ApprovalCmd};
use crate::audit_cmd::{audit, AuditCmd};
use crate::ca_cmd::{ca, CaCmd};
use crate::cert_cmd::{cert, CertCmd};
use crate::client::{save_session, Api, Connection, Failure};
use crate::est_cmd::{est, EstCmd};
use crate::output::{password, print};
use crate::profile_cmd::{profile, ProfileCmd};
use crate::scep_cmd::{scep, ScepCmd};
use crate::totp_cmd::{totp, TotpCmd};
use crate::user_cmd::{user, UserCmd};
use clap::Subcommand;
use serde_json::json;
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
        /// The code from the authenticator, for an account with a second factor.
        #[arg(long, conflicts_with = "recovery_code")]
        totp: Option<String>,
        /// One of the account's recovery codes, instead of a TOTP code (each works once).
        #[arg(long)]
        recovery_code: Option<String>,
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
    /// SCEP one-time challenge passwords.
    #[command(subcommand)]
    Scep(ScepCmd),
    /// EST HTTP Basic users.
    #[command(subcommand)]
    Est(EstCmd),
    /// Your TOTP second factor (enrol, confirm, remove), or another user's reset.
    #[command(subcommand)]
    Totp(TotpCmd),
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
            totp,
            recovery_code,
        } => login(&api, &user, &password_file, totp, recovery_code),
        ApiCommand::Logout => {
            api.call("POST", "/api/v1/auth/logout", None)?;
            eprintln!("logged out");
            Ok(())
        }
        ApiCommand::Whoami => {
            print(&api.call("GET", "/api/v1/auth/whoami", None)?, out, &[]);
            Ok(())
        }
        ApiCommand::Ca(c) => ca(&api, out, c),
        ApiCommand::Profile(c) => profile(&api, out, c),
        ApiCommand::Cert(c) => cert(&api, out, c),
        ApiCommand::Approval(c) => approval(&api, out, c),
        ApiCommand::User(c) => user(&api, out, c),
        ApiCommand::Apikey(c) => apikey(&api, out, c),
        ApiCommand::Acme(c) => acme(&api, out, c),
        ApiCommand::Scep(c) => scep(&api, out, c),
        ApiCommand::Est(c) => est(&api, out, c),
        ApiCommand::Totp(c) => totp(&api, out, c),
        ApiCommand::Audit(_) => Ok(()), // handled above
    }
}

/// Logs in with a password and saves the session for the next commands.
fn login(
    api: &Api,
    user: &str,
    password_file: &Option<PathBuf>,
    totp: Option<String>,
    recovery_code: Option<String>,
) -> Result<(), Failure> {
    let pw = password(password_file)?;
    let mut body = json!({"username": user, "password": pw});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    if let Some(code) = recovery_code {
        body["recovery_code"] = json!(code);
    }
    let v = api.call("POST", "/api/v1/auth/login", Some(&body))?;
    let token = v["token"]
        .as_str()
        .ok_or_else(|| Failure::local("no token in the answer"))?;
    let path = save_session(&api.url, api.ca_file.as_ref(), token)?;
    eprintln!(
        "logged in as {user} until {}; session saved in {}",
        v["expires_at"],
        path.display()
    );
    if v["must_enrol_second_factor"] == true {
        eprintln!(
            "this account has no second factor yet, and every login needs one: until you enrol an authenticator (strongroom totp enrol, then strongroom totp confirm CODE) this session can do nothing else"
        );
    }
    Ok(())
}
