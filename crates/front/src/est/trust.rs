//! Which client certificates a label trusts, kept current without a restart.
//!
//! In: each label's `manufacturer_anchors` file (PEM certificates) and the issuing CA of
//! each label's profile (from the signer at start). Out: per label, a webpki verifier over
//! its manufacturers' roots ([`Trust::manufacturer`]), and the union of every anchor for
//! the HTTPS listener's handshake ([`Trust::listener_anchors`]). [`watch`] re-reads a file
//! whose modification time or size changed, every [`POLL`]: a new manufacturer root takes
//! effect on the next handshake. A file that stops parsing keeps the last good set in force
//! and says so in the log.

use super::config::EstConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use strongroom_httpd::ClientTrust;

/// How often the anchor files are looked at.
pub const POLL: Duration = Duration::from_secs(2);
/// Most anchors one file may hold.
const MAX_ANCHORS: usize = 1000;

/// One label's manufacturer roots.
struct Anchors {
    path: PathBuf,
    /// What the file looked like when read (modification time and size).
    seen: Option<(SystemTime, u64)>,
    certificates: Vec<Vec<u8>>,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
}

/// Every label's client-certificate trust.
pub struct Trust {
    /// The labels' profiles' issuing CAs (fixed at start).
    own_cas: Vec<Vec<u8>>,
    labels: RwLock<HashMap<String, Anchors>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels = self.labels.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("Trust")
            .field("own_cas", &self.own_cas.len())
            .field(
                "manufacturer_anchors",
                &labels
                    .iter()
                    .map(|(l, a)| (l.clone(), a.certificates.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The certificates of a PEM file (at least one).
pub fn read_anchors(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: holds no certificate", path.display()));
    }
    if certs.len() > MAX_ANCHORS {
        return Err(format!(
            "{}: more than {MAX_ANCHORS} certificates",
            path.display()
        ));
    }
    for (i, der) in certs.iter().enumerate() {
        strongroom_x509::CertificateSummary::from_der(der)
            .map_err(|e| format!("{}: certificate {}: {e}", path.display(), i + 1))?;
    }
    Ok(certs)
}

fn look(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Trust {
    /// Reads every label's manufacturer file (an unreadable one stops the start: the
    /// operator named it).
    pub fn load(cfg: &EstConfig, own_cas: Vec<Vec<u8>>) -> Result<Trust, String> {
        let mut labels = HashMap::new();
        for label in &cfg.label {
            let Some(path) = &label.manufacturer_anchors else {
                continue;
            };
            let seen = look(path);
            let certificates = read_anchors(path)
                .map_err(|e| format!("[est] label {:?} manufacturer_anchors: {e}", label.name))?;
            let verifier = Some(strongroom_httpd::verifier_for(&certificates)?);
            labels.insert(
                label.name.clone(),
                Anchors {
                    path: path.clone(),
                    seen,
                    certificates,
                    verifier,
                },
            );
        }
        Ok(Trust {
            own_cas,
            labels: RwLock::new(labels),
        })
    }

    /// Every anchor the HTTPS listener accepts client certificates from, besides its own
    /// `client_auth_cas`.
    pub fn listener_anchors(&self) -> Vec<Vec<u8>> {
        let labels = self.labels.read().unwrap_or_else(|p| p.into_inner());
        let mut all = self.own_cas.clone();
        for anchors in labels.values() {
            for c in &anchors.certificates {
                if !all.contains(c) {
                    all.push(c.clone());
                }
            }
        }
        all
    }

    /// The verifier over `label`'s manufacturer roots, if it has any.
    pub fn manufacturer(&self, label: &str) -> Option<Arc<dyn ClientCertVerifier>> {
        let labels = self.labels.read().unwrap_or_else(|p| p.into_inner());
        labels.get(label).and_then(|a| a.verifier.clone())
    }

    /// Re-reads the files that changed; true when any set changed.
    fn refresh(&self) -> bool {
        let mut labels = self.labels.write().unwrap_or_else(|p| p.into_inner());
        let mut changed = false;
        for (label, anchors) in labels.iter_mut() {
            let now = look(&anchors.path);
            if now == anchors.seen {
                continue;
            }
            anchors.seen = now;
            match read_anchors(&anchors.path)
                .and_then(|c| Ok((strongroom_httpd::verifier_for(&c)?, c)))
            {
                Ok((verifier, certificates)) => {
                    tracing::info!(label = %label, anchors = certificates.len(), file = %anchors.path.display(), "EST: manufacturer anchors reloaded");
                    anchors.certificates = certificates;
                    anchors.verifier = Some(verifier);
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(label = %label, error = %e, "EST: manufacturer anchors unreadable; the last good set stays in force");
                }
            }
        }
        changed
    }
}

/// Keeps the labels' anchors and the listener's trust current, for ever.
pub async fn watch(trust: Arc<Trust>, listener: Option<Arc<ClientTrust>>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let t = trust.clone();
        let changed = tokio::task::spawn_blocking(move || t.refresh())
            .await
            .unwrap_or(false);
        if changed {
            if let Some(l) = &listener {
                if let Err(e) = l.set_extra(&trust.listener_anchors()) {
                    tracing::warn!(error = %e, "EST: the listener keeps its previous client anchors");
                }
            }
        }
    }
}
