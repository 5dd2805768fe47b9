//! Degenerate PKCS#7 (RFC 5652 SignedData with no content and no signers): the
//! certificates-only message of SCEP's GetCACert, GetNextCACert and CertRep, and the CRL-only
//! message of GetCRL.
//!
//! In: DER certificates, in the order the client should see them (not DER's sorted SET
//! order: some clients read the first as the RA), or one DER CRL. Out: the DER ContentInfo.
//! Each input must parse as what it claims to be. The signer uses it for the next CA it
//! vouches for; the front for what it delivers.

use crate::X509Error;
use der::{Decode, Encode};

/// `id-signedData` (1.2.840.113549.1.7.2), DER.
const ID_SIGNED_DATA: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];
/// `id-data` (1.2.840.113549.1.7.1), DER.
const ID_DATA: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];

/// A certificates-only SignedData holding `certs` in this order.
pub fn certs_only(certs: &[&[u8]]) -> Result<Vec<u8>, X509Error> {
    if certs.is_empty() {
        return Err(X509Error::Malformed(
            "a certificates-only message needs a certificate".into(),
        ));
    }
    for cert in certs {
        x509_cert::Certificate::from_der(cert)?;
    }
    degenerate(&tlv(0xa0, certs)?)
}

/// A SignedData holding one CRL in `crls` and nothing else (SCEP GetCRL).
pub fn crl_only(crl: &[u8]) -> Result<Vec<u8>, X509Error> {
    x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(crl)?;
    degenerate(&tlv(0xa1, &[crl])?)
}

/// ContentInfo(SignedData v1, no digest algorithms, id-data without content,
/// `certificates_or_crls`, no signers).
fn degenerate(certificates_or_crls: &[u8]) -> Result<Vec<u8>, X509Error> {
    let version = [0x02, 0x01, 0x01];
    let empty_set = [0x31, 0x00];
    let encap = tlv(0x30, &[&ID_DATA])?;
    let signed_data = tlv(
        0x30,
        &[
            &version,
            &empty_set,
            &encap,
            certificates_or_crls,
            &empty_set,
        ],
    )?;
    tlv(0x30, &[&ID_SIGNED_DATA, &tlv(0xa0, &[&signed_data])?])
}

/// One DER TLV: `tag`, the definite length of `parts` together, then `parts`. Parts go
/// out as given (never re-encoded): the one DER writer for CMS structures built by hand.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Result<Vec<u8>, X509Error> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = vec![tag];
    der::Length::try_from(len)?.encode_to_vec(&mut out)?;
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_certificate_or_a_crl() {
        assert!(certs_only(&[]).is_err());
        assert!(certs_only(&[b"\x30\x03\x02\x01\x01"]).is_err());
        assert!(crl_only(b"\x30\x00").is_err());
    }

    #[test]
    fn lengths_of_every_size_encode() {
        assert_eq!(tlv(0x04, &[&[7u8; 3]]).unwrap(), [0x04, 0x03, 7, 7, 7]);
        let long = tlv(0x04, &[&[0u8; 300]]).unwrap();
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
