//! Signer configuration: a raw TOML document with `deny_unknown_fields`, turned into a
//! validated [`SignerConfig`] (parse, don't validate).
//!
//! In: the TOML text (see `docs/signer.example.toml`). Out: paths, HSM settings (the PIN
//! is read from a 0400 file, never from this document), the peer table and allow-lists.

use crate::Error;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use strongroom_wire::Operation;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    socket: PathBuf,
    #[serde(default = "default_socket_mode")]
    socket_mode: String,
    #[serde(default)]
    socket_group: Option<String>,
    state_dir: PathBuf,
    #[serde(default)]
    dev_mode: bool,
    #[serde(default)]
    allow_root: bool,
    #[serde(default)]
    user: Option<String>,
    #[serde(default = "default_crl_validity")]
    crl_validity_secs: u64,
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    hsm: RawHsm,
    #[serde(default, rename = "peer")]
    peers: Vec<RawPeer>,
    #[serde(default)]
    sandbox: RawSandbox,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    #[serde(default = "default_true")]
    landlock: bool,
    #[serde(default = "default_true")]
    seccomp: bool,
    #[serde(default)]
    read_only: Vec<PathBuf>,
    #[serde(default)]
    read_write: Vec<PathBuf>,
}

impl Default for RawSandbox {
    fn default() -> Self {
        RawSandbox {
            landlock: true,
            seccomp: true,
            read_only: vec![],
            read_write: vec![],
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHsm {
    module: PathBuf,
    token_label: String,
    pin_file: PathBuf,
    #[serde(default = "default_sessions")]
    sessions: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    name: String,
    uid: u32,
    operations: Vec<String>,
}

fn default_socket_mode() -> String {
    "0660".into()
}
fn default_crl_validity() -> u64 {
    7 * 86400
}
fn default_max_connections() -> usize {
    256
}
fn default_sessions() -> usize {
    2
}

/// HSM settings.
#[derive(Debug, Clone)]
pub struct HsmSettings {
    /// PKCS#11 module path.
    pub module: PathBuf,
    /// Token label (never a slot index).
    pub token_label: String,
    /// File holding the user PIN (mode 0400, checked when read).
    pub pin_file: PathBuf,
    /// Session pool size: one per concurrent HSM operation.
    pub sessions: usize,
}

/// A named peer: a Unix uid and the operations it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRule {
    /// Name used in logs and in profiles' `allowed_peers`.
    pub name: String,
    /// Kernel-verified uid (SO_PEERCRED).
    pub uid: u32,
    /// Operations allowed.
    pub operations: BTreeSet<Operation>,
}

/// Sandbox settings (see docs/security.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Apply the Landlock ruleset.
    pub landlock: bool,
    /// Apply the seccomp allow-list.
    pub seccomp: bool,
    /// Extra read-only paths (e.g. the SOFTHSM2_CONF file, a vendor module's config).
    pub read_only: Vec<PathBuf>,
    /// Extra read-write paths (e.g. SoftHSM2's token directory).
    pub read_write: Vec<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    /// Unix socket path.
    pub socket: PathBuf,
    /// Socket file mode.
    pub socket_mode: u32,
    /// Group given the socket after bind (the peers' group; the signer must be a member).
    /// `None`: the socket keeps the signer's own group.
    pub socket_group: Option<String>,
    /// Directory for the journal, policy, revocations, CA material.
    pub state_dir: PathBuf,
    /// Development mode: the uid running the signer may call every operation.
    pub dev_mode: bool,
    /// Whether running as root is tolerated (development and CI only).
    pub allow_root: bool,
    /// When started as root: the user to switch to before anything else happens.
    pub user: Option<String>,
    /// nextUpdate - thisUpdate for CRLs.
    pub crl_validity_secs: u64,
    /// Most simultaneous connections (one thread each).
    pub max_connections: usize,
    /// HSM settings.
    pub hsm: HsmSettings,
    /// Peer table, by uid.
    pub peers: BTreeMap<u32, PeerRule>,
    /// Sandbox settings.
    pub sandbox: SandboxSettings,
}

impl SignerConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<SignerConfig, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read config {}: {e}", path.display())))?;
        SignerConfig::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<SignerConfig, Error> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| Error::Config(e.to_string().trim().replace('\n', " ")))?;
        let socket_mode = u32::from_str_radix(raw.socket_mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| {
                Error::Config(format!(
                    "socket_mode {:?} must be octal like \"0660\"",
                    raw.socket_mode
                ))
            })?;
        if socket_mode & 0o007 != 0 && !raw.dev_mode {
            return Err(Error::Config(
                "socket_mode must not give access to others outside dev_mode; use groups".into(),
            ));
        }
        if raw.socket_group.as_deref().is_some_and(str::is_empty) {
            return Err(Error::Config(
                "socket_group must name a group (or be left out)".into(),
            ));
        }
        if raw.hsm.sessions == 0 || raw.hsm.sessions > 64 {
            return Err(Error::Config(
                "hsm.sessions must be between 1 and 64".into(),
            ));
        }
        if raw.hsm.token_label.is_empty() {
            return Err(Error::Config("hsm.token_label must not be empty".into()));
        }
        if raw.crl_validity_secs < 3600 {
            return Err(Error::Config(
                "crl_validity_secs must be at least 3600".into(),
            ));
        }
        if raw.max_connections == 0 {
            return Err(Error::Config("max_connections must be at least 1".into()));
        }
        let mut peers = BTreeMap::new();
        let mut names = BTreeSet::new();
        for p in raw.peers {
            let mut operations = BTreeSet::new();
            for op in &p.operations {
                let parsed = Operation::parse(op).ok_or_else(|| {
                    let all: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
                    Error::Config(format!(
                        "peer {}: unknown operation {op:?}; use one of {}",
                        p.name,
                        all.join(", ")
                    ))
                })?;
                operations.insert(parsed);
            }
            // The peer's name becomes its listener key's label (crate::listener_key).
            if (operations.contains(&Operation::ListenerKey)
                || operations.contains(&Operation::SignTlsHandshake))
                && !crate::listener_key::is_label_safe(&p.name)
            {
                return Err(Error::Config(format!(
                    "peer {:?}: a peer with a listener key needs a name of at most 64 letters, digits, '-', '_' and '.' (it labels the key)",
                    p.name
                )));
            }
            if !names.insert(p.name.clone()) {
                return Err(Error::Config(format!(
                    "peer name {:?} is used twice",
                    p.name
                )));
            }
            let rule = PeerRule {
                name: p.name.clone(),
                uid: p.uid,
                operations,
            };
            // Security: one uid, one peer; otherwise whichever entry won would decide
            // what both callers may do.
            if let Some(first) = peers.insert(p.uid, rule) {
                return Err(Error::Config(format!(
                    "[[peer]] {:?} and {:?} both have uid = {}; each peer needs its own uid",
                    first.name, p.name, p.uid
                )));
            }
        }
        Ok(SignerConfig {
            socket: raw.socket,
            socket_mode,
            socket_group: raw.socket_group,
            state_dir: raw.state_dir,
            dev_mode: raw.dev_mode,
            allow_root: raw.allow_root,
            user: raw.user,
            crl_validity_secs: raw.crl_validity_secs,
            max_connections: raw.max_connections,
            hsm: HsmSettings {
                module: raw.hsm.module,
                token_label: raw.hsm.token_label,
                pin_file: raw.hsm.pin_file,
                sessions: raw.hsm.sessions,
            },
            peers,
            sandbox: SandboxSettings {
                landlock: raw.sandbox.landlock,
                seccomp: raw.sandbox.seccomp,
                read_only: raw.sandbox.read_only,
                read_write: raw.sandbox.read_write,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
socket = "/run/s.sock"
state_dir = "/var/lib/s"
[hsm]
module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "t"
pin_file = "/run/pin"
[[peer]]
name = "front"
uid = 997
operations = ["Health", "IssueCertificate"]
"#;

    #[test]
    fn parses_and_refuses() {
        let c = SignerConfig::parse(BASE).unwrap();
        assert_eq!(c.peers[&997].operations.len(), 2);
        assert_eq!(c.socket_mode, 0o660);
        let unknown = format!("{BASE}\nsurprise = 1");
        assert!(SignerConfig::parse(&unknown).is_err());
        let bad_op = BASE.replace("\"IssueCertificate\"", "\"SignAnything\"");
        assert!(SignerConfig::parse(&bad_op)
            .unwrap_err()
            .to_string()
            .contains("SignAnything"));
        let world = BASE.replace(
            "socket = \"/run/s.sock\"",
            "socket = \"/run/s.sock\"\nsocket_mode = \"0666\"",
        );
        assert!(SignerConfig::parse(&world).is_err());
    }

    #[test]
    fn the_reference_configuration_parses() {
        let text = include_str!("../../../docs/signer.example.toml");
        let c = SignerConfig::parse(text).unwrap();
        assert_eq!(c.socket_group.as_deref(), Some("strongroom-signer-clients"));
        assert_eq!(c.socket_mode, 0o660);
        assert!(!c.dev_mode);
    }

    #[test]
    fn a_listener_key_peer_needs_a_label_safe_name() {
        let ok = BASE.replace(
            "\"IssueCertificate\"]",
            "\"IssueCertificate\", \"ListenerKey\", \"SignTlsHandshake\"]",
        );
        assert_eq!(
            SignerConfig::parse(&ok).unwrap().peers[&997]
                .operations
                .len(),
            4
        );
        let odd = ok.replace("name = \"front\"", "name = \"front end\"");
        assert!(SignerConfig::parse(&odd)
            .unwrap_err()
            .to_string()
            .contains("labels the key"));
    }

    #[test]
    fn two_peers_with_one_uid_are_refused_by_name() {
        let twice =
            format!("{BASE}\n[[peer]]\nname = \"control\"\nuid = 997\noperations = [\"Health\"]\n");
        let err = SignerConfig::parse(&twice).unwrap_err().to_string();
        assert!(
            err.contains("\"front\"") && err.contains("\"control\"") && err.contains("uid = 997"),
            "{err}"
        );
    }

    #[test]
    fn socket_group_is_optional_and_never_empty() {
        assert_eq!(SignerConfig::parse(BASE).unwrap().socket_group, None);
        let grouped = BASE.replace(
            "socket = \"/run/s.sock\"",
            "socket = \"/run/s.sock\"\nsocket_group = \"strongroom-signer-clients\"",
        );
        assert_eq!(
            SignerConfig::parse(&grouped)
                .unwrap()
                .socket_group
                .as_deref(),
            Some("strongroom-signer-clients")
        );
        let empty = BASE.replace(
            "socket = \"/run/s.sock\"",
            "socket = \"/run/s.sock\"\nsocket_group = \"\"",
        );
        assert!(SignerConfig::parse(&empty)
            .unwrap_err()
            .to_string()
            .contains("socket_group"));
    }
}
