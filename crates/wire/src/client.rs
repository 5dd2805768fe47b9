//! A blocking signer client: one Unix stream, one request at a time; and [`CallError`], the
//! one error every signer client returns (this one, and the async `SignerLink` of
//! `strongroom-signer-client` that control, front and httpd use).
//!
//! In: a socket path and [`Request`]s. Out: the matching [`Response`] — never
//! `Response::Error`, which arrives as [`CallError::Refused`] — or a [`CallError`].

use crate::frame::{
    decode_payload, read_frame_limited, write_frame, WireError, MAX_RESPONSE_FRAME,
};
use crate::message::{ErrorKind, Operation, Request, Response, SignerError};
use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a call may wait for the signer's answer unless the caller says otherwise. A
/// wedged signer must not hang callers forever; issuance takes milliseconds.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call to the signer brought no answer of the kind asked for. Callers decide by
/// variant: [`CallError::Unavailable`] may succeed later (retry, `tryLater`, 503);
/// [`CallError::Refused`] is the signer's decision, by [`ErrorKind`] (its `HsmUnavailable`
/// is temporary too); [`CallError::Unexpected`] is a bug or two builds that disagree.
/// Every detail is log-safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The signer could not be reached or did not answer: no socket, connection refused or
    /// broken, or the time ran out. Whether it acted on the request is not known.
    Unavailable(String),
    /// The signer answered with its typed error (`Response::Error`).
    Refused {
        /// The stable kind.
        kind: ErrorKind,
        /// The signer's log-safe explanation.
        detail: String,
    },
    /// The exchange broke the protocol: an answer of another kind than the request's, for
    /// another request id, one this build cannot decode, or a request too large to frame;
    /// also a certificate the signer returned that does not read back as it said.
    Unexpected(String),
}

impl CallError {
    /// Whether asking again later may succeed: the signer is away, or its HSM is
    /// temporarily unavailable.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            CallError::Unavailable(_)
                | CallError::Refused {
                    kind: ErrorKind::HsmUnavailable,
                    ..
                }
        )
    }

    /// An answer of the wrong kind for `operation`, named by [`Response::name`] (never
    /// its `Debug`: a response can hold megabytes of DER).
    pub fn wrong_answer(operation: Operation, answer: &str) -> CallError {
        CallError::Unexpected(format!(
            "the signer answered {} with {answer}",
            operation.as_str()
        ))
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unavailable(e) => write!(f, "the signer is not answering: {e}"),
            CallError::Refused { kind, detail } => {
                write!(f, "the signer refused ({kind:?}): {detail}")
            }
            CallError::Unexpected(e) => write!(f, "unexpected exchange with the signer: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<SignerError> for CallError {
    fn from(e: SignerError) -> Self {
        CallError::Refused {
            kind: e.kind,
            detail: e.detail,
        }
    }
}

impl From<WireError> for CallError {
    /// A connection that broke is [`CallError::Unavailable`]; bytes that are not the
    /// protocol are [`CallError::Unexpected`].
    fn from(e: WireError) -> Self {
        match e {
            WireError::Closed | WireError::Io(_) | WireError::Truncated => {
                CallError::Unavailable(e.to_string())
            }
            WireError::Oversize(_)
            | WireError::Version(_)
            | WireError::Malformed(_)
            | WireError::TrailingBytes(_) => CallError::Unexpected(e.to_string()),
        }
    }
}

/// What a decoded answer frame means for the request `sent`: the response, or the
/// signer's refusal, or [`CallError::Unexpected`] for another request's id.
pub fn answer_of(sent: u64, received: u64, message: Response) -> Result<Response, CallError> {
    if received != sent {
        return Err(CallError::Unexpected(format!(
            "the signer answered request {received}, expected {sent}"
        )));
    }
    match message {
        Response::Error(e) => Err(e.into()),
        other => Ok(other),
    }
}

/// A connection to `strongroom-signer`.
#[derive(Debug)]
pub struct SignerClient {
    stream: UnixStream,
    next_id: u64,
}

impl SignerClient {
    /// Connects to the signer socket.
    pub fn connect(path: &Path) -> Result<SignerClient, CallError> {
        let stream = UnixStream::connect(path).map_err(|e| {
            CallError::Unavailable(format!(
                "cannot connect to {}: {e} (is strongroom-signer running?)",
                path.display()
            ))
        })?;
        stream
            .set_read_timeout(Some(DEFAULT_CALL_TIMEOUT))
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        Ok(SignerClient { stream, next_id: 1 })
    }

    /// Replaces the 60 s read timeout, and sets a write timeout, for a caller that must not
    /// wait long (a TLS handshake waiting on its signature).
    pub fn set_timeout(&self, timeout: Duration) -> Result<(), CallError> {
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| CallError::Unavailable(e.to_string()))
    }

    /// Sends one request and waits for its response. A signer error becomes
    /// [`CallError::Refused`].
    pub fn call(&mut self, request: &Request) -> Result<Response, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        write_frame(&mut self.stream, id, request)?;
        let body = read_frame_limited(&mut self.stream, MAX_RESPONSE_FRAME)?;
        let frame = decode_payload::<Response>(&body)?;
        answer_of(id, frame.request_id, frame.message)
    }
}
