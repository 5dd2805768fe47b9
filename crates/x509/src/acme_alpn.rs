//! What an ACME server needs from certificates it did not make or is handed back: the
//! tls-alpn-01 validation certificate (RFC 8737 §3) and a certificate's public key.
//!
//! In: the DER certificate a validation target presented (hostile), or one a client sends
//! to revoke. Out: yes/no with the reason, or the SubjectPublicKeyInfo DER.

use crate::csr::requested_name;
use crate::X509Error;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use strongroom_types::RequestedName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

const ACME_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");

/// Checks a tls-alpn-01 certificate: exactly one subjectAltName, equal to `name`, and a
/// critical acmeIdentifier extension holding `digest` (SHA-256 of the key authorization).
pub fn check_tls_alpn_certificate(
    der: &[u8],
    name: &RequestedName,
    digest: &[u8; 32],
) -> Result<(), X509Error> {
    let refuse = X509Error::AlpnChallenge;
    let cert = Certificate::from_der(der)
        .map_err(|e| refuse(format!("the presented certificate does not parse: {e}")))?;
    let tbs = cert.tbs_certificate();
    let san = tbs
        .get_extension::<SubjectAltName>()
        .map_err(|e| refuse(format!("its subjectAltName does not parse: {e}")))?
        .map(|(_, s)| s)
        .ok_or_else(|| refuse("the presented certificate has no subjectAltName".into()))?;
    let names = san
        .0
        .iter()
        .map(requested_name)
        .collect::<Result<Vec<_>, X509Error>>()
        .map_err(|e| refuse(format!("its subjectAltName is unusable: {e}")))?;
    if names.as_slice() != std::slice::from_ref(name) {
        return Err(refuse(format!(
            "the certificate must name exactly {name} in subjectAltName, it names {}",
            names
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let ext = tbs
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == ACME_IDENTIFIER)
        .ok_or_else(|| refuse("the certificate has no acmeIdentifier extension".into()))?;
    if !ext.critical {
        return Err(refuse(
            "the acmeIdentifier extension must be critical".into(),
        ));
    }
    let value = OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|_| refuse("the acmeIdentifier extension is not an OCTET STRING".into()))?;
    if value.as_bytes() != digest {
        return Err(refuse(
            "the acmeIdentifier digest does not match the key authorization".into(),
        ));
    }
    Ok(())
}

/// The certificate's SubjectPublicKeyInfo, DER.
pub fn subject_public_key_info(der: &[u8]) -> Result<Vec<u8>, X509Error> {
    let cert = Certificate::from_der(der)?;
    Ok(cert.tbs_certificate().subject_public_key_info().to_der()?)
}

/// The certificate's subjectPublicKey bits (the EC point, the RSAPublicKey DER or the
/// Ed25519 key), for checking a TLS handshake signature against a certificate that
/// general-purpose verifiers refuse (tls-alpn-01's critical acmeIdentifier extension).
pub fn subject_public_key_bits(der: &[u8]) -> Result<Vec<u8>, X509Error> {
    let cert = Certificate::from_der(der)?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| X509Error::Malformed("subjectPublicKey has unused bits".into()))
}
