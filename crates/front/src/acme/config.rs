//! The `[acme]` table of the front's configuration.
//!
//! In: TOML (unknown keys refused). Out: validated settings: the external base URL every
//! ACME URL is built from (and that JWS `url` headers must match), the profiles offered,
//! lifetimes, rate limits and the validator's ports, resolver and address guard.

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use strongroom_x509::name_constraints::Subtree;

/// ACME settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The URL clients reach the HTTPS listener at, without a trailing slash
    /// (`https://acme.example.com`); every ACME URL starts with it.
    pub base_url: String,
    /// The profile `/acme/directory` issues under.
    pub default_profile: String,
    /// Profiles offered over ACME (each gets `/acme/{name}/directory`).
    pub profile: Vec<AcmeProfile>,
    /// A terms-of-service URL shown in the directory; when set, new accounts must agree.
    #[serde(default)]
    pub terms_of_service: Option<String>,
    /// Order (and authorization) lifetime before finalization.
    #[serde(default = "default_order_lifetime")]
    pub order_lifetime_secs: i64,
    /// Nonce lifetime.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime_secs: i64,
    /// Rate limits (per hour, sliding).
    #[serde(default)]
    pub limits: Limits,
    /// Challenge validation.
    #[serde(default)]
    pub validation: Validation,
    /// How long revokeCert waits for control to carry out the revocation (and for OCSP
    /// to say `revoked`) before it answers `503` with Retry-After instead of `200`.
    #[serde(default = "default_revocation_wait")]
    pub revocation_wait_secs: u64,
}

/// One profile offered over ACME.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeProfile {
    /// The certificate profile's name.
    pub name: String,
    /// New accounts in this directory must present an external account binding made
    /// with `strongroom acme eab create --profile NAME`; orders under this profile need an
    /// account bound to it.
    #[serde(default)]
    pub external_account_required: bool,
    /// ARI: the suggested renewal window, as fractions of the certificate's lifetime.
    #[serde(default = "default_window")]
    pub renewal_window: [f64; 2],
}

/// Per-hour limits; 0 disables one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// New orders per account.
    #[serde(default = "default_orders_per_account")]
    pub orders_per_account: i64,
    /// New accounts plus new orders per client address.
    #[serde(default = "default_requests_per_ip")]
    pub requests_per_ip: i64,
    /// New authorizations per identifier (name or address).
    #[serde(default = "default_per_identifier")]
    pub authorizations_per_identifier: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            orders_per_account: default_orders_per_account(),
            requests_per_ip: default_requests_per_ip(),
            authorizations_per_identifier: default_per_identifier(),
        }
    }
}

/// How challenges are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Port http-01 connects to (80; a test mode sets another, as Pebble's `httpPort`).
    #[serde(default = "default_http01_port")]
    pub http01_port: u16,
    /// Port tls-alpn-01 connects to (443; Pebble's `tlsPort`).
    #[serde(default = "default_tls_alpn01_port")]
    pub tls_alpn01_port: u16,
    /// The DNS resolver (`127.0.0.1:5353`); default: the first nameserver in
    /// /etc/resolv.conf, read at start-up.
    #[serde(default)]
    pub resolver: Option<SocketAddr>,
    /// Networks validation may connect to although they are private, loopback or
    /// link-local (`["10.0.0.0/8"]` for an internal CA; `["127.0.0.0/8"]` in tests).
    /// Everything else in those ranges is refused (SSRF guard).
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    /// Seconds for one validation attempt.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// This CA's issuer domain names for CAA (RFC 8659), e.g. `["pki.example.com"]`. When
    /// set, a DNS identifier is valid only if the CAA records found climbing from it allow
    /// one of them; empty (the default) does not check CAA, as suits a CA for internal
    /// names that publish none.
    #[serde(default)]
    pub caa_identities: Vec<String>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            http01_port: default_http01_port(),
            tls_alpn01_port: default_tls_alpn01_port(),
            resolver: None,
            allowed_networks: Vec::new(),
            timeout_secs: default_timeout(),
            caa_identities: Vec::new(),
        }
    }
}

fn default_order_lifetime() -> i64 {
    86_400
}
fn default_nonce_lifetime() -> i64 {
    3_600
}
fn default_window() -> [f64; 2] {
    [0.66, 0.75]
}
fn default_orders_per_account() -> i64 {
    300
}
fn default_requests_per_ip() -> i64 {
    1_000
}
fn default_per_identifier() -> i64 {
    100
}
fn default_http01_port() -> u16 {
    80
}
fn default_tls_alpn01_port() -> u16 {
    443
}
fn default_timeout() -> u64 {
    10
}
fn default_revocation_wait() -> u64 {
    10
}

/// A network of `allowed_networks` (`10.0.0.0/8`), parsed and matched by the same code as
/// a CA's IP name constraints.
pub fn network(s: &str) -> Result<Subtree, String> {
    Subtree::parse(&format!("ip:{s}")).map_err(|e| e.to_string())
}

impl AcmeConfig {
    /// Checks what serde cannot.
    pub fn validate(&mut self) -> Result<(), String> {
        let b = self.base_url.trim_end_matches('/').to_string();
        if !b.starts_with("https://") || b.len() <= "https://".len() || b[8..].contains('/') {
            return Err(format!(
                "acme.base_url {:?} must be https://HOST[:PORT] without a path",
                self.base_url
            ));
        }
        self.base_url = b;
        if self.profile.is_empty() {
            return Err("acme: list at least one [[acme.profile]]".into());
        }
        for p in &self.profile {
            if p.name.is_empty()
                || !p
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(format!(
                    "acme.profile name {:?} must be lower-case letters, digits and '-'",
                    p.name
                ));
            }
            if [
                "account",
                "order",
                "authz",
                "challenge",
                "cert",
                "new-nonce",
                "key-change",
                "revoke-cert",
                "renewal-info",
                "directory",
            ]
            .contains(&p.name.as_str())
            {
                return Err(format!(
                    "acme.profile name {:?} collides with an ACME path",
                    p.name
                ));
            }
            let [s, e] = p.renewal_window;
            if !(0.0..1.0).contains(&s) || !(s..=1.0).contains(&e) || e <= s {
                return Err(format!(
                    "acme.profile {}: renewal_window must be two fractions 0 <= start < end <= 1",
                    p.name
                ));
            }
        }
        if !self.profile.iter().any(|p| p.name == self.default_profile) {
            return Err(format!(
                "acme.default_profile {:?} is not one of the [[acme.profile]] entries",
                self.default_profile
            ));
        }
        if !(300..=30 * 86_400).contains(&self.order_lifetime_secs) {
            return Err("acme.order_lifetime_secs must be between 300 and 2592000".into());
        }
        if !(60..=86_400).contains(&self.nonce_lifetime_secs) {
            return Err("acme.nonce_lifetime_secs must be between 60 and 86400".into());
        }
        if !(1..=60).contains(&self.revocation_wait_secs) {
            return Err("acme.revocation_wait_secs must be between 1 and 60".into());
        }
        if !(1..=60).contains(&self.validation.timeout_secs) {
            return Err("acme.validation.timeout_secs must be between 1 and 60".into());
        }
        for id in &mut self.validation.caa_identities {
            let name: strongroom_types::DnsName = id.parse().map_err(|e| {
                format!("acme.validation.caa_identities: {id:?} is not a domain name ({e})")
            })?;
            *id = name.as_str().to_string();
        }
        for n in &self.validation.allowed_networks {
            network(n).map_err(|e| format!("acme.validation.allowed_networks: {e}"))?;
        }
        if self.validation.resolver.is_none() {
            self.validation.resolver = Some(system_resolver().unwrap_or_else(|why| {
                // Not fatal: IP identifiers still validate; DNS names fail with a clear
                // problem until a resolver is configured.
                tracing::warn!("{why}; DNS lookups for ACME validation go to 127.0.0.1:53");
                SocketAddr::from(([127, 0, 0, 1], 53))
            }));
        }
        Ok(())
    }

    /// The allowed networks, parsed.
    pub fn allowed_networks(&self) -> Vec<Subtree> {
        self.validation
            .allowed_networks
            .iter()
            .filter_map(|n| network(n).ok())
            .collect()
    }

    /// A profile offered over ACME.
    pub fn profile(&self, name: &str) -> Option<&AcmeProfile> {
        self.profile.iter().find(|p| p.name == name)
    }
}

/// The first `nameserver` of /etc/resolv.conf (read before the sandbox closes /etc).
fn system_resolver() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| {
        format!("acme.validation.resolver is not set and /etc/resolv.conf cannot be read: {e}")
    })?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| {
            "acme.validation.resolver is not set and /etc/resolv.conf names no nameserver".into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_types::RequestedName;

    #[test]
    fn networks() {
        let inside = |n: &str, ip: &str| {
            network(n)
                .unwrap()
                .matches(&RequestedName::Ip(ip.parse().unwrap()))
        };
        assert!(inside("10.0.0.0/8", "10.1.2.3"));
        assert!(!inside("10.0.0.0/8", "11.0.0.1"));
        assert!(inside("0.0.0.0/0", "8.8.8.8"));
        assert!(inside("fd00::/8", "fd12::1"));
        assert!(!inside("fd00::/8", "10.0.0.1"));
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "::/129", "10.0.0.1/8"] {
            assert!(network(bad).is_err(), "{bad}");
        }
    }
}
