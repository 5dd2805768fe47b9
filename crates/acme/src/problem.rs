//! RFC 8555 §6.7 problem documents (RFC 7807 with `urn:ietf:params:acme:error:*` types).
//!
//! In: an error type and a detail written for the client. Out: the JSON body and the HTTP
//! status. Details never carry secrets (they may echo client input, truncated).

use serde::Serialize;

/// The error types we answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemType {
    /// The account key is known but the account is gone, or the request needs an account.
    AccountDoesNotExist,
    /// ARI: the certificate was already replaced.
    AlreadyReplaced,
    /// Revoking an already revoked certificate.
    AlreadyRevoked,
    /// The CSR is unacceptable.
    BadCsr,
    /// Replay-Nonce missing, unknown or used.
    BadNonce,
    /// The JWK is not acceptable (size, curve).
    BadPublicKey,
    /// The revocation reason is not allowed.
    BadRevocationReason,
    /// alg not in the allow-list.
    BadSignatureAlgorithm,
    /// CAA records forbid this CA to issue for the identifier (RFC 8659).
    Caa,
    /// Validation could not connect.
    Connection,
    /// DNS lookup failed.
    Dns,
    /// The profile requires external account binding.
    ExternalAccountRequired,
    /// The challenge response was wrong.
    IncorrectResponse,
    /// A contact URL is unacceptable.
    InvalidContact,
    /// The request is malformed.
    Malformed,
    /// The order is not ready for this request.
    OrderNotReady,
    /// Too many requests.
    RateLimited,
    /// Policy forbids the identifier.
    RejectedIdentifier,
    /// Internal failure.
    ServerInternal,
    /// TLS failure during validation.
    Tls,
    /// The client may not do this.
    Unauthorized,
    /// An unsupported contact scheme.
    UnsupportedContact,
    /// An identifier type we do not issue for.
    UnsupportedIdentifier,
    /// The request needs the client to agree to something first.
    UserActionRequired,
    /// The profile (draft-aaron-acme-profiles) is not offered.
    InvalidProfile,
}

impl ProblemType {
    /// The URN suffix.
    pub fn name(self) -> &'static str {
        match self {
            ProblemType::AccountDoesNotExist => "accountDoesNotExist",
            ProblemType::AlreadyReplaced => "alreadyReplaced",
            ProblemType::AlreadyRevoked => "alreadyRevoked",
            ProblemType::BadCsr => "badCSR",
            ProblemType::BadNonce => "badNonce",
            ProblemType::BadPublicKey => "badPublicKey",
            ProblemType::BadRevocationReason => "badRevocationReason",
            ProblemType::BadSignatureAlgorithm => "badSignatureAlgorithm",
            ProblemType::Caa => "caa",
            ProblemType::Connection => "connection",
            ProblemType::Dns => "dns",
            ProblemType::ExternalAccountRequired => "externalAccountRequired",
            ProblemType::IncorrectResponse => "incorrectResponse",
            ProblemType::InvalidContact => "invalidContact",
            ProblemType::Malformed => "malformed",
            ProblemType::OrderNotReady => "orderNotReady",
            ProblemType::RateLimited => "rateLimited",
            ProblemType::RejectedIdentifier => "rejectedIdentifier",
            ProblemType::ServerInternal => "serverInternal",
            ProblemType::Tls => "tls",
            ProblemType::Unauthorized => "unauthorized",
            ProblemType::UnsupportedContact => "unsupportedContact",
            ProblemType::UnsupportedIdentifier => "unsupportedIdentifier",
            ProblemType::UserActionRequired => "userActionRequired",
            ProblemType::InvalidProfile => "invalidProfile",
        }
    }

    /// The HTTP status this type is answered with.
    pub fn status(self) -> u16 {
        match self {
            ProblemType::Unauthorized | ProblemType::Caa => 403,
            ProblemType::AccountDoesNotExist => 400,
            ProblemType::RateLimited => 429,
            ProblemType::ServerInternal => 500,
            ProblemType::OrderNotReady => 403,
            ProblemType::AlreadyReplaced => 409,
            _ => 400,
        }
    }
}

/// A problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `urn:ietf:params:acme:error:…`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong and what to fix.
    pub detail: String,
    /// HTTP status.
    pub status: u16,
    /// Per-identifier problems (RFC 8555 §6.7.1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Subproblem>,
    /// For badSignatureAlgorithm: the algorithms accepted (RFC 8555 §6.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
}

/// A problem about one identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subproblem {
    /// Type URN.
    #[serde(rename = "type")]
    pub kind: String,
    /// Detail.
    pub detail: String,
    /// The identifier.
    pub identifier: crate::Identifier,
}

impl Problem {
    /// A problem of a type.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Problem {
        let mut detail: String = detail.into();
        if detail.len() > 1024 {
            let mut cut = 1024;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        Problem {
            kind: format!("urn:ietf:params:acme:error:{}", kind.name()),
            detail,
            status: kind.status(),
            subproblems: Vec::new(),
            algorithms: Vec::new(),
        }
    }

    /// Shorthand for `malformed`.
    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::Malformed, detail)
    }

    /// Shorthand for `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::Unauthorized, detail)
    }

    /// Shorthand for `serverInternal`.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::ServerInternal, detail)
    }

    /// With an HTTP status other than the type's default (404 for unknown resources).
    pub fn with_status(mut self, status: u16) -> Problem {
        self.status = status;
        self
    }

    /// Whether this is of `kind`.
    pub fn is(&self, kind: ProblemType) -> bool {
        self.kind.ends_with(kind.name()) && self.kind.len() == 27 + kind.name().len()
    }

    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"urn:ietf:params:acme:error:serverInternal","detail":"cannot encode a problem","status":500}"#.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_and_status() {
        let p = Problem::new(ProblemType::BadNonce, "stale");
        assert_eq!(p.kind, "urn:ietf:params:acme:error:badNonce");
        assert_eq!(p.status, 400);
        assert!(p.is(ProblemType::BadNonce));
        assert!(!p.is(ProblemType::Malformed));
        let long = Problem::malformed("é".repeat(2000));
        assert!(long.detail.len() <= 1024);
    }
}
