//! The degenerate PKCS#7 of GetCACert, GetNextCACert and a CertRep's content.
//! In: certificates (DER), in the order the client should see them, or one CRL (GetCRL).
//! Out: ContentInfo (SignedData) with those certificates, or that CRL in `crls` (RFC 8894
//! §3.3.2.2), no content and no signers.

use crate::certificate::CertificateView;
use crate::der_reader::{context_constructed, SEQUENCE, SET};
use crate::der_writer::{small_uint, tlv};
use crate::error::ScepError;
use crate::oids::{oid_der, ID_DATA, ID_SIGNED_DATA};

/// Build a certs-only SignedData.
///
/// The certificates keep the caller's order rather than DER's sorted SET order: clients
/// pick the RA and the CA from this list, and some read the first one as the RA.
pub fn certs_only(certs: &[&[u8]]) -> Result<Vec<u8>, ScepError> {
    if certs.is_empty() {
        return Err(ScepError::Invalid("certs-only content with no certificate"));
    }
    for cert in certs {
        CertificateView::parse(cert)
            .map_err(|_| ScepError::Encode("certs-only: a certificate is not valid DER"))?;
    }
    Ok(degenerate(&tlv(context_constructed(0), certs)))
}

/// Build the SignedData of a GetCRL answer: no certificates, the one CRL in `crls` ([1]).
pub fn crl_only(crl: &[u8]) -> Result<Vec<u8>, ScepError> {
    // Only its outer shape is checked: the CRL comes from the CA's own store, not the device.
    crate::der_reader::single(crl, SEQUENCE, "CRL")
        .map_err(|_| ScepError::Encode("crl-only: the CRL is not one DER SEQUENCE"))?;
    Ok(degenerate(&tlv(context_constructed(1), &[crl])))
}

/// ContentInfo(SignedData) with no content and no signers around `certificates_or_crls`.
fn degenerate(certificates_or_crls: &[u8]) -> Vec<u8> {
    let signed_data = tlv(
        SEQUENCE,
        &[
            &small_uint(1),
            &tlv(SET, &[]),
            &tlv(SEQUENCE, &[&oid_der(&ID_DATA)]),
            certificates_or_crls,
            &tlv(SET, &[]),
        ],
    );
    tlv(
        SEQUENCE,
        &[
            &oid_der(&ID_SIGNED_DATA),
            &tlv(context_constructed(0), &[&signed_data]),
        ],
    )
}
