//! Issuing one certificate: policy check, plan, lint, journal intent, sign, journal
//! outcome, fsync, answer — in an order the types make impossible to skip (only a
//! `LintedTbs` can be signed; the answer is built only after `sync_through`).
//!
//! In: an [`IssuanceRequest`] from an identified peer. Out: an [`IssuedCertificate`] or a
//! [`SignerError`] whose kind tells the caller whether to fix the request (`PolicyDenied`,
//! `BadRequest`, `NotAllowed`) or retry (`HsmUnavailable`).

use crate::ca::LoadedCa;
use crate::dispatch::Signer;
use crate::entropy::Entropy;
use crate::error::{bad_request, denied, internal, wire_error};
use crate::hsm_signer::{hsm_error, signing_failure, HsmTbsSigner};
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::str::FromStr;
use strongroom_types::{CsrExtensions, KeyAlgorithm, KeyUsage, Profile, RequestedName, Serial};
use strongroom_wire::{ErrorKind, IssuanceRequest, IssuedCertificate, SignerError, SubjectKey};
use strongroom_x509::lint::{lint_certificate, Issuer};
use strongroom_x509::{
    canonical_spki, eku_oid, parse_csr, sign_certificate, CertificatePlan, KeyUsageBits,
    SubjectPlan, X509Error,
};
use x509_cert::name::Name;

/// The subject key after proof of possession (CSR) or as vouched for by the caller.
#[derive(Debug, Clone)]
pub struct SubjectKeyInfo {
    /// DER SPKI, re-encoded from the checked algorithm and key bits (never the caller's
    /// bytes): this is what the TBSCertificate carries.
    pub spki: Vec<u8>,
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// Names the CSR carried (used when the request lists none).
    pub csr_names: Vec<RequestedName>,
    /// EKU OIDs the CSR asked for (empty when the caller sent the CSR for its key and
    /// names only: nothing else in it is looked at).
    pub csr_eku: Vec<der::asn1::ObjectIdentifier>,
}

/// Verifies the CSR (or classifies the bare key). Weak or unknown keys are a policy
/// denial; malformed input and bad signatures are bad requests.
pub fn subject_key(key: &SubjectKey) -> Result<SubjectKeyInfo, SignerError> {
    let classify = |e: X509Error| match e {
        X509Error::Unsupported(why) => denied(format!("subject key refused: {why}")),
        other => bad_request(format!("subject key: {other}")),
    };
    match key {
        SubjectKey::Csr(der) => {
            let csr = parse_csr(der).map_err(classify)?;
            Ok(SubjectKeyInfo {
                spki: csr.public_key_der,
                algorithm: csr.key_algorithm,
                csr_names: csr.names,
                csr_eku: csr.requested_eku,
            })
        }
        // Same proof of possession; the requested usages are dropped here, so the
        // profile's rule about them never comes into play. Dropping cannot grant: the
        // plan takes usages from the profile only.
        SubjectKey::CsrKeyAndNames(der) => {
            let csr = parse_csr(der).map_err(classify)?;
            Ok(SubjectKeyInfo {
                spki: csr.public_key_der,
                algorithm: csr.key_algorithm,
                csr_names: csr.names,
                csr_eku: vec![],
            })
        }
        SubjectKey::PublicKey(spki) => {
            let (algorithm, spki) = canonical_spki(spki).map_err(classify)?;
            Ok(SubjectKeyInfo {
                algorithm,
                spki,
                csr_names: vec![],
                csr_eku: vec![],
            })
        }
    }
}

/// Builds the certificate plan from the profile, the CA and the request. Pure: the time
/// and the serial come in as arguments.
pub fn plan_leaf(
    profile: &Profile,
    ca: &LoadedCa,
    key: &SubjectKeyInfo,
    request: &IssuanceRequest,
    now: i64,
    serial: Serial,
) -> Result<CertificatePlan, SignerError> {
    if !profile.key_algorithms.contains(&key.algorithm) {
        let allowed: Vec<&str> = profile.key_algorithms.iter().map(|a| a.as_str()).collect();
        return Err(denied(format!(
            "profile {} does not accept {} keys (allowed: {})",
            profile.name,
            key.algorithm,
            allowed.join(", ")
        )));
    }
    let mut names: Vec<RequestedName> = Vec::new();
    let source = if request.names.is_empty() {
        &key.csr_names
    } else {
        &request.names
    };
    for n in source {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    if names.is_empty() {
        return Err(bad_request(
            "no subject names: list names in the request or in the CSR's subjectAltName",
        ));
    }
    if names.len() > profile.max_names {
        return Err(denied(format!(
            "{} names requested; profile {} allows {}",
            names.len(),
            profile.name,
            profile.max_names
        )));
    }
    for n in &names {
        if crate::delegated::is_reserved_name(n) {
            return Err(denied(format!(
                "{n}: its first label is reserved for the signer's own certificates (audit, OCSP, SCEP RA, EST key generator)"
            )));
        }
        if !profile.allows_name(n) {
            return Err(denied(format!(
                "profile {} does not allow the name {n}",
                profile.name
            )));
        }
        if !ca.cert.constraints.permits(n) {
            return Err(denied(format!(
                "name {n} is outside the name constraints of CA {}",
                ca.record.id
            )));
        }
    }
    let profile_eku: Vec<_> = profile
        .extended_key_usage
        .iter()
        .map(|e| eku_oid(*e))
        .collect();
    // Only ever a refusal: the certificate's usages come from the profile below, never
    // from the CSR, so `ignore` leaves out what was asked and not granted.
    if profile.csr_extensions == CsrExtensions::Strict {
        if let Some(extra) = key.csr_eku.iter().find(|o| !profile_eku.contains(o)) {
            return Err(denied(format!(
                "the CSR asks for extended key usage {extra}, which profile {} does not grant \
                 (its csr_extensions is strict)",
                profile.name
            )));
        }
    }

    let validity = match request.validity_secs {
        Some(0) => return Err(bad_request("validity must be positive")),
        Some(v) if v > profile.max_validity_secs => {
            return Err(denied(format!(
                "validity of {v} s exceeds profile {}'s maximum of {} s",
                profile.name, profile.max_validity_secs
            )))
        }
        Some(v) => v,
        None => profile.max_validity_secs,
    };
    // Backdate for clock skew, but never before the CA itself; never outlive the CA.
    let not_before = (now - profile.backdate_secs as i64).max(ca.cert.not_before);
    let not_after = (now + validity as i64).min(ca.cert.not_after);
    if not_after <= not_before + 60 {
        return Err(denied(format!(
            "CA {} expires too soon to issue anything",
            ca.record.id
        )));
    }

    let is_rsa = key.algorithm.is_rsa();
    let mut ku = KeyUsageBits::default();
    for u in &profile.key_usage {
        match u {
            KeyUsage::DigitalSignature => ku.digital_signature = true,
            KeyUsage::ContentCommitment => ku.content_commitment = true,
            // RSA key transport only; meaningless (and a pkilint error) for EC keys.
            KeyUsage::KeyEncipherment => ku.key_encipherment = is_rsa,
            KeyUsage::DataEncipherment => ku.data_encipherment = is_rsa,
            KeyUsage::KeyAgreement => ku.key_agreement = key.algorithm.is_ecdsa(),
        }
    }
    // The commonName copies the first DNS name only: an address in a commonName is read as
    // a host name by clients (certbot refuses such a certificate), so IP-only certificates
    // get an empty subject and a critical subjectAltName, as Let's Encrypt issues them.
    let subject_name = if profile.common_name_from_first_name {
        match names.iter().find(|n| matches!(n, RequestedName::Dns(_))) {
            Some(RequestedName::Dns(d)) => cn(d.as_str())?,
            _ => Name::default(),
        }
    } else {
        Name::default()
    };
    let issuer_url = |u: &Option<String>| u.iter().cloned().collect::<Vec<_>>();
    Ok(CertificatePlan {
        serial: serial.clone(),
        signature: ca.record.signature,
        issuer_name: ca.cert.subject.clone(),
        issuer_key_id: ca.cert.key_id.clone(),
        not_before,
        not_after,
        subject: SubjectPlan {
            name: subject_name,
            public_key_der: key.spki.clone(),
        },
        ca: None,
        key_usage: ku,
        extended_key_usage: profile.extended_key_usage.clone(),
        names,
        // A sharded CA's certificates name their shard's CRL.
        crl_urls: match (&ca.record.crl_url, ca.record.crl_shards) {
            (Some(base), n) if n >= 2 => strongroom_types::crl_scope::crl_url(
                base,
                Some(strongroom_types::crl_scope::shard_of(&serial, n)),
                false,
            )
            .into_iter()
            .collect(),
            _ => issuer_url(&ca.record.crl_url),
        },
        ocsp_urls: issuer_url(&ca.record.ocsp_url),
        ca_issuers_urls: issuer_url(&ca.record.ca_issuers_url),
        ocsp_no_check: false,
    })
}

fn cn(value: &str) -> Result<Name, SignerError> {
    // DNS names and IP literals contain no RFC 4514 special characters.
    Name::from_str(&format!("CN={value}")).map_err(|e| internal(format!("subject name: {e}")))
}

/// Journal body of an intent (stored format: add fields only).
#[derive(Serialize)]
struct IntentRecord<'a> {
    peer: &'a str,
    profile: &'a str,
    ca: &'a str,
    serial: &'a str,
    names: &'a [String],
    not_before: i64,
    not_after: i64,
    tbs_sha256: &'a str,
}

/// Journal body of an issued certificate (stored format: add fields only). Since
/// 2026-11-29 it repeats the intent's CA, profile and peer and carries the certificate
/// itself (`der`, standard base64), so the record alone can put a certificate whose
/// requester never recorded it into the inventory (crate::journal_read, control's
/// reconciliation).
#[derive(Serialize)]
struct IssuedRecord<'a> {
    intent: u64,
    serial: &'a str,
    cert_sha256: &'a str,
    ca: &'a str,
    profile: &'a str,
    peer: &'a str,
    der: &'a str,
}

/// Draws a 128-bit serial.
pub fn fresh_serial(entropy: &dyn Entropy) -> Result<Serial, crate::Error> {
    loop {
        let mut bytes = [0u8; 16];
        entropy.fill(&mut bytes)?;
        if let Some(s) = Serial::from_random(bytes) {
            return Ok(s);
        }
    }
}

/// The whole issuance path.
pub fn issue(
    signer: &Signer,
    peer_name: &str,
    request: IssuanceRequest,
) -> Result<IssuedCertificate, SignerError> {
    let profile = signer
        .policy()
        .current()
        .profile(&request.profile)
        .cloned()
        .ok_or_else(|| denied(format!("unknown profile {:?}", request.profile.as_str())))?;
    if !profile.allowed_peers.is_empty() && !profile.allowed_peers.iter().any(|p| p == peer_name) {
        return Err(wire_error(
            ErrorKind::NotAllowed,
            format!(
                "peer {peer_name} may not issue under profile {}",
                profile.name
            ),
        ));
    }
    let key = subject_key(&request.subject_key)?;
    let cas = signer.cas();
    let ca = cas.get(&profile.issuer).ok_or_else(|| {
        internal(format!(
            "profile {} names a missing CA {}",
            profile.name, profile.issuer
        ))
    })?;
    let now = signer.clock.now();
    let serial = fresh_serial(signer.entropy.as_ref()).map_err(|e| internal(e.to_string()))?;
    let plan = plan_leaf(&profile, &ca, &key, &request, now, serial.clone())?;
    let tbs = plan.to_tbs_der().map_err(|e| bad_request(e.to_string()))?;
    let tbs_hash = hex::encode(Sha256::digest(&tbs));
    let linted = lint_certificate(tbs, Issuer::Ca(&ca.cert))
        .map_err(|e| denied(format!("lint refused the certificate: {e}")))?;

    let hsm = signer.hsm.get()?;
    let ca_key = ca.key(&hsm).map_err(|e| hsm_error(&e))?;
    let names: Vec<String> = plan.names.iter().map(|n| n.to_string()).collect();
    let journal = signer.journal();
    let serial_hex = serial.to_string();
    let intent = journal
        .append(
            now,
            "intent",
            &IntentRecord {
                peer: peer_name,
                profile: profile.name.as_str(),
                ca: ca.record.id.as_str(),
                serial: &serial_hex,
                names: &names,
                not_before: plan.not_before,
                not_after: plan.not_after,
                tbs_sha256: &tbs_hash,
            },
        )
        .map_err(|e| internal(e.to_string()))?;
    let tbs_signer = HsmTbsSigner::new(&hsm, &ca_key, ca.record.signature);
    let der = match sign_certificate(linted, &tbs_signer) {
        Ok(der) => der,
        Err(e) => {
            let err = signing_failure(e);
            let _ = journal.append(
                now,
                "failed",
                &json!({"intent": intent, "serial": serial_hex, "error": err.detail}),
            );
            return Err(err);
        }
    };
    let outcome = journal
        .append(
            signer.clock.now(),
            "issued",
            &IssuedRecord {
                intent,
                serial: &serial_hex,
                cert_sha256: &hex::encode(Sha256::digest(&der)),
                ca: ca.record.id.as_str(),
                profile: profile.name.as_str(),
                peer: peer_name,
                der: &base64::engine::general_purpose::STANDARD.encode(&der),
            },
        )
        .map_err(|e| internal(e.to_string()))?;
    // Nothing leaves the signer before its record is on disk.
    journal
        .sync_through(outcome)
        .map_err(|e| internal(e.to_string()))?;
    signer.note_issued(serial.clone(), ca.record.id.clone());
    Ok(IssuedCertificate {
        der,
        serial,
        chain: ca.chain.clone(),
        journal_seq: outcome,
        ca: ca.record.id.clone(),
    })
}
