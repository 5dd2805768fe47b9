//! Certificate extensions, built from our domain types.
//!
//! In: names, usages, URLs and key identifiers. Out: x509-cert `Extension` values with the
//! criticality RFC 5280 asks for. Key identifiers use RFC 7093 method 1 everywhere, so a
//! child's AKI always equals its parent's SKI.

use crate::algorithm::bit_string_bytes;
use crate::name_constraints::Subtree;
use crate::X509Error;
use der::asn1::{Ia5String, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use strongroom_types::{ExtendedKeyUsage as Eku, RequestedName};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, NameConstraints, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;

const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// RFC 7093 method 1: the leftmost 160 bits of SHA-256 over the subjectPublicKey bits.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, X509Error> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    let bits = bit_string_bytes(&spki.subject_public_key)?;
    Ok(Sha256::digest(bits)[..20].to_vec())
}

pub(crate) fn extension<T: Encode + der::oid::AssociatedOid>(
    value: &T,
    critical: bool,
) -> Result<Extension, X509Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// id-pkix-ocsp-nocheck: a NULL, non-critical.
pub(crate) fn ocsp_no_check() -> Result<Extension, X509Error> {
    Ok(Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5"),
        critical: false,
        extn_value: OctetString::new(der::asn1::Null.to_der()?)?,
    })
}

/// The OID of an extended key usage purpose.
pub fn eku_oid(eku: Eku) -> ObjectIdentifier {
    let arc = match eku {
        Eku::ServerAuth => "1.3.6.1.5.5.7.3.1",
        Eku::ClientAuth => "1.3.6.1.5.5.7.3.2",
        Eku::CodeSigning => "1.3.6.1.5.5.7.3.3",
        Eku::EmailProtection => "1.3.6.1.5.5.7.3.4",
        Eku::TimeStamping => "1.3.6.1.5.5.7.3.8",
        Eku::OcspSigning => "1.3.6.1.5.5.7.3.9",
    };
    // Invariant: the literals above are valid OIDs (checked by the unit test).
    ObjectIdentifier::new(arc).unwrap_or(ID_AD_OCSP)
}

pub(crate) fn general_name(name: &RequestedName) -> Result<GeneralName, X509Error> {
    Ok(match name {
        RequestedName::Dns(d) => GeneralName::DnsName(Ia5String::new(d.as_str())?),
        RequestedName::Ip(ip) => GeneralName::from(*ip),
        RequestedName::Email(e) => GeneralName::Rfc822Name(Ia5String::new(e)?),
        RequestedName::Uri(u) => GeneralName::UniformResourceIdentifier(Ia5String::new(u)?),
    })
}

fn uri(url: &str) -> Result<GeneralName, X509Error> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(X509Error::Lint(format!(
            "URL {url:?} must be http:// or https://"
        )));
    }
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}

/// Which keyUsage bits to set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUsageBits {
    /// digitalSignature
    pub digital_signature: bool,
    /// contentCommitment
    pub content_commitment: bool,
    /// keyEncipherment
    pub key_encipherment: bool,
    /// dataEncipherment
    pub data_encipherment: bool,
    /// keyAgreement
    pub key_agreement: bool,
    /// keyCertSign
    pub key_cert_sign: bool,
    /// cRLSign
    pub crl_sign: bool,
}

pub(crate) fn key_usage(bits: KeyUsageBits) -> Result<Extension, X509Error> {
    let mut flags = flagset::FlagSet::<KeyUsages>::default();
    for (on, flag) in [
        (bits.digital_signature, KeyUsages::DigitalSignature),
        (bits.content_commitment, KeyUsages::NonRepudiation),
        (bits.key_encipherment, KeyUsages::KeyEncipherment),
        (bits.data_encipherment, KeyUsages::DataEncipherment),
        (bits.key_agreement, KeyUsages::KeyAgreement),
        (bits.key_cert_sign, KeyUsages::KeyCertSign),
        (bits.crl_sign, KeyUsages::CRLSign),
    ] {
        if on {
            flags |= flag;
        }
    }
    extension(&KeyUsage(flags), true)
}

pub(crate) fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension, X509Error> {
    extension(
        &BasicConstraints {
            ca,
            path_len_constraint: path_len,
        },
        true,
    )
}

pub(crate) fn extended_key_usage(ekus: &[Eku]) -> Result<Extension, X509Error> {
    extension(
        &ExtendedKeyUsage(ekus.iter().map(|e| eku_oid(*e)).collect()),
        false,
    )
}

pub(crate) fn subject_alt_name(
    names: &[RequestedName],
    critical: bool,
) -> Result<Extension, X509Error> {
    let names = names
        .iter()
        .map(general_name)
        .collect::<Result<Vec<_>, _>>()?;
    extension(&SubjectAltName(names), critical)
}

pub(crate) fn subject_key_identifier(id: &[u8]) -> Result<Extension, X509Error> {
    extension(&SubjectKeyIdentifier(OctetString::new(id)?), false)
}

pub(crate) fn authority_key_identifier(id: &[u8]) -> Result<Extension, X509Error> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(&aki, false)
}

pub(crate) fn crl_distribution_points(urls: &[String]) -> Result<Extension, X509Error> {
    let names = urls.iter().map(|u| uri(u)).collect::<Result<Vec<_>, _>>()?;
    let dp = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(names)),
        reasons: None,
        crl_issuer: None,
    };
    extension(&CrlDistributionPoints(vec![dp]), false)
}

/// IssuingDistributionPoint naming one CRL scope's URL (critical, RFC 5280 §5.2.5).
pub(crate) fn issuing_distribution_point(url: &str) -> Result<Extension, X509Error> {
    let idp = x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
        only_contains_user_certs: false,
        only_contains_ca_certs: false,
        only_some_reasons: None,
        indirect_crl: false,
        only_contains_attribute_certs: false,
    };
    // Not `extension(&idp, …)`: x509-cert 0.3.0 associates IssuingDistributionPoint with
    // the subjectInfoAccess OID. id-ce-issuingDistributionPoint is 2.5.29.28.
    Ok(Extension {
        extn_id: ObjectIdentifier::new_unwrap("2.5.29.28"),
        critical: true,
        extn_value: OctetString::new(idp.to_der()?)?,
    })
}

/// DeltaCRLIndicator naming the base CRL's number (critical, RFC 5280 §5.2.4).
pub(crate) fn delta_crl_indicator(base: u64) -> Result<Extension, X509Error> {
    let n = der::asn1::Uint::new(&base.to_be_bytes())?;
    extension(&x509_cert::ext::pkix::crl::BaseCrlNumber(n), true)
}

/// FreshestCRL pointing at the delta CRL (non-critical, RFC 5280 §5.2.6).
pub(crate) fn freshest_crl(url: &str) -> Result<Extension, X509Error> {
    let dp = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
        reasons: None,
        crl_issuer: None,
    };
    extension(&x509_cert::ext::pkix::crl::FreshestCrl(vec![dp]), false)
}

pub(crate) fn authority_info_access(
    ocsp: &[String],
    ca_issuers: &[String],
) -> Result<Extension, X509Error> {
    let mut list = Vec::new();
    for u in ocsp {
        list.push(AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(u)?,
        });
    }
    for u in ca_issuers {
        list.push(AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: uri(u)?,
        });
    }
    extension(&AuthorityInfoAccessSyntax(list), false)
}

pub(crate) fn name_constraints(
    permitted: &[Subtree],
    excluded: &[Subtree],
) -> Result<Extension, X509Error> {
    let conv = |list: &[Subtree]| -> Result<Option<Vec<_>>, X509Error> {
        if list.is_empty() {
            return Ok(None);
        }
        list.iter()
            .map(Subtree::to_general_subtree)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    let nc = NameConstraints {
        permitted_subtrees: conv(permitted)?,
        excluded_subtrees: conv(excluded)?,
    };
    // RFC 5280 §4.2.1.10: conforming CAs MUST mark this extension critical.
    extension(&nc, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eku_oids_parse() {
        for e in [
            Eku::ServerAuth,
            Eku::ClientAuth,
            Eku::CodeSigning,
            Eku::EmailProtection,
            Eku::TimeStamping,
            Eku::OcspSigning,
        ] {
            assert_ne!(eku_oid(e), ID_AD_OCSP);
        }
    }
}
