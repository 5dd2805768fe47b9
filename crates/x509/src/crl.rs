//! Certificate revocation lists.
//!
//! In: the CA, a monotonic CRL number, the update window and the revoked entries the
//! signer has recorded. Out: a signed DER CertificateList (RFC 5280 §5) with
//! AuthorityKeyIdentifier and cRLNumber, reason codes and invalidity dates per entry.
//! The entries are encoded one at a time into one buffer, so a CRL of a million entries
//! never holds a million decoded structures (the signer's peak building one fell from
//! 880 MB to 443 MB, docs/performance.md).

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
    let number = CrlNumber(Uint::new(&plan.number.to_be_bytes())?);
    let tbs = TbsCertList {
        version: Version::V2,
        signature: signature_algorithm_identifier(plan.signature),
        issuer: plan.ca.subject.clone(),
        this_update: to_x509_time(plan.this_update)?,
        next_update: Some(to_x509_time(plan.next_update)?),
        revoked_certificates: None,
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
    let tbs_der = with_revoked(&tbs, &revoked_certificates(plan.entries)?)?;
    let signature = signer.sign(&tbs_der)?;
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

/// revokedCertificates (SEQUENCE OF RevokedCert), one entry encoded at a time; empty for
/// no entries (the field is then absent).
fn revoked_certificates(entries: &[CrlEntry]) -> Result<Vec<u8>, X509Error> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // A typical entry (16-byte serial, time, reason code) is about 40 bytes.
    let mut body = Vec::with_capacity(entries.len() * 48);
    for e in entries {
        entry(e)?.encode_to_vec(&mut body)?;
    }
    Ok(der_sequence(&[&body]))
}

/// The DER of `tbs` (whose revokedCertificates is `None`) with `revoked` (an encoded
/// revokedCertificates, or nothing) in its place: after nextUpdate, before the
/// crlExtensions, as RFC 5280 orders TBSCertList.
fn with_revoked(tbs: &TbsCertList, revoked: &[u8]) -> Result<Vec<u8>, X509Error> {
    let whole = tbs.to_der()?;
    let header = der::Header::decode(&mut der::SliceReader::new(&whole)?)?;
    let inner = &whole[whole.len() - usize::try_from(header.length())?..];
    let before = usize::try_from(
        (tbs.version.encoded_len()?
            + tbs.signature.encoded_len()?
            + tbs.issuer.encoded_len()?
            + tbs.this_update.encoded_len()?
            + tbs.next_update.encoded_len()?)?,
    )?;
    let (head, extensions) = inner.split_at(before);
    Ok(der_sequence(&[head, revoked, extensions]))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entries(n: u8) -> Vec<CrlEntry> {
        (1..=n)
            .map(|i| CrlEntry {
                // High bit set on odd entries: the serial needs a leading zero.
                serial: Serial::from_random([i.wrapping_mul(0x91) | (i & 1) << 7; 16]).unwrap(),
                revoked_at: 1_790_000_000 + i64::from(i),
                reason: if i % 3 == 0 {
                    RevocationReason::Unspecified
                } else {
                    RevocationReason::KeyCompromise
                },
                invalidity_date: (i % 2 == 0).then_some(1_789_000_000),
            })
            .collect()
    }

    fn tbs(revoked: Option<Vec<RevokedCert>>) -> TbsCertList {
        let name =
            <x509_cert::name::Name as std::str::FromStr>::from_str("CN=Issuing,O=Lab").unwrap();
        TbsCertList {
            version: Version::V2,
            signature: signature_algorithm_identifier(
                strongroom_types::SignatureAlgorithm::EcdsaSha256,
            ),
            issuer: name,
            this_update: to_x509_time(1_790_000_100).unwrap(),
            next_update: Some(to_x509_time(1_790_086_500).unwrap()),
            revoked_certificates: revoked,
            crl_extensions: Some(vec![
                extension(&CrlNumber(Uint::new(&[7]).unwrap()), false).unwrap(),
                crate::extensions::delta_crl_indicator(6).unwrap(),
            ]),
        }
    }

    /// The streamed encoding is byte for byte what x509-cert encodes from the whole
    /// structure, with no entries, one, and many (long lengths on every level).
    #[test]
    fn streamed_entries_encode_as_the_whole_structure() {
        for n in [0u8, 1, 5, 200] {
            let list = entries(n);
            let whole: Vec<RevokedCert> = list.iter().map(|e| entry(e).unwrap()).collect();
            let expected = tbs((!whole.is_empty()).then_some(whole)).to_der().unwrap();
            let streamed = with_revoked(&tbs(None), &revoked_certificates(&list).unwrap()).unwrap();
            assert_eq!(streamed, expected, "{n} entries");
        }
    }
}
