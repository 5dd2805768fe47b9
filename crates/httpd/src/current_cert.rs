//! The certificate a listener serves now, swappable while it serves.
//!
//! In: a [`CertifiedKey`] at start, a new one from the keeper on each renewal or reload;
//! for a key in the HSM, optionally a standby certificate (key made in memory) and the HSM's
//! handshake health. Out: the certificate and key for each TLS handshake (rustls asks per
//! handshake, so a swap applies to the next handshake; connections already up keep theirs):
//! the standby one while the HSM fails to sign handshakes, the main one otherwise.

use crate::hsm_key::HandshakeHealth;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};

/// The listener's certificate and key now.
#[derive(Debug)]
pub(crate) struct CurrentCert {
    current: RwLock<Arc<CertifiedKey>>,
    standby: Option<Standby>,
}

#[derive(Debug)]
struct Standby {
    current: RwLock<Arc<CertifiedKey>>,
    health: HandshakeHealth,
}

fn read(slot: &RwLock<Arc<CertifiedKey>>) -> Arc<CertifiedKey> {
    slot.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn write(slot: &RwLock<Arc<CertifiedKey>>, next: CertifiedKey) {
    *slot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
}

impl CurrentCert {
    pub(crate) fn new(first: CertifiedKey) -> CurrentCert {
        CurrentCert {
            current: RwLock::new(Arc::new(first)),
            standby: None,
        }
    }

    /// `first` (its key in the HSM), with `standby` served while `health` says the HSM
    /// does not sign handshakes.
    pub(crate) fn with_standby(
        first: CertifiedKey,
        standby: CertifiedKey,
        health: HandshakeHealth,
    ) -> CurrentCert {
        CurrentCert {
            current: RwLock::new(Arc::new(first)),
            standby: Some(Standby {
                current: RwLock::new(Arc::new(standby)),
                health,
            }),
        }
    }

    /// Serves `next` from the next handshake on.
    pub(crate) fn replace(&self, next: CertifiedKey) {
        write(&self.current, next);
    }

    /// Serves `next` as the standby certificate from the next handshake on.
    pub(crate) fn replace_standby(&self, next: CertifiedKey) {
        if let Some(standby) = &self.standby {
            write(&standby.current, next);
        }
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match &self.standby {
            Some(standby) if standby.health.use_standby() => Some(read(&standby.current)),
            _ => Some(read(&self.current)),
        }
    }
}
