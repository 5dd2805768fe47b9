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
use der::{Decode, Tagged};
use strongroom_types::{KeyAlgorithm, RequestedName};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::ext::Extensions;
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use zeroize::Zeroizing;

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

/// The value of the CSR's attribute `oid` (dotted) when it is one OCTET STRING: `None`
/// without the attribute, an error when it is there twice, with several values or with a
/// value of another type (EST's AsymmetricDecryptKeyIdentifier).
pub fn csr_attribute_octets(csr_der: &[u8], oid: &str) -> Result<Option<Vec<u8>>, X509Error> {
    let csr = CertReq::from_der(csr_der).map_err(|e| X509Error::Malformed(format!("CSR: {e}")))?;
    let mut found = None;
    for attr in csr.info.attributes.iter() {
        if attr.oid.to_string() != oid {
            continue;
        }
        let bad = || {
            X509Error::Malformed(format!(
                "attribute {oid}: exactly one attribute with one OCTET STRING value expected"
            ))
        };
        if found.is_some() || attr.values.len() != 1 {
            return Err(bad());
        }
        let value = attr.values.iter().next().ok_or_else(bad)?;
        if value.tag() != der::Tag::OctetString || value.value().is_empty() {
            return Err(bad());
        }
        found = Some(value.value().to_vec());
    }
    Ok(found)
}

/// The longest challengePassword accepted, in characters. PKCS#9 bounds the attribute at
/// 255 (`ub-challenge-password`), but MDM systems put a signed token in it, longer than
/// that, and real clients send it as given — Strongroom's dynamic SCEP challenges
/// (docs/scep.md, Dynamic challenges) are a few hundred characters and may reach this
/// bound. 4096 fits such a token and still bounds what is hashed or parsed.
const MAX_CHALLENGE: usize = 4096;

/// A challenge password. Debug shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengePassword(Zeroizing<String>);

impl ChallengePassword {
    /// The password, for a constant-time comparison or a hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ChallengePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChallengePassword(<{} bytes>)", self.0.len())
    }
}

/// The challengePassword attribute (PKCS#9, 1.2.840.113549.1.9.7) of a CSR, if it has one.
/// It is a CSR attribute, not an extension. DirectoryString forms: PrintableString,
/// UTF8String, BMPString, and TeletexString when it is ASCII (UniversalString, which no
/// client sends, is refused).
pub fn challenge_password(csr_der: &[u8]) -> Result<Option<ChallengePassword>, X509Error> {
    let csr = CertReq::from_der(csr_der).map_err(|e| X509Error::Malformed(format!("CSR: {e}")))?;
    let mut found = None;
    for attr in csr.info.attributes.iter() {
        if attr.oid != CHALLENGE_PASSWORD {
            continue;
        }
        if found.is_some() || attr.values.len() != 1 {
            return Err(X509Error::Malformed(
                "challengePassword: exactly one attribute with one value expected".into(),
            ));
        }
        let value = attr
            .values
            .iter()
            .next()
            .ok_or_else(|| X509Error::Malformed("challengePassword without a value".into()))?;
        found = Some(directory_string(value.tag(), value.value())?);
    }
    Ok(found.map(|s| ChallengePassword(Zeroizing::new(s))))
}

fn directory_string(tag: der::Tag, bytes: &[u8]) -> Result<String, X509Error> {
    let bad = || {
        X509Error::Malformed(
            "challengePassword: not a PrintableString, UTF8String, BMPString or ASCII TeletexString"
                .into(),
        )
    };
    let s = match tag {
        der::Tag::PrintableString | der::Tag::Utf8String => {
            std::str::from_utf8(bytes).map_err(|_| bad())?.to_owned()
        }
        der::Tag::TeletexString if bytes.is_ascii() => {
            std::str::from_utf8(bytes).map_err(|_| bad())?.to_owned()
        }
        der::Tag::BmpString => {
            if bytes.len() % 2 != 0 {
                return Err(bad());
            }
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if tag == der::Tag::PrintableString
        && !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
    {
        return Err(bad());
    }
    if s.is_empty() || s.chars().count() > MAX_CHALLENGE || s.chars().any(char::is_control) {
        return Err(X509Error::Malformed(format!(
            "challengePassword: 1 to {MAX_CHALLENGE} printable characters"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn a_challenge_as_long_as_a_signed_token_is_read_and_a_longer_one_refused() {
        // A JWS has '_' and '-', which PrintableString lacks: clients send UTF8String.
        let mut token = "eyJhbGciOiJFUzI1NiJ9.".to_string() + &"a_-b".repeat(1024);
        token.truncate(MAX_CHALLENGE);
        assert_eq!(
            directory_string(der::Tag::Utf8String, token.as_bytes()).unwrap(),
            token
        );
        let longer = token.clone() + "x";
        assert!(directory_string(der::Tag::Utf8String, longer.as_bytes()).is_err());
        assert!(directory_string(der::Tag::Utf8String, b"").is_err());
        assert!(directory_string(der::Tag::Utf8String, b"bell\x07").is_err());
        // PrintableString keeps its alphabet.
        assert!(directory_string(der::Tag::PrintableString, b"a_b").is_err());
    }
}
