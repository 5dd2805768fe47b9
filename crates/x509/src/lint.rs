//! Linting what we are about to sign.
//!
//! In: the DER TBSCertificate the signer built, and who will sign it. Out: a [`LintedTbs`]
//! (the only input [`crate::sign_certificate`] takes) or a readable reason naming the rule
//! that failed. The linter decodes the bytes with an independent parser (x509-cert), so it
//! checks what a relying party will see, not what the builder meant.

use crate::algorithm::{canonical_spki_of, signature_algorithm_from_identifier};
use crate::ca::CaCertificate;
use crate::csr::requested_name;
use crate::extensions::key_identifier;
use crate::name_constraints::Constraints;
use crate::time::from_x509_time;
use crate::X509Error;
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use std::collections::BTreeSet;
use strongroom_types::SignatureAlgorithm;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, NameConstraints,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::TbsCertificate;

const ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
/// Extensions we emit. A critical extension outside this list is refused.
const KNOWN: [&str; 9] = [
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.14",
    "2.5.29.35",
    "2.5.29.17",
    "2.5.29.30",
    "2.5.29.31",
    "1.3.6.1.5.5.7.1.1",
];

/// Who signs the TBS.
#[derive(Clone, Copy, Debug)]
pub enum Issuer<'a> {
    /// An existing CA signs it.
    Ca(&'a CaCertificate),
    /// The subject's own key signs it (a root).
    SelfSigned,
}

/// A TBSCertificate that passed every lint. Only [`lint_certificate`] makes one.
#[derive(Debug)]
pub struct LintedTbs {
    tbs: Vec<u8>,
    signature: SignatureAlgorithm,
    issuer_public_key: Vec<u8>,
}

impl LintedTbs {
    pub(crate) fn into_parts(self) -> (Vec<u8>, SignatureAlgorithm, Vec<u8>) {
        (self.tbs, self.signature, self.issuer_public_key)
    }
}

fn fail<T>(rule: &str, why: impl std::fmt::Display) -> Result<T, X509Error> {
    Err(X509Error::Lint(format!("{rule}: {why}")))
}

/// Runs every lint over `tbs_der`.
pub fn lint_certificate(tbs_der: Vec<u8>, issuer: Issuer<'_>) -> Result<LintedTbs, X509Error> {
    let tbs = TbsCertificate::from_der(&tbs_der)?;
    if tbs.to_der()? != tbs_der {
        return fail("der", "the TBS does not re-encode identically (not DER)");
    }
    if tbs.version() != Version::V3 {
        return fail("version", "must be v3");
    }
    let serial = tbs.serial_number().as_bytes();
    if serial.len() < 8 || serial.len() > 20 || serial.first().is_some_and(|b| b & 0x80 != 0) {
        return fail(
            "serial",
            "must be positive, 8-20 octets (at least 64 bits of entropy)",
        );
    }
    let Some(sig_alg) = signature_algorithm_from_identifier(tbs.signature()) else {
        return fail("signature", "unknown signature algorithm identifier");
    };
    let subject_spki = tbs.subject_public_key_info().to_der()?;
    let (subject_key, canonical) =
        canonical_spki_of(tbs.subject_public_key_info()).or_else(|e| fail("subject-key", e))?;
    // Security: the key is the only caller-supplied part of a TBS; it must be exactly our
    // own encoding of it, with no other bytes carried along.
    if canonical != subject_spki {
        return fail(
            "subject-key",
            "the SubjectPublicKeyInfo is not in canonical form",
        );
    }

    // Extensions: present once each, no unknown critical ones.
    let exts = tbs.extensions().map(|e| e.as_slice()).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for e in exts {
        if !seen.insert(e.extn_id) {
            return fail("extensions", format!("{} appears twice", e.extn_id));
        }
        if e.critical && !KNOWN.contains(&e.extn_id.to_string().as_str()) {
            return fail(
                "extensions",
                format!("unknown critical extension {}", e.extn_id),
            );
        }
    }
    let bc = tbs.get_extension::<BasicConstraints>()?;
    let is_ca = matches!(bc, Some((_, BasicConstraints { ca: true, .. })));
    if let Some((critical, b)) = &bc {
        if b.ca && !critical {
            return fail("basic-constraints", "must be critical in a CA certificate");
        }
        if !b.ca && b.path_len_constraint.is_some() {
            return fail("basic-constraints", "pathLenConstraint without cA");
        }
    }

    let Some((ku_critical, ku)) = tbs.get_extension::<KeyUsage>()? else {
        return fail("key-usage", "keyUsage is required");
    };
    if !ku_critical {
        return fail("key-usage", "keyUsage must be critical");
    }
    if is_ca && !ku.key_cert_sign() {
        return fail("key-usage", "a CA certificate needs keyCertSign");
    }
    if !is_ca && (ku.key_cert_sign() || ku.crl_sign()) {
        return fail(
            "key-usage",
            "keyCertSign/cRLSign only belong in CA certificates",
        );
    }
    if !subject_key.is_rsa() && (ku.key_encipherment() || ku.data_encipherment()) {
        return fail(
            "key-usage",
            format!("keyEncipherment/dataEncipherment are meaningless for a {subject_key} key"),
        );
    }
    if subject_key.is_rsa() && ku.key_agreement() {
        return fail("key-usage", "keyAgreement is meaningless for an RSA key");
    }
    if ku.0.is_empty() {
        return fail("key-usage", "no bits set");
    }

    if let Some((_, eku)) = tbs.get_extension::<ExtendedKeyUsage>()? {
        if eku.0.is_empty() || eku.0.contains(&ANY_EKU) {
            return fail(
                "eku",
                "extendedKeyUsage must list specific purposes, never anyExtendedKeyUsage",
            );
        }
    }

    let Some((_, ski)) = tbs.get_extension::<SubjectKeyIdentifier>()? else {
        return fail("ski", "subjectKeyIdentifier is required");
    };
    if ski.0.as_bytes() != key_identifier(&subject_spki)?.as_slice() {
        return fail(
            "ski",
            "subjectKeyIdentifier does not match the subject key (RFC 7093 method 1)",
        );
    }
    let aki = tbs
        .get_extension::<AuthorityKeyIdentifier>()?
        .and_then(|(_, a)| a.key_identifier)
        .map(|k| k.as_bytes().to_vec());

    // Issuer binding: name, key id, validity, path length, name constraints.
    let not_before = from_x509_time(&tbs.validity().not_before);
    let not_after = from_x509_time(&tbs.validity().not_after);
    if not_before >= not_after {
        return fail("validity", "notBefore must be before notAfter");
    }
    let (issuer_key_der, issuer_constraints) = match issuer {
        Issuer::SelfSigned => {
            if tbs.issuer() != tbs.subject() || !is_ca {
                return fail(
                    "issuer",
                    "a self-signed certificate must be a CA with issuer = subject",
                );
            }
            if aki.as_deref() != Some(ski.0.as_bytes()) {
                return fail(
                    "aki",
                    "a root's authorityKeyIdentifier must equal its own SKI",
                );
            }
            (subject_spki.clone(), Constraints::default())
        }
        Issuer::Ca(ca) => {
            if tbs.issuer().to_der()? != ca.subject.to_der()? {
                return fail("issuer", "issuer name differs from the CA's subject");
            }
            if aki.as_deref() != Some(ca.key_id.as_slice()) {
                return fail(
                    "aki",
                    "authorityKeyIdentifier must equal the issuing CA's SKI",
                );
            }
            if not_before < ca.not_before || not_after > ca.not_after {
                return fail("validity", "must lie within the issuing CA's validity");
            }
            if !sig_alg.fits_key(ca.key_algorithm) {
                return fail(
                    "signature",
                    format!(
                        "{sig_alg} cannot be made with the CA's {} key",
                        ca.key_algorithm
                    ),
                );
            }
            if is_ca {
                let child_len = bc.as_ref().and_then(|(_, b)| b.path_len_constraint);
                if let Some(parent_len) = ca.path_len {
                    if parent_len == 0 {
                        return fail(
                            "path-length",
                            "the issuing CA has pathLenConstraint 0 and cannot sign CAs",
                        );
                    }
                    if child_len.is_none_or(|c| c >= parent_len) {
                        return fail(
                            "path-length",
                            format!("must be below the parent's {parent_len}"),
                        );
                    }
                }
            }
            (ca.public_key_der.clone(), ca.constraints.clone())
        }
    };

    // Names.
    let san = tbs.get_extension::<SubjectAltName>()?;
    let mut names = Vec::new();
    if let Some((critical, san)) = &san {
        if san.0.is_empty() {
            return fail("san", "subjectAltName is empty");
        }
        if tbs.subject().is_empty() && !critical {
            return fail("san", "must be critical when the subject is empty");
        }
        for gn in &san.0 {
            let n = requested_name(gn).or_else(|e| fail("san", e))?;
            if names.contains(&n) {
                return fail("san", format!("{n} appears twice"));
            }
            names.push(n);
        }
    }
    if !is_ca && names.is_empty() {
        return fail(
            "san",
            "a leaf certificate needs at least one subjectAltName",
        );
    }
    if !is_ca {
        if let Ok(Some(cn)) = tbs.subject().common_name() {
            let cn = cn.value().to_string();
            if !names.iter().any(|n| {
                matches!(n, strongroom_types::RequestedName::Dns(d) if d.as_str() == cn)
                    || matches!(n, strongroom_types::RequestedName::Ip(ip) if ip.to_string() == cn)
            }) {
                return fail(
                    "subject",
                    "commonName must repeat one of the subjectAltNames",
                );
            }
        }
    }
    for n in &names {
        if !issuer_constraints.permits(n) {
            return fail(
                "name-constraints",
                format!("{n} is outside the issuing CA's name constraints"),
            );
        }
    }
    if is_ca {
        let own = match tbs.get_extension::<NameConstraints>()? {
            Some((_, nc)) => Constraints::from_extension(&nc)?,
            None => Constraints::default(),
        };
        own.check_subset_of(&issuer_constraints)
            .or_else(|e| fail("name-constraints", e))?;
    }

    Ok(LintedTbs {
        tbs: tbs_der,
        signature: sig_alg,
        issuer_public_key: issuer_key_der,
    })
}
