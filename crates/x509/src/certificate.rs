//! Certificates: from a plan to DER bytes to a signed certificate.
//!
//! In: a [`CertificatePlan`] the signer assembled from a profile (or a ceremony file) and
//! an issuing CA. Out: the DER TBSCertificate to lint, and after linting, the signed
//! certificate. [`sign_certificate`] only accepts a [`LintedTbs`], so nothing unlinted can
//! reach the HSM, and it verifies the HSM's signature before returning.

use crate::algorithm::signature_algorithm_identifier;
pub use crate::extensions::KeyUsageBits;
use crate::extensions::{self as ext, key_identifier};
use crate::lint::LintedTbs;
use crate::name_constraints::Constraints;
use crate::time::to_x509_time;
use crate::verify::verify_signature;
use crate::{TbsSigner, UnixTime, X509Error};
use der::asn1::BitString;
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use strongroom_types::{ExtendedKeyUsage, RequestedName, Serial, SignatureAlgorithm};
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

/// The subject of a certificate to be issued.
#[derive(Clone, Debug)]
pub struct SubjectPlan {
    /// Subject DN (may be empty for a leaf; SAN then becomes critical).
    pub name: Name,
    /// Subject public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
}

/// Everything that goes into one certificate. Built by the signer from a profile and a CA
/// (or by a ceremony); never from caller bytes.
#[derive(Clone, Debug)]
pub struct CertificatePlan {
    /// Serial (≥ 64 bits of entropy; the signer uses 128).
    pub serial: Serial,
    /// How the issuer signs.
    pub signature: SignatureAlgorithm,
    /// Issuer DN: the issuing CA's subject, or the subject itself for a root.
    pub issuer_name: Name,
    /// The issuer's key identifier, copied into AuthorityKeyIdentifier.
    pub issuer_key_id: Vec<u8>,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// The subject.
    pub subject: SubjectPlan,
    /// `Some` for a CA certificate: pathLenConstraint and name constraints.
    pub ca: Option<CaPlan>,
    /// keyUsage bits.
    pub key_usage: KeyUsageBits,
    /// extendedKeyUsage; empty omits the extension.
    pub extended_key_usage: Vec<ExtendedKeyUsage>,
    /// subjectAltName entries; empty omits the extension.
    pub names: Vec<RequestedName>,
    /// CRL distribution point URLs.
    pub crl_urls: Vec<String>,
    /// OCSP responder URLs (AIA).
    pub ocsp_urls: Vec<String>,
    /// caIssuers URLs (AIA).
    pub ca_issuers_urls: Vec<String>,
    /// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): only on delegated OCSP responders.
    pub ocsp_no_check: bool,
}

/// The CA part of a plan.
#[derive(Clone, Debug, Default)]
pub struct CaPlan {
    /// pathLenConstraint.
    pub path_len: Option<u8>,
    /// Name constraints to impose on everything below.
    pub constraints: Constraints,
}

/// The DER shape of a v3 TBSCertificate. x509-cert keeps its own fields private, so we
/// encode with the same component types; the linter then decodes the bytes with
/// x509-cert, which proves the encoding is what a parser sees.
#[derive(Sequence)]
struct TbsCertificateV3 {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

impl CertificatePlan {
    /// Encodes the TBSCertificate. Extension order: basicConstraints, keyUsage, EKU, SKI,
    /// AKI, SAN, nameConstraints, CRL DP, AIA.
    pub fn to_tbs_der(&self) -> Result<Vec<u8>, X509Error> {
        let spki = SubjectPublicKeyInfoOwned::from_der(&self.subject.public_key_der)?;
        let mut extensions = Vec::new();
        match &self.ca {
            Some(ca) => extensions.push(ext::basic_constraints(true, ca.path_len)?),
            None => extensions.push(ext::basic_constraints(false, None)?),
        }
        extensions.push(ext::key_usage(self.key_usage)?);
        if !self.extended_key_usage.is_empty() {
            extensions.push(ext::extended_key_usage(&self.extended_key_usage)?);
        }
        extensions.push(ext::subject_key_identifier(&key_identifier(
            &self.subject.public_key_der,
        )?)?);
        extensions.push(ext::authority_key_identifier(&self.issuer_key_id)?);
        if !self.names.is_empty() {
            extensions.push(ext::subject_alt_name(
                &self.names,
                self.subject.name.is_empty(),
            )?);
        }
        if let Some(ca) = &self.ca {
            if !ca.constraints.is_empty() {
                extensions.push(ca.constraints.to_extension()?);
            }
        }
        if !self.crl_urls.is_empty() {
            extensions.push(ext::crl_distribution_points(&self.crl_urls)?);
        }
        if self.ocsp_no_check {
            extensions.push(ext::ocsp_no_check()?);
        }
        if !self.ocsp_urls.is_empty() || !self.ca_issuers_urls.is_empty() {
            extensions.push(ext::authority_info_access(
                &self.ocsp_urls,
                &self.ca_issuers_urls,
            )?);
        }
        let tbs = TbsCertificateV3 {
            version: Version::V3,
            serial_number: SerialNumber::new(&positive_integer(self.serial.as_bytes()))?,
            signature: signature_algorithm_identifier(self.signature),
            issuer: self.issuer_name.clone(),
            validity: Validity::new(
                to_x509_time(self.not_before)?,
                to_x509_time(self.not_after)?,
            ),
            subject: self.subject.name.clone(),
            subject_public_key_info: spki,
            extensions,
        };
        Ok(tbs.to_der()?)
    }
}

/// Two's-complement bytes of a positive magnitude: a leading zero when the top bit is set.
fn positive_integer(magnitude: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
    out
}

/// DER header + contents for a SEQUENCE.
pub(crate) fn der_sequence(parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = vec![0x30];
    push_length(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Signs a linted TBS through `signer`, assembles the certificate and verifies the
/// signature against the issuer's public key before returning it: a token that signs
/// with the wrong key or returns garbage is caught here, not by a relying party.
pub fn sign_certificate(linted: LintedTbs, signer: &dyn TbsSigner) -> Result<Vec<u8>, X509Error> {
    let (tbs, alg, issuer_key) = linted.into_parts();
    if signer.signature_algorithm() != alg {
        return Err(X509Error::Signing(format!(
            "TBS was built for {alg} but the signer uses {}",
            signer.signature_algorithm()
        )));
    }
    let signature = signer.sign(&tbs)?;
    let alg_id = signature_algorithm_identifier(alg);
    let cert = der_sequence(&[
        &tbs,
        &alg_id.to_der()?,
        &BitString::from_bytes(&signature)?.to_der()?,
    ]);
    let issuer_spki = SubjectPublicKeyInfoOwned::from_der(&issuer_key)?;
    verify_signature(&issuer_spki, &alg_id, &tbs, &signature)
        .map_err(|e| X509Error::Signing(format!("the HSM's signature does not verify: {e}")))?;
    Ok(cert)
}
