//! What a person reading a certificate wants to see: subject and issuer names, the key's
//! algorithm, and every extension with its name, criticality and value in words.
//!
//! In: the DER of a certificate from the inventory (issued by the signer or imported).
//! Out: [`CertificateDetails`]. Parsing is strict (the same `x509-cert` decoder the linter
//! uses); an extension we do not know, or whose value does not decode, is listed by its OID
//! with its length rather than guessed at.

use crate::algorithm::key_algorithm_of;
use crate::csr::requested_name;
use crate::X509Error;
use der::Decode;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::Certificate;

/// One extension, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionDetail {
    /// Its name (`basicConstraints`), or its OID when unknown.
    pub name: String,
    /// Its OID, dotted.
    pub oid: String,
    /// Whether it is marked critical.
    pub critical: bool,
    /// Its value in words.
    pub value: String,
}

/// A certificate in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateDetails {
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// Issuer DN (RFC 4514).
    pub issuer: String,
    /// The subject key's algorithm (`ecdsa-p256`), or its OID when not one we issue.
    pub key_algorithm: String,
    /// The signature algorithm's OID name.
    pub signature_algorithm: String,
    /// Every extension, in order.
    pub extensions: Vec<ExtensionDetail>,
}

fn oid_name(oid: &der::asn1::ObjectIdentifier) -> String {
    const_oid::db::DB
        .by_oid(oid)
        .map(str::to_string)
        .unwrap_or_else(|| oid.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn general_name(gn: &GeneralName) -> String {
    match gn {
        GeneralName::UniformResourceIdentifier(u) => u.to_string(),
        other => requested_name(other)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "(a name of another kind)".into()),
    }
}

/// The value of one extension in words; `None` when it is not one we read.
fn value_of(oid: &der::asn1::ObjectIdentifier, der: &[u8]) -> Option<String> {
    use const_oid::db::rfc5280 as o;
    let joined = |v: Vec<String>| v.join(", ");
    Some(match *oid {
        o::ID_CE_BASIC_CONSTRAINTS => {
            let b = BasicConstraints::from_der(der).ok()?;
            match (b.ca, b.path_len_constraint) {
                (true, Some(n)) => format!("CA, path length {n}"),
                (true, None) => "CA, no path length limit".into(),
                (false, _) => "not a CA".into(),
            }
        }
        o::ID_CE_KEY_USAGE => {
            let k = KeyUsage::from_der(der).ok()?;
            joined(k.0.into_iter().map(|f| format!("{f:?}")).collect())
        }
        o::ID_CE_EXT_KEY_USAGE => {
            let e = ExtendedKeyUsage::from_der(der).ok()?;
            joined(e.0.iter().map(oid_name).collect())
        }
        o::ID_CE_SUBJECT_ALT_NAME => {
            let s = SubjectAltName::from_der(der).ok()?;
            joined(s.0.iter().map(general_name).collect())
        }
        o::ID_CE_SUBJECT_KEY_IDENTIFIER => {
            hex(SubjectKeyIdentifier::from_der(der).ok()?.0.as_bytes())
        }
        o::ID_CE_AUTHORITY_KEY_IDENTIFIER => {
            let a = AuthorityKeyIdentifier::from_der(der).ok()?;
            hex(a.key_identifier?.as_bytes())
        }
        o::ID_CE_CRL_DISTRIBUTION_POINTS => {
            let c = CrlDistributionPoints::from_der(der).ok()?;
            let mut urls = Vec::new();
            for dp in &c.0 {
                if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
                    urls.extend(names.iter().map(general_name));
                }
            }
            joined(urls)
        }
        o::ID_PE_AUTHORITY_INFO_ACCESS => {
            let a = AuthorityInfoAccessSyntax::from_der(der).ok()?;
            joined(
                a.0.iter()
                    .map(|d| {
                        format!(
                            "{}: {}",
                            oid_name(&d.access_method),
                            general_name(&d.access_location)
                        )
                    })
                    .collect(),
            )
        }
        o::ID_CE_CERTIFICATE_POLICIES => {
            let p = CertificatePolicies::from_der(der).ok()?;
            joined(p.0.iter().map(|i| oid_name(&i.policy_identifier)).collect())
        }
        _ => return None,
    })
}

impl CertificateDetails {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateDetails, X509Error> {
        let cert = Certificate::from_der(der)?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        let key_algorithm = match key_algorithm_of(spki) {
            Ok(a) => a.as_str().to_string(),
            Err(_) => oid_name(&spki.algorithm.oid),
        };
        let extensions = tbs
            .extensions()
            .map(|exts| {
                exts.iter()
                    .map(|e| {
                        let bytes = e.extn_value.as_bytes();
                        let name = oid_name(&e.extn_id);
                        ExtensionDetail {
                            // `id-ce-keyUsage` reads as RFC 5280's `keyUsage`.
                            name: name
                                .strip_prefix("id-ce-")
                                .or_else(|| name.strip_prefix("id-pe-"))
                                .unwrap_or(&name)
                                .to_string(),
                            oid: e.extn_id.to_string(),
                            critical: e.critical,
                            value: value_of(&e.extn_id, bytes)
                                .unwrap_or_else(|| format!("{} bytes", bytes.len())),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(CertificateDetails {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            key_algorithm,
            signature_algorithm: oid_name(&cert.signature_algorithm().oid),
            extensions,
        })
    }
}
