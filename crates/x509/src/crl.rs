//! Certificate revocation lists.
//!
//! In: the CA, a monotonic CRL number, the update window and the revoked entries the
//! signer has recorded. Out: a signed DER CertificateList (RFC 5280 §5) with
//! AuthorityKeyIdentifier and cRLNumber, reason codes and invalidity dates per entry.

use crate::algorithm::signature_algorithm_identifier;
use crate::certificate::der_sequence;
use crate::extensions::{authority_key_identifier, extension};
use crate::time::to_x509_time;
use crate::verify::verify_signature;
use crate::{CaCertificate, TbsSigner, UnixTime, X509Error};
use der::asn1::{BitString, GeneralizedTime, Uint};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use std::time::Duration;
use strongroom_types::{RevocationReason, Serial};
use x509_cert::certificate::Version;
use x509_cert::crl::{RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Its serial.
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: UnixTime,
    /// Why (unspecified is written without a reasonCode extension, per RFC 5280).
    pub reason: RevocationReason,
    /// Known or suspected compromise time.
    pub invalidity_date: Option<UnixTime>,
}

/// What goes into one CRL.
#[derive(Clone, Debug)]
pub struct CrlPlan<'a> {
    /// The issuing CA.
    pub ca: &'a CaCertificate,
    /// How it is signed.
    pub signature: strongroom_types::SignatureAlgorithm,
    /// cRLNumber: strictly increasing per CA.
    pub number: u64,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: UnixTime,
    /// The entries.
    pub entries: &'a [CrlEntry],
    /// For a shard (or a shard's delta): the URL its IssuingDistributionPoint names.
    pub idp_url: Option<String>,
    /// For a delta CRL: the number of the full CRL it completes.
    pub delta_base: Option<u64>,
    /// For a full CRL of a CA that publishes deltas: the delta's URL (FreshestCRL).
    pub freshest_url: Option<String>,
}

const INVALIDITY_DATE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.24");
const REASON_CODE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.21");

fn entry(e: &CrlEntry) -> Result<RevokedCert, X509Error> {
    let mut exts: Vec<Extension> = Vec::new();
    if e.reason != RevocationReason::Unspecified {
        let reason = CrlReason::from_der(&[0x0a, 0x01, e.reason.code()])?;
        exts.push(Extension {
            extn_id: REASON_CODE,
            critical: false,
            extn_value: der::asn1::OctetString::new(reason.to_der()?)?,
        });
    }
    if let Some(t) = e.invalidity_date {
        let secs = u64::try_from(t)
            .map_err(|_| X509Error::Malformed("invalidity date before 1970".into()))?;
        let g = GeneralizedTime::from_unix_duration(Duration::from_secs(secs))?;
        exts.push(Extension {
            extn_id: INVALIDITY_DATE,
            critical: false,
            extn_value: der::asn1::OctetString::new(g.to_der()?)?,
        });
    }
    let mut serial = Vec::with_capacity(21);
    if e.serial.as_bytes().first().is_some_and(|b| b & 0x80 != 0) {
        serial.push(0);
    }
    serial.extend_from_slice(e.serial.as_bytes());
    Ok(RevokedCert {
        serial_number: SerialNumber::new(&serial)?,
        revocation_date: to_x509_time(e.revoked_at)?,
        crl_entry_extensions: (!exts.is_empty()).then_some(exts),
    })
}

/// Builds, signs and verifies a CRL.
pub fn build_crl(plan: &CrlPlan<'_>, signer: &dyn TbsSigner) -> Result<Vec<u8>, X509Error> {
    if plan.next_update <= plan.this_update {
        return Err(X509Error::Lint(
            "crl: nextUpdate must be after thisUpdate".into(),
        ));
    }
    if signer.signature_algorithm() != plan.signature {
        return Err(X509Error::Signing(
            "signer algorithm differs from the plan".into(),
        ));
    }
    let revoked = plan
        .entries
        .iter()
        .map(entry)
        .collect::<Result<Vec<_>, _>>()?;
    let number = CrlNumber(Uint::new(&plan.number.to_be_bytes())?);
    let tbs = TbsCertList {
        version: Version::V2,
        signature: signature_algorithm_identifier(plan.signature),
        issuer: plan.ca.subject.clone(),
        this_update: to_x509_time(plan.this_update)?,
        next_update: Some(to_x509_time(plan.next_update)?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some({
            let mut exts = vec![
                authority_key_identifier(&plan.ca.key_id)?,
                extension(&number, false)?,
            ];
            if let Some(url) = &plan.idp_url {
                exts.push(crate::extensions::issuing_distribution_point(url)?);
            }
            if let Some(base) = plan.delta_base {
                exts.push(crate::extensions::delta_crl_indicator(base)?);
            }
            if let Some(url) = &plan.freshest_url {
                exts.push(crate::extensions::freshest_crl(url)?);
            }
            exts
        }),
    };
    let tbs_der = tbs.to_der()?;
    let signature = signer.sign(&tbs_der).map_err(X509Error::Signing)?;
    let alg = signature_algorithm_identifier(plan.signature);
    let spki = SubjectPublicKeyInfoOwned::from_der(&plan.ca.public_key_der)?;
    verify_signature(&spki, &alg, &tbs_der, &signature)
        .map_err(|e| X509Error::Signing(format!("the HSM's CRL signature does not verify: {e}")))?;
    Ok(der_sequence(&[
        &tbs_der,
        &alg.to_der()?,
        &BitString::from_bytes(&signature)?.to_der()?,
    ]))
}

/// A CRL's thisUpdate and nextUpdate (Unix seconds), read from its DER.
pub fn crl_window(der: &[u8]) -> Result<(UnixTime, UnixTime), X509Error> {
    let crl = x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(der)?;
    let tbs = &crl.tbs_cert_list;
    let next = tbs
        .next_update
        .as_ref()
        .ok_or_else(|| X509Error::Malformed("CRL without nextUpdate".into()))?;
    Ok((
        crate::time::from_x509_time(&tbs.this_update),
        crate::time::from_x509_time(next),
    ))
}
