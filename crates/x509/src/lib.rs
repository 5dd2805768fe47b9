//! X.509 for Strongroom: build, parse and lint certificates, CSRs and CRLs.
//!
//! In: structured plans (who is the issuer, which key, which names, which usages) and
//! DER from untrusted callers (CSRs). Out: DER certificates and CRLs signed through the
//! [`TbsSigner`] trait, which the signer daemon implements with the HSM. This crate holds
//! no key and never signs bytes it did not build and lint itself: [`lint::LintedTbs`] is
//! the only thing [`sign_certificate`] accepts.

#![forbid(unsafe_code)]

pub mod acme_alpn;
mod algorithm;
mod ca;
mod certificate;
mod chain;
mod crl;
mod csr;
mod der_walk;
mod details;
mod error;
mod extensions;
pub mod key_package;
pub mod lint;
pub mod name_constraints;
pub mod ocsp;
pub mod pkcs7;
pub mod scep_reply;
mod summary;
mod time;
mod verify;

pub use algorithm::{canonical_spki, key_algorithm_of_spki, signature_algorithm_identifier};
pub use ca::{fingerprint, CaCertificate};
pub use certificate::{sign_certificate, CaPlan, CertificatePlan, KeyUsageBits, SubjectPlan};
pub use chain::{verify_chain, verify_checkpoint};
pub use crl::{build_crl, crl_window, CrlEntry, CrlPlan};
pub use csr::{
    challenge_password, csr_attribute_octets, parse_csr, ChallengePassword, VerifiedCsr,
};
pub use details::{CertificateDetails, ExtensionDetail};
pub use error::X509Error;
pub use extensions::{eku_oid, key_identifier};
pub use name_constraints::{Constraints, Subtree};
pub use summary::CertificateSummary;
pub use time::{to_x509_time, UnixTime};
pub use verify::verify_signature;

/// Signs bytes this crate built. Implemented by the signer over the HSM; tests implement
/// it over an in-memory key.
pub trait TbsSigner {
    /// The algorithm the signature will use (it is written into the TBS before signing).
    fn signature_algorithm(&self) -> strongroom_types::SignatureAlgorithm;
    /// Signs `tbs` and returns the signature as X.509 wants it (DER Ecdsa-Sig-Value for
    /// ECDSA, raw for RSA and Ed25519). A failure is [`X509Error::SignerUnavailable`] when
    /// waiting may help (the HSM session was lost, the device is busy) and
    /// [`X509Error::SignerRefused`] when it will not (the key is missing or may not sign);
    /// the builders pass it through unchanged.
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, X509Error>;
}

/// Encodes DER as PEM with the given label (e.g. `CERTIFICATE`, `X509 CRL`).
pub fn to_pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}
