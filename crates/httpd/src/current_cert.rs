//! The certificate a listener serves now, swappable while it serves.
//!
//! In: a [`CertifiedKey`] at start, a new one from the keeper on each renewal or reload.
//! Out: the certificate and key for each TLS handshake (rustls asks per handshake, so a
//! swap applies to the next handshake; connections already up keep theirs).

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};

/// The listener's certificate and key now.
#[derive(Debug)]
pub(crate) struct CurrentCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CurrentCert {
    pub(crate) fn new(first: CertifiedKey) -> CurrentCert {
        CurrentCert {
            current: RwLock::new(Arc::new(first)),
        }
    }

    /// Serves `next` from the next handshake on.
    pub(crate) fn replace(&self, next: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}
