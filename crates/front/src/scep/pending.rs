//! SCEP enrolment behind approval: PENDING now, the certificate (or FAILURE) later.
//!
//! In: a verified PKCSReq whose challenge was accepted, under a profile whose
//! `approvals_required` is above zero; a repeated PKCSReq (Debian's `scepclient` re-sends
//! its request every 30 s while PENDING) or a CertPoll (GetCertInitial) naming a
//! transactionID under the profile. Out: the request recorded with its `scep.approve` job
//! in one transaction (`Store::submit_scep_pending`), and a CertRep answer from the row —
//! PENDING while the approval waits, SUCCESS with the certificate once control issued it,
//! FAILURE `badRequest` once it was rejected.
//!
//! Security: the front decides nothing here. Control files the approval request, re-parses
//! the stored CSR (the names shown to the device's approvers and put in the certificate
//! are control's reading, not ours), checks the one-time challenge's consumption itself,
//! issues and records the outcome; on PostgreSQL the front cannot write an outcome at all.
//! A row answers only the certificate that signed the original request (same fingerprint),
//! so a stranger who knows a transactionID learns nothing and gets nothing encrypted to
//! their key.

use super::reply::Answer;
use super::{plain, unavailable, Offered, Scep};
use axum::http::StatusCode;
use axum::response::Response;
use strongroom_scep::PkiRequest;
use strongroom_store::{NewScepPending, ScepPendingStatus, ScepPendingView, SubmitOutcome};
use strongroom_types::scep::ScepFailInfo;

/// The answer from the row with this request's transactionID under the profile, if there
/// is one (a device's repeat or poll).
pub async fn known(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
) -> Result<Option<Answer>, Response> {
    match scep
        .app
        .store
        .scep_pending_status(&offered.name, &request.transaction_id)
        .await
    {
        Ok(Some(view)) => answer_from(scep, request, view).await.map(Some),
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot read a pending request");
            Err(unavailable("the database is unavailable"))
        }
    }
}

/// CertPoll (GetCertInitial): the row's answer, or `badCertId` when nothing is pending
/// under this transactionID.
pub async fn poll(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
) -> Result<Answer, Response> {
    Ok(known(scep, offered, request).await?.unwrap_or_else(|| {
        Answer::Fail(
            ScepFailInfo::BadCertId,
            format!(
                "no request with this transactionID is pending under profile {}",
                offered.name
            ),
        )
    }))
}

/// Records an authorised PKCSReq for approval and answers PENDING.
pub async fn queue(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
    csr: Vec<u8>,
    names: Vec<String>,
) -> Result<Answer, Response> {
    let submission = NewScepPending {
        protocol: strongroom_store::PendingProtocol::Scep,
        profile: offered.name.clone(),
        transaction_id: request.transaction_id.clone(),
        csr,
        signer_fingerprint: strongroom_x509::fingerprint(&request.signer_certificate),
        names,
    };
    match scep
        .app
        .store
        .submit_scep_pending(&submission, scep.app.now())
        .await
    {
        Ok(SubmitOutcome::Queued { id }) => {
            tracing::info!(transaction = %request.transaction_id, pending = id, profile = %offered.name, "SCEP: request queued for approval");
            Ok(Answer::Pending)
        }
        // Submitted between our look-up and now (the device's own retry racing): the row
        // answers.
        Ok(SubmitOutcome::Exists { .. }) => Ok(known(scep, offered, request)
            .await?
            .unwrap_or(Answer::Pending)),
        Ok(SubmitOutcome::Full) => Ok(Answer::Fail(
            ScepFailInfo::BadRequest,
            format!(
                "profile {} has {} requests waiting for approval",
                offered.name,
                strongroom_store::MAX_PENDING_PER_PROFILE
            ),
        )),
        Err(strongroom_store::StoreError::Invalid(why)) => {
            Ok(Answer::Fail(ScepFailInfo::BadRequest, why))
        }
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot record a request for approval");
            Err(unavailable("the database is unavailable"))
        }
    }
}

async fn answer_from(
    scep: &Scep,
    request: &PkiRequest,
    view: ScepPendingView,
) -> Result<Answer, Response> {
    // Security: only the signer of the original SCEP request; the message's signature was
    // verified with this certificate, so the caller holds its key. (An EST request under
    // the same profile and transactionID is not this device's.)
    if view.protocol != strongroom_store::PendingProtocol::Scep
        || strongroom_x509::fingerprint(&request.signer_certificate) != view.signer_fingerprint
    {
        return Ok(Answer::Fail(
            ScepFailInfo::BadCertId,
            format!(
                "request {} was made with another signing certificate",
                view.id
            ),
        ));
    }
    match view.status {
        ScepPendingStatus::Pending => Ok(Answer::Pending),
        ScepPendingStatus::Rejected { reason } => Ok(Answer::Fail(
            ScepFailInfo::BadRequest,
            format!("request {} was rejected: {reason}", view.id),
        )),
        ScepPendingStatus::Issued { certificate_id } => {
            let record = match scep.app.store.certificate(certificate_id).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, certificate = certificate_id, "SCEP: cannot read an approved certificate");
                    return Err(unavailable("the database is unavailable"));
                }
            };
            match strongroom_scep::certs_only(&[&record.certificate.der]) {
                Ok(content) => Ok(Answer::Deliver(content)),
                Err(e) => Err(plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            }
        }
    }
}
