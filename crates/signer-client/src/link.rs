//! [`SignerLink`]: the signer from async code.
//!
//! In: a [`Request`], built by a typed method. Out: that operation's answer, or a
//! [`CallError`]. Each call opens a connection of its own on the runtime (no blocking
//! thread), sends one frame, reads one answer under the link's deadline and closes: the
//! signer may restart under its callers, and its answer time is the HSM's, not the
//! connect's. The handshake signatures of `strongroom-httpd` stay on the blocking
//! `strongroom_wire::SignerClient` (rustls signs synchronously) and share [`CallError`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use strongroom_types::{CaId, Policy};
use strongroom_wire::{
    answer_of, body_length, decode_payload, encode_frame, CaCreation, CallError, CheckpointRequest,
    HealthReport, HsmKey, IssuanceRequest, IssuedCertificate, JournaledIssuance,
    OcspSigningRequest, Request, Response, RevocationRecord, ScepEnvelope, ScepPlaintext,
    ScepReplyRequest, SignedCheckpoint, SignedEstKeyPackage, SignedOcspResponse, SignedScepNextCa,
    SignedScepReply, SignerMetrics, TotpCheck, TotpEnrolment, WireError, DEFAULT_CALL_TIMEOUT,
    MAX_RESPONSE_FRAME,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Where the signer listens, and how long a call may take. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SignerLink {
    socket: Arc<PathBuf>,
    timeout: Duration,
}

/// A signed CRL (answer to `IssueCrl` and `IssueCrlScope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCrl {
    /// DER CertificateList.
    pub der: Vec<u8>,
    /// Its cRLNumber.
    pub number: u64,
}

/// The id of the one request each connection carries.
const REQUEST_ID: u64 = 1;

impl SignerLink {
    /// A link to the socket at `path`; each call may take up to 60 s
    /// ([`DEFAULT_CALL_TIMEOUT`]).
    pub fn new(path: PathBuf) -> SignerLink {
        SignerLink {
            socket: Arc::new(path),
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The same link with calls cut off after `timeout` (connect, send and answer
    /// together): a caller that must not wait on a wedged signer, such as a metrics scrape.
    pub fn within(&self, timeout: Duration) -> SignerLink {
        SignerLink {
            socket: self.socket.clone(),
            timeout,
        }
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `Health`: HSM state, policy version, journal size, CAs.
    pub async fn health(&self) -> Result<HealthReport, CallError> {
        self.ask(Request::Health, |r| match r {
            Response::Health(h) => Some(h),
            _ => None,
        })
        .await
    }

    /// `GetCaChain`: the CA's certificate and its chain up to the root (DER, the CA first).
    pub async fn ca_chain(&self, ca: CaId) -> Result<Vec<Vec<u8>>, CallError> {
        self.ask(Request::GetCaChain { ca }, |r| match r {
            Response::CaChain(c) => Some(c),
            _ => None,
        })
        .await
    }

    /// `PutPolicy`: the version now in force.
    pub async fn put_policy(&self, policy: Policy) -> Result<u64, CallError> {
        self.ask(Request::PutPolicy { policy }, |r| match r {
            Response::PolicyAccepted { version } => Some(version),
            _ => None,
        })
        .await
    }

    /// `IssueCertificate`: the certificate, its chain and the CA that issued it.
    pub async fn issue_certificate(
        &self,
        request: IssuanceRequest,
    ) -> Result<IssuedCertificate, CallError> {
        self.ask(Request::IssueCertificate(request), |r| match r {
            Response::Certificate(c) => Some(c),
            _ => None,
        })
        .await
    }

    /// `IssueCrl`: a fresh full CRL of an unsharded CA.
    pub async fn issue_crl(&self, ca: CaId) -> Result<SignedCrl, CallError> {
        self.ask(Request::IssueCrl { ca }, crl).await
    }

    /// `IssueCrlScope`: a CRL of one shard and/or the delta of a scope.
    pub async fn issue_crl_scope(
        &self,
        ca: CaId,
        shard: Option<u32>,
        delta: bool,
    ) -> Result<SignedCrl, CallError> {
        self.ask(Request::IssueCrlScope { ca, shard, delta }, crl)
            .await
    }

    /// `RecordRevocation`: whether the serial was already recorded as revoked.
    pub async fn record_revocation(&self, record: RevocationRecord) -> Result<bool, CallError> {
        self.ask(Request::RecordRevocation(record), |r| match r {
            Response::RevocationRecorded { already_revoked } => Some(already_revoked),
            _ => None,
        })
        .await
    }

    /// `CreateCa`: the new CA's certificate and chain (DER, the CA first).
    pub async fn create_ca(&self, creation: CaCreation) -> Result<Vec<Vec<u8>>, CallError> {
        self.ask(Request::CreateCa(creation), |r| match r {
            Response::CaCreated { chain } => Some(chain),
            _ => None,
        })
        .await
    }

    /// `SignAuditCheckpoint`: a signed statement over the audit chain's head.
    pub async fn sign_audit_checkpoint(
        &self,
        request: CheckpointRequest,
    ) -> Result<SignedCheckpoint, CallError> {
        self.ask(Request::SignAuditCheckpoint(request), |r| match r {
            Response::AuditCheckpoint(c) => Some(c),
            _ => None,
        })
        .await
    }

    /// `SignOcspResponses`: the responses, in the order asked.
    pub async fn sign_ocsp_responses(
        &self,
        request: OcspSigningRequest,
    ) -> Result<Vec<SignedOcspResponse>, CallError> {
        self.ask(Request::SignOcspResponses(request), |r| match r {
            Response::OcspResponses(s) => Some(s),
            _ => None,
        })
        .await
    }

    /// `JournaledIssuances`: the `issued` records after journal record `after` (at most
    /// `limit`), and the last record the signer looked at.
    pub async fn journaled_issuances(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<JournaledIssuance>, u64), CallError> {
        self.ask(Request::JournaledIssuances { after, limit }, |r| match r {
            Response::JournaledIssuances { records, through } => Some((records, through)),
            _ => None,
        })
        .await
    }

    /// `ListenerKey`: the caller's own listener key, as (DER SubjectPublicKeyInfo, PKCS#11
    /// URI).
    pub async fn listener_key(&self) -> Result<(Vec<u8>, String), CallError> {
        self.ask(Request::ListenerKey, |r| match r {
            Response::ListenerKey { public_key, uri } => Some((public_key, uri)),
            _ => None,
        })
        .await
    }

    /// `Metrics`: the signer's counters.
    pub async fn metrics(&self) -> Result<SignerMetrics, CallError> {
        self.ask(Request::Metrics, |r| match r {
            Response::Metrics(m) => Some(m),
            _ => None,
        })
        .await
    }

    /// `ScepRaCertificate`: the CA's SCEP registration authority certificate and the same
    /// key's encryption-only certificate, DER.
    pub async fn scep_ra_certificate(&self, ca: CaId) -> Result<(Vec<u8>, Vec<u8>), CallError> {
        self.ask(Request::ScepRaCertificate { ca }, |r| match r {
            Response::ScepRaCertificate {
                certificate,
                encryption_certificate,
            } => Some((certificate, encryption_certificate)),
            _ => None,
        })
        .await
    }

    /// `DecryptScepEnvelope`: a device's envelope opened with the CA's RA key.
    pub async fn decrypt_scep_envelope(
        &self,
        envelope: ScepEnvelope,
    ) -> Result<ScepPlaintext, CallError> {
        self.ask(Request::DecryptScepEnvelope(envelope), |r| match r {
            Response::ScepPlaintext(p) => Some(p),
            _ => None,
        })
        .await
    }

    /// `SignScepReply`: a reply's signed attributes and the RA's signature over them.
    pub async fn sign_scep_reply(
        &self,
        reply: ScepReplyRequest,
    ) -> Result<SignedScepReply, CallError> {
        self.ask(Request::SignScepReply(reply), |r| match r {
            Response::ScepReply(s) => Some(s),
            _ => None,
        })
        .await
    }

    /// `SignScepNextCa`: the successor's certificates-only message and the RA's signature.
    pub async fn sign_scep_next_ca(
        &self,
        ca: CaId,
        successor: CaId,
    ) -> Result<SignedScepNextCa, CallError> {
        self.ask(Request::SignScepNextCa { ca, successor }, |r| match r {
            Response::ScepNextCa(s) => Some(s),
            _ => None,
        })
        .await
    }

    /// `SignEstKeyPackage`: the key generator's signature over a key package's digest.
    pub async fn sign_est_key_package(
        &self,
        ca: CaId,
        package_digest: Vec<u8>,
    ) -> Result<SignedEstKeyPackage, CallError> {
        self.ask(
            Request::SignEstKeyPackage { ca, package_digest },
            |r| match r {
                Response::EstKeyPackage(s) => Some(s),
                _ => None,
            },
        )
        .await
    }

    /// `TotpEnrol`: a user's new TOTP secret, sealed, and in the clear once.
    pub async fn totp_enrol(&self, username: String) -> Result<TotpEnrolment, CallError> {
        self.ask(Request::TotpEnrol { username }, |r| match r {
            Response::TotpEnrolment(e) => Some(e),
            _ => None,
        })
        .await
    }

    /// `TotpVerify`: the time step a code matched, after `check.after_step`.
    pub async fn totp_verify(&self, check: TotpCheck) -> Result<u64, CallError> {
        self.ask(Request::TotpVerify(check), |r| match r {
            Response::TotpVerified { step } => Some(step),
            _ => None,
        })
        .await
    }

    /// `KeyInventory`: the token's key objects by URI, and whether the list was cut short.
    pub async fn key_inventory(&self) -> Result<(Vec<HsmKey>, bool), CallError> {
        self.ask(Request::KeyInventory, |r| match r {
            Response::KeyInventory { keys, truncated } => Some((keys, truncated)),
            _ => None,
        })
        .await
    }

    /// Sends `request` and keeps the answer `pick` accepts; any other answer is
    /// [`CallError::Unexpected`].
    async fn ask<T>(
        &self,
        request: Request,
        pick: impl FnOnce(Response) -> Option<T>,
    ) -> Result<T, CallError> {
        let operation = request.operation();
        let answer = self.call(&request).await?;
        let name = answer.name();
        pick(answer).ok_or_else(|| CallError::wrong_answer(operation, name))
    }

    /// One exchange on a connection of its own, within the link's deadline.
    async fn call(&self, request: &Request) -> Result<Response, CallError> {
        match tokio::time::timeout(self.timeout, exchange(&self.socket, request)).await {
            Ok(answer) => answer,
            Err(_) => Err(CallError::Unavailable(format!(
                "no answer to {} within {} ms",
                request.operation().as_str(),
                self.timeout.as_millis()
            ))),
        }
    }
}

fn crl(r: Response) -> Option<SignedCrl> {
    match r {
        Response::Crl { der, number } => Some(SignedCrl { der, number }),
        _ => None,
    }
}

/// Connect, send one frame, read one answer: the same framing and fail-closed decoding as
/// the blocking client (length checked before the body is read, at most
/// [`MAX_RESPONSE_FRAME`], no trailing bytes, canonical encoding).
async fn exchange(socket: &Path, request: &Request) -> Result<Response, CallError> {
    let frame = encode_frame(REQUEST_ID, request)?;
    let mut stream = UnixStream::connect(socket).await.map_err(|e| {
        CallError::Unavailable(format!(
            "cannot connect to {}: {e} (is strongroom-signer running?)",
            socket.display()
        ))
    })?;
    stream.write_all(&frame).await.map_err(WireError::Io)?;
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => WireError::Closed,
            _ => WireError::Io(e),
        })?;
    let mut body = vec![0u8; body_length(prefix, MAX_RESPONSE_FRAME)?];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => WireError::Truncated,
            _ => WireError::Io(e),
        })?;
    let frame = decode_payload::<Response>(&body)?;
    answer_of(REQUEST_ID, frame.request_id, frame.message)
}
