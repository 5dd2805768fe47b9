//! The crate's one error type.

use std::fmt;

/// Why building, parsing or checking an X.509 object failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X509Error {
    /// The input is not valid DER for the expected structure.
    Malformed(String),
    /// The input is well-formed but uses something we do not support (algorithm, curve).
    Unsupported(String),
    /// A signature did not verify.
    BadSignature(String),
    /// A lint found the TBS unacceptable; the text says which rule and why.
    Lint(String),
    /// The signer failed to produce a signature.
    Signing(String),
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            X509Error::Malformed(s) => write!(f, "malformed: {s}"),
            X509Error::Unsupported(s) => write!(f, "unsupported: {s}"),
            X509Error::BadSignature(s) => write!(f, "bad signature: {s}"),
            X509Error::Lint(s) => write!(f, "lint: {s}"),
            X509Error::Signing(s) => write!(f, "signing failed: {s}"),
        }
    }
}

impl std::error::Error for X509Error {}

impl From<der::Error> for X509Error {
    fn from(e: der::Error) -> Self {
        X509Error::Malformed(e.to_string())
    }
}
