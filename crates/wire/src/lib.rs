//! The signer protocol (docs/architecture.md, Signer operations).
//!
//! In: bytes from a Unix stream. Out: a [`Frame`] holding exactly one [`Request`] or
//! [`Response`], or a [`WireError`] after which the connection must be closed.
//!
//! A frame is `u32 big-endian length | u8 version | u64 request id | payload`. The payload
//! is a postcard encoding of the message enum. Decoding is fail-closed: a frame over
//! [`MAX_FRAME`], an unknown version, an unknown enum tag, a truncated field or a single
//! trailing byte is an error. Enum variants are tagged by position: **add variants only at
//! the end** and never reorder them (the tags are a stored contract between daemons).

#![forbid(unsafe_code)]

mod client;
mod frame;
mod message;
mod metrics;
mod scep;

pub use client::{answer_of, CallError, SignerClient, DEFAULT_CALL_TIMEOUT};
pub use frame::{
    body_length, decode_payload, encode_frame, encode_frame_limited, read_frame,
    read_frame_limited, Frame, WireError, MAX_FRAME, MAX_RESPONSE_FRAME, VERSION,
};
pub use message::{
    CaCreation, CaSummary, CheckpointRequest, ErrorKind, HealthReport, HsmKey, HsmKeyClass,
    IssuanceRequest, IssuedCertificate, JournaledIssuance, OcspSigningRequest, OcspStatus,
    Operation, Request, Response, RevocationRecord, SignedCheckpoint, SignedEstKeyPackage,
    SignedOcspResponse, SignerError, SubjectKey, TlsSignatureScheme, TotpCheck, TotpEnrolment,
    MAX_JOURNALED_ISSUANCES, MAX_TLS_HANDSHAKE_MESSAGE,
};
pub use metrics::{
    LatencyRecorder, LatencySnapshot, OperationCount, SignerMetrics, LATENCY_BOUNDS_MICROS,
    MAX_METRIC_ENTRIES,
};
pub use scep::{
    ScepEnvelope, ScepPlaintext, ScepReplyRequest, SignedScepNextCa, SignedScepReply,
    MAX_SCEP_CIPHERTEXT, MAX_SCEP_TRANSACTION_ID,
};
