//! Revocation reasons (RFC 5280 §5.3.1 CRLReason).
//!
//! In: a reason code or its RFC name from an operator, a protocol or the wire. Out: the
//! closed enum; value 7 is unused in RFC 5280 and is refused.

use crate::TypesError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a certificate was revoked. The discriminant is the CRLReason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum RevocationReason {
    /// No reason given (code 0; CRL entries omit the extension for it).
    Unspecified = 0,
    /// The subject's private key was compromised.
    KeyCompromise = 1,
    /// A CA key was compromised.
    CaCompromise = 2,
    /// The subject's name or other information changed.
    AffiliationChanged = 3,
    /// The certificate was replaced.
    Superseded = 4,
    /// The certificate is no longer needed.
    CessationOfOperation = 5,
    /// Temporarily on hold.
    CertificateHold = 6,
    /// Only in delta CRLs: the entry leaves hold.
    RemoveFromCrl = 8,
    /// A privilege in the certificate was withdrawn.
    PrivilegeWithdrawn = 9,
    /// An attribute authority was compromised.
    AaCompromise = 10,
}

impl RevocationReason {
    const ALL: [RevocationReason; 10] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The CRLReason code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason for a code, or `None` for 7 and values above 10.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = TypesError;
    /// Accepts the RFC name (case-insensitive) or the numeric code.
    fn from_str(s: &str) -> Result<Self, TypesError> {
        if let Ok(code) = s.parse::<u8>() {
            return Self::from_code(code).ok_or(TypesError::UndefinedReasonCode { code });
        }
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| TypesError::UnknownRevocationReason { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            "keycompromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        assert_eq!(
            "9".parse::<RevocationReason>().unwrap(),
            RevocationReason::PrivilegeWithdrawn
        );
        assert!("7".parse::<RevocationReason>().is_err());
        assert!(RevocationReason::from_code(11).is_none());
    }
}
