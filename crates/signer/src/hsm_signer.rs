//! The bridge from the X.509 builder to the HSM, and the HSM's availability.
//!
//! In: linted TBS bytes from `strongroom-x509`; the HSM settings. Out: signatures made by
//! a CA key inside the token (a failed one as the X.509 layer's temporary or permanent
//! signer error, mapped back to the wire kind by [`signing_failure`]), and an [`HsmHandle`]
//! that starts degraded (instead of blocking start-up) when the token is temporarily
//! unreachable and keeps probing.

use crate::config::HsmSettings;
use crate::error::{internal, wire_error};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use strongroom_hsm::{Hsm, HsmConfig, HsmError, KeyRef, Pin};
use strongroom_types::SignatureAlgorithm;
use strongroom_wire::{ErrorKind, SignerError};
use strongroom_x509::{TbsSigner, X509Error};

/// Signs with one CA key; a failure says whether waiting can help
/// ([`X509Error::SignerUnavailable`]) or not ([`X509Error::SignerRefused`]).
#[derive(Debug)]
pub struct HsmTbsSigner<'a> {
    hsm: &'a Hsm,
    key: &'a KeyRef,
    algorithm: SignatureAlgorithm,
}

impl<'a> HsmTbsSigner<'a> {
    /// A signer for `key` with `algorithm`.
    pub fn new(hsm: &'a Hsm, key: &'a KeyRef, algorithm: SignatureAlgorithm) -> Self {
        HsmTbsSigner {
            hsm,
            key,
            algorithm,
        }
    }
}

impl TbsSigner for HsmTbsSigner<'_> {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, X509Error> {
        crate::metrics::timed_hsm_signature(|| self.hsm.sign(self.key, self.algorithm, tbs))
            .map_err(|e| {
                if e.is_temporary() {
                    X509Error::SignerUnavailable(e.to_string())
                } else {
                    X509Error::SignerRefused(e.to_string())
                }
            })
    }
}

/// Maps a failed build-and-sign to the stable wire kind: the HSM's own failure keeps its
/// temporary/permanent kind and text (as [`hsm_error`] gives them); anything else the X.509
/// layer refused after linting is the signer's fault.
pub fn signing_failure(e: X509Error) -> SignerError {
    match e {
        X509Error::SignerUnavailable(detail) => wire_error(ErrorKind::HsmUnavailable, detail),
        X509Error::SignerRefused(detail) => wire_error(ErrorKind::HsmFailed, detail),
        other => internal(other.to_string()),
    }
}

/// Maps an HSM error to the stable wire kind.
pub fn hsm_error(e: &HsmError) -> SignerError {
    let kind = if e.is_temporary() {
        ErrorKind::HsmUnavailable
    } else {
        ErrorKind::HsmFailed
    };
    wire_error(kind, e.to_string())
}

/// The HSM, or why it is unavailable.
#[derive(Debug, Clone)]
pub struct HsmHandle {
    state: Arc<RwLock<Result<Hsm, HsmError>>>,
    token: String,
}

fn open(settings: &HsmSettings) -> Result<Hsm, HsmError> {
    let pin = Pin::read_file(&settings.pin_file)?;
    Hsm::open(HsmConfig {
        module_path: settings.module.clone(),
        token_label: settings.token_label.clone(),
        pin,
        sessions: settings.sessions,
    })
}

impl HsmHandle {
    /// Opens the HSM. A permanent error (wrong PIN, missing module, unknown token) is
    /// returned so the daemon exits with a message; a temporary one yields a degraded
    /// handle and a background thread that retries every `probe` until it succeeds. A
    /// wrong PIN is never retried: that would lock the token.
    pub fn open(settings: &HsmSettings, probe: Duration) -> Result<HsmHandle, HsmError> {
        let token = settings.token_label.clone();
        match open(settings) {
            Ok(hsm) => Ok(HsmHandle {
                state: Arc::new(RwLock::new(Ok(hsm))),
                token,
            }),
            Err(e) if e.is_temporary() => {
                tracing::warn!(error = %e, "HSM unavailable at start-up; running degraded and probing");
                let handle = HsmHandle {
                    state: Arc::new(RwLock::new(Err(e))),
                    token,
                };
                let state = handle.state.clone();
                let settings = settings.clone();
                std::thread::spawn(move || loop {
                    std::thread::sleep(probe);
                    match open(&settings) {
                        Ok(hsm) => {
                            tracing::info!("HSM reachable again; leaving degraded mode");
                            *state.write().unwrap_or_else(|p| p.into_inner()) = Ok(hsm);
                            return;
                        }
                        Err(e) if e.is_temporary() => {
                            *state.write().unwrap_or_else(|p| p.into_inner()) = Err(e);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "HSM probe hit a permanent error; stopping probes");
                            *state.write().unwrap_or_else(|p| p.into_inner()) = Err(e);
                            return;
                        }
                    }
                });
                Ok(handle)
            }
            Err(e) => Err(e),
        }
    }

    /// The HSM, or `HsmUnavailable`.
    pub fn get(&self) -> Result<Hsm, SignerError> {
        match &*self.state.read().unwrap_or_else(|p| p.into_inner()) {
            Ok(h) => Ok(h.clone()),
            Err(why) => Err(wire_error(
                ErrorKind::HsmUnavailable,
                format!("HSM unavailable: {why}"),
            )),
        }
    }

    /// `None` when healthy, else why not (probes the token).
    pub fn degraded(&self) -> Option<String> {
        match self.get() {
            Ok(h) => h.status().err().map(|e| e.to_string()),
            Err(e) => Some(e.detail),
        }
    }

    /// The token label.
    pub fn token(&self) -> &str {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_signature_keeps_its_kind_on_the_wire() {
        let lost = signing_failure(X509Error::SignerUnavailable("C_Sign failed".into()));
        assert_eq!(lost.kind, ErrorKind::HsmUnavailable);
        assert_eq!(
            lost.detail, "C_Sign failed",
            "the HSM's own text, unwrapped"
        );
        let refused = signing_failure(X509Error::SignerRefused("no key".into()));
        assert_eq!(refused.kind, ErrorKind::HsmFailed);
        let after = signing_failure(X509Error::Signing("does not verify".into()));
        assert_eq!(after.kind, ErrorKind::Internal);
        assert_eq!(after.detail, "signing failed: does not verify");
    }
}
