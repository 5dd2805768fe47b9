//! The one error type of EST parsing, and the HTTP status each maps to (RFC 7030 §4.2.3:
//! 400 for a request the server cannot use).

use std::fmt;

/// Why a request was refused before any decision was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstError {
    /// The body is larger than the bound.
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The `Content-Type` is not the one the operation takes.
    ContentType {
        /// What the operation takes.
        expected: &'static str,
    },
    /// The body is not base64 (what is wrong with it).
    Base64(String),
    /// The decoded body is not a usable PKCS#10 request (what is wrong with it).
    Csr(String),
    /// The path names no EST operation, or a label that cannot exist.
    Path(String),
    /// A server-generated key cannot be encrypted as the request asks (what to change).
    KeyDelivery(String),
    /// Building a reply failed on the server's side (randomness, an encoding bound).
    Internal(String),
}

impl EstError {
    /// The HTTP status of the refusal: 413 for size, 415 for the media type, 404 for a
    /// path, 500 for the server's own failure, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            EstError::TooLarge { .. } => 413,
            EstError::ContentType { .. } => 415,
            EstError::Path(_) => 404,
            EstError::Base64(_) | EstError::Csr(_) | EstError::KeyDelivery(_) => 400,
            EstError::Internal(_) => 500,
        }
    }
}

impl fmt::Display for EstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EstError::TooLarge { limit } => write!(f, "the body is larger than {limit} bytes"),
            EstError::ContentType { expected } => {
                write!(f, "send the request as Content-Type: {expected}")
            }
            EstError::Base64(why) => write!(
                f,
                "the body is not base64 (RFC 7030 §4.2.1, on one line or wrapped): {why}"
            ),
            EstError::Csr(why) => write!(f, "the PKCS#10 request: {why}"),
            EstError::Path(why) => write!(f, "{why}"),
            EstError::KeyDelivery(why) => write!(f, "the encrypted key (RFC 7030 §4.4.1.2): {why}"),
            EstError::Internal(why) => write!(f, "the server could not build the reply: {why}"),
        }
    }
}

impl std::error::Error for EstError {}
