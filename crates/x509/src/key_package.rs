//! EST's server-generated keys delivered encrypted (RFC 7030 §4.4.2): what the signer signs
//! and what the front needs to name the recipient.
//!
//! In: the SHA-256 digest of an AsymmetricKeyPackage (RFC 5958) the front built; a client's
//! certificate. Out: the DER signed attributes (contentType id-ct-KP-aKeyPackage and the
//! messageDigest) that the CA's EST key-generator key signs in the signer; the certificate's
//! subjectKeyIdentifier. The signer sees only the digest, never the key: its signature says
//! "a front of this CA delivered this package", and the key-generator key certifies nothing.

use const_oid::ObjectIdentifier;
use der::Decode;

use crate::X509Error;

/// `id-ct-KP-aKeyPackage` (RFC 5958 §3): the content type of an AsymmetricKeyPackage.
pub const ID_CT_KP_AKEY_PACKAGE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.2.1.2.78.5");

/// The DER SET of signed attributes over a key package whose SHA-256 is `package_digest`.
pub fn key_package_attributes(package_digest: &[u8]) -> Result<Vec<u8>, X509Error> {
    crate::scep_reply::content_attributes(ID_CT_KP_AKEY_PACKAGE, package_digest)
}

/// The certificate's subjectKeyIdentifier extension, if it has one.
pub fn subject_key_identifier(cert_der: &[u8]) -> Result<Option<Vec<u8>>, X509Error> {
    let cert = x509_cert::Certificate::from_der(cert_der)?;
    let Some(ext) = cert
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)
    else {
        return Ok(None);
    };
    let ski = der::asn1::OctetString::from_der(ext.extn_value.as_bytes())?;
    Ok(Some(ski.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attributes_name_the_key_package_and_its_digest() {
        let der = key_package_attributes(&[7u8; 32]).unwrap();
        let oid = der::Encode::to_der(&ID_CT_KP_AKEY_PACKAGE).unwrap();
        assert!(der.windows(oid.len()).any(|w| w == oid.as_slice()));
        assert!(der.windows(32).any(|w| w == [7u8; 32]));
        assert!(key_package_attributes(&[7u8; 20]).is_err(), "SHA-256 only");
    }
}
