//! OCSP responses in memory: by CA and serial, and by the exact request bytes that asked
//! for them, each re-read from the store after a few seconds, within a byte budget
//! ([`crate::bounded_responses`]); and what a revocation does to them
//! ([`App::show_revoked`]).
//!
//! In: the store's pre-signed responses and what the signer signs on a miss. Out:
//! [`CachedOcsp`] answers for the OCSP handler. A copy read before a revocation this front
//! has seen is never put back in memory (the generation count).

use crate::app::App;
use axum::body::Bytes;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use strongroom_types::{CaId, OcspStatus, OcspStatusKind, Serial};

/// Most bytes of OCSP responses kept in memory by CA and serial (responses are 300 bytes to
/// 2 KiB; keys and map overhead are counted too). Bounded in bytes, not entries, so what a
/// stranger can make the front hold is fixed whatever the responses weigh; the unit's
/// MemoryMax is 1 GiB.
pub(crate) const OCSP_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Most bytes of request encodings remembered with their answer (see
/// [`App::answered_before`]).
pub(crate) const ANSWERED_BYTES: usize = 64 * 1024 * 1024;
/// Longest request remembered: a one-certificate SHA-1 request without extensions is
/// about 70 to 90 bytes; anything longer always takes the full path.
const ANSWERED_REQUEST_MAX: usize = 256;
/// How long an OCSP response in memory is served before the store is asked for a newer
/// one (a revocation re-signs it there).
const OCSP_FRESH_FOR: Duration = Duration::from_secs(3);

/// A response in memory.
#[derive(Debug, Clone)]
pub struct CachedOcsp {
    /// DER (shared with every answer that sends it).
    pub der: Bytes,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// When it entered memory: after [`OCSP_FRESH_FOR`] the store is asked again, so a
    /// revocation (re-signed by control into the store) reaches relying parties within
    /// seconds, not at the old response's nextUpdate.
    pub fetched: Instant,
    /// [`App`]'s OCSP generation when it was read from the store or the signer: a copy
    /// read before a revocation the front has seen is never put back in memory.
    pub(crate) generation: u64,
}

impl CachedOcsp {
    /// Whether it may still be served at `now` without asking the store again.
    fn fresh_at(&self, now: i64) -> bool {
        self.next_update > now && self.fetched.elapsed() < OCSP_FRESH_FOR
    }
}

impl App {
    /// A response still valid at `now`: from memory, else from the store.
    pub async fn cached_ocsp(&self, ca: &CaId, serial: &Serial, now: i64) -> Option<CachedOcsp> {
        let key = (ca.clone(), serial.clone());
        // Read before the store is: a revocation seen meanwhile keeps this copy out of memory.
        let generation = self.ocsp_generation.load(Ordering::Acquire);
        if let Some(c) = self
            .ocsp
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if c.fresh_at(now) {
                return Some(c.clone());
            }
        }
        let stored = match self.store.ocsp_response(ca, serial).await {
            Ok(Some(s)) if s.next_update > now => s,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "store lookup failed");
                return None;
            }
        };
        let c = CachedOcsp {
            der: Bytes::from(stored.der),
            this_update: stored.this_update,
            next_update: stored.next_update,
            fetched: Instant::now(),
            generation,
        };
        self.remember(key, c.clone());
        Some(c)
    }

    /// Keeps `c` in memory, unless a revocation was seen since it was read (it may say
    /// `good` for the certificate just revoked).
    pub(crate) fn remember(&self, key: (CaId, Serial), c: CachedOcsp) {
        let size = key.1.to_string().len() + key.0.as_str().len();
        let mut ocsp = self.ocsp.write().unwrap_or_else(|p| p.into_inner());
        if c.generation == self.ocsp_generation.load(Ordering::Acquire) {
            ocsp.insert(key, size, c, self.now());
        }
    }

    /// Makes this front answer `revoked` for a certificate control has just revoked, before
    /// revokeCert answers `200`. Every copy of its response in memory is forgotten (and
    /// every remembered request, which may name it), copies read before now are kept out,
    /// and the response relying parties will get is checked: the store's, if it says
    /// `revoked`, else one the signer signs now from its own records (control records the
    /// revocation there first), stored for everyone. `Err` (with why) when neither says
    /// `revoked` yet. The front only reads and asks the signer for a response; it never
    /// revokes (docs/architecture.md, Trust boundaries).
    ///
    /// Another front on the same store keeps serving its own copy for at most
    /// [`OCSP_FRESH_FOR`].
    pub async fn show_revoked(&self, ca: &CaId, serial: &Serial) -> Result<(), String> {
        let key = (ca.clone(), serial.clone());
        {
            let mut ocsp = self.ocsp.write().unwrap_or_else(|p| p.into_inner());
            self.ocsp_generation.fetch_add(1, Ordering::AcqRel);
            ocsp.remove(&key);
        }
        self.answered
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let generation = self.ocsp_generation.load(Ordering::Acquire);
        let now = self.now();
        match self.store.ocsp_response(ca, serial).await {
            Ok(Some(s)) if s.status == OcspStatusKind::Revoked && s.next_update > now => {
                self.remember(
                    key,
                    CachedOcsp {
                        der: Bytes::from(s.der),
                        this_update: s.this_update,
                        next_update: s.next_update,
                        fetched: Instant::now(),
                        generation,
                    },
                );
                return Ok(());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read the stored OCSP response: {e}")),
        }
        // Control could not re-sign it (its refresh pass would, later): sign it now.
        let signed = self
            .sign(ca, vec![serial.clone()], false, false, None)
            .await
            .map_err(|e| format!("the signer did not sign the OCSP response: {e}"))?;
        match signed.first().map(|s| &s.status) {
            Some(OcspStatus::Revoked { .. }) => Ok(()),
            Some(other) => Err(format!("the signer still answers {} for it", other.kind())),
            None => Err("the signer signed no OCSP response".into()),
        }
    }

    /// The answer last served for exactly these request bytes, while it is as fresh as
    /// [`App::cached_ocsp`] would serve it. A relying party asks about a certificate with
    /// the same bytes every time (one SHA-1 CertID, no nonce), so a repeat skips parsing
    /// and CA matching; its freshness and revocation behaviour are the response's own.
    pub fn answered_before(&self, request: &[u8], now: i64) -> Option<CachedOcsp> {
        let answered = self.answered.read().unwrap_or_else(|p| p.into_inner());
        let c = answered.get(request)?;
        c.fresh_at(now).then(|| c.clone())
    }

    /// Remembers the answer to a request the full path served from memory. Only call it
    /// for a one-certificate SHA-1 request without a nonce: those bytes mean one answer.
    pub fn remember_answer(&self, request: &[u8], c: CachedOcsp) {
        if request.len() > ANSWERED_REQUEST_MAX {
            return;
        }
        let mut answered = self.answered.write().unwrap_or_else(|p| p.into_inner());
        // A copy read before a revocation this front has seen may say `good`: not kept.
        if c.generation == self.ocsp_generation.load(Ordering::Acquire) {
            answered.insert(request.to_vec(), request.len(), c, self.now());
        }
    }
}
