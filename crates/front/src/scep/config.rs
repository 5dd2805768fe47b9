//! The `[scep]` table of the front's configuration.
//!
//! In: TOML (unknown keys refused). Out: the SCEP profiles offered — each a certificate
//! profile of the policy, with its static challenge password (read from a file at start,
//! never from the configuration itself), whether DES envelopes are accepted, and whether
//! a certificate of the profile may renew itself, and whether it takes signed dynamic
//! challenges (the connector's key file and the per-device limit) — and the profile `/scep`
//! serves.

use serde::Deserialize;
use std::path::PathBuf;

/// SCEP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScepConfig {
    /// The profile `/scep` issues under (`/scep/{name}` serves each listed profile).
    pub default_profile: String,
    /// Profiles offered over SCEP.
    pub profile: Vec<ScepProfile>,
}

/// One profile offered over SCEP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScepProfile {
    /// The certificate profile's name (its issuer is the CA devices enrol with).
    pub name: String,
    /// A file holding this profile's static challenge password (one line; at least 16
    /// characters). Absent: only one-time challenges (`strongroom scep challenge create`).
    #[serde(default)]
    pub challenge_file: Option<PathBuf>,
    /// Accept envelopes encrypted with DES or 3DES (legacy clients; Debian's `scepclient`
    /// sends single DES whatever GetCACaps says). Each use is logged and counted. Replies
    /// are AES either way.
    #[serde(default = "yes")]
    pub legacy_ciphers: bool,
    /// Accept RenewalReq: a device renews with its current, unexpired, unrevoked
    /// certificate of this profile, for the same names, without a challenge.
    #[serde(default = "yes")]
    pub renewal: bool,
    /// Refuse a PKCSReq whose transactionID is not a hash of the request's key (RFC 8894
    /// §3.2.1.1; micromdm's and PyScep's clients send one). Windows, Intune and much network
    /// gear send random identifiers: turn this off for profiles they enrol under.
    #[serde(default = "yes")]
    pub key_bound_transaction_id: bool,
    /// Accept signed dynamic challenges from an MDM connector (docs/scep.md, Dynamic
    /// challenges). Absent: none.
    #[serde(default)]
    pub dynamic_challenge: Option<DynamicChallengeConfig>,
}

/// `dynamic_challenge = { trust_anchor = "PATH.pem", per_device_per_day = 3 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicChallengeConfig {
    /// The connector's P-256 public key, a PEM `PUBLIC KEY` file (read once at start,
    /// read-only under Landlock).
    pub trust_anchor: PathBuf,
    /// Tokens one device may enrol with under this profile in any 24 hours (1 to 1000).
    #[serde(default = "three")]
    pub per_device_per_day: u32,
}

fn three() -> u32 {
    3
}

fn yes() -> bool {
    true
}

impl ScepConfig {
    /// Refuses a configuration that cannot serve: no profiles, a default that is not
    /// listed, a name listed twice.
    pub fn validate(&self) -> Result<(), String> {
        if self.profile.is_empty() {
            return Err("[scep] lists no [[scep.profile]]".into());
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.profile {
            if !seen.insert(p.name.as_str()) {
                return Err(format!("[scep] lists profile {:?} twice", p.name));
            }
            if let Some(d) = &p.dynamic_challenge {
                if !(1..=1000).contains(&d.per_device_per_day) {
                    return Err(format!(
                        "[scep] profile {:?}: dynamic_challenge.per_device_per_day is 1 to 1000",
                        p.name
                    ));
                }
            }
        }
        if !seen.contains(self.default_profile.as_str()) {
            return Err(format!(
                "[scep] default_profile {:?} is not among its [[scep.profile]] names",
                self.default_profile
            ));
        }
        Ok(())
    }

    /// The profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&ScepProfile> {
        self.profile.iter().find(|p| p.name == name)
    }
}
