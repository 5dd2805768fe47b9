//! PKCS#10 certificate signing requests from untrusted callers.
//!
//! In: DER bytes of a CSR. Out: a [`VerifiedCsr`] whose signature has been checked over
//! the original `certificationRequestInfo` bytes (proof of possession), with the requested
//! names and usages pulled out of the extensionRequest attribute. Nothing in the CSR is
//! trusted beyond the public key: the profile decides everything else, and the key leaves
//! re-encoded from its checked parts ([`crate::algorithm::canonical_spki`]), not as sent.

use crate::algorithm::canonical_spki_of;
use crate::der_walk::sequence_elements;
use crate::verify::verify_signature;
use crate::X509Error;
use der::asn1::{Ia5String, ObjectIdentifier};
use der::Decode;
use strongroom_types::{KeyAlgorithm, RequestedName};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::ext::Extensions;
use x509_cert::name::Name;
use x509_cert::request::CertReq;

const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
const CHALLENGE_PASSWORD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.7");
const SAN_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EKU_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// A CSR whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// DER SubjectPublicKeyInfo, re-encoded from the checked algorithm and key bits (not
    /// the CSR's bytes).
    pub public_key_der: Vec<u8>,
    /// The subject key's algorithm (weak keys are already refused).
    pub key_algorithm: KeyAlgorithm,
    /// The subject as requested (informational: profiles decide the issued subject).
    pub subject: Name,
    /// Names from the subjectAltName extension request, then the CN if it parses as a
    /// DNS name and is not already listed.
    pub names: Vec<RequestedName>,
    /// extendedKeyUsage OIDs the CSR asks for, if any.
    pub requested_eku: Vec<ObjectIdentifier>,
    /// Whether a challengePassword attribute is present (never logged).
    pub has_challenge_password: bool,
}

impl VerifiedCsr {
    /// Every commonName of the requested subject, in order (usually one; none when the
    /// subject has none). For a caller that must match the subject exactly — a SCEP
    /// dynamic challenge names the one CN it authorises — where x509-cert's
    /// `common_name()` would show only the first. A CN that is not a DirectoryString is an
    /// error, not skipped.
    pub fn common_names(&self) -> Result<Vec<String>, X509Error> {
        const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
        self.subject
            .iter()
            .filter(|atav| atav.oid == COMMON_NAME)
            .map(|atav| {
                x509_cert::ext::pkix::name::DirectoryString::try_from(&atav.value)
                    .map(|d| d.value().into_owned())
                    .map_err(|e| X509Error::Malformed(format!("CSR subject commonName: {e}")))
            })
            .collect()
    }
}

/// Parses a DER CSR and verifies its self-signature.
pub fn parse_csr(der: &[u8]) -> Result<VerifiedCsr, X509Error> {
    // Walk the raw structure first: the signature covers these exact bytes.
    let parts = sequence_elements(der)?;
    let [info_tlv, _, _] = parts.as_slice() else {
        return Err(X509Error::Malformed(
            "a CSR is a SEQUENCE of info, algorithm, signature".into(),
        ));
    };
    let csr = CertReq::from_der(der).map_err(|e| X509Error::Malformed(format!("CSR: {e}")))?;
    let signature = csr
        .signature
        .as_bytes()
        .ok_or_else(|| X509Error::Malformed("CSR signature has unused bits".into()))?;
    let spki = &csr.info.public_key;
    // Classify the key first: a weak key or a key with parameters other than its type's
    // one form is refused here, not reported as a bad signature.
    let (key_algorithm, public_key_der) = canonical_spki_of(spki)?;
    verify_signature(spki, &csr.algorithm, info_tlv, signature)
        .map_err(|e| X509Error::BadSignature(format!("CSR self-signature: {e}")))?;

    let mut names = Vec::new();
    let mut requested_eku = Vec::new();
    let mut has_challenge_password = false;
    for attr in csr.info.attributes.iter() {
        if attr.oid == CHALLENGE_PASSWORD {
            has_challenge_password = true;
        } else if attr.oid == EXTENSION_REQUEST {
            for value in attr.values.iter() {
                let exts: Extensions = value.decode_as()?;
                for ext in exts {
                    if ext.extn_id == SAN_OID {
                        let san = SubjectAltName::from_der(ext.extn_value.as_bytes())?;
                        for gn in san.0 {
                            names.push(requested_name(&gn)?);
                        }
                    } else if ext.extn_id == EKU_OID {
                        requested_eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())?.0;
                    }
                }
            }
        }
    }
    if let Ok(Some(cn)) = csr.info.subject.common_name() {
        if let Ok(dns) = cn.value().parse() {
            let cn_name = RequestedName::Dns(dns);
            if !names.contains(&cn_name) {
                names.push(cn_name);
            }
        }
    }
    Ok(VerifiedCsr {
        public_key_der,
        key_algorithm,
        subject: csr.info.subject.clone(),
        names,
        requested_eku,
        has_challenge_password,
    })
}

fn ia5(s: &Ia5String) -> String {
    s.to_string()
}

/// Converts a SAN GeneralName into a checked requested name.
pub(crate) fn requested_name(gn: &GeneralName) -> Result<RequestedName, X509Error> {
    let bad = |e: strongroom_types::TypesError| X509Error::Malformed(e.to_string());
    match gn {
        GeneralName::DnsName(n) => RequestedName::parse("dns", &ia5(n)).map_err(bad),
        GeneralName::Rfc822Name(n) => RequestedName::parse("email", &ia5(n)).map_err(bad),
        GeneralName::UniformResourceIdentifier(n) => {
            RequestedName::parse("uri", &ia5(n)).map_err(bad)
        }
        GeneralName::IpAddress(o) => match o.as_bytes().len() {
            4 => {
                let mut b = [0u8; 4];
                b.copy_from_slice(o.as_bytes());
                Ok(RequestedName::Ip(std::net::IpAddr::from(b)))
            }
            16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(o.as_bytes());
                Ok(RequestedName::Ip(std::net::IpAddr::from(b)))
            }
            n => Err(X509Error::Malformed(format!("iPAddress of {n} bytes"))),
        },
        _ => Err(X509Error::Unsupported(
            "subjectAltName kinds other than dNSName, iPAddress, rfc822Name and URI".into(),
        )),
    }
}
