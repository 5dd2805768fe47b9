//! PKIOperation: what a device's message asks, and the decision on it.
//!
//! In: the DER pkiMessage and the profile it arrived under. Out: a CertRep (through
//! [`super::reply`]). The order of checks is the attacker's order: the message's own
//! signature and syntax first (no signer call for garbage), then the cipher the profile
//! allows, then the envelope opened by the signer, then the authorisation — a signed
//! dynamic challenge (verified, its use recorded once: [`super::dynamic_gate`]), the static
//! or a one-time challenge for PKCSReq (a one-time challenge is consumed atomically in the
//! store, so two devices racing with it get one certificate), the current certificate for
//! RenewalReq — and only then `IssueCertificate` under the profile's policy with the CSR's
//! key and names. The CSR's key must be the key that signed the message: a device cannot
//! relay another's CSR.
//! Under a profile that needs approvals an authorised PKCSReq is not issued here: it is
//! recorded for control and answered PENDING, and its repeats and CertPolls are answered
//! from that record ([`super::pending`]).

use super::reply::{cert_rep, Answer};
use super::{plain, signer_trouble, unavailable, Offered, Scep};
use axum::http::StatusCode;
use axum::response::Response;
use strongroom_scep::{
    challenge_password, parse_inner, parse_pki_message, InnerRequest, PkiRequest,
};
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{AuditOutcome, CertificateSource, ConsumeOutcome, NewAuditEvent};
use strongroom_types::scep::{ScepFailInfo, ScepMessageType};
use strongroom_wire::{CallError, ErrorKind, IssuanceRequest, ScepEnvelope, SubjectKey};

/// The one answer to an envelope that does not open to what its messageType names.
const UNOPENED: &str = "the SCEP envelope does not open with this CA's RA key to what its messageType names: check the CA certificate it was encrypted to (GetCACert) and that it holds a CSR (PKCSReq, RenewalReq), an IssuerAndSerialNumber (GetCert, GetCRL) or an IssuerAndSubject (CertPoll)";

/// Answers one PKIOperation.
pub async fn pki_operation(scep: &Scep, offered: &Offered, der: &[u8]) -> Response {
    let request = match parse_pki_message(der) {
        Ok(r) => r,
        // Without a verified request there is nobody to sign a CertRep to.
        Err(e) => {
            tracing::info!(fail_info = e.fail_info().as_str(), error = %e, "SCEP: unreadable pkiMessage");
            scep.app.metrics.scep_refused(e.fail_info());
            return plain(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    // Past here a verified message costs the signer a decryption and a signature.
    let Some(_turn) = scep.signer_turn() else {
        return super::busy();
    };
    let answer = match decide(scep, offered, &request).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Answer::Fail(info, _) = &answer {
        scep.app.metrics.scep_refused(*info);
    }
    cert_rep(scep, &offered.ca, &request, answer).await
}

/// The answer to a verified request; `Err` is an HTTP answer (the signer or the store is
/// unavailable: the device retries, nothing was decided).
async fn decide(scep: &Scep, offered: &Offered, request: &PkiRequest) -> Result<Answer, Response> {
    let cipher = request.envelope.cipher;
    if cipher.is_legacy() {
        if !offered.settings.legacy_ciphers {
            return Ok(Answer::Fail(
                ScepFailInfo::BadAlg,
                format!(
                    "{} envelopes are refused under profile {}",
                    cipher.as_str(),
                    offered.name
                ),
            ));
        }
        tracing::warn!(transaction = %request.transaction_id, cipher = cipher.as_str(), profile = %offered.name, "SCEP: a legacy cipher protects this request");
        scep.app.metrics.scep_legacy_cipher(cipher);
    }
    let envelope = ScepEnvelope {
        ca: offered.ca.clone(),
        recipient_serial: request.envelope.recipient_serial.clone(),
        encrypted_key: request.envelope.encrypted_key.clone(),
        cipher,
        iv: request.envelope.iv.clone(),
        ciphertext: request.envelope.ciphertext.clone(),
    };
    // SECURITY: an envelope that does not open and one that opens to something other than
    // what its messageType names get one answer. Told apart (badMessageCheck against
    // badRequest), they are a CBC padding oracle: anyone who captured a device's request
    // could re-sign it with a key of their own, alter the ciphertext block by block and read
    // the CSR — with its challengePassword — from the answers. The signer's own failures
    // are already one answer (implicit rejection), which a padding oracle here would undo.
    let refused = || Answer::Fail(ScepFailInfo::BadMessageCheck, UNOPENED.to_string());
    let plaintext = match scep.app.signer.decrypt_scep_envelope(envelope).await {
        Ok(p) => p,
        Err(CallError::Refused {
            kind: ErrorKind::BadRequest,
            ..
        }) => return Ok(refused()),
        Err(e) => return Err(signer_trouble(e)),
    };
    let Ok(inner) = parse_inner(request.message_type, &plaintext.0) else {
        return Ok(refused());
    };
    match (request.message_type, inner) {
        (ScepMessageType::PkcsReq, InnerRequest::Csr(csr)) => {
            enrol(scep, offered, request, csr, None).await
        }
        (ScepMessageType::RenewalReq, InnerRequest::Csr(csr)) => {
            renew(scep, offered, request, csr).await
        }
        (ScepMessageType::GetCert, InnerRequest::IssuerAndSerial { serial, .. }) => {
            get_cert(scep, offered, &serial).await
        }
        (ScepMessageType::GetCrl, InnerRequest::IssuerAndSerial { .. }) => {
            get_crl(scep, offered).await
        }
        (ScepMessageType::CertPoll, _) => super::pending::poll(scep, offered, request).await,
        (other, _) => Ok(Answer::Fail(
            ScepFailInfo::BadRequest,
            format!("{} is not served here", other.as_str()),
        )),
    }
}

/// PKCSReq (and, with `replaces`, an authorised renewal): authorise, issue, record.
async fn enrol(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
    csr: Vec<u8>,
    replaces: Option<i64>,
) -> Result<Answer, Response> {
    let parsed = match strongroom_x509::parse_csr(&csr) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Answer::Fail(
                ScepFailInfo::BadMessageCheck,
                format!("the CSR: {e}"),
            ))
        }
    };
    // The CSR's key signed the message (PKCSReq) — no relaying someone else's CSR.
    if replaces.is_none() && !same_key(&request.signer_certificate, &parsed.public_key_der) {
        return Ok(Answer::Fail(
            ScepFailInfo::BadMessageCheck,
            "the CSR's key is not the key that signed the message".into(),
        ));
    }
    if offered.settings.key_bound_transaction_id
        && !strongroom_scep::transaction_id_binds(&request.transaction_id, &parsed.public_key_der)
    {
        return Ok(Answer::Fail(
            ScepFailInfo::BadMessageCheck,
            "the transactionID is not a hash of the request's key".into(),
        ));
    }
    if replaces.is_none() {
        // A device re-sending its PKCSReq while PENDING: answered from its row, before
        // its (possibly one-time) challenge is looked at again.
        if let Some(known) = super::pending::known(scep, offered, request).await? {
            return Ok(known);
        }
        if let Some(refusal) = authorise(scep, offered, request, &csr, &parsed).await? {
            return Ok(refusal);
        }
        if offered.approvals_required > 0 {
            let names = parsed.names.iter().map(|n| n.to_string()).collect();
            return super::pending::queue(scep, offered, request, csr, names).await;
        }
    }
    let issuance = IssuanceRequest {
        profile: offered.name.clone(),
        // Only the key and the names reach the certificate; the profile decides the rest.
        subject_key: SubjectKey::CsrKeyAndNames(csr),
        names: parsed.names.clone(),
        validity_secs: None,
    };
    let issued = match scep.app.signer.issue_certificate(issuance).await {
        Ok(i) => i,
        Err(CallError::Refused {
            kind: ErrorKind::PolicyDenied | ErrorKind::BadRequest,
            detail,
        }) => {
            return Ok(Answer::Fail(
                ScepFailInfo::BadRequest,
                format!("the policy refused: {detail}"),
            ))
        }
        Err(e) => return Err(signer_trouble(e)),
    };
    let row = match record_issued(
        &issued,
        Provenance {
            profile: offered.name.to_string(),
            source: CertificateSource::Scep,
            owner: format!("scep:{}", offered.name),
            team: None,
            tags: vec!["scep".into()],
            replaces,
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(serial = %issued.serial, error = %e, "SCEP: an issued certificate cannot be recorded; reconcile from the signer's journal");
            return Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        }
    };
    let transaction = request.transaction_id.clone();
    let serial = issued.serial.clone();
    let profile = offered.name.clone();
    let event = move |id: i64| NewAuditEvent {
        actor: format!("scep:{profile}"),
        action: if replaces.is_some() {
            "scep.certificate.renew".into()
        } else {
            "scep.certificate.issue".into()
        },
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!("profile={profile} serial={serial} transaction={transaction}"),
    };
    if let Err(e) = scep
        .app
        .store
        .insert_certificate_audited(&row, event, scep.app.now())
        .await
    {
        // The signer's journal holds it; control's reconciliation files it.
        tracing::error!(serial = %issued.serial, error = %e, "SCEP: an issued certificate cannot be recorded yet; reconcile from the signer's journal");
    }
    match strongroom_scep::certs_only(&[&issued.der]) {
        Ok(content) => Ok(Answer::Deliver(content)),
        Err(e) => Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// A PKCSReq's challenge: a signed dynamic one (a JWS, under a profile with a connector
/// key), the profile's static one, or a one-time one consumed now. `Ok(Some(_))` is the
/// refusal to send.
async fn authorise(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
    csr: &[u8],
    parsed: &strongroom_x509::VerifiedCsr,
) -> Result<Option<Answer>, Response> {
    let challenge = match challenge_password(csr) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Ok(Some(Answer::Fail(
                ScepFailInfo::BadRequest,
                "the CSR carries no challengePassword".into(),
            )))
        }
        Err(e) => return Ok(Some(Answer::Fail(e.fail_info(), e.to_string()))),
    };
    if let Some(key) = scep.connector(offered.settings.name.as_str()) {
        if super::dynamic::looks_like_jws(challenge.expose()) {
            return super::dynamic_gate::authorise(
                scep,
                offered,
                request,
                key,
                challenge.expose(),
                parsed,
            )
            .await;
        }
    }
    if scep.is_static_challenge(offered.settings.name.as_str(), challenge.expose()) {
        return Ok(None);
    }
    match scep
        .app
        .store
        .consume_scep_challenge(
            &offered.name,
            challenge.expose(),
            &request.transaction_id,
            scep.app.now(),
        )
        .await
    {
        Ok(ConsumeOutcome::Consumed(record)) => {
            tracing::info!(transaction = %request.transaction_id, challenge_id = record.id, "SCEP: one-time challenge used");
            Ok(None)
        }
        // One answer to the device whatever was wrong; the log says which.
        Ok(other) => Ok(Some(Answer::Fail(
            ScepFailInfo::BadRequest,
            format!("challenge refused: {}", other.as_str()),
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot check a one-time challenge");
            Err(unavailable("the database is unavailable"))
        }
    }
}

/// RenewalReq: signed by the device's current certificate of this profile — in the
/// inventory, unexpired, unrevoked — for the same names.
async fn renew(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
    csr: Vec<u8>,
) -> Result<Answer, Response> {
    if !offered.settings.renewal {
        return Ok(Answer::Fail(
            ScepFailInfo::BadRequest,
            format!("profile {} does not renew over SCEP", offered.name),
        ));
    }
    let fingerprint = strongroom_x509::fingerprint(&request.signer_certificate);
    let current = match scep
        .app
        .store
        .certificate_by_fingerprint(&fingerprint)
        .await
    {
        Ok(c) => c,
        Err(strongroom_store::StoreError::NotFound(_)) => {
            return Ok(Answer::Fail(
                ScepFailInfo::BadCertId,
                "the certificate that signed the renewal was not issued here".into(),
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot read the inventory");
            return Err(unavailable("the database is unavailable"));
        }
    };
    let now = scep.app.now();
    let c = &current.certificate;
    let refusal = if current.revoked {
        Some("the certificate that signed the renewal is revoked")
    } else if c.not_after <= now || c.not_before > now {
        Some("the certificate that signed the renewal is not valid now")
    } else if c.profile.as_deref() != Some(offered.name.as_str()) || c.issuer != offered.ca {
        Some("the certificate that signed the renewal belongs to another profile")
    } else {
        None
    };
    if let Some(why) = refusal {
        return Ok(Answer::Fail(ScepFailInfo::BadCertId, why.into()));
    }
    let names = match strongroom_x509::parse_csr(&csr) {
        Ok(p) => p.names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        Err(e) => {
            return Ok(Answer::Fail(
                ScepFailInfo::BadMessageCheck,
                format!("the CSR: {e}"),
            ))
        }
    };
    // The renewed certificate's own names (the inventory's list also holds the CN).
    let held = match strongroom_x509::CertificateSummary::from_der(&c.der) {
        Ok(summary) => summary.names,
        Err(e) => return Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let (mut asked, mut held) = (names, held);
    asked.sort();
    held.sort();
    if asked != held {
        return Ok(Answer::Fail(
            ScepFailInfo::BadRequest,
            "a renewal keeps the names of the certificate it renews".into(),
        ));
    }
    enrol(scep, offered, request, csr, Some(current.id)).await
}

/// GetCert: a certificate of this profile's CA by serial.
async fn get_cert(scep: &Scep, offered: &Offered, serial: &[u8]) -> Result<Answer, Response> {
    let Ok(serial) = hex::encode(serial).parse::<strongroom_types::Serial>() else {
        return Ok(Answer::Fail(
            ScepFailInfo::BadCertId,
            "not a serial this CA issues".into(),
        ));
    };
    match scep
        .app
        .store
        .certificate_by_serial(&offered.ca, &serial)
        .await
    {
        Ok(record) => match strongroom_scep::certs_only(&[&record.certificate.der]) {
            Ok(content) => Ok(Answer::Deliver(content)),
            Err(e) => Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        },
        Err(strongroom_store::StoreError::NotFound(_)) => Ok(Answer::Fail(
            ScepFailInfo::BadCertId,
            format!("CA {} issued no certificate {serial}", offered.ca),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot read the inventory");
            Err(unavailable("the database is unavailable"))
        }
    }
}

/// GetCRL: the newest full CRL of this profile's CA (the one its certificates name when
/// the CA does not shard; a sharded CA's devices read their shard from the certificate's
/// CRL distribution point).
async fn get_crl(scep: &Scep, offered: &Offered) -> Result<Answer, Response> {
    let Some(crl) = scep.app.crl(&offered.ca, "full").await else {
        return Ok(Answer::Fail(
            ScepFailInfo::BadCertId,
            format!(
                "CA {} has no full CRL to give (none signed yet, or its CRL is sharded)",
                offered.ca
            ),
        ));
    };
    match strongroom_scep::crl_only(&crl.der) {
        Ok(content) => Ok(Answer::Deliver(content)),
        Err(e) => Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Whether a certificate's key is `spki_der` (compared in canonical form).
fn same_key(certificate_der: &[u8], spki_der: &[u8]) -> bool {
    let Ok(certified) = strongroom_x509::acme_alpn::subject_public_key_info(certificate_der) else {
        return false;
    };
    match (
        strongroom_x509::canonical_spki(&certified),
        strongroom_x509::canonical_spki(spki_der),
    ) {
        (Ok((_, a)), Ok((_, b))) => a == b,
        _ => false,
    }
}
