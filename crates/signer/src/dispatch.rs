//! The signer's state and its one entry point, [`Signer::handle`].
//!
//! In: a decoded request and the kernel-verified credentials of the peer that sent it.
//! Out: exactly one response. The peer is checked first (allow-list by uid), then the
//! operation runs. Every denial is logged with the peer and a log-safe summary.

use crate::ca::CaRegistry;
use crate::config::SignerConfig;
use crate::entropy::Entropy;
use crate::error::{bad_request, wire_error};
use crate::hsm_signer::HsmHandle;
use crate::journal::Journal;
use crate::peer::{PeerCredentials, PeerGate};
use crate::policy::PolicyStore;
use crate::revocations::RevocationStore;
use crate::state::StateDir;
use crate::{crl, issuance};
use serde_json::json;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use strongroom_types::clock::Clock;
use strongroom_wire::{CaSummary, ErrorKind, HealthReport, Request, Response, SignerError};
use strongroom_x509::CrlEntry;

/// Everything the signer holds while running.
#[derive(Debug)]
pub struct Signer {
    /// Configuration.
    pub config: SignerConfig,
    /// State directory.
    pub state: StateDir,
    /// Peer allow-list.
    pub gate: PeerGate,
    /// The HSM.
    pub hsm: HsmHandle,
    /// Clock.
    pub clock: Box<dyn Clock>,
    /// Serial entropy.
    pub entropy: Box<dyn Entropy>,
    journal: Journal,
    policy: RwLock<PolicyStore>,
    cas: CaRegistry,
    revocations: Mutex<RevocationStore>,
    crl_numbers: Mutex<()>,
    ceremonies: Mutex<()>,
    audit_keys: Mutex<()>,
    issued: Mutex<std::collections::HashMap<strongroom_types::Serial, strongroom_types::CaId>>,
    journal_index: Mutex<crate::journal_read::JournalIndex>,
    /// Each peer's listener key as last found on the token (a cache: the token's label is
    /// the record, see [`crate::listener_key`]).
    listener_keys: Mutex<std::collections::HashMap<String, strongroom_hsm::KeyRef>>,
    listener_key_creation: Mutex<()>,
    handshake_signatures: std::sync::atomic::AtomicU64,
    operations: crate::metrics::OperationCounters,
    /// The secret behind SCEP's implicit rejection ([`crate::scep_content::RejectionKey`]):
    /// drawn at start, kept in memory only.
    scep_rejection: crate::scep_content::RejectionKey,
}

impl Signer {
    /// Loads state (journal verified, policy, CAs, revocations) around an open HSM.
    pub fn new(
        config: SignerConfig,
        hsm: HsmHandle,
        gate: PeerGate,
        clock: Box<dyn Clock>,
        entropy: Box<dyn Entropy>,
    ) -> Result<Signer, crate::Error> {
        let state = StateDir::open(&config.state_dir)
            .map_err(|e| crate::Error::file(&config.state_dir, e))?;
        let journal = Journal::open(&state.journal())?;
        let policy = PolicyStore::load(&state.policy())?;
        let cas = CaRegistry::load(&state)?;
        let revocations = RevocationStore::load(&state, cas.iter().map(|c| c.record.id.clone()))?;
        let issued = crate::journal::issued_serials(&state.journal())?;
        let scep_rejection = crate::scep_content::RejectionKey::draw(entropy.as_ref())?;
        journal.append_durable(
            clock.now(),
            "startup",
            &json!({"policy_version": policy.current().version, "cas": cas.iter().count()}),
        )?;
        Ok(Signer {
            config,
            state,
            gate,
            hsm,
            clock,
            entropy,
            journal,
            policy: RwLock::new(policy),
            cas,
            revocations: Mutex::new(revocations),
            crl_numbers: Mutex::new(()),
            ceremonies: Mutex::new(()),
            audit_keys: Mutex::new(()),
            issued: Mutex::new(issued),
            journal_index: Mutex::new(Default::default()),
            listener_keys: Mutex::new(Default::default()),
            listener_key_creation: Mutex::new(()),
            handshake_signatures: std::sync::atomic::AtomicU64::new(0),
            operations: Default::default(),
            scep_rejection,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> RwLockReadGuard<'_, PolicyStore> {
        self.policy.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The CAs.
    pub fn cas(&self) -> &CaRegistry {
        &self.cas
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub(crate) fn revocations(&self) -> MutexGuard<'_, RevocationStore> {
        self.revocations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a serial as issued by `ca` (for OCSP status).
    pub(crate) fn note_issued(&self, serial: strongroom_types::Serial, ca: strongroom_types::CaId) {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(serial, ca);
    }

    /// The CA that issued `serial`, if this signer did.
    pub(crate) fn issuer_of(
        &self,
        serial: &strongroom_types::Serial,
    ) -> Option<strongroom_types::CaId> {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(serial)
            .cloned()
    }

    /// The secret that turns an SCEP envelope's unusable RSA block into its substitute key.
    pub(crate) fn scep_rejection(&self) -> &crate::scep_content::RejectionKey {
        &self.scep_rejection
    }

    /// Serialises the making and renewal of delegated keys.
    pub(crate) fn audit_key_lock(&self) -> MutexGuard<'_, ()> {
        self.audit_keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serialises the making of listener keys.
    pub(crate) fn listener_key_lock(&self) -> MutexGuard<'_, ()> {
        self.listener_key_creation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn listener_key_cache(
        &self,
    ) -> MutexGuard<'_, std::collections::HashMap<String, strongroom_hsm::KeyRef>> {
        self.listener_keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `peer`'s listener key, if this process has found it.
    pub(crate) fn cached_listener_key(&self, peer: &str) -> Option<strongroom_hsm::KeyRef> {
        self.listener_key_cache().get(peer).cloned()
    }

    /// Remembers `peer`'s listener key.
    pub(crate) fn cache_listener_key(&self, peer: &str, key: strongroom_hsm::KeyRef) {
        self.listener_key_cache().insert(peer.to_string(), key);
    }

    /// Forgets `peer`'s listener key (after a failed signature).
    pub(crate) fn forget_listener_key(&self, peer: &str) {
        self.listener_key_cache().remove(peer);
    }

    /// Counts one TLS handshake signature; returns the count since start.
    pub(crate) fn note_handshake_signature(&self) -> u64 {
        self.handshake_signatures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    pub(crate) fn crl_number_lock(&self) -> MutexGuard<'_, ()> {
        self.crl_numbers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one request from an identified peer.
    pub fn handle(&self, creds: PeerCredentials, request: Request) -> Response {
        let op = request.operation();
        let Some(peer) = self
            .gate
            .identify(creds.uid)
            .filter(|_| self.gate.allows(creds.uid, op))
        else {
            tracing::warn!(
                uid = creds.uid,
                pid = creds.pid,
                op = op.as_str(),
                "denied: peer not allowed"
            );
            self.operations.count(op, Some(ErrorKind::NotAllowed));
            return Response::Error(wire_error(
                ErrorKind::NotAllowed,
                format!("uid {} may not call {}", creds.uid, op.as_str()),
            ));
        };
        let peer_name = peer.name.clone();
        let summary = request.summary();
        let result = match request {
            Request::Health => Ok(Response::Health(self.health())),
            Request::GetCaChain { ca } => self
                .cas
                .get(&ca)
                .map(|c| Response::CaChain(c.chain.clone()))
                .ok_or_else(|| bad_request(format!("unknown CA {ca}"))),
            Request::PutPolicy { policy } => self.put_policy(policy),
            Request::IssueCertificate(req) => {
                issuance::issue(self, &peer_name, req).map(Response::Certificate)
            }
            Request::IssueCrl { ca } => crl::issue_crl(self, &ca, None, false),
            Request::IssueCrlScope { ca, shard, delta } => crl::issue_crl(self, &ca, shard, delta),
            Request::RecordRevocation(r) => self.record_revocation(r),
            Request::CreateCa(c) => self.create_ca(c),
            Request::SignAuditCheckpoint(c) => crate::audit_key::sign_checkpoint(self, c),
            Request::SignOcspResponses(o) => crate::ocsp::sign_responses(self, o),
            Request::JournaledIssuances { after, limit } => self.journaled_issuances(after, limit),
            Request::ListenerKey => crate::listener_key::listener_key(self, &peer_name),
            Request::SignTlsHandshake { scheme, message } => {
                crate::listener_key::sign_handshake(self, &peer_name, scheme, &message)
            }
            Request::Metrics => Ok(Response::Metrics(self.metrics())),
            Request::ScepRaCertificate { ca } => crate::scep_ra::ra_certificate(self, &ca),
            Request::DecryptScepEnvelope(e) => crate::scep_ra::decrypt_envelope(self, e),
            Request::SignScepReply(r) => crate::scep_ra::sign_reply(self, r),
            Request::SignScepNextCa { ca, successor } => {
                crate::scep_ra::sign_next_ca(self, &ca, &successor)
            }
            Request::SignEstKeyPackage { ca, package_digest } => {
                crate::est_keygen::sign_key_package(self, &ca, &package_digest)
            }
            Request::TotpEnrol { username } => crate::totp::enrol(self, &username),
            Request::TotpVerify(check) => crate::totp::verify(self, &check),
            Request::KeyInventory => crate::key_inventory::key_inventory(self),
        };
        self.operations
            .count(op, result.as_ref().err().map(|e| e.kind));
        match result {
            Ok(resp) => {
                // Issuances are in the journal; logging each one at info would cost more
                // than the signature on a busy CA, and a handshake signature comes with
                // every TLS connection to front and control. Other operations are rare and
                // logged.
                // A metrics scrape comes every few seconds and says nothing worth a line; a
                // SCEP enrolment's decryption and reply come with every device request.
                if matches!(
                    op,
                    strongroom_wire::Operation::IssueCertificate
                        | strongroom_wire::Operation::SignTlsHandshake
                        | strongroom_wire::Operation::Metrics
                        | strongroom_wire::Operation::DecryptScepEnvelope
                        | strongroom_wire::Operation::SignScepReply
                ) {
                    tracing::debug!(peer = %peer_name, request = %summary, "ok");
                } else {
                    tracing::info!(peer = %peer_name, request = %summary, "ok");
                }
                resp
            }
            Err(e) => {
                tracing::warn!(peer = %peer_name, request = %summary, kind = ?e.kind, detail = %e.detail, "refused");
                Response::Error(e)
            }
        }
    }

    /// Reads `issued` records back from the journal (one reader at a time: they share the
    /// index of record offsets).
    fn journaled_issuances(&self, after: u64, limit: u32) -> Result<Response, SignerError> {
        let limit = limit.clamp(1, strongroom_wire::MAX_JOURNALED_ISSUANCES) as usize;
        let mut index = self.journal_index.lock().unwrap_or_else(|p| p.into_inner());
        crate::journal_read::issuances_after(self.journal.path(), &mut index, after, limit)
            .map(|(records, through)| Response::JournaledIssuances { records, through })
            .map_err(|e| e.to_wire(ErrorKind::Internal))
    }

    /// The counters for `Request::Metrics`: no key, serial, name or peer in them.
    fn metrics(&self) -> strongroom_wire::SignerMetrics {
        self.operations.snapshot(
            self.journal.sync_latency(),
            self.hsm.degraded().is_some(),
            self.journal.records(),
            self.policy().current().version,
        )
    }

    fn health(&self) -> HealthReport {
        HealthReport {
            hsm_degraded: self.hsm.degraded(),
            token: self.hsm.token().to_string(),
            policy_version: self.policy().current().version,
            journal_records: self.journal.records(),
            cas: self
                .cas
                .iter()
                .map(|c| CaSummary {
                    id: c.record.id.clone(),
                    subject: c.cert.subject.to_string(),
                    not_after: c.cert.not_after,
                    crl_shards: c.record.crl_shards,
                    delta_crl: c.record.delta_crl,
                    ocsp_responder_not_after: crate::delegated::current_not_after(
                        self,
                        c.as_ref(),
                        crate::delegated::Purpose::OcspResponder,
                    ),
                })
                .collect(),
        }
    }

    fn put_policy(&self, policy: strongroom_types::Policy) -> Result<Response, SignerError> {
        let mut store = self.policy.write().unwrap_or_else(|p| p.into_inner());
        let version = policy.version;
        let digest = serde_json::to_vec(&policy)
            .map(|b| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)));
        store
            .replace(policy, |id| self.cas.contains(id))
            .map_err(|e| e.to_wire(ErrorKind::BadRequest))?;
        self.journal
            .append_durable(
                self.clock.now(),
                "policy",
                &json!({"version": version, "sha256": digest.unwrap_or_default()}),
            )
            .map_err(|e| e.to_wire(ErrorKind::Internal))?;
        Ok(Response::PolicyAccepted { version })
    }

    fn create_ca(&self, c: strongroom_wire::CaCreation) -> Result<Response, SignerError> {
        let file = crate::ceremony::CeremonyFile::from_request(c)
            .map_err(|e| e.to_wire(ErrorKind::BadRequest))?;
        let hsm = self.hsm.get()?;
        let _guard = self.ceremonies.lock().unwrap_or_else(|p| p.into_inner());
        crate::ceremony::run_with(
            &file,
            &self.state,
            &hsm,
            self.clock.as_ref(),
            self.entropy.as_ref(),
            &self.journal,
            &self.cas,
        )
        .map_err(|e| e.to_wire(ErrorKind::BadRequest))?;
        let ca = self
            .cas
            .get(&file.id)
            .ok_or_else(|| bad_request(format!("CA {} vanished after its ceremony", file.id)))?;
        Ok(Response::CaCreated {
            chain: ca.chain.clone(),
        })
    }

    fn record_revocation(
        &self,
        r: strongroom_wire::RevocationRecord,
    ) -> Result<Response, SignerError> {
        if !self.cas.contains(&r.ca) {
            return Err(bad_request(format!("unknown CA {}", r.ca)));
        }
        let entry = CrlEntry {
            serial: r.serial.clone(),
            revoked_at: r.revoked_at,
            reason: r.reason,
            invalidity_date: r.invalidity_date,
        };
        let already = self
            .revocations()
            .record(&self.state, &r.ca, entry)
            .map_err(|e| e.to_wire(ErrorKind::Internal))?;
        if !already {
            self.journal
                .append_durable(self.clock.now(), "revocation", &json!({"ca": r.ca.as_str(), "serial": r.serial.to_string(), "reason": r.reason.code()}))
                .map_err(|e| e.to_wire(ErrorKind::Internal))?;
        }
        Ok(Response::RevocationRecorded {
            already_revoked: already,
        })
    }
}
