//! EST enrolment behind approval: 202 with `Retry-After` now, the certificate (or 403) when
//! the client sends the same request again (RFC 7030 §4.2.3).
//!
//! In: an authenticated `simpleenroll` under a profile whose `approvals_required` is above
//! zero. Out: the request recorded for control with its `scep.approve` job (the enrolment
//! queue SCEP uses, protocol `est`: `Store::submit_scep_pending`), and an answer from that
//! record — 202 while the approval waits, 200 with the certificate once control issued it,
//! 403 once it was rejected. The request is known by `est-` and the SHA-256 of its CSR: a
//! client that re-sends the same CSR finds its record, one that sends a new CSR files a
//! new request.
//!
//! Security: the front decides nothing here. Control re-parses the stored CSR, shows its
//! names to the approvers and issues for them. A record answers only the caller that made
//! it (the same EST user of the label, or the same client certificate), so a stranger who
//! knows a CSR learns nothing and gets nothing.

use super::access::{forbidden, Caller};
use super::{plain, unavailable, Est, Offered};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use strongroom_est::Enrolment;
use strongroom_store::{
    NewScepPending, PendingProtocol, ScepPendingStatus, ScepPendingView, StoreError, SubmitOutcome,
};

/// Seconds a client is told to wait before it asks again.
const RETRY_AFTER: &str = "30";

/// The 202 of a request waiting for its approvers.
fn accepted(id: i64) -> Response {
    let mut r = plain(
        StatusCode::ACCEPTED,
        format!("request {id} waits for approval; send the same request again later"),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
    r
}

/// The answer to an authorised `simpleenroll` under a profile that needs approvals.
pub async fn hold(
    est: &Est,
    offered: &Offered,
    caller: &Caller,
    enrolment: &Enrolment,
) -> Response {
    let label = offered.settings.name.as_str();
    let transaction = format!(
        "est-{}",
        strongroom_x509::fingerprint(&enrolment.csr_der)
            .replace(':', "")
            .to_ascii_lowercase()
    );
    // Who may read the record: this caller's identity, as a fingerprint.
    let binding = strongroom_x509::fingerprint(caller.actor(label).as_bytes());
    match est
        .app
        .store
        .scep_pending_status(&offered.name, &transaction)
        .await
    {
        Ok(Some(view)) => return answer_from(est, offered, &binding, view).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "EST: cannot read a pending request");
            return unavailable("the database is unavailable");
        }
    }
    let submission = NewScepPending {
        protocol: PendingProtocol::Est,
        profile: offered.name.clone(),
        transaction_id: transaction.clone(),
        csr: enrolment.csr_der.clone(),
        signer_fingerprint: binding.clone(),
        names: enrolment.csr.names.iter().map(|n| n.to_string()).collect(),
    };
    match est
        .app
        .store
        .submit_scep_pending(&submission, est.app.now())
        .await
    {
        Ok(SubmitOutcome::Queued { id }) => {
            tracing::info!(pending = id, label, profile = %offered.name, actor = %caller.actor(label), "EST: request queued for approval");
            accepted(id)
        }
        // The client's own retry racing: the record answers.
        Ok(SubmitOutcome::Exists { id }) => match est
            .app
            .store
            .scep_pending_status(&offered.name, &transaction)
            .await
        {
            Ok(Some(view)) => answer_from(est, offered, &binding, view).await,
            _ => accepted(id),
        },
        Ok(SubmitOutcome::Full) => forbidden(
            est,
            "policy",
            format!(
                "profile {} has {} requests waiting for approval",
                offered.name,
                strongroom_store::MAX_PENDING_PER_PROFILE
            ),
        ),
        Err(StoreError::Invalid(why)) => plain(StatusCode::BAD_REQUEST, why),
        Err(e) => {
            tracing::warn!(error = %e, "EST: cannot record a request for approval");
            unavailable("the database is unavailable")
        }
    }
}

async fn answer_from(
    est: &Est,
    offered: &Offered,
    binding: &str,
    view: ScepPendingView,
) -> Response {
    // Security: only the caller that made the request (and never a SCEP device's).
    if view.protocol != PendingProtocol::Est || view.signer_fingerprint != binding {
        return forbidden(
            est,
            "policy",
            format!("request {} was made by another caller", view.id),
        );
    }
    match view.status {
        ScepPendingStatus::Pending => accepted(view.id),
        ScepPendingStatus::Rejected { reason } => forbidden(
            est,
            "policy",
            format!("request {} was rejected: {reason}", view.id),
        ),
        ScepPendingStatus::Issued { certificate_id } => {
            match est.app.store.certificate(certificate_id).await {
                Ok(record) => super::enrol::certs_reply(offered, &record.certificate.der),
                Err(e) => {
                    tracing::warn!(error = %e, "EST: cannot read an approved certificate");
                    unavailable("the database is unavailable")
                }
            }
        }
    }
}
