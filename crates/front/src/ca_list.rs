//! The CAs the front answers for, read from the store and kept for a minute (at most a
//! second when a request names a CA the list lacks, so a CA made live since is found at
//! once), with what OCSP needs of each computed once per read.
//!
//! In: the store's CA records. Out: [`CaEntry`] lists for the OCSP, CRL and AIA handlers,
//! and whether a CA issued a serial ([`App::issued`]).

use crate::app::App;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_types::{CaId, Serial};
use strongroom_x509::CaCertificate;

/// How often the CA list is re-read (new intermediates).
const CAS_CACHE_FOR: Duration = Duration::from_secs(60);
/// How old the CA list may be before a request for a CA it lacks re-reads it.
const CAS_MISS_RECHECK: Duration = Duration::from_secs(1);

/// A CA the front answers for.
#[derive(Debug, Clone)]
pub struct CaEntry {
    /// Its id.
    pub id: CaId,
    /// Its certificate.
    pub cert: CaCertificate,
    /// The CA that certified it (None for a root).
    pub parent: Option<CaId>,
    /// Its CertID hashes, computed once per refresh of the list (not per request).
    pub hashes: strongroom_x509::ocsp::IssuerHashes,
    /// Its own serial (its parent answers OCSP for it).
    pub serial: Option<Serial>,
}

impl App {
    /// The CAs, re-read from the store at most once a minute.
    pub async fn cas(&self) -> Arc<Vec<CaEntry>> {
        self.cas_read_within(CAS_CACHE_FOR).await
    }

    /// The CAs, for a request that named one the last list lacks (a CA made live since):
    /// re-read if that list is older than [`CAS_MISS_RECHECK`] — so a relying party
    /// following AIA to a new intermediate finds it at once, while strangers asking for
    /// made-up CAs cause at most one store read per interval.
    pub async fn cas_after_miss(&self) -> Arc<Vec<CaEntry>> {
        self.cas_read_within(CAS_MISS_RECHECK).await
    }

    async fn cas_read_within(&self, fresh_for: Duration) -> Arc<Vec<CaEntry>> {
        {
            let guard = self.cas.read().unwrap_or_else(|p| p.into_inner());
            if guard.0.is_some_and(|t| t.elapsed() < fresh_for) {
                return guard.1.clone();
            }
        }
        match self.store.cas().await {
            Ok(records) => {
                let list: Vec<CaEntry> = records
                    .iter()
                    .filter_map(|r| {
                        let cert = CaCertificate::from_der(&r.cert_der).ok()?;
                        let hashes = strongroom_x509::ocsp::IssuerHashes::of(&cert).ok()?;
                        let serial = strongroom_x509::CertificateSummary::from_der(&r.cert_der)
                            .ok()
                            .map(|s| s.serial);
                        Some(CaEntry {
                            id: r.id.clone(),
                            cert,
                            parent: r.parent.clone(),
                            hashes,
                            serial,
                        })
                    })
                    .collect();
                let list = Arc::new(list);
                *self.cas.write().unwrap_or_else(|p| p.into_inner()) =
                    (Some(Instant::now()), list.clone());
                list
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read CAs; serving the last list");
                self.cas.read().unwrap_or_else(|p| p.into_inner()).1.clone()
            }
        }
    }

    /// Whether `ca` issued `serial`: a certificate in the inventory or one of its child CAs.
    /// OCSP answers nothing else (RFC 6960 §2.3 `unauthorized`, as Let's Encrypt does), so a
    /// stranger's random serials never reach the signer, its journal or the store.
    /// `Err` when the store cannot tell (the caller answers `tryLater`).
    pub async fn issued(
        &self,
        ca: &CaEntry,
        cas: &[CaEntry],
        serial: &Serial,
    ) -> Result<bool, strongroom_store::StoreError> {
        if cas
            .iter()
            .any(|c| c.parent.as_ref() == Some(&ca.id) && c.serial.as_ref() == Some(serial))
        {
            return Ok(true);
        }
        self.store.certificate_issued(&ca.id, serial).await
    }
}
