//! The front's shared state: the store, the CAs it answers for, and in-memory copies of
//! what it serves (OCSP responses by CA and serial and by the exact request bytes that
//! asked for them, re-read from the store after a few seconds; each CA's newest CRL for a
//! few seconds) so the hot path is a hash lookup.
//!
//! In: the configuration and a connected store. Out: lookups for the handlers, and the
//! one call to the signer the front makes (`SignOcspResponses` on a cache miss).

use crate::config::Config;
use axum::body::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use strongroom_signer_client::SignerLink;
use strongroom_store::{Store, StoredOcsp};
use strongroom_types::{CaId, Serial};
use strongroom_wire::{CallError, OcspSigningRequest, SignedOcspResponse};
use strongroom_x509::CaCertificate;

/// Most bytes of OCSP responses kept in memory by CA and serial (responses are 300 bytes to
/// 2 KiB; keys and map overhead are counted too). Bounded in bytes, not entries, so what a
/// stranger can make the front hold is fixed whatever the responses weigh; the unit's
/// MemoryMax is 1 GiB.
const OCSP_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Most bytes of request encodings remembered with their answer (see
/// [`App::answered_before`]).
const ANSWERED_BYTES: usize = 64 * 1024 * 1024;
/// Signer calls the front makes at once for OCSP misses. Past it the front answers
/// `tryLater` for misses at once (it keeps answering from memory): a flood of misses waits
/// on nobody and cannot queue without bound behind the signer.
pub const OCSP_SIGNING_AT_ONCE: usize = 8;
/// Longest request remembered: a one-certificate SHA-1 request without extensions is
/// about 70 to 90 bytes; anything longer always takes the full path.
const ANSWERED_REQUEST_MAX: usize = 256;
/// How long an OCSP response in memory is served before the store is asked for a newer
/// one (a revocation re-signs it there).
const OCSP_FRESH_FOR: Duration = Duration::from_secs(3);
/// How long a CRL copy is served before the store is asked for a newer one.
const CRL_CACHE_FOR: Duration = Duration::from_secs(5);
/// How long the set of profiles asking for OCSP nonces is served before it is re-read.
const NONCE_PROFILES_FOR: Duration = Duration::from_secs(5);
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
    generation: u64,
}

impl CachedOcsp {
    /// Whether it may still be served at `now` without asking the store again.
    fn fresh_at(&self, now: i64) -> bool {
        self.next_update > now && self.fetched.elapsed() < OCSP_FRESH_FOR
    }
}

/// A CRL in memory.
#[derive(Debug, Clone)]
pub struct CachedCrl {
    /// cRLNumber.
    pub number: i64,
    /// DER.
    pub der: Arc<Vec<u8>>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    fetched: Instant,
}

/// Shared state.
#[derive(Debug)]
pub struct App {
    /// The store.
    pub store: Store,
    /// Configuration.
    pub config: Config,
    /// The signer (`config.signer_socket`).
    pub signer: SignerLink,
    cas: RwLock<(Option<Instant>, Arc<Vec<CaEntry>>)>,
    nonce_profiles: RwLock<(Option<Instant>, Arc<HashSet<String>>)>,
    ocsp: RwLock<BoundedResponses<(CaId, Serial)>>,
    answered: RwLock<BoundedResponses<Vec<u8>>>,
    /// Bumped (under the `ocsp` lock) each time this front forgets a response because a
    /// revocation took effect ([`App::show_revoked`]).
    ocsp_generation: AtomicU64,
    signing: tokio::sync::Semaphore,
    crls: RwLock<HashMap<(CaId, String), CachedCrl>>,
    /// Counters for the metrics listener.
    pub metrics: crate::metrics::FrontMetrics,
    /// The wall clock every handler reads ([`App::now`]).
    clock: Arc<dyn strongroom_types::clock::Clock>,
}

impl App {
    /// A new state over a connected store, reading the time from `clock`.
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn strongroom_types::clock::Clock>,
    ) -> App {
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

    /// Profiles with `ocsp_nonce`, re-read at most every few seconds (empty in the common
    /// case, which keeps nonce-carrying requests off the database).
    pub async fn nonce_profiles(&self) -> Arc<HashSet<String>> {
        {
            let guard = self
                .nonce_profiles
                .read()
                .unwrap_or_else(|p| p.into_inner());
            if guard.0.is_some_and(|t| t.elapsed() < NONCE_PROFILES_FOR) {
                return guard.1.clone();
            }
        }
        match self.store.profiles().await {
            Ok(list) => {
                let set: HashSet<String> = list
                    .into_iter()
                    .filter(|p| p.profile.ocsp_nonce)
                    .map(|p| p.profile.name.to_string())
                    .collect();
                let set = Arc::new(set);
                *self
                    .nonce_profiles
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = (Some(Instant::now()), set.clone());
                set
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read profiles; keeping the last list");
                self.nonce_profiles
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .1
                    .clone()
            }
        }
    }

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
    fn remember(&self, key: (CaId, Serial), c: CachedOcsp) {
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
            Ok(Some(s))
                if s.status == strongroom_types::OcspStatusKind::Revoked && s.next_update > now =>
            {
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
            Some(strongroom_types::OcspStatus::Revoked { .. }) => Ok(()),
            Some(other) => Err(format!("the signer still answers {} for it", other.kind())),
            None => Err("the signer signed no OCSP response".into()),
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

    /// The newest CRL of one scope of a CA (`full`, `delta`, `3`, `3-delta`), re-read from
    /// the store every few seconds.
    pub async fn crl(&self, ca: &CaId, scope: &str) -> Option<CachedCrl> {
        let key = (ca.clone(), scope.to_string());
        if let Some(c) = self
            .crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if c.fetched.elapsed() < CRL_CACHE_FOR {
                return Some(c.clone());
            }
        }
        match self.store.latest_crl(ca, scope).await {
            Ok(Some(s)) => {
                let c = CachedCrl {
                    number: s.number,
                    der: Arc::new(s.der),
                    this_update: s.this_update,
                    next_update: s.next_update,
                    fetched: Instant::now(),
                };
                self.crls
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, c.clone());
                Some(c)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the CRL; serving the last copy");
                self.crls
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned()
            }
        }
    }
}

/// Responses in memory, held to a byte budget. Each entry is charged its DER, its key and
/// a fixed overhead for the map and the `CachedOcsp` around them. When an insert would pass
/// the budget, expired entries go first, then everything: crude, but what a flood of
/// distinct requests can make the front hold is fixed.
#[derive(Debug)]
struct BoundedResponses<K> {
    map: HashMap<K, (usize, CachedOcsp)>,
    bytes: usize,
    budget: usize,
}

/// What one entry costs beyond its DER and key bytes (hash slot, `CachedOcsp`, `Bytes`
/// header, allocator rounding), rounded up.
const ENTRY_OVERHEAD: usize = 160;

impl<K: std::hash::Hash + Eq> BoundedResponses<K> {
    fn new(budget: usize) -> Self {
        BoundedResponses {
            map: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    fn get<Q>(&self, key: &Q) -> Option<&CachedOcsp>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|(_, c)| c)
    }

    fn remove<Q>(&mut self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some((cost, _)) = self.map.remove(key) {
            self.bytes -= cost;
        }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    /// Keeps `c`; when over budget, first drops what expired by `now`.
    fn insert(&mut self, key: K, key_bytes: usize, c: CachedOcsp, now: i64) {
        let cost = key_bytes + c.der.len() + ENTRY_OVERHEAD;
        if cost > self.budget {
            return;
        }
        if let Some((old, _)) = self.map.remove(&key) {
            self.bytes -= old;
        }
        if self.bytes + cost > self.budget {
            self.map.retain(|_, (_, v)| v.next_update > now);
            self.bytes = self.map.values().map(|(n, _)| n).sum();
            if self.bytes + cost > self.budget {
                self.map.clear();
                self.bytes = 0;
            }
        }
        self.map.insert(key, (cost, c));
        self.bytes += cost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(len: usize, next_update: i64) -> CachedOcsp {
        CachedOcsp {
            der: Bytes::from(vec![0u8; len]),
            this_update: 0,
            next_update,
            fetched: Instant::now(),
            generation: 0,
        }
    }

    #[test]
    fn responses_in_memory_stay_within_their_byte_budget() {
        let budget = 100 * (1000 + 8 + ENTRY_OVERHEAD);
        let mut cache = BoundedResponses::new(budget);
        let now = 1_795_900_000;
        let later = now + 3600;
        for i in 0u64..10_000 {
            cache.insert(i, 8, response(1000, later), now);
            assert!(
                cache.bytes <= budget,
                "{} > {budget} after {i}",
                cache.bytes
            );
            assert_eq!(
                cache.bytes,
                cache.map.len() * (1000 + 8 + ENTRY_OVERHEAD),
                "the charge drifts from what is held"
            );
        }
        assert!(cache.get(&9_999).is_some(), "the newest entry is kept");
        // Replacing an entry charges it once.
        let before = cache.bytes;
        cache.insert(9_999, 8, response(1000, later), now);
        assert_eq!(cache.bytes, before);
        // Expired entries go before fresh ones.
        let mut cache = BoundedResponses::new(3 * (100 + ENTRY_OVERHEAD));
        cache.insert(1u8, 0, response(100, 0), now);
        cache.insert(2u8, 0, response(100, later), now);
        cache.insert(3u8, 0, response(100, later), now);
        cache.insert(4u8, 0, response(100, later), now);
        assert!(cache.get(&1).is_none() && cache.get(&2).is_some() && cache.get(&4).is_some());
        // Forgetting one (a revocation took effect) gives its bytes back; clearing, all.
        let before = cache.bytes;
        cache.remove(&2);
        assert!(cache.get(&2).is_none());
        assert_eq!(cache.bytes, before - (100 + ENTRY_OVERHEAD));
        cache.remove(&2);
        assert_eq!(cache.bytes, before - (100 + ENTRY_OVERHEAD));
        cache.clear();
        assert!(cache.get(&4).is_none());
        assert_eq!(cache.bytes, 0);
    }
}
