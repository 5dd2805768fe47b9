//! The crate's one error type: a value that is not a valid domain value.
//!
//! In: the refusals of every parser and validator in this crate (names, policies, serials,
//! algorithms, revocation reasons, audit records). Out: [`TypesError`], whose variants say
//! which kind of value was refused and whose `Display` is one line saying what to write
//! instead. No variant carries a secret: these values are all public.

use std::fmt;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypesError {
    /// A CA or profile identifier, or a requested name (DNS, IP, e-mail, URI), breaks its
    /// syntax; the text names the value and the rule.
    Name(String),
    /// A policy document or one of its profiles is inconsistent; the text says what to fix.
    Policy(String),
    /// A serial number is not hex, or not 1 to 20 octets with a non-zero value.
    Serial {
        /// The text given.
        text: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// No key algorithm has this name.
    UnknownKeyAlgorithm {
        /// The name given.
        name: String,
    },
    /// No signature algorithm has this name.
    UnknownSignatureAlgorithm {
        /// The name given.
        name: String,
    },
    /// RFC 5280 defines no revocation reason with this code (7, or above 10).
    UndefinedReasonCode {
        /// The code given.
        code: u8,
    },
    /// No revocation reason has this name.
    UnknownRevocationReason {
        /// The name given.
        name: String,
    },
    /// No audit outcome has this name (a stored value this version does not know).
    UnknownAuditOutcome {
        /// The name given.
        name: String,
    },
    /// An audit event's hash rule is inconsistent (a stored value: damage or a newer
    /// version wrote it).
    HashRule(String),
    /// A text is not an audit checkpoint statement as this crate writes it.
    Checkpoint(String),
}

impl fmt::Display for TypesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypesError::Name(why)
            | TypesError::Policy(why)
            | TypesError::HashRule(why)
            | TypesError::Checkpoint(why) => f.write_str(why),
            TypesError::Serial { text, problem } => write!(f, "serial {text:?} {problem}"),
            TypesError::UnknownKeyAlgorithm { name } => {
                let names: Vec<&str> = crate::KeyAlgorithm::ALL
                    .iter()
                    .map(|a| a.as_str())
                    .collect();
                write!(
                    f,
                    "unknown key algorithm {name:?}; expected one of {}",
                    names.join(", ")
                )
            }
            TypesError::UnknownSignatureAlgorithm { name } => {
                write!(f, "unknown signature algorithm {name:?}")
            }
            TypesError::UndefinedReasonCode { code } => write!(
                f,
                "revocation reason code {code} is not defined (use 0-6 or 8-10)"
            ),
            TypesError::UnknownRevocationReason { name } => write!(
                f,
                "unknown revocation reason {name:?}; use an RFC 5280 name such as keyCompromise"
            ),
            TypesError::UnknownAuditOutcome { name } => {
                write!(f, "unknown audit outcome {name:?}")
            }
        }
    }
}

impl std::error::Error for TypesError {}

#[cfg(test)]
mod tests {
    use super::TypesError;
    use crate::{RevocationReason, Serial};

    #[test]
    fn refusals_name_the_value_and_what_to_write() {
        assert_eq!(
            "zz".parse::<Serial>().unwrap_err().to_string(),
            "serial \"zz\" is not hex"
        );
        assert_eq!(
            "7".parse::<RevocationReason>().unwrap_err(),
            TypesError::UndefinedReasonCode { code: 7 }
        );
        assert_eq!(
            "7".parse::<RevocationReason>().unwrap_err().to_string(),
            "revocation reason code 7 is not defined (use 0-6 or 8-10)"
        );
        assert!(matches!(
            "superseeded".parse::<RevocationReason>(),
            Err(TypesError::UnknownRevocationReason { .. })
        ));
    }
}
