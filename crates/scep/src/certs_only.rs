//! The degenerate PKCS#7 of GetCACert, GetNextCACert, a CertRep's content and GetCRL, built
//! by `strongroom_x509::pkcs7` (the signer builds the next CA's with the same code).
//!
//! In: certificates (DER), in the order the client should see them, or one CRL. Out: the
//! DER ContentInfo, or a refusal when an input is not what it claims to be.

use crate::error::ScepError;

/// Build a certs-only SignedData. The certificates keep the caller's order rather than
/// DER's sorted SET order: clients pick the RA and the CA from this list, and some read the
/// first one as the RA.
pub fn certs_only(certs: &[&[u8]]) -> Result<Vec<u8>, ScepError> {
    if certs.is_empty() {
        return Err(ScepError::Invalid("certs-only content with no certificate"));
    }
    strongroom_x509::pkcs7::certs_only(certs)
        .map_err(|_| ScepError::Encode("certs-only: a certificate is not valid DER"))
}

/// Build the SignedData of a GetCRL answer: no certificates, the one CRL in `crls`.
pub fn crl_only(crl: &[u8]) -> Result<Vec<u8>, ScepError> {
    strongroom_x509::pkcs7::crl_only(crl)
        .map_err(|_| ScepError::Encode("crl-only: the CRL is not valid DER"))
}
