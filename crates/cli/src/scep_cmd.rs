//! `strongroom scep …`: one-time SCEP challenge passwords (create, list, delete).
//!
//! In: the subcommand and a ready [`Api`]; a lifetime as seconds or `30m`, `1h`, `7d`. Out:
//! tables or JSON on stdout; a new challenge once, on stdout only (never in a file or on
//! stderr), with a reminder on stderr that it is not shown again.

use crate::client::{Api, Failure};
use crate::output::{print, query};
use clap::Subcommand;
use serde_json::json;
use std::fmt;
use std::str::FromStr;

#[derive(Subcommand, Debug)]
pub enum ScepCmd {
    /// One-time challenge passwords for SCEP enrolment.
    #[command(subcommand)]
    Challenge(ChallengeCmd),
}

#[derive(Subcommand, Debug)]
pub enum ChallengeCmd {
    /// Make a challenge for a profile; prints it (shown once).
    Create {
        /// The profile a device enrols under with it.
        #[arg(long)]
        profile: String,
        /// How long it can be used: seconds, or a number with s, m, h or d (60 s to 30 d;
        /// the server's default, 1 h, when absent).
        #[arg(long)]
        ttl: Option<Lifetime>,
    },
    /// List challenges (never the challenges themselves).
    List {
        /// Only this profile's.
        #[arg(long)]
        profile: Option<String>,
        /// Show used ones too.
        #[arg(long)]
        include_used: bool,
    },
    /// Revoke a challenge no device has used.
    Delete { id: i64 },
}

/// A lifetime on the command line, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u64);

/// Why a lifetime did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifetimeError(String);

impl fmt::Display for LifetimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a lifetime: give seconds, or a number with s, m, h or d (e.g. 90, 30m, 1h, 7d)",
            self.0
        )
    }
}

impl std::error::Error for LifetimeError {}

impl FromStr for Lifetime {
    type Err = LifetimeError;

    fn from_str(s: &str) -> Result<Lifetime, LifetimeError> {
        let bad = || LifetimeError(s.to_string());
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        n.checked_mul(per).map(Lifetime).ok_or_else(bad)
    }
}

/// Runs one SCEP command.
pub fn scep(api: &Api, out: &str, c: ScepCmd) -> Result<(), Failure> {
    match c {
        ScepCmd::Challenge(ChallengeCmd::Create { profile, ttl }) => {
            let mut body = json!({"profile": profile});
            if let Some(Lifetime(secs)) = ttl {
                body["ttl_secs"] = json!(secs);
            }
            let v = api.call("POST", "/api/v1/scep/challenges", Some(&body))?;
            print(&v, out, &[]);
            eprintln!(
                "the challenge is shown once and works once: give it to the device now \
                 (its SCEP challengePassword)"
            );
        }
        ScepCmd::Challenge(ChallengeCmd::List {
            profile,
            include_used,
        }) => {
            let path = format!(
                "/api/v1/scep/challenges{}",
                query(&[
                    ("profile", profile),
                    ("include_used", include_used.then(|| "true".to_string())),
                ])
            );
            print(
                &api.call("GET", &path, None)?,
                out,
                &[
                    "id",
                    "profile",
                    "state",
                    "created_by",
                    "created_at",
                    "expires_at",
                    "consumed_at",
                    "consumed_transaction",
                ],
            );
        }
        ScepCmd::Challenge(ChallengeCmd::Delete { id }) => {
            api.call("DELETE", &format!("/api/v1/scep/challenges/{id}"), None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_seconds() {
        for (text, secs) in [
            ("90", 90),
            ("90s", 90),
            ("30m", 1_800),
            ("1h", 3_600),
            ("7d", 604_800),
            ("0", 0),
        ] {
            assert_eq!(text.parse::<Lifetime>(), Ok(Lifetime(secs)), "{text}");
        }
        for text in [
            "",
            "h",
            "1x",
            "1h30m",
            "-5",
            "1.5h",
            " 1h",
            "1H",
            "99999999999999999999d",
        ] {
            assert!(text.parse::<Lifetime>().is_err(), "{text:?}");
        }
    }
}
