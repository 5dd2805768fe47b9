//! A blocking signer client: one Unix stream, one request at a time.
//!
//! In: a socket path and [`Request`]s. Out: the matching [`Response`], or a
//! [`ClientError`] (transport failure, mismatched id, or the signer's own error).

use crate::frame::{
    decode_payload, read_frame_limited, write_frame, WireError, MAX_RESPONSE_FRAME,
};
use crate::message::{Request, Response, SignerError};
use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A connection to `strongroom-signer`.
#[derive(Debug)]
pub struct SignerClient {
    stream: UnixStream,
    next_id: u64,
}

/// Why a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// Could not reach or talk to the signer.
    Transport(WireError),
    /// The response carried another request id.
    Mismatch {
        /// The id sent.
        sent: u64,
        /// The id received.
        received: u64,
    },
    /// The signer answered with an error.
    Signer(SignerError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "signer connection: {e}"),
            ClientError::Mismatch { sent, received } => {
                write!(f, "signer answered request {received}, expected {sent}")
            }
            ClientError::Signer(e) => write!(f, "signer refused: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        ClientError::Transport(e)
    }
}

impl SignerClient {
    /// Connects to the signer socket.
    pub fn connect(path: &Path) -> Result<SignerClient, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| {
            ClientError::Transport(WireError::Io(std::io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to {}: {e} (is strongroom-signer running?)",
                    path.display()
                ),
            )))
        })?;
        // A wedged signer must not hang callers forever; issuance takes milliseconds.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(WireError::Io)?;
        Ok(SignerClient { stream, next_id: 1 })
    }

    /// Replaces the 60 s read timeout, and sets a write timeout, for a caller that must not
    /// wait long (a TLS handshake waiting on its signature).
    pub fn set_timeout(&self, timeout: Duration) -> Result<(), ClientError> {
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| ClientError::Transport(WireError::Io(e)))
    }

    /// Sends one request and waits for its response. A signer error becomes
    /// [`ClientError::Signer`].
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        write_frame(&mut self.stream, id, request)?;
        let body = read_frame_limited(&mut self.stream, MAX_RESPONSE_FRAME)?;
        let frame = decode_payload::<Response>(&body)?;
        if frame.request_id != id {
            return Err(ClientError::Mismatch {
                sent: id,
                received: frame.request_id,
            });
        }
        match frame.message {
            Response::Error(e) => Err(ClientError::Signer(e)),
            other => Ok(other),
        }
    }
}
