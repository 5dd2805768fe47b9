//! The front's configuration file (TOML, unknown keys refused).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use strongroom_httpd::DatabaseSettings;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Plain HTTP listen address for OCSP and CRLs (`127.0.0.1:8080`).
    pub listen_http: SocketAddr,
    /// HTTPS listen address (`127.0.0.1:8443`); needs `[tls]`.
    #[serde(default)]
    pub listen_https: Option<SocketAddr>,
    /// The HTTPS listener's certificate (made fresh at each start, issued by the signer).
    #[serde(default)]
    pub tls: Option<strongroom_httpd::ListenerCert>,
    /// `sqlite://PATH` or `postgres://…` (the front's own role); or name a variable in
    /// `database_url_env`. The front never migrates: control does.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Environment variable holding the database URL. Exactly one of the two
    /// ([`Config::database`]).
    #[serde(default)]
    pub database_url_env: Option<String>,
    /// The signer's socket (for responses missing from the store).
    pub signer_socket: PathBuf,
    /// OCSP settings.
    #[serde(default)]
    pub ocsp: OcspConfig,
    /// The Unix user to drop to when started as root.
    #[serde(default)]
    pub user: Option<String>,
    /// Allow running as root (development containers only).
    #[serde(default)]
    pub allow_root: bool,
    /// Sandbox switches and extra paths.
    #[serde(default)]
    pub sandbox: strongroom_sandbox::network_daemon::SandboxSettings,
    /// The ACME server (on the HTTPS listener); absent: no ACME.
    #[serde(default)]
    pub acme: Option<crate::acme::config::AcmeConfig>,
    /// The SCEP server (`/scep`, on both listeners); absent: no SCEP.
    #[serde(default)]
    pub scep: Option<crate::scep::config::ScepConfig>,
    /// The EST server (`/.well-known/est/`, on the HTTPS listener only); absent: no EST.
    #[serde(default)]
    pub est: Option<crate::est::config::EstConfig>,
    /// The metrics listener (`[metrics] listen`); absent: no metrics served.
    #[serde(default)]
    pub metrics: Option<crate::metrics::MetricsConfig>,
}

/// OCSP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcspConfig {
    /// Validity of a response the front has signed on a cache miss (seconds).
    #[serde(default = "default_validity")]
    pub validity_secs: u32,
    /// Answer requests that carry a nonce with a fresh, signed-on-demand response echoing
    /// it (costs an HSM signature per request). Off: such requests get the cached response,
    /// without a nonce, as RFC 8954 allows.
    #[serde(default)]
    pub nonce_on_demand: bool,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            validity_secs: default_validity(),
            nonce_on_demand: false,
        }
    }
}

fn default_validity() -> u32 {
    86_400
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut c: Config =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        c.database()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if c.listen_https.is_some() != c.tls.is_some() {
            return Err(format!(
                "{}: listen_https and [tls] go together",
                path.display()
            ));
        }
        if let Some(tls) = &c.tls {
            tls.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(m) = &c.metrics {
            m.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if !(60..=7 * 86_400).contains(&c.ocsp.validity_secs) {
            return Err(format!(
                "{}: ocsp.validity_secs must be between 60 and 604800",
                path.display()
            ));
        }
        if let Some(acme) = c.acme.as_mut() {
            if c.listen_https.is_none() {
                return Err(format!(
                    "{}: [acme] needs the HTTPS listener (listen_https and [tls])",
                    path.display()
                ));
            }
            acme.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(scep) = &c.scep {
            scep.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(est) = &c.est {
            if c.listen_https.is_none() {
                return Err(format!(
                    "{}: [est] needs the HTTPS listener (listen_https and [tls])",
                    path.display()
                ));
            }
            est.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(c)
    }

    /// Where the database URL comes from; refuses both fields or neither.
    pub fn database(&self) -> Result<DatabaseSettings, String> {
        DatabaseSettings::from_fields(
            self.database_url.as_deref(),
            self.database_url_env.as_deref(),
        )
    }

    /// The sandbox for this configuration: the signer socket's directory and the SQLite
    /// directory, nothing else of the data.
    pub fn confinement(&self) -> strongroom_sandbox::network_daemon::Confinement {
        use strongroom_sandbox::network_daemon::{parent, Confinement};
        let mut read_write = vec![parent(&self.signer_socket)];
        let mut read_only = self.sandbox.read_only.clone();
        if let Ok(database) = self.database() {
            let paths = database.sandbox_paths();
            read_write.extend(paths.read_write);
            read_only.extend(paths.read_only);
        }
        read_write.extend(self.sandbox.read_write.iter().cloned());
        read_only.extend(self.tls.iter().flat_map(|t| t.read_only_paths()));
        // The static challenges and the connectors' keys, read once after the sandbox is up.
        let scep_profiles = || self.scep.iter().flat_map(|s| s.profile.iter());
        read_only.extend(scep_profiles().filter_map(|p| p.challenge_file.clone()));
        read_only.extend(
            scep_profiles()
                .filter_map(|p| p.dynamic_challenge.as_ref().map(|d| d.trust_anchor.clone())),
        );
        // EST manufacturer anchors: their directories, so a file replaced by rename is
        // re-read (est::trust::watch).
        read_only.extend(
            self.est
                .iter()
                .flat_map(|e| e.label.iter())
                .filter_map(|l| l.manufacturer_anchors.as_deref())
                .map(parent),
        );
        Confinement {
            user: self.user.clone(),
            allow_root: self.allow_root,
            landlock: self.sandbox.landlock,
            seccomp: self.sandbox.seccomp,
            read_only,
            read_write,
        }
    }
}
