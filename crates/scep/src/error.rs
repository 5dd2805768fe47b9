//! The one error of this crate. In: every refusal of the parsers and builders. Out: a typed
//! reason for the log (Display says what is wrong and what would fix it) and the SCEP
//! `failInfo` the reply carries (`fail_info`), so no caller invents its own mapping.

use std::fmt;

use strongroom_types::scep::ScepFailInfo;

/// Why a SCEP message was refused or could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScepError {
    /// The input is larger than this parser accepts.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The BER/DER structure is malformed (bad length, truncated, trailing bytes, too deep).
    Malformed(&'static str),
    /// A field holds a value this protocol does not allow.
    Invalid(&'static str),
    /// A required element (attribute, certificate, recipient) is missing.
    Missing(&'static str),
    /// An algorithm that is not supported (digest, cipher, key transport, signature).
    UnsupportedAlgorithm(&'static str),
    /// The signature over the signed attributes does not verify with the signer's key.
    BadSignature,
    /// The messageDigest attribute does not match the digest of the encapsulated content.
    DigestMismatch,
    /// No certificate in the message matches the signer's issuer and serial number.
    SignerNotFound,
    /// The HTTP query is not a SCEP request this server answers.
    BadQuery(&'static str),
    /// Encoding an output structure failed (an input too large to encode, a bad certificate).
    Encode(&'static str),
    /// The system random generator failed.
    Random,
}

impl ScepError {
    /// The failInfo a CertRep carries for this refusal (RFC 8894 §3.2.1.4).
    pub fn fail_info(&self) -> ScepFailInfo {
        match self {
            ScepError::UnsupportedAlgorithm(_) => ScepFailInfo::BadAlg,
            ScepError::BadSignature | ScepError::DigestMismatch => ScepFailInfo::BadMessageCheck,
            ScepError::SignerNotFound => ScepFailInfo::BadCertId,
            ScepError::TooLarge { .. }
            | ScepError::Malformed(_)
            | ScepError::Invalid(_)
            | ScepError::Missing(_)
            | ScepError::BadQuery(_)
            | ScepError::Encode(_)
            | ScepError::Random => ScepFailInfo::BadRequest,
        }
    }
}

impl fmt::Display for ScepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScepError::TooLarge { what, limit } => {
                write!(f, "{what} is larger than {limit} bytes: send a smaller message")
            }
            ScepError::Malformed(what) => {
                write!(f, "malformed ASN.1 in {what}: the client must send a well-formed BER/DER SCEP message")
            }
            ScepError::Invalid(what) => write!(f, "invalid {what}"),
            ScepError::Missing(what) => write!(f, "missing {what}: the client must include it"),
            ScepError::UnsupportedAlgorithm(what) => write!(
                f,
                "unsupported {what}: use SHA-256/SHA-512 (SHA-1 accepted), RSA, and AES-CBC (DES/3DES accepted from legacy clients)"
            ),
            ScepError::BadSignature => f.write_str(
                "the signature over the signed attributes does not verify with the signer certificate's key",
            ),
            ScepError::DigestMismatch => f.write_str(
                "the messageDigest attribute does not match the digest of the encapsulated content",
            ),
            ScepError::SignerNotFound => f.write_str(
                "no certificate in the message matches the signer's issuerAndSerialNumber: include the signing certificate",
            ),
            ScepError::BadQuery(what) => write!(f, "bad SCEP query: {what}"),
            ScepError::Encode(what) => write!(f, "could not encode {what}"),
            ScepError::Random => f.write_str("the system random generator failed; retry"),
        }
    }
}

impl std::error::Error for ScepError {}
