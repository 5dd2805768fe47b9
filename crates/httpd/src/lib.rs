//! The listeners shared by control and front: HTTPS, and plain HTTP for the front's
//! public OCSP and CRL port.
//!
//! In: a [`ListenerCert`] (where the key and certificate come from, client-certificate
//! CAs), the daemon's `SignerLink`, an axum router. Out: a TLS server ([`listener`]) whose
//! certificate is one of:
//! - issued by the signer at start for the daemon's own P-256 listener key in the HSM,
//!   which signs each handshake through the signer (`key = "hsm"`, module `hsm_key`), or for
//!   a key made in memory and never written to disk (`key = "memory"`); renewed by the
//!   signer before it expires and swapped in without a restart ([`keep_current`]);
//! - the operator's own (`key = "file"`: a publicly trusted certificate and its key in
//!   files), reloaded when the files change or on SIGHUP, with a warning before it expires.
//!
//! Optional client certificate verification against our own CAs and the application's
//! extra anchors, replaceable while serving ([`ClientTrust`]); HTTP/1.1 with a header-read
//! timeout and a connection cap. A verified client certificate (fingerprint and chain)
//! rides in each request's extensions as a [`PeerCertificate`], the session's version and
//! RFC 9266 channel binding as a [`TlsSession`], the client's address as axum's
//! `ConnectInfo`. [`record_listener`] puts a signer-issued listener certificate
//! into the inventory; [`serve_plain`] is the same accept loop without TLS (the front's
//! public OCSP and CRL port).
//!
//! Shared by the two network daemons besides the listeners: [`daemon`], their `main`
//! (`run`, `--check-config`, `sandbox-check`, the sandbox before any thread, the runtime,
//! the exit), [`DatabaseSettings`], their `database_url` / `database_url_env` and the
//! paths the sandbox opens for it, and [`password`], the argon2id hashing of control's
//! user passwords and EST's HTTP Basic credentials.

#![forbid(unsafe_code)]

mod client_trust;
mod current_cert;
pub mod daemon;
mod database;
mod deadline;
mod hsm_key;
mod inventory;
mod keeper;
mod listener;
pub mod metrics;
mod operator_cert;
pub mod password;
mod serve;
pub use client_trust::{verifier_for, ClientTrust};
pub use database::{DatabasePaths, DatabaseSettings};
pub use inventory::record_listener;
pub use keeper::{keep_current, Keeper};
pub use listener::{listener, Listener};
pub use serve::{serve_plain, serve_tls, Source};

use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use strongroom_types::{CaId, ProfileName, RequestedName};

/// Where the listener's private key lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKeyKind {
    /// The daemon's own listener key in the HSM (the signer's `ListenerKey`); every
    /// handshake is signed by the signer (`SignTlsHandshake`). docs/architecture.md, Keys.
    #[default]
    Hsm,
    /// A fresh key made in this process's memory at every start (development, or a signer
    /// whose allow-list lacks the listener-key operations).
    Memory,
    /// The operator's certificate and key, in `certificate_file` and `key_file` (a publicly
    /// trusted certificate for clients that do not trust our root).
    File,
}

/// The listener certificate: issued by the signer under `profile` at every start and
/// renewed before it expires, for the daemon's listener key in the HSM or for a key made in
/// memory, so no TLS key ever sits on disk; or the operator's own (`key = "file"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerCert {
    /// Where the key lives (default `hsm`).
    #[serde(default)]
    pub key: ListenerKeyKind,
    /// The profile the listener certificate is issued under (`hsm` and `memory`).
    #[serde(default)]
    pub profile: Option<ProfileName>,
    /// Its names (`ip:127.0.0.1`, `dns:ca.example.com`; `hsm` and `memory`).
    #[serde(default)]
    pub names: Vec<RequestedName>,
    /// Its validity (default 7 days); a new one is issued once two thirds of it have passed.
    #[serde(default = "default_tls_validity")]
    pub validity_secs: u64,
    /// The operator's certificate chain, PEM, leaf first (`key = "file"`).
    #[serde(default)]
    pub certificate_file: Option<PathBuf>,
    /// The operator's private key, PEM (PKCS#8, SEC1 or PKCS#1; `key = "file"`). Readable by
    /// the daemon's user only.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Warn this many days before the operator's certificate expires (default 21).
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u64,
    /// CAs whose client certificates are verified (mutual TLS; optional). What a verified
    /// certificate may do is the application's decision.
    #[serde(default)]
    pub client_auth_cas: Vec<CaId>,
    /// With `key = "hsm"` (default true): a second certificate, for a key made in memory at
    /// start, served only while the HSM fails to sign handshakes — so the API, the console,
    /// ACME and EST still answer during an HSM outage (with "unavailable, retry" where they
    /// need the HSM) instead of failing every TLS handshake. `false` keeps every handshake
    /// key in the HSM, and the listener unreachable while the HSM is.
    #[serde(default = "default_standby_key")]
    pub standby_key: bool,
}

fn default_standby_key() -> bool {
    true
}

/// The shortest validity the signer is asked for: renewal at two thirds leaves 40 s to
/// retry.
const MIN_TLS_VALIDITY: u64 = 120;

fn default_tls_validity() -> u64 {
    7 * 86_400
}

fn default_expiry_warning_days() -> u64 {
    21
}

impl ListenerCert {
    /// Checks that the settings fit `key`: a profile and names for a certificate the signer
    /// issues, the two files for the operator's own, never both.
    pub fn validate(&self) -> Result<(), String> {
        match self.key {
            ListenerKeyKind::Hsm | ListenerKeyKind::Memory => {
                if self.profile.is_none() {
                    return Err("tls.profile is required: the signer issues the listener certificate under it (or set tls.key = \"file\" for your own)".into());
                }
                if self.names.is_empty() {
                    return Err("tls.names must name at least one address or host".into());
                }
                if self.certificate_file.is_some() || self.key_file.is_some() {
                    return Err("tls.certificate_file and tls.key_file go with tls.key = \"file\"; with a key in the HSM or in memory the signer issues the certificate".into());
                }
                if self.validity_secs < MIN_TLS_VALIDITY {
                    return Err(format!(
                        "tls.validity_secs must be at least {MIN_TLS_VALIDITY}"
                    ));
                }
            }
            ListenerKeyKind::File => {
                if self.certificate_file.is_none() || self.key_file.is_none() {
                    return Err(
                        "tls.key = \"file\" needs tls.certificate_file and tls.key_file".into(),
                    );
                }
                if self.profile.is_some() || !self.names.is_empty() {
                    return Err("tls.profile and tls.names are for a certificate the signer issues; with tls.key = \"file\" the certificate is certificate_file's".into());
                }
            }
        }
        Ok(())
    }

    /// Files the daemon reads after its sandbox is in place: the directories of the
    /// operator's certificate and key (whole directories, so a renewed file that replaces
    /// the old one by rename stays readable).
    pub fn read_only_paths(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = [&self.certificate_file, &self.key_file]
            .into_iter()
            .flatten()
            .map(|f| match f.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            })
            .collect();
        dirs.dedup();
        dirs
    }
}

/// The connection's verified client certificate, in every request's extensions.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// Its SHA-256 fingerprint: colon-separated upper-case hex, as the inventory stores it.
    pub fingerprint: String,
    /// The chain the client sent, leaf first (DER), as the listener verified it against
    /// the union of its anchors; a handler that trusts fewer anchors verifies it again.
    pub chain: Arc<Vec<Vec<u8>>>,
}

/// What the TLS session of the connection offers a handler, in every request's
/// extensions on a TLS listener.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// The session is TLS 1.3.
    pub tls13: bool,
    /// RFC 9266 `tls-exporter` channel binding: 32 bytes exported with the label
    /// `EXPORTER-Channel-Binding` and no context. TLS 1.3 only: RFC 9266 does not define it
    /// for TLS 1.2 sessions without extended master secret, and we offer none.
    pub channel_binding: Option<[u8; 32]>,
}

// By hand: the binding value is per-session key material; it is not logged.
impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("tls13", &self.tls13)
            .field(
                "channel_binding",
                &self.channel_binding.map(|_| "<32 bytes>"),
            )
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A future that completes on SIGTERM or SIGINT. SIGHUP (`systemctl reload`) never ends the
/// daemon: it is taken and ignored here, and the keeper of an operator's listener
/// certificate re-reads its files on it ([`keep_current`]). The handlers are installed when
/// this is called, not when the future is first polled: call it first thing in a daemon's
/// `run`, so a reload during start-up does not kill it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let streams = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    );
    async move {
        match streams {
            (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
                tokio::select! {
                    _ = term.recv() => return,
                    _ = int.recv() => return,
                    _ = hup.recv() => {},
                }
            },
            _ => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer_issued() -> ListenerCert {
        ListenerCert {
            key: ListenerKeyKind::Hsm,
            profile: Some("tls-server".parse().unwrap()),
            names: vec!["ip:127.0.0.1".parse().unwrap()],
            validity_secs: default_tls_validity(),
            certificate_file: None,
            key_file: None,
            expiry_warning_days: default_expiry_warning_days(),
            client_auth_cas: Vec::new(),
            standby_key: default_standby_key(),
        }
    }

    fn operators() -> ListenerCert {
        ListenerCert {
            key: ListenerKeyKind::File,
            profile: None,
            names: Vec::new(),
            certificate_file: Some("/etc/strongroom/tls/chain.pem".into()),
            key_file: Some("/etc/strongroom/tls-key/key.pem".into()),
            ..signer_issued()
        }
    }

    #[test]
    fn each_key_source_takes_only_its_own_settings() {
        assert_eq!(signer_issued().validate(), Ok(()));
        assert_eq!(operators().validate(), Ok(()));
        let refused = |spec: ListenerCert, why: &str| {
            let e = spec.validate().unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        refused(
            ListenerCert {
                profile: None,
                ..signer_issued()
            },
            "tls.profile is required",
        );
        refused(
            ListenerCert {
                names: Vec::new(),
                ..signer_issued()
            },
            "tls.names",
        );
        refused(
            ListenerCert {
                validity_secs: 60,
                ..signer_issued()
            },
            "at least 120",
        );
        refused(
            ListenerCert {
                certificate_file: Some("/x".into()),
                ..signer_issued()
            },
            "go with tls.key = \"file\"",
        );
        refused(
            ListenerCert {
                key_file: None,
                ..operators()
            },
            "needs tls.certificate_file and tls.key_file",
        );
        refused(
            ListenerCert {
                profile: Some("tls-server".parse().unwrap()),
                ..operators()
            },
            "are for a certificate the signer issues",
        );
    }

    #[test]
    fn the_sandbox_opens_the_directories_of_the_operators_files() {
        assert_eq!(
            operators().read_only_paths(),
            vec![
                PathBuf::from("/etc/strongroom/tls"),
                PathBuf::from("/etc/strongroom/tls-key")
            ]
        );
        assert!(signer_issued().read_only_paths().is_empty());
    }
}
