//! The listener key in the HSM (`[tls] key = "hsm"`): a rustls [`SigningKey`] whose
//! signatures are made by `strongroom-signer` with this daemon's own listener key.
//!
//! In: the public key the signer answered to `ListenerKey`, the signer socket, and — during
//! each TLS handshake — the message rustls wants signed (a TLS 1.3 CertificateVerify input
//! or TLS 1.2 ECDHE parameters, under 200 bytes). Out: an ECDSA P-256 SHA-256 signature in
//! TLS's DER form, or a rustls error that ends that one handshake.
//!
//! rustls signs synchronously inside the handshake, on the tokio task that serves the
//! connection, so each signature is a blocking round trip over the signer socket (a fraction
//! of a millisecond with SoftHSM). On a multi-threaded runtime it runs inside
//! [`tokio::task::block_in_place`], so the worker's other tasks move to another thread and
//! the listener keeps serving while the signer works; a signer that hangs holds one handshake
//! for at most [`SIGNER_TIMEOUT`], never the runtime. Connections to the signer are kept and
//! reused (at most [`MAX_IN_FLIGHT`], which also caps how many handshakes wait on the signer
//! at once; one more waits at most [`WAIT_FOR_TURN`] for a connection, then fails); a kept
//! connection the signer closed (idle for 5 minutes, or a restarted signer) is replaced once.

use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use strongroom_wire::{CallError, Request, Response, SignerClient, TlsSignatureScheme};

/// Most handshake signatures asked of the signer at once (and connections kept for them).
/// The signer signs with a handful of HSM sessions (`hsm.sessions`, default 2): more in
/// flight would only queue there, holding its connection threads.
const MAX_IN_FLIGHT: usize = 8;
/// How long a handshake waits for one of the [`MAX_IN_FLIGHT`] connections.
const WAIT_FOR_TURN: Duration = Duration::from_secs(2);
/// How long one signature may take before the handshake fails: longer than a slow HSM's
/// signature queued behind a few others (500 ms per token call in
/// crates/cli/tests/acme_faults.rs), shorter than clients' own handshake timeouts (10 s for
/// Go's and Python's HTTP clients).
const SIGNER_TIMEOUT: Duration = Duration::from_secs(5);
/// At most one warning about failing handshake signatures per this interval.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// After a failed or slow handshake signature, how long the listener serves its standby
/// certificate (when it has one) before a probe signature, off any client's handshake, asks
/// the HSM again.
const STANDBY_FOR: Duration = Duration::from_secs(5);
/// A handshake signature slower than this counts against the HSM as a failure does: the
/// handshake itself completes, later ones take the standby. A network HSM signs in a few
/// milliseconds; one that takes this long is overloaded or failing, and every client would
/// wait on it while it also has certificates to sign.
const SLOW_SIGNATURE: Duration = Duration::from_millis(500);
/// With a standby certificate, at most this many handshakes wait on the HSM at once; the
/// next takes the standby rather than queue behind them (the signer's default session count:
/// more would queue in the signer, in front of issuance).
const HSM_HANDSHAKES_AT_ONCE: usize = 2;

/// The input of a probe signature: a TLS 1.3 CertificateVerify input over an all-zero
/// transcript hash, the shape the signer accepts for a handshake.
pub(crate) fn probe_message() -> Vec<u8> {
    [
        [0x20u8; 64].as_slice(),
        b"TLS 1.3, server CertificateVerify\0",
        &[0u8; 32],
    ]
    .concat()
}

/// Whether the HSM signs this listener's handshakes, for the standby certificate: after a
/// failed or slow ([`SLOW_SIGNATURE`]) handshake signature the listener serves the standby
/// (key made in memory); every [`STANDBY_FOR`] a probe signature on a thread of its own asks
/// the HSM again, and the first prompt success — probe or handshake — ends standby. Only the
/// handshake that met a failure is lost; clients after it get the standby. While
/// [`HSM_HANDSHAKES_AT_ONCE`] handshakes already wait on the HSM, the next one takes the
/// standby too, so a burst of clients never queues behind a slow token.
#[derive(Debug, Clone)]
pub(crate) struct HandshakeHealth(Arc<HandshakeLink>);

#[derive(Debug, Default)]
struct StandbyState {
    failed_at: Option<Instant>,
    probing: bool,
}

impl HandshakeHealth {
    /// Whether this handshake should use the standby certificate.
    pub(crate) fn use_standby(&self) -> bool {
        let link = &self.0;
        let mut state = link.standby();
        let Some(failed_at) = state.failed_at else {
            return link.in_flight.load(Ordering::Relaxed) >= HSM_HANDSHAKES_AT_ONCE;
        };
        if failed_at.elapsed() >= STANDBY_FOR && !state.probing {
            state.probing = true;
            let link = link.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let signed = link.sign(&probe_message()).is_ok();
                link.record(Signature::judge(signed, started.elapsed()));
                link.standby().probing = false;
            });
        }
        true
    }
}

/// The daemon's listener key, held by the signer.
#[derive(Debug)]
pub(crate) struct HsmListenerKey {
    public_key: Vec<u8>,
    link: Arc<HandshakeLink>,
}

impl HsmListenerKey {
    /// The key whose public half is `public_key` (DER SubjectPublicKeyInfo, P-256), signed
    /// with through the signer at `socket`.
    pub(crate) fn new(public_key: Vec<u8>, socket: PathBuf) -> HsmListenerKey {
        HsmListenerKey {
            public_key,
            link: Arc::new(HandshakeLink {
                socket,
                pool: Mutex::new(Pool {
                    idle: Vec::new(),
                    open: 0,
                }),
                freed: Condvar::new(),
                last_warning: Mutex::new(None),
                standby: Mutex::default(),
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// Whether the HSM signs this key's handshakes now (what the standby depends on).
    pub(crate) fn health(&self) -> HandshakeHealth {
        HandshakeHealth(self.link.clone())
    }

    /// One signature outside a handshake: start-up proves with it that the signer lets this
    /// daemon sign (a missing `SignTlsHandshake` in its allow-list would otherwise surface
    /// only as failing handshakes).
    pub(crate) fn sign_blocking(&self, message: &[u8]) -> Result<Vec<u8>, CallError> {
        self.link.sign(message)
    }
}

impl SigningKey for HsmListenerKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
            .then(|| {
                Box::new(HandshakeSigner {
                    link: self.link.clone(),
                }) as Box<dyn Signer>
            })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.public_key.as_slice()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

/// One handshake's signer.
#[derive(Debug)]
struct HandshakeSigner {
    link: Arc<HandshakeLink>,
}

impl Signer for HandshakeSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let link = &self.link;
        let started = Instant::now();
        link.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| link.sign(message))
            }
            // A current-thread runtime cannot hand its tasks to another thread; outside a
            // runtime there is nothing to hand over.
            _ => link.sign(message),
        };
        link.in_flight.fetch_sub(1, Ordering::Relaxed);
        link.record(Signature::judge(result.is_ok(), started.elapsed()));
        match result {
            Ok(signature) => Ok(signature),
            Err(e) => {
                link.warn(&e);
                Err(rustls::Error::General(
                    "the signer did not sign the handshake".into(),
                ))
            }
        }
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }
}

/// Connections to the signer for handshake signatures.
#[derive(Debug)]
struct HandshakeLink {
    socket: PathBuf,
    pool: Mutex<Pool>,
    freed: Condvar,
    last_warning: Mutex<Option<Instant>>,
    standby: Mutex<StandbyState>,
    /// Handshake signatures under way (not probes).
    in_flight: AtomicUsize,
}

/// How a signature went, for the standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signature {
    Prompt,
    Slow(Duration),
    Failed,
}

impl Signature {
    fn judge(signed: bool, took: Duration) -> Signature {
        match (signed, took > SLOW_SIGNATURE) {
            (false, _) => Signature::Failed,
            (true, true) => Signature::Slow(took),
            (true, false) => Signature::Prompt,
        }
    }
}

#[derive(Debug)]
struct Pool {
    /// Connected and not in use.
    idle: Vec<SignerClient>,
    /// Connections in use or idle, and connects under way: at most [`MAX_IN_FLIGHT`].
    open: usize,
}

impl HandshakeLink {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn standby(&self) -> MutexGuard<'_, StandbyState> {
        self.standby.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes how a signature (a handshake's or a probe's) went.
    fn record(&self, signature: Signature) {
        let mut state = self.standby();
        match (signature, state.failed_at) {
            (Signature::Prompt, Some(_)) => {
                state.failed_at = None;
                tracing::info!("the HSM signs TLS handshakes again; the standby certificate rests");
            }
            (Signature::Slow(took), was) => {
                if was.is_none() {
                    tracing::warn!(
                        took_ms = took.as_millis(),
                        "the HSM signs TLS handshakes slowly; serving the standby certificate until it is prompt again"
                    );
                }
                state.failed_at = Some(Instant::now());
            }
            (Signature::Failed, _) => state.failed_at = Some(Instant::now()),
            (Signature::Prompt, None) => {}
        }
    }

    /// Signs `message`; a kept connection that turns out dead is replaced once.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CallError> {
        let request = Request::SignTlsHandshake {
            scheme: TlsSignatureScheme::EcdsaP256Sha256,
            message: message.to_vec(),
        };
        let (client, reused) = self.checkout()?;
        match self.call(client, &request) {
            Err(CallError::Unavailable(e)) if reused => {
                // Every kept connection is probably as dead as this one (the signer
                // restarted, or closed them idle): drop them all and connect afresh.
                self.drain_idle();
                tracing::debug!(error = %e, "a kept signer connection was closed; reconnecting");
                let (client, _) = self.checkout()?;
                self.call(client, &request)
            }
            other => other,
        }
    }

    /// One call on `client`, which goes back to the pool unless the connection broke or
    /// carried something other than an answer to this request.
    fn call(&self, mut client: SignerClient, request: &Request) -> Result<Vec<u8>, CallError> {
        match client.call(request) {
            Ok(Response::TlsHandshakeSignature { signature }) => {
                self.checkin(client);
                Ok(signature)
            }
            Ok(other) => {
                self.discard();
                Err(CallError::wrong_answer(request.operation(), other.name()))
            }
            Err(e @ CallError::Refused { .. }) => {
                self.checkin(client);
                Err(e)
            }
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// A connection: a kept one (`true`), or a new one while fewer than [`MAX_IN_FLIGHT`]
    /// are open, waiting at most [`WAIT_FOR_TURN`] for either.
    fn checkout(&self) -> Result<(SignerClient, bool), CallError> {
        let deadline = Instant::now() + WAIT_FOR_TURN;
        let mut pool = self.pool();
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok((c, true));
            }
            if pool.open < MAX_IN_FLIGHT {
                pool.open += 1;
                drop(pool);
                let connected = SignerClient::connect(&self.socket)
                    .and_then(|c| c.set_timeout(SIGNER_TIMEOUT).map(|()| c));
                return match connected {
                    Ok(c) => Ok((c, false)),
                    Err(e) => {
                        self.discard();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CallError::Unavailable(format!(
                    "{MAX_IN_FLIGHT} handshake signatures already wait on the signer"
                )));
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn checkin(&self, client: SignerClient) {
        self.pool().idle.push(client);
        self.freed.notify_one();
    }

    /// Gives up the place of a connection that is gone.
    fn discard(&self) {
        let mut pool = self.pool();
        pool.open = pool.open.saturating_sub(1);
        drop(pool);
        self.freed.notify_one();
    }

    fn drain_idle(&self) {
        let mut pool = self.pool();
        let n = pool.idle.len();
        pool.idle.clear();
        pool.open = pool.open.saturating_sub(n);
        drop(pool);
        self.freed.notify_all();
    }

    /// Logs a failed handshake signature at warn, at most once per [`WARN_EVERY`] (a
    /// signer that is down fails every handshake; the log needs to say so, not each time).
    fn warn(&self, error: &CallError) {
        let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            tracing::debug!(%error, "TLS handshake failed: no signature from the signer");
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            %error,
            "TLS handshakes fail: the signer does not sign with the listener key (further failures within 10 s are logged at debug)"
        );
    }
}
