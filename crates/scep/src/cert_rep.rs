//! The CertRep message (RFC 8894 §3.3.2): ContentInfo(SignedData) signed by the RA. In: the
//! reply envelope (none for FAILURE and PENDING, sent as empty content), the RA certificate, the signed
//! attributes as the signer made and signed them (a DER SET), the signature and its digest.
//! Out: the DER the front sends with `application/x-pki-message`.
//!
//! Nothing is signed here: the signer builds the attributes from structured fields and
//! signs them with the RA key in the HSM (`strongroom_x509::scep_reply`). This only places
//! them, re-tagged `[0] IMPLICIT` as CMS requires, next to the RA certificate that clients
//! verify them with.

use strongroom_types::scep::ScepDigest;

use crate::certificate::CertificateView;
use crate::der_reader::{self, context_constructed, INTEGER, OCTET_STRING, SEQUENCE, SET};
use crate::der_writer::{algorithm_null, small_uint, tlv};
use crate::error::ScepError;
use crate::oids::{self, oid_der};

/// Assemble a CertRep. `encapsulated` is the reply envelope for SUCCESS; None for FAILURE and
/// PENDING, which carry an empty content (as micromdm's server sends them).
pub fn assemble_cert_rep(
    encapsulated: Option<&[u8]>,
    ra_certificate_der: &[u8],
    signed_attributes_der: &[u8],
    signature: &[u8],
    digest: ScepDigest,
) -> Result<Vec<u8>, ScepError> {
    // FAILURE and PENDING carry an empty id-data content rather than none: micromdm's
    // server answers so, its client and OpenSSL accept both, and asn1crypto-based clients
    // (PyScep) digest the content they find and fail on an absent one. The messageDigest
    // (of nothing) is the same either way.
    signed_by_ra(
        encapsulated.unwrap_or_default(),
        &[],
        ra_certificate_der,
        signed_attributes_der,
        signature,
        digest,
    )
}

/// Assemble a GetNextCACert answer (`application/x-x509-next-ca-cert`, RFC 8894 §4.7.1): a
/// SignedData signed by the RA whose content is the next CA's certificates-only message and
/// whose `certificates` carry the same certificates (clients read either), then the RA's.
pub fn assemble_next_ca(
    content: &[u8],
    next_ca_certificates: &[&[u8]],
    ra_certificate_der: &[u8],
    signed_attributes_der: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, ScepError> {
    for cert in next_ca_certificates {
        CertificateView::parse(cert)?;
    }
    signed_by_ra(
        content,
        next_ca_certificates,
        ra_certificate_der,
        signed_attributes_der,
        signature,
        ScepDigest::Sha256,
    )
}

/// ContentInfo(SignedData) around `content` (id-data), with `certificates` and then the RA
/// certificate, and one SignerInfo for the RA's signature over `signed_attributes_der`.
fn signed_by_ra(
    content: &[u8],
    certificates: &[&[u8]],
    ra_certificate_der: &[u8],
    signed_attributes_der: &[u8],
    signature: &[u8],
    digest: ScepDigest,
) -> Result<Vec<u8>, ScepError> {
    let ra = CertificateView::parse(ra_certificate_der)?;
    if ra.key_algorithm != oids::RSA_ENCRYPTION {
        return Err(ScepError::UnsupportedAlgorithm(
            "RA key (SCEP clients expect RSA)",
        ));
    }
    let attrs = der_reader::single(signed_attributes_der, SET, "signed attributes")
        .map_err(|_| ScepError::Encode("signed attributes (must be one DER SET)"))?;
    if signature.is_empty() {
        return Err(ScepError::Encode("an empty signature"));
    }
    let digest_oid = const_oid::ObjectIdentifier::new(digest.oid())
        .map_err(|_| ScepError::Encode("digest identifier"))?;
    // RFC 5754: SHA-2 AlgorithmIdentifiers omit their parameters.
    let digest_alg = tlv(SEQUENCE, &[&oid_der(&digest_oid)]);

    let mut serial = Vec::new();
    crate::ber::write_tlv(&mut serial, INTEGER, ra.serial);
    let signer_info = tlv(
        SEQUENCE,
        &[
            &small_uint(1),
            &tlv(SEQUENCE, &[ra.issuer, &serial]),
            &digest_alg,
            &tlv(context_constructed(0), &[attrs.value]),
            &algorithm_null(&oids::RSA_ENCRYPTION),
            &tlv(OCTET_STRING, &[signature]),
        ],
    );
    let encap = tlv(
        SEQUENCE,
        &[
            &oid_der(&oids::ID_DATA),
            &tlv(context_constructed(0), &[&tlv(OCTET_STRING, &[content])]),
        ],
    );
    let signed_data = tlv(
        SEQUENCE,
        &[
            &small_uint(1),
            &tlv(SET, &[&digest_alg]),
            &encap,
            &tlv(
                context_constructed(0),
                &certificates
                    .iter()
                    .copied()
                    .chain(std::iter::once(ra.raw))
                    .collect::<Vec<_>>(),
            ),
            &tlv(SET, &[&signer_info]),
        ],
    );
    Ok(tlv(
        SEQUENCE,
        &[
            &oid_der(&oids::ID_SIGNED_DATA),
            &tlv(context_constructed(0), &[&signed_data]),
        ],
    ))
}
