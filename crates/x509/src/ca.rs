//! A CA certificate as the issuer of something new.
//!
//! In: the DER of a CA certificate (ours, from the ceremony). Out: the facts issuance
//! needs: subject, key identifier, validity window, path length, name constraints and the
//! key algorithm. Parsing refuses a certificate that is not a CA.

use crate::algorithm::key_algorithm_of;
use crate::name_constraints::Constraints;
use crate::time::from_x509_time;
use crate::{UnixTime, X509Error};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use strongroom_types::KeyAlgorithm;
use x509_cert::ext::pkix::{BasicConstraints, NameConstraints, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::Certificate;

/// A parsed CA certificate.
#[derive(Clone, Debug)]
pub struct CaCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Subject name (the issuer name of everything it signs).
    pub subject: Name,
    /// SubjectKeyIdentifier (copied into children's AKI).
    pub key_id: Vec<u8>,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter: nothing it signs may outlive it.
    pub not_after: UnixTime,
    /// pathLenConstraint, if any.
    pub path_len: Option<u8>,
    /// Its name constraints (empty when it has none).
    pub constraints: Constraints,
    /// Its key's algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Its SubjectPublicKeyInfo, DER.
    pub public_key_der: Vec<u8>,
    /// Whether it is self-signed (a root).
    pub self_issued: bool,
}

impl CaCertificate {
    /// Parses a CA certificate; refuses anything without basicConstraints cA=TRUE or
    /// without a SubjectKeyIdentifier.
    pub fn from_der(der: &[u8]) -> Result<CaCertificate, X509Error> {
        let cert = Certificate::from_der(der)?;
        let tbs = cert.tbs_certificate();
        let (_, bc) = tbs.get_extension::<BasicConstraints>()?.ok_or_else(|| {
            X509Error::Malformed("CA certificate without basicConstraints".into())
        })?;
        if !bc.ca {
            return Err(X509Error::Malformed(
                "certificate is not a CA (cA=FALSE)".into(),
            ));
        }
        let (_, ski) = tbs
            .get_extension::<SubjectKeyIdentifier>()?
            .ok_or_else(|| {
                X509Error::Malformed("CA certificate without subjectKeyIdentifier".into())
            })?;
        let constraints = match tbs.get_extension::<NameConstraints>()? {
            Some((_, nc)) => Constraints::from_extension(&nc)?,
            None => Constraints::default(),
        };
        let spki = tbs.subject_public_key_info();
        Ok(CaCertificate {
            der: der.to_vec(),
            subject: tbs.subject().clone(),
            key_id: ski.0.as_bytes().to_vec(),
            not_before: from_x509_time(&tbs.validity().not_before),
            not_after: from_x509_time(&tbs.validity().not_after),
            path_len: bc.path_len_constraint,
            constraints,
            key_algorithm: key_algorithm_of(spki)?,
            public_key_der: spki.to_der()?,
            self_issued: tbs.subject() == tbs.issuer(),
        })
    }

    /// SHA-256 fingerprint of the certificate, colon-separated upper-case hex.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.der)
    }
}

/// SHA-256 fingerprint of any DER blob, colon-separated upper-case hex (the openssl form).
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
