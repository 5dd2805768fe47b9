//! What the inventory records about an issued certificate.
//!
//! In: the DER of a leaf or CA certificate (one the signer just returned, or an import).
//! Out: its serial, names, subject commonName, validity and fingerprint, read with the same
//! strict parser the linter uses.

use crate::csr::requested_name;
use crate::time::from_x509_time;
use crate::{fingerprint, X509Error};
use der::Decode;
use strongroom_types::Serial;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// The facts about a certificate that the inventory stores and searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Serial number.
    pub serial: Serial,
    /// Subject commonName, when present.
    pub subject_cn: Option<String>,
    /// subjectAltNames as `kind:value` (`dns:www.example.com`, `ip:192.0.2.1`).
    pub names: Vec<String>,
    /// notBefore (Unix seconds).
    pub not_before: i64,
    /// notAfter (Unix seconds).
    pub not_after: i64,
    /// SHA-256 fingerprint, colon-separated upper-case hex.
    pub fingerprint: String,
}

impl CertificateSummary {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateSummary, X509Error> {
        let cert = Certificate::from_der(der)?;
        let tbs = cert.tbs_certificate();
        let serial = Serial::from_be_bytes(tbs.serial_number().as_bytes())
            .ok_or_else(|| X509Error::Malformed("serial number out of range".into()))?;
        let subject_cn = match tbs.subject().common_name() {
            Ok(Some(cn)) => Some(cn.value().to_string()),
            _ => None,
        };
        let mut names = Vec::new();
        if let Some((_, san)) = tbs.get_extension::<SubjectAltName>()? {
            for gn in &san.0 {
                names.push(requested_name(gn)?.to_string());
            }
        }
        Ok(CertificateSummary {
            serial,
            subject_cn,
            names,
            not_before: from_x509_time(&tbs.validity().not_before),
            not_after: from_x509_time(&tbs.validity().not_after),
            fingerprint: fingerprint(der),
        })
    }
}
