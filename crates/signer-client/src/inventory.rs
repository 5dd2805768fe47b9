//! The inventory row of a certificate the signer issued — one construction for control's
//! issue route, control's journal reconciliation, ACME finalize and the listener
//! certificates of httpd.
//!
//! In: what the signer said it issued (its `IssueCertificate` answer or a journal record:
//! the CA, the serial, the DER) and the [`Provenance`] the caller knows. Out: a
//! `NewCertificate` whose issuer is the CA the signer named and whose serial, names,
//! validity and fingerprint are read from the certificate itself; or
//! [`CallError::Unexpected`] when the certificate does not read back as the signer said.
//! It writes nothing: each caller inserts the row in its own transaction (with its audit
//! event, its ACME order, the journal watermark).

use strongroom_store::{CertificateSource, NewCertificate};
use strongroom_types::{CaId, Serial};
use strongroom_wire::{CallError, IssuedCertificate, JournaledIssuance};
use strongroom_x509::CertificateSummary;

/// A certificate as the signer reports having issued it.
pub trait SignerIssued {
    /// The CA that issued it, as the signer names it.
    fn ca(&self) -> &CaId;
    /// Its serial, as the signer reports it.
    fn serial(&self) -> &Serial;
    /// The DER certificate.
    fn der(&self) -> &[u8];
}

impl SignerIssued for IssuedCertificate {
    fn ca(&self) -> &CaId {
        &self.ca
    }
    fn serial(&self) -> &Serial {
        &self.serial
    }
    fn der(&self) -> &[u8] {
        &self.der
    }
}

impl SignerIssued for JournaledIssuance {
    fn ca(&self) -> &CaId {
        &self.ca
    }
    fn serial(&self) -> &Serial {
        &self.serial
    }
    fn der(&self) -> &[u8] {
        &self.der
    }
}

/// Who a certificate was issued for and how the inventory files it: what the caller knows
/// and the certificate does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The profile it was issued under.
    pub profile: String,
    /// Through what it was asked for.
    pub source: CertificateSource,
    /// Its owner (`alice`, `acme:7`, `listener:front`, `journal:front`).
    pub owner: String,
    /// Its team, if any.
    pub team: Option<String>,
    /// Tags (`acme`, `listener`, `reconciled`, or the requester's own).
    pub tags: Vec<String>,
    /// The inventory id of the certificate it renews, if any.
    pub replaces: Option<i64>,
}

/// The inventory row for `issued`. Refused as [`CallError::Unexpected`] when the DER does
/// not parse or names another serial than the signer reported.
pub fn record_issued(
    issued: &impl SignerIssued,
    provenance: Provenance,
) -> Result<NewCertificate, CallError> {
    let summary = CertificateSummary::from_der(issued.der()).map_err(|e| {
        CallError::Unexpected(format!(
            "the certificate the signer issued as serial {} does not parse: {e}",
            issued.serial()
        ))
    })?;
    if summary.serial != *issued.serial() {
        return Err(CallError::Unexpected(format!(
            "the certificate the signer issued as serial {} carries serial {}",
            issued.serial(),
            summary.serial
        )));
    }
    let Provenance {
        profile,
        source,
        owner,
        team,
        tags,
        replaces,
    } = provenance;
    Ok(NewCertificate {
        issuer: issued.ca().clone(),
        serial: summary.serial,
        profile: Some(profile),
        subject_cn: summary.subject_cn,
        names: summary.names,
        not_before: summary.not_before,
        not_after: summary.not_after,
        fingerprint: summary.fingerprint,
        der: issued.der().to_vec(),
        source,
        owner: Some(owner),
        team,
        tags,
        replaces,
    })
}
