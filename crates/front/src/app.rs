//! The front's shared state: the store, the configuration, the signer, the clock, the
//! counters, and the in-memory copies of what it serves — each kept by its own module:
//! the CA list (`ca_list`), the profiles asking for OCSP nonces (`nonce_profiles`), OCSP
//! responses (`ocsp_memory`, within `bounded_responses`' budget) and CRLs (`crl_memory`).
//!
//! In: the configuration, a connected store and a clock. Out: [`App`], which every handler
//! shares, and the one call to the signer the front makes here (`SignOcspResponses` on a
//! cache miss, [`App::sign`]).

use crate::bounded_responses::BoundedResponses;
use crate::ca_list::CaEntry;
use crate::config::Config;
use crate::crl_memory::CachedCrl;
use crate::ocsp_memory::{CachedOcsp, ANSWERED_BYTES, OCSP_CACHE_BYTES};
use axum::body::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use strongroom_signer_client::SignerLink;
use strongroom_store::{Store, StoredOcsp};
use strongroom_types::clock::Clock;
use strongroom_types::{CaId, Serial};
use strongroom_wire::{CallError, OcspSigningRequest, SignedOcspResponse};

/// Signer calls the front makes at once for OCSP misses. Past it the front answers
/// `tryLater` for misses at once (it keeps answering from memory): a flood of misses waits
/// on nobody and cannot queue without bound behind the signer.
pub const OCSP_SIGNING_AT_ONCE: usize = 8;

/// Shared state.
#[derive(Debug)]
pub struct App {
    /// The store.
    pub store: Store,
    /// Configuration.
    pub config: Config,
    /// The signer (`config.signer_socket`).
    pub signer: SignerLink,
    pub(crate) cas: RwLock<(Option<Instant>, Arc<Vec<CaEntry>>)>,
    pub(crate) nonce_profiles: RwLock<(Option<Instant>, Arc<HashSet<String>>)>,
    pub(crate) ocsp: RwLock<BoundedResponses<(CaId, Serial)>>,
    pub(crate) answered: RwLock<BoundedResponses<Vec<u8>>>,
    /// Bumped (under the `ocsp` lock) each time this front forgets a response because a
    /// revocation took effect ([`App::show_revoked`]).
    pub(crate) ocsp_generation: AtomicU64,
    pub(crate) signing: tokio::sync::Semaphore,
    pub(crate) crls: RwLock<HashMap<(CaId, String), CachedCrl>>,
    /// Counters for the metrics listener.
    pub metrics: crate::metrics::FrontMetrics,
    /// The wall clock every handler reads ([`App::now`]).
    clock: Arc<dyn Clock>,
}

impl App {
    /// A new state over a connected store, reading the time from `clock`.
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> App {
        App {
            store,
            signer: SignerLink::new(config.signer_socket.clone()),
            config,
            cas: RwLock::new((None, Arc::new(Vec::new()))),
            nonce_profiles: RwLock::new((None, Arc::new(HashSet::new()))),
            ocsp: RwLock::new(BoundedResponses::new(OCSP_CACHE_BYTES)),
            answered: RwLock::new(BoundedResponses::new(ANSWERED_BYTES)),
            ocsp_generation: AtomicU64::new(0),
            signing: tokio::sync::Semaphore::new(OCSP_SIGNING_AT_ONCE),
            crls: RwLock::new(HashMap::new()),
            metrics: Default::default(),
            clock,
        }
    }

    /// Now, in Unix seconds, from the front's one clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Asks the signer for responses (a cache miss, a SHA-256 CertID, several certificates
    /// or a nonce). Single SHA-1 answers are stored for everyone. With
    /// [`OCSP_SIGNING_AT_ONCE`] calls in flight the answer is at once
    /// [`CallError::Unavailable`].
    pub async fn sign(
        &self,
        ca: &CaId,
        serials: Vec<Serial>,
        sha256_cert_ids: bool,
        combined: bool,
        nonce: Option<Vec<u8>>,
    ) -> Result<Vec<SignedOcspResponse>, CallError> {
        let request = OcspSigningRequest {
            ca: ca.clone(),
            serials,
            validity_secs: self.config.ocsp.validity_secs,
            sha256_cert_ids,
            combined,
            nonce,
        };
        // Before the signer signs: a revocation seen meanwhile keeps the answer out of memory.
        let generation = self.ocsp_generation.load(Ordering::Acquire);
        // At the cap, a miss is answered tryLater at once rather than queued.
        let Ok(_permit) = self.signing.try_acquire() else {
            return Err(CallError::Unavailable(format!(
                "{OCSP_SIGNING_AT_ONCE} signer calls already in flight"
            )));
        };
        let signed = self.signer.sign_ocsp_responses(request).await?;
        if !combined && !sha256_cert_ids {
            let rows: Vec<StoredOcsp> = signed
                .iter()
                .map(|s| StoredOcsp {
                    ca: ca.clone(),
                    serial: s.serial.clone(),
                    status: s.status.kind(),
                    der: s.der.clone(),
                    this_update: s.this_update,
                    next_update: s.next_update,
                })
                .collect();
            if let Err(e) = self.store.put_ocsp_responses(&rows).await {
                tracing::warn!(error = %e, "cannot store signed responses");
            }
            for s in &signed {
                self.remember(
                    (ca.clone(), s.serial.clone()),
                    CachedOcsp {
                        der: Bytes::from(s.der.clone()),
                        this_update: s.this_update,
                        next_update: s.next_update,
                        fetched: Instant::now(),
                        generation,
                    },
                );
            }
        }
        Ok(signed)
    }
}
