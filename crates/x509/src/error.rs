//! The crate's one error type.
//!
//! In: failures of parsing, building, linting and checking, and the [`crate::TbsSigner`]'s
//! own refusals. Out: [`X509Error`], whose variants say what the caller can do: fix the input
//! (`Malformed`, `Unsupported`, `BadSignature`, `Lint`), wait (`SignerUnavailable`) or have an
//! operator look (`SignerRefused`, `Signing`).

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
    /// The key holder cannot sign right now (HSM session lost, device busy or unreachable);
    /// the same request may succeed later. Returned by a [`crate::TbsSigner`].
    SignerUnavailable(String),
    /// The key holder refused for a reason retrying will not change (key missing, usage not
    /// permitted, mechanism not offered); an operator must act. Returned by a
    /// [`crate::TbsSigner`].
    SignerRefused(String),
    /// The signature the signer produced does not fit the plan (another algorithm, or it
    /// does not verify under the issuer's key).
    Signing(String),
    /// A child CA's name constraints admit a name its parent's forbid; the text names the
    /// subtree to narrow or add.
    WiderThanParent(String),
    /// A tls-alpn-01 validation certificate does not answer the challenge (RFC 8737 §3); the
    /// text says what the client must change.
    AlpnChallenge(String),
    /// A SCEP reply's attributes cannot be built from these fields; the text names the field
    /// the caller must correct.
    ScepReply(String),
}

impl X509Error {
    /// Whether the failure may clear up by itself (the key holder is unavailable), so the
    /// caller should answer "try later" rather than refuse.
    pub fn is_temporary(&self) -> bool {
        matches!(self, X509Error::SignerUnavailable(_))
    }
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            X509Error::Malformed(s) => write!(f, "malformed: {s}"),
            X509Error::Unsupported(s) => write!(f, "unsupported: {s}"),
            X509Error::BadSignature(s) => write!(f, "bad signature: {s}"),
            X509Error::Lint(s) => write!(f, "lint: {s}"),
            X509Error::SignerUnavailable(s)
            | X509Error::SignerRefused(s)
            | X509Error::Signing(s) => write!(f, "signing failed: {s}"),
            X509Error::WiderThanParent(s) | X509Error::AlpnChallenge(s) => f.write_str(s),
            X509Error::ScepReply(s) => write!(f, "SCEP reply attributes: {s}"),
        }
    }
}

impl std::error::Error for X509Error {}

impl From<der::Error> for X509Error {
    fn from(e: der::Error) -> Self {
        X509Error::Malformed(e.to_string())
    }
}
