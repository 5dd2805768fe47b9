//! The closed set of signer operations and their answers.
//!
//! In: values built by a caller (front, control, the CLI). Out: the messages framed by
//! [`crate::frame`]. The signer builds what it signs itself from structured requests, with
//! one narrow exception: [`Request::SignTlsHandshake`], a TLS handshake message signed
//! with the caller's own listener key (never a CA key), of a size and shape the signer
//! checks.
//!
//! Stored contract: variants and fields are encoded by position. Append, never reorder.

use serde::{Deserialize, Serialize};
use std::fmt;
use strongroom_types::{
    CaId, KeyAlgorithm, Policy, ProfileName, RequestedName, RevocationReason, Serial,
};

/// A request to the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Liveness and HSM state.
    Health,
    /// The certificate of a CA and its chain up to the root.
    GetCaChain {
        /// The CA.
        ca: CaId,
    },
    /// Replace the issuance policy (control only).
    PutPolicy {
        /// The new policy; its version must be higher than the current one.
        policy: Policy,
    },
    /// Issue one certificate.
    IssueCertificate(IssuanceRequest),
    /// Sign a fresh full CRL for a CA from the revocations the signer has recorded.
    IssueCrl {
        /// The CA.
        ca: CaId,
    },
    /// Record a revocation (control only); it appears on the next CRL.
    RecordRevocation(RevocationRecord),
    /// Create an intermediate CA under an existing one, its key generated in the HSM
    /// (control only, after two-person approval in production mode).
    CreateCa(CaCreation),
    /// Sign a statement over the audit chain's head with the audit key certified by `ca`
    /// (control only).
    SignAuditCheckpoint(CheckpointRequest),
    /// Pre-sign OCSP responses (one per serial, SHA-1 CertID) with the CA's delegated
    /// responder key; the status comes from the signer's own records (control, front).
    SignOcspResponses(OcspSigningRequest),
    /// Sign a CRL for one scope of a CA: one shard and/or its delta (allowed to whoever may
    /// call `IssueCrl`).
    IssueCrlScope {
        /// The CA.
        ca: CaId,
        /// The shard (1-based) when the CA's CRL is sharded.
        shard: Option<u32>,
        /// A delta CRL over the scope's last full CRL.
        delta: bool,
    },
    /// The certificates the journal records as issued after journal record `after`, oldest
    /// first, at most `limit` (capped at [`MAX_JOURNALED_ISSUANCES`]); control reads them to
    /// find certificates that were signed but never reached the inventory (control only).
    JournaledIssuances {
        /// The journal sequence number to read after (0: from the start).
        after: u64,
        /// Most records to return.
        limit: u32,
    },
    /// The caller's own TLS listener key (control, front): its public half, the key made
    /// in the HSM on the first call (ECDSA P-256, sensitive, non-extractable) under a label
    /// derived from the peer's name, so every signer on one HSM partition finds the same key.
    ListenerKey,
    /// A signature over one TLS handshake message with the caller's own listener key and no
    /// other: a TLS 1.3 server CertificateVerify input, or TLS 1.2 ECDHE ServerKeyExchange
    /// parameters, at most [`MAX_TLS_HANDSHAKE_MESSAGE`] bytes (control, front).
    SignTlsHandshake {
        /// The signature scheme rustls chose.
        scheme: TlsSignatureScheme,
        /// The message, as rustls hands it to its signer (the signer hashes it).
        message: Vec<u8>,
    },
    /// The signer's counters: operations by outcome, HSM and journal latency, degraded
    /// state (control, which publishes them at its `/metrics`). Counts only, no secrets.
    Metrics,
    /// The SCEP registration authority certificate of a CA (front): an RSA key in the HSM
    /// that signs and decrypts, certified by the CA, made on first use and renewed before
    /// it runs out.
    ScepRaCertificate {
        /// The CA.
        ca: CaId,
    },
    /// Open a device's SCEP envelope with the CA's RA key (front): the content-encryption
    /// key is unwrapped in the HSM and the content decrypted in the signer. Every failure
    /// is one answer, whatever failed (no padding oracle).
    DecryptScepEnvelope(crate::scep::ScepEnvelope),
    /// Sign a SCEP reply's attributes with the CA's RA key (front).
    SignScepReply(crate::scep::ScepReplyRequest),
    /// A GetNextCACert answer's parts (front): the signer builds the certificates-only
    /// message of `successor`'s chain itself — a CA it holds, under the same root as `ca` —
    /// and signs its digest with `ca`'s RA key, so a front cannot make the RA vouch for a
    /// certificate of its choosing.
    SignScepNextCa {
        /// The CA devices enrol with now (whose RA signs).
        ca: CaId,
        /// The CA that takes over (control names it; the front reads the link).
        successor: CaId,
    },
    /// Sign the attributes of an EST server-generated key package with `ca`'s key-generator
    /// key (front): the signer sees only the package's SHA-256 (never the key), builds the
    /// attributes itself (contentType id-ct-KP-aKeyPackage, messageDigest) and signs them
    /// with a delegated P-256 key that certifies nothing.
    SignEstKeyPackage {
        /// The CA the key's certificate was issued by.
        ca: CaId,
        /// SHA-256 of the DER AsymmetricKeyPackage (32 bytes).
        package_digest: Vec<u8>,
    },
    /// A new TOTP secret for a user (control): made in the signer, sealed under the token's
    /// TOTP sealing key, returned sealed for control to store and in the clear once for the
    /// enrolment QR code.
    TotpEnrol {
        /// The user (1 to 64 characters); the sealed secret opens for this name only.
        username: String,
    },
    /// Check a TOTP code against a user's sealed secret (control): the step it matched,
    /// later than the last step control accepted, or a refusal.
    TotpVerify(TotpCheck),
    /// The token's key objects by PKCS#11 URI, read-only (control's system page).
    KeyInventory,
}

/// Most bytes one [`Request::SignTlsHandshake`] message may hold. A TLS 1.3
/// CertificateVerify input is 130 or 146 bytes, TLS 1.2 ECDHE parameters with their
/// randoms at most 165 (P-384): the cap leaves room, and no more.
pub const MAX_TLS_HANDSHAKE_MESSAGE: usize = 1024;

/// The TLS signature schemes a listener key signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsSignatureScheme {
    /// `ecdsa_secp256r1_sha256`: SHA-256 over the message, ECDSA P-256, DER signature.
    EcdsaP256Sha256,
}

/// Most records one [`Request::JournaledIssuances`] answer carries (about 2 KiB each).
pub const MAX_JOURNALED_ISSUANCES: u32 = 1000;

/// The operations, as named in the signer's allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    /// [`Request::Health`].
    Health,
    /// [`Request::GetCaChain`].
    GetCaChain,
    /// [`Request::PutPolicy`].
    PutPolicy,
    /// [`Request::IssueCertificate`].
    IssueCertificate,
    /// [`Request::IssueCrl`].
    IssueCrl,
    /// [`Request::RecordRevocation`].
    RecordRevocation,
    /// [`Request::CreateCa`].
    CreateCa,
    /// [`Request::SignAuditCheckpoint`].
    SignAuditCheckpoint,
    /// [`Request::SignOcspResponses`].
    SignOcspResponses,
    /// [`Request::JournaledIssuances`].
    JournaledIssuances,
    /// [`Request::ListenerKey`].
    ListenerKey,
    /// [`Request::SignTlsHandshake`].
    SignTlsHandshake,
    /// [`Request::Metrics`].
    Metrics,
    /// [`Request::ScepRaCertificate`].
    ScepRaCertificate,
    /// [`Request::DecryptScepEnvelope`].
    DecryptScepEnvelope,
    /// [`Request::SignScepReply`].
    SignScepReply,
    /// [`Request::SignScepNextCa`].
    SignScepNextCa,
    /// [`Request::SignEstKeyPackage`].
    SignEstKeyPackage,
    /// [`Request::TotpEnrol`].
    TotpEnrol,
    /// [`Request::TotpVerify`].
    TotpVerify,
    /// [`Request::KeyInventory`].
    KeyInventory,
}

impl Operation {
    /// Every operation (the dev-mode allow-list).
    pub const ALL: [Operation; 21] = [
        Operation::Health,
        Operation::GetCaChain,
        Operation::PutPolicy,
        Operation::IssueCertificate,
        Operation::IssueCrl,
        Operation::RecordRevocation,
        Operation::CreateCa,
        Operation::SignAuditCheckpoint,
        Operation::SignOcspResponses,
        Operation::JournaledIssuances,
        Operation::ListenerKey,
        Operation::SignTlsHandshake,
        Operation::Metrics,
        Operation::ScepRaCertificate,
        Operation::DecryptScepEnvelope,
        Operation::SignScepReply,
        Operation::SignScepNextCa,
        Operation::SignEstKeyPackage,
        Operation::TotpEnrol,
        Operation::TotpVerify,
        Operation::KeyInventory,
    ];

    /// Stable name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Health => "Health",
            Operation::GetCaChain => "GetCaChain",
            Operation::PutPolicy => "PutPolicy",
            Operation::IssueCertificate => "IssueCertificate",
            Operation::IssueCrl => "IssueCrl",
            Operation::RecordRevocation => "RecordRevocation",
            Operation::CreateCa => "CreateCa",
            Operation::SignAuditCheckpoint => "SignAuditCheckpoint",
            Operation::SignOcspResponses => "SignOcspResponses",
            Operation::JournaledIssuances => "JournaledIssuances",
            Operation::ListenerKey => "ListenerKey",
            Operation::SignTlsHandshake => "SignTlsHandshake",
            Operation::Metrics => "Metrics",
            Operation::ScepRaCertificate => "ScepRaCertificate",
            Operation::DecryptScepEnvelope => "DecryptScepEnvelope",
            Operation::SignScepReply => "SignScepReply",
            Operation::SignScepNextCa => "SignScepNextCa",
            Operation::SignEstKeyPackage => "SignEstKeyPackage",
            Operation::TotpEnrol => "TotpEnrol",
            Operation::TotpVerify => "TotpVerify",
            Operation::KeyInventory => "KeyInventory",
        }
    }

    /// Parses a configuration name.
    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl Request {
    /// The operation this request asks for (what the allow-list checks).
    pub fn operation(&self) -> Operation {
        match self {
            Request::Health => Operation::Health,
            Request::GetCaChain { .. } => Operation::GetCaChain,
            Request::PutPolicy { .. } => Operation::PutPolicy,
            Request::IssueCertificate(_) => Operation::IssueCertificate,
            Request::IssueCrl { .. } => Operation::IssueCrl,
            Request::RecordRevocation(_) => Operation::RecordRevocation,
            Request::CreateCa(_) => Operation::CreateCa,
            Request::SignAuditCheckpoint(_) => Operation::SignAuditCheckpoint,
            Request::SignOcspResponses(_) => Operation::SignOcspResponses,
            Request::IssueCrlScope { .. } => Operation::IssueCrl,
            Request::JournaledIssuances { .. } => Operation::JournaledIssuances,
            Request::ListenerKey => Operation::ListenerKey,
            Request::SignTlsHandshake { .. } => Operation::SignTlsHandshake,
            Request::Metrics => Operation::Metrics,
            Request::ScepRaCertificate { .. } => Operation::ScepRaCertificate,
            Request::DecryptScepEnvelope(_) => Operation::DecryptScepEnvelope,
            Request::SignScepReply(_) => Operation::SignScepReply,
            Request::SignScepNextCa { .. } => Operation::SignScepNextCa,
            Request::SignEstKeyPackage { .. } => Operation::SignEstKeyPackage,
            Request::TotpEnrol { .. } => Operation::TotpEnrol,
            Request::TotpVerify(_) => Operation::TotpVerify,
            Request::KeyInventory => Operation::KeyInventory,
        }
    }

    /// A one-line, log-safe summary (no key material, no CSR bytes).
    pub fn summary(&self) -> String {
        match self {
            Request::Health => "Health".into(),
            Request::GetCaChain { ca } => format!("GetCaChain ca={ca}"),
            Request::PutPolicy { policy } => {
                format!(
                    "PutPolicy version={} profiles={}",
                    policy.version,
                    policy.profiles.len()
                )
            }
            Request::IssueCertificate(r) => format!(
                "IssueCertificate profile={} names={} key={}",
                r.profile,
                r.names.len(),
                match r.subject_key {
                    SubjectKey::Csr(_) => "csr",
                    SubjectKey::PublicKey(_) => "spki",
                    SubjectKey::CsrKeyAndNames(_) => "csr-key-and-names",
                }
            ),
            Request::IssueCrl { ca } => format!("IssueCrl ca={ca}"),
            Request::RecordRevocation(r) => {
                format!(
                    "RecordRevocation ca={} serial={} reason={}",
                    r.ca, r.serial, r.reason
                )
            }
            Request::CreateCa(c) => format!("CreateCa id={} parent={}", c.id, c.parent),
            Request::SignAuditCheckpoint(c) => {
                format!("SignAuditCheckpoint ca={} seq={}", c.ca, c.seq)
            }
            Request::SignOcspResponses(o) => {
                format!("SignOcspResponses ca={} serials={}", o.ca, o.serials.len())
            }
            Request::IssueCrlScope { ca, shard, delta } => {
                format!("IssueCrlScope ca={ca} shard={shard:?} delta={delta}")
            }
            Request::JournaledIssuances { after, limit } => {
                format!("JournaledIssuances after={after} limit={limit}")
            }
            Request::ListenerKey => "ListenerKey".into(),
            // The length only: the bytes are a handshake transcript hash and randoms.
            Request::SignTlsHandshake { scheme, message } => {
                format!("SignTlsHandshake scheme={scheme:?} bytes={}", message.len())
            }
            Request::Metrics => "Metrics".into(),
            Request::ScepRaCertificate { ca } => format!("ScepRaCertificate ca={ca}"),
            // Lengths only: the key, IV and content are the device's secrets.
            Request::DecryptScepEnvelope(e) => format!(
                "DecryptScepEnvelope ca={} cipher={} bytes={}",
                e.ca,
                e.cipher.as_str(),
                e.ciphertext.len()
            ),
            Request::SignScepNextCa { ca, successor } => {
                format!("SignScepNextCa ca={ca} successor={successor}")
            }
            Request::SignScepReply(r) => format!(
                "SignScepReply ca={} status={:?} fail_info={:?}",
                r.ca, r.pki_status, r.fail_info
            ),
            Request::SignEstKeyPackage { ca, .. } => format!("SignEstKeyPackage ca={ca}"),
            Request::TotpEnrol { username } => format!("TotpEnrol user={username}"),
            // The user only: the code and the sealed secret stay out of logs.
            Request::TotpVerify(c) => format!("TotpVerify user={}", c.username),
            Request::KeyInventory => "KeyInventory".into(),
        }
    }
}

/// A new intermediate CA (the fields of a ceremony file; see docs/ceremony.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaCreation {
    /// Id of the new CA.
    pub id: CaId,
    /// The CA that signs it.
    pub parent: CaId,
    /// Subject DN, RFC 4514.
    pub subject: String,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
    /// Validity in days (within the parent's).
    pub validity_days: u32,
    /// pathLenConstraint (default: one below the parent's).
    pub path_length: Option<u8>,
    /// Permitted subtrees (`dns:…`, `ip:…/n`, `email:…`), a subset of the parent's.
    pub permitted: Vec<String>,
    /// Excluded subtrees.
    pub excluded: Vec<String>,
    /// CRL URL written into what it issues.
    pub crl_url: Option<String>,
    /// OCSP URL written into what it issues.
    pub ocsp_url: Option<String>,
    /// caIssuers URL written into what it issues.
    pub ca_issuers_url: Option<String>,
    /// Split the CRL into this many shards (0: one CRL; else 2 to 256).
    pub crl_shards: u32,
    /// Publish delta CRLs (FreshestCRL in the full ones).
    pub delta_crl: bool,
}

/// What an audit checkpoint covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRequest {
    /// The CA that certifies the audit key.
    pub ca: CaId,
    /// Sequence number of the chain head.
    pub seq: u64,
    /// Hash of the chain head (64 lowercase hex digits).
    pub head_hash: String,
}

/// A signed audit checkpoint, verifiable offline with the CA chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// The exact bytes signed (UTF-8 text, see `strongroom_types::audit::checkpoint_statement`).
    pub statement: String,
    /// ECDSA P-256 SHA-256 signature (DER) over `statement`.
    pub signature: Vec<u8>,
    /// The audit key's certificate, DER.
    pub certificate: Vec<u8>,
    /// Its issuing chain up to the root, DER.
    pub chain: Vec<Vec<u8>>,
}

/// Which OCSP responses to pre-sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcspSigningRequest {
    /// The issuing CA.
    pub ca: CaId,
    /// The serials (1 to 1,000); each gets its own response.
    pub serials: Vec<Serial>,
    /// thisUpdate to nextUpdate, in seconds (60 to 7 days; never past the responder
    /// certificate).
    pub validity_secs: u32,
    /// CertIDs hashed with SHA-256 instead of SHA-1 (answer in the client's hash).
    pub sha256_cert_ids: bool,
    /// One response answering every serial (an on-demand answer to a multi-certificate
    /// request) instead of one response per serial; its element carries the first
    /// serial's status.
    pub combined: bool,
    /// A request nonce to echo (RFC 8954, 1 to 32 octets; on-demand answers only).
    pub nonce: Option<Vec<u8>>,
}

/// A certificate's status in an OCSP response: the domain's one enum (encoded as it was
/// declared here before it moved to `strongroom-types`, variant for variant).
pub use strongroom_types::OcspStatus;

/// One pre-signed response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOcspResponse {
    /// The serial it answers for.
    pub serial: Serial,
    /// The status it states.
    pub status: OcspStatus,
    /// The DER OCSPResponse.
    pub der: Vec<u8>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
}

/// A structured issuance request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuanceRequest {
    /// The profile to issue under; it decides issuer, usages and the validity ceiling.
    pub profile: ProfileName,
    /// The subject's public key.
    pub subject_key: SubjectKey,
    /// Subject alternative names. When empty and a CSR is given, the CSR's SANs are used.
    pub names: Vec<RequestedName>,
    /// Requested validity in seconds; `None` means the profile's maximum. More than the
    /// profile allows is denied, not silently shortened.
    pub validity_secs: Option<u64>,
}

/// How the subject's public key arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectKey {
    /// A DER PKCS#10 CSR; the signer verifies its signature (proof of possession).
    Csr(Vec<u8>),
    /// A DER SubjectPublicKeyInfo; the caller has established possession itself (e.g.
    /// ACME finalize already checked the CSR).
    PublicKey(Vec<u8>),
    /// A DER PKCS#10 CSR of which only the key (its signature verified, as for `Csr`) and
    /// the names are used: extensions it asks for that the profile does not grant are left
    /// out, never refused, whatever the profile's `csr_extensions` says. This is how ACME
    /// CAs issue (RFC 8555 §7.4: the profile decides; acme.sh's CSR asks for clientAuth).
    /// It cannot widen anything: the certificate carries the profile's extensions either
    /// way, so the signer accepts it from any peer allowed to issue.
    CsrKeyAndNames(Vec<u8>),
}

/// A revocation to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// The issuing CA.
    pub ca: CaId,
    /// The certificate's serial.
    pub serial: Serial,
    /// CRLReason.
    pub reason: RevocationReason,
    /// When it was revoked (Unix seconds).
    pub revoked_at: i64,
    /// When the key is known or suspected to have been compromised (Unix seconds).
    pub invalidity_date: Option<i64>,
}

/// A response from the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to [`Request::Health`].
    Health(HealthReport),
    /// Answer to [`Request::GetCaChain`]: DER certificates, the CA first, the root last.
    CaChain(Vec<Vec<u8>>),
    /// Answer to [`Request::PutPolicy`].
    PolicyAccepted {
        /// The version now in force.
        version: u64,
    },
    /// Answer to [`Request::IssueCertificate`].
    Certificate(IssuedCertificate),
    /// Answer to [`Request::IssueCrl`].
    Crl {
        /// DER CertificateList.
        der: Vec<u8>,
        /// Its cRLNumber.
        number: u64,
    },
    /// Answer to [`Request::RecordRevocation`].
    RevocationRecorded {
        /// True when this serial was already recorded as revoked (idempotent retry).
        already_revoked: bool,
    },
    /// Any failure.
    Error(SignerError),
    /// The new CA's certificate and chain (CA first, root last).
    CaCreated {
        /// Chain, DER.
        chain: Vec<Vec<u8>>,
    },
    /// A signed audit checkpoint.
    AuditCheckpoint(SignedCheckpoint),
    /// Pre-signed OCSP responses, in the order asked.
    OcspResponses(Vec<SignedOcspResponse>),
    /// Answer to [`Request::JournaledIssuances`].
    JournaledIssuances {
        /// The `issued` records, oldest first; empty when none follows.
        records: Vec<JournaledIssuance>,
        /// The last journal record this read looked at (issued or not): a reader that has
        /// dealt with every record returned may continue after it, skipping what held
        /// nothing for it.
        through: u64,
    },
    /// Answer to [`Request::ListenerKey`].
    ListenerKey {
        /// The key's public half, DER SubjectPublicKeyInfo (ECDSA P-256).
        public_key: Vec<u8>,
        /// Where it lives: its PKCS#11 URI (for logs and operators).
        uri: String,
    },
    /// Answer to [`Request::SignTlsHandshake`].
    TlsHandshakeSignature {
        /// The signature in the scheme's TLS encoding (ECDSA: DER `Ecdsa-Sig-Value`).
        signature: Vec<u8>,
    },
    /// Answer to [`Request::Metrics`].
    Metrics(crate::metrics::SignerMetrics),
    /// Answer to [`Request::ScepRaCertificate`].
    ScepRaCertificate {
        /// The RA certificate (keyUsage digitalSignature and keyEncipherment), DER: it signs
        /// replies, and clients that pin one certificate encrypt to it.
        certificate: Vec<u8>,
        /// The same key's encryption-only certificate (keyEncipherment), DER, for clients
        /// that pick the certificate they encrypt to by that usage.
        encryption_certificate: Vec<u8>,
    },
    /// Answer to [`Request::DecryptScepEnvelope`].
    ScepPlaintext(crate::scep::ScepPlaintext),
    /// Answer to [`Request::SignScepReply`].
    ScepReply(crate::scep::SignedScepReply),
    /// Answer to [`Request::SignScepNextCa`].
    ScepNextCa(crate::scep::SignedScepNextCa),
    /// Answer to [`Request::SignEstKeyPackage`].
    EstKeyPackage(SignedEstKeyPackage),
    /// Answer to [`Request::TotpEnrol`].
    TotpEnrolment(TotpEnrolment),
    /// Answer to [`Request::TotpVerify`]: the time step (Unix time / 30) the code matched.
    TotpVerified {
        /// The step; control records it so the code cannot be used again.
        step: u64,
    },
    /// Answer to [`Request::KeyInventory`].
    KeyInventory {
        /// The key objects, sorted by URI.
        keys: Vec<HsmKey>,
        /// The token holds more than were listed.
        truncated: bool,
    },
}

/// Whether a token key is half of a pair or a symmetric key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HsmKeyClass {
    /// A private key.
    Private,
    /// A secret (symmetric) key.
    Secret,
}

/// One key object of the token, by its attributes (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HsmKey {
    /// Its PKCS#11 URI (RFC 7512): token, object label, id.
    pub uri: String,
    /// Private or secret.
    pub class: HsmKeyClass,
    /// CKA_KEY_TYPE by its PKCS#11 name (`CKK_EC`).
    pub key_type: String,
    /// CKA_SENSITIVE.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE.
    pub extractable: bool,
}

impl Response {
    /// The variant's name, for errors and logs (no payload: a response can carry megabytes
    /// of DER).
    pub fn name(&self) -> &'static str {
        match self {
            Response::Health(_) => "Health",
            Response::CaChain(_) => "CaChain",
            Response::PolicyAccepted { .. } => "PolicyAccepted",
            Response::Certificate(_) => "Certificate",
            Response::Crl { .. } => "Crl",
            Response::RevocationRecorded { .. } => "RevocationRecorded",
            Response::Error(_) => "Error",
            Response::CaCreated { .. } => "CaCreated",
            Response::AuditCheckpoint(_) => "AuditCheckpoint",
            Response::OcspResponses(_) => "OcspResponses",
            Response::JournaledIssuances { .. } => "JournaledIssuances",
            Response::ListenerKey { .. } => "ListenerKey",
            Response::TlsHandshakeSignature { .. } => "TlsHandshakeSignature",
            Response::Metrics(_) => "Metrics",
            Response::ScepRaCertificate { .. } => "ScepRaCertificate",
            Response::ScepPlaintext(_) => "ScepPlaintext",
            Response::ScepReply(_) => "ScepReply",
            Response::ScepNextCa(_) => "ScepNextCa",
            Response::EstKeyPackage(_) => "EstKeyPackage",
            Response::TotpEnrolment(_) => "TotpEnrolment",
            Response::TotpVerified { .. } => "TotpVerified",
            Response::KeyInventory { .. } => "KeyInventory",
        }
    }
}

/// A key package's signature, for the front to assemble the SignedData around.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedEstKeyPackage {
    /// The DER `SET OF Attribute` that was signed (contentType, messageDigest).
    pub signed_attributes: Vec<u8>,
    /// ECDSA P-256 SHA-256 signature (DER) over `signed_attributes`.
    pub signature: Vec<u8>,
    /// The key-generator certificate whose key signed, DER.
    pub certificate: Vec<u8>,
}

/// A TOTP code to check ([`Request::TotpVerify`]). Debug shows the user only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpCheck {
    /// The user the secret was sealed for.
    pub username: String,
    /// The sealed secret, as [`Request::TotpEnrol`] returned it.
    pub sealed: Vec<u8>,
    /// The code the user typed: 6 digits.
    pub code: String,
    /// The last step accepted for this user (0: none): only a later step matches.
    pub after_step: u64,
}

impl std::fmt::Debug for TotpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCheck")
            .field("username", &self.username)
            .field("after_step", &self.after_step)
            .finish_non_exhaustive()
    }
}

/// A new TOTP secret ([`Request::TotpEnrol`]). Debug shows neither the secret nor the blob.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolment {
    /// The secret sealed for control to store (IV ‖ ciphertext ‖ tag).
    pub sealed: Vec<u8>,
    /// The secret in the clear, 20 bytes: shown to the user once (as a QR code), then wiped.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TotpEnrolment(<{} bytes sealed>)", self.sealed.len())
    }
}

/// One `issued` record of the signer's journal. Records written before the journal kept
/// the certificate (2026-11-29) are not returned: they cannot be put into an inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournaledIssuance {
    /// The record's journal sequence number.
    pub seq: u64,
    /// When it was written (Unix seconds).
    pub at: i64,
    /// The issuing CA.
    pub ca: CaId,
    /// The serial.
    pub serial: Serial,
    /// The peer that asked, as the signer's allow-list names it (`front`, `control`, ...).
    pub peer: String,
    /// The profile.
    pub profile: String,
    /// The DER certificate.
    pub der: Vec<u8>,
}

/// The signer's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// `None` when the HSM answers; otherwise why it is degraded.
    pub hsm_degraded: Option<String>,
    /// The token label in use.
    pub token: String,
    /// Policy version in force (0 before the first push).
    pub policy_version: u64,
    /// Number of records in the issuance journal.
    pub journal_records: u64,
    /// The CAs this signer holds keys for.
    pub cas: Vec<CaSummary>,
}

/// One CA as the signer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaSummary {
    /// Its id.
    pub id: CaId,
    /// Subject DN as text.
    pub subject: String,
    /// notAfter (Unix seconds).
    pub not_after: i64,
    /// CRL shards (0: one CRL).
    pub crl_shards: u32,
    /// Whether it publishes delta CRLs.
    pub delta_crl: bool,
    /// notAfter of its current delegated OCSP responder certificate (renewed 7 days before
    /// it); `None` before the first OCSP response made one. Appended in issue 19.
    pub ocsp_responder_not_after: Option<i64>,
}

/// A freshly issued certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// DER certificate.
    pub der: Vec<u8>,
    /// Its serial.
    pub serial: Serial,
    /// The issuing CA's certificate and its chain up to the root (DER).
    pub chain: Vec<Vec<u8>>,
    /// Journal sequence number of the outcome record.
    pub journal_seq: u64,
    /// The issuing CA (the head of `chain`), so the caller files the certificate under the
    /// CA the signer used rather than working it out again after the fact.
    ///
    /// Appended last (a field of the last struct of its variant): every byte before it
    /// encodes as before. A client of an older build refuses the longer answer (trailing
    /// bytes) and a newer client refuses an older signer's (truncated), both as an
    /// unexpected answer, never a misread one: the signer and its clients are upgraded
    /// together.
    pub ca: CaId,
}

/// Error kinds that cross the process boundary. Small and stable: callers decide on
/// retry or refusal by kind; the detail is for humans and is log-safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The request is well-formed but policy forbids it (or linting failed).
    PolicyDenied,
    /// The HSM is temporarily unavailable; retry later or shed load.
    HsmUnavailable,
    /// The HSM failed permanently for this request (e.g. key missing).
    HsmFailed,
    /// The request is malformed or names something that does not exist.
    BadRequest,
    /// The peer is not allowed to perform this operation.
    NotAllowed,
    /// A bug or a local failure (e.g. the journal could not be written).
    Internal,
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerError {
    /// The stable kind.
    pub kind: ErrorKind,
    /// A log-safe human explanation of what to fix.
    pub detail: String,
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for SignerError {}
