//! The degenerate ("certs-only") PKCS#7 of GetCACert, GetNextCACert and a CertRep's content.
//! In: certificates (DER), in the order the client should see them. Out: ContentInfo
//! (SignedData) with those certificates, no content and no signers.

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
    let signed_data = tlv(
        SEQUENCE,
        &[
            &small_uint(1),
            &tlv(SET, &[]),
            &tlv(SEQUENCE, &[&oid_der(&ID_DATA)]),
            &tlv(context_constructed(0), certs),
            &tlv(SET, &[]),
        ],
    );
    Ok(tlv(
        SEQUENCE,
        &[
            &oid_der(&ID_SIGNED_DATA),
            &tlv(context_constructed(0), &[&signed_data]),
        ],
    ))
}
