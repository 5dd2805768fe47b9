//! Offline checks of what Strongroom signed: a certificate chain up to a trusted root, and
//! an audit checkpoint's signature by its audit certificate.
//!
//! In: DER certificates (leaf first), the root the verifier trusts, a time, and for a
//! checkpoint the statement and signature. Out: Ok, or which link failed and why.
//! Signatures are checked over the certificates' original TBS bytes with `ring`.

use crate::der_walk::sequence_elements;
use crate::time::from_x509_time;
use crate::{verify_signature, X509Error};
use der::Decode;
use spki::AlgorithmIdentifierOwned;
use strongroom_types::audit::AUDIT_NAME_LABEL;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

fn parse(der: &[u8], what: &str) -> Result<Certificate, X509Error> {
    Certificate::from_der(der).map_err(|e| X509Error::Malformed(format!("{what}: {e}")))
}

fn signed_by(
    child_der: &[u8],
    child: &Certificate,
    issuer: &Certificate,
    what: &str,
) -> Result<(), X509Error> {
    if child.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Err(X509Error::BadSignature(format!(
            "{what}: issuer name does not match the next certificate's subject"
        )));
    }
    let parts = sequence_elements(child_der)?;
    let tbs = parts
        .first()
        .ok_or_else(|| X509Error::Malformed(format!("{what}: empty certificate")))?;
    verify_signature(
        issuer.tbs_certificate().subject_public_key_info(),
        child.signature_algorithm(),
        tbs,
        child.signature().as_bytes().unwrap_or_default(),
    )
    .map_err(|e| X509Error::BadSignature(format!("{what}: {e}")))
}

fn valid_at(c: &Certificate, at: i64, what: &str) -> Result<(), X509Error> {
    let v = c.tbs_certificate().validity();
    if at < from_x509_time(&v.not_before) || at > from_x509_time(&v.not_after) {
        return Err(X509Error::BadSignature(format!(
            "{what}: not valid at {at}"
        )));
    }
    Ok(())
}

/// Checks `leaf`, then each of `chain` (issuing CA first), up to `root`, which must be the
/// last element of `chain` byte for byte and self-signed; every certificate valid at `at`.
pub fn verify_chain(leaf: &[u8], chain: &[Vec<u8>], root: &[u8], at: i64) -> Result<(), X509Error> {
    let last = chain
        .last()
        .ok_or_else(|| X509Error::Malformed("empty chain".into()))?;
    if last.as_slice() != root {
        return Err(X509Error::BadSignature(
            "the chain does not end at the trusted root".into(),
        ));
    }
    let mut ders: Vec<&[u8]> = vec![leaf];
    ders.extend(chain.iter().map(Vec::as_slice));
    let certs = ders
        .iter()
        .enumerate()
        .map(|(i, d)| parse(d, &format!("certificate {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    for i in 0..certs.len() {
        let what = format!("certificate {i}");
        valid_at(&certs[i], at, &what)?;
        let issuer = certs.get(i + 1).unwrap_or(&certs[i]);
        signed_by(ders[i], &certs[i], issuer, &what)?;
    }
    Ok(())
}

/// Checks a checkpoint signature: `certificate` must be an audit certificate (its names
/// start with the reserved label) and its key must have signed `statement`.
pub fn verify_checkpoint(
    certificate: &[u8],
    statement: &[u8],
    signature: &[u8],
) -> Result<(), X509Error> {
    let cert = parse(certificate, "audit certificate")?;
    let tbs = cert.tbs_certificate();
    let names = tbs
        .get_extension::<SubjectAltName>()?
        .map(|(_, san)| san.0)
        .unwrap_or_default();
    let is_audit = !names.is_empty()
        && names.iter().all(|n| matches!(n, GeneralName::DnsName(d) if d.as_str().split('.').next() == Some(AUDIT_NAME_LABEL)));
    if !is_audit {
        return Err(X509Error::BadSignature(format!(
            "the certificate is not a Strongroom audit certificate ({AUDIT_NAME_LABEL}.…)"
        )));
    }
    let ecdsa_sha256 = AlgorithmIdentifierOwned {
        oid: crate::algorithm::ECDSA_SHA256,
        parameters: None,
    };
    verify_signature(
        tbs.subject_public_key_info(),
        &ecdsa_sha256,
        statement,
        signature,
    )
}
