//! What an OCSP response says of one certificate (RFC 6960 §4.2.1 `CertStatus`): one enum
//! for the signer that decides it, the wire that carries it, the X.509 builder that encodes
//! it and the daemons that store it.
//!
//! In: the signer's view of a serial. Out: [`OcspStatus`] and, for the store (which keeps
//! the status beside each signed response, not its time and reason), [`OcspStatusKind`]
//! with its one name table.

use crate::RevocationReason;
use serde::{Deserialize, Serialize};

/// A certificate's status in an OCSP response. Stored format: the variant order and fields
/// are the signer protocol's encoding (postcard) — append, never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OcspStatus {
    /// Issued here, not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// revocationTime, Unix seconds.
        at: i64,
        /// revocationReason (omitted from the response when unspecified).
        reason: RevocationReason,
    },
    /// Not issued by this CA.
    Unknown,
}

impl OcspStatus {
    /// The status without the revocation's time and reason.
    pub fn kind(&self) -> OcspStatusKind {
        match self {
            OcspStatus::Good => OcspStatusKind::Good,
            OcspStatus::Revoked { .. } => OcspStatusKind::Revoked,
            OcspStatus::Unknown => OcspStatusKind::Unknown,
        }
    }
}

/// An OCSP status without its details: what the store keeps in `ocsp_responses.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OcspStatusKind {
    /// `good`.
    Good,
    /// `revoked`.
    Revoked,
    /// `unknown`.
    Unknown,
}

impl OcspStatusKind {
    /// Every kind, in declaration order.
    pub const ALL: [OcspStatusKind; 3] = [
        OcspStatusKind::Good,
        OcspStatusKind::Revoked,
        OcspStatusKind::Unknown,
    ];

    /// The stored name (the column's CHECK constraint lists the same three). Stored: never
    /// change one.
    pub fn as_str(self) -> &'static str {
        match self {
            OcspStatusKind::Good => "good",
            OcspStatusKind::Revoked => "revoked",
            OcspStatusKind::Unknown => "unknown",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<OcspStatusKind> {
        OcspStatusKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for OcspStatusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_nothing_else_parses() {
        for k in OcspStatusKind::ALL {
            assert_eq!(OcspStatusKind::parse(k.as_str()), Some(k));
        }
        let names: Vec<&str> = OcspStatusKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["good", "revoked", "unknown"]);
        for bad in ["", "Good", "REVOKED", "valid", "revoked "] {
            assert_eq!(OcspStatusKind::parse(bad), None, "{bad:?}");
        }
        let revoked = OcspStatus::Revoked {
            at: 7,
            reason: RevocationReason::KeyCompromise,
        };
        assert_eq!(revoked.kind(), OcspStatusKind::Revoked);
        assert_eq!(OcspStatus::Good.kind(), OcspStatusKind::Good);
        assert_eq!(OcspStatus::Unknown.kind(), OcspStatusKind::Unknown);
    }
}
