//! SCEP and EST enrolments behind approval: control's half.
//!
//! In: an `scep.approve` job the front queued with a pending request it recorded
//! (`{"pending_id": N}`; the row in `scep_pending`, whose protocol is SCEP or EST), and
//! later the approval request's outcome (approved: [`execute`], from `api::approvals`;
//! rejected: [`rejected`]). Out: an approval request of kind [`SCEP_ENROL`] or
//! [`EST_ENROL`] (`GET /api/v1/approvals`, decided with the usual routes and CLI, the
//! profile's `approvals_required` approvers, at least one); once approved, a certificate
//! issued through the signer under the profile with only the CSR's key and names,
//! recorded with source `scep` or `est` and the row marked issued; once rejected (or
//! refused here), the row marked rejected. Every step is audited.
//!
//! Security: the front may insert jobs and pending rows, so a compromised front could ask
//! for anything. Control therefore decides from what it checks itself, each time (when it
//! files and again when it issues): the CSR is re-parsed and its self-signature verified
//! (the device's proof of possession; the front cannot forge it for a key it does not
//! hold), the names shown to approvers and put in the certificate are the CSR's as read
//! here (never the row's `names`), and a one-time challenge found in the CSR must have been
//! consumed by this very request (profile and transactionID) — a challenge consumed by
//! another request is refused. What this does not check: a static or a signed dynamic
//! challenge (the front holds those), and that the transactionID is a hash of the key
//! (a profile's choice in the front's configuration): for such requests the approvers are
//! the gate, and the approval says so.

use crate::acme_proof::ProofError;
use crate::app::App;
use crate::problem::{ApiResult, Problem};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{
    ApprovalRequest, ApprovalToFile, AuditOutcome, CertificateSource, FileOutcome, Job,
    NewAuditEvent, PendingProtocol, ScepPendingRecord, ScepPendingStatus, StoreError,
};
use strongroom_types::RequestedName;
use strongroom_wire::{IssuanceRequest, SubjectKey};

/// Kind of the approval request filed for a pending SCEP enrolment.
pub const SCEP_ENROL: &str = "scep.enrol";
/// Kind of the approval request filed for a pending EST enrolment.
pub const EST_ENROL: &str = "est.enrol";

/// Whether an approval kind is an enrolment of this module's.
pub fn is_enrolment(kind: &str) -> bool {
    kind == SCEP_ENROL || kind == EST_ENROL
}

/// The names a row's protocol gives its approval, audit actions, owner and source.
fn protocol_of(row: &ScepPendingRecord) -> (&'static str, &'static str, CertificateSource) {
    match row.protocol {
        PendingProtocol::Scep => ("scep", SCEP_ENROL, CertificateSource::Scep),
        PendingProtocol::Est => ("est", EST_ENROL, CertificateSource::Est),
    }
}

/// Payload of an `scep.approve` job and of an [`SCEP_ENROL`] approval's `pending_id`
/// (stored format: the front's `scep_pending_submit` writes the job's).
#[derive(Debug, Clone, Copy, Deserialize)]
struct PendingRef {
    pending_id: i64,
}

/// How the request's challenge was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ChallengeCheck {
    /// A one-time challenge consumed by this request: checked here.
    OneTime(i64),
    /// Not a one-time challenge: the profile's static or a signed dynamic one, which only
    /// the front can check.
    FrontOnly,
    /// An EST request: its caller (an EST user, a device certificate, a current
    /// certificate) was authenticated by the front; its challengePassword, if any, is a
    /// TLS channel binding only the front could check.
    EstCaller,
}

impl ChallengeCheck {
    fn describe(&self) -> String {
        match self {
            ChallengeCheck::OneTime(id) => {
                format!("one-time challenge {id}, consumed by this request (checked by control)")
            }
            ChallengeCheck::FrontOnly => {
                "the profile's static or a signed dynamic challenge (checked by the front only)"
                    .into()
            }
            ChallengeCheck::EstCaller => {
                "an EST caller authenticated by the front (user or client certificate; the front only)"
                    .into()
            }
        }
    }
}

/// What control established from the stored request itself.
#[derive(Debug)]
struct Evidence {
    csr: Vec<u8>,
    names: Vec<RequestedName>,
    subject: String,
    challenge: ChallengeCheck,
    approvals_required: i64,
}

fn refused(why: impl Into<String>) -> ProofError {
    ProofError::Refused(why.into())
}

fn store_trouble(what: &str) -> impl FnOnce(StoreError) -> ProofError + '_ {
    move |e| match e {
        StoreError::NotFound(_) => ProofError::Refused(format!("{what}: {e}")),
        other => ProofError::Unavailable(format!("{what}: {other}")),
    }
}

/// Checks a pending row's request as if a stranger had sent it.
async fn evidence(app: &App, row: &ScepPendingRecord) -> Result<Evidence, ProofError> {
    let csr = row
        .csr
        .clone()
        .filter(|_| row.status == ScepPendingStatus::Pending)
        .ok_or_else(|| refused(format!("enrolment request {} is no longer pending", row.id)))?;
    // Verifies the CSR's signature: the device holds the key it asks a certificate for.
    let parsed = strongroom_x509::parse_csr(&csr)
        .map_err(|e| refused(format!("the stored CSR does not verify: {e}")))?;
    let check = match row.protocol {
        PendingProtocol::Est => ChallengeCheck::EstCaller,
        PendingProtocol::Scep => scep_challenge(app, row, &csr).await?,
    };
    let profile = app
        .store
        .profile(&row.profile)
        .await
        .map_err(store_trouble("the profile"))?;
    Ok(Evidence {
        names: parsed.names.clone(),
        subject: parsed.subject.to_string(),
        csr,
        challenge: check,
        approvals_required: profile.approvals_required,
    })
}

/// A SCEP request's challenge: a one-time challenge must have been consumed by it.
async fn scep_challenge(
    app: &App,
    row: &ScepPendingRecord,
    csr: &[u8],
) -> Result<ChallengeCheck, ProofError> {
    let challenge = match strongroom_scep::challenge_password(csr) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(refused("the stored CSR carries no challengePassword")),
        Err(e) => return Err(refused(format!("the CSR's challengePassword: {e}"))),
    };
    Ok(
        match app
            .store
            .scep_challenge_use(challenge.expose())
            .await
            .map_err(store_trouble("the one-time challenges"))?
        {
            None => ChallengeCheck::FrontOnly,
            Some((id, profile, Some(tx)))
                if profile == row.profile.as_str() && tx == row.transaction_id =>
            {
                ChallengeCheck::OneTime(id)
            }
            // Security: the challenge is a one-time challenge this request did not consume
            // (another request did, or nobody: the front would have had to consume it).
            Some((id, _, _)) => {
                return Err(refused(format!(
                    "one-time challenge {id} was not consumed by this request"
                )))
            }
        },
    )
}

/// Records a refusal on the row (the device then gets FAILURE) and audits it.
async fn reject_row(app: &App, row: &ScepPendingRecord, actor: &str, why: &str) {
    let (protocol, _, _) = protocol_of(row);
    let outcome = ScepPendingStatus::Rejected { reason: why.into() };
    match app
        .store
        .decide_scep_pending(row.id, &outcome, app.now())
        .await
    {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => {
            tracing::warn!(pending = row.id, error = %e, "cannot mark an enrolment request rejected")
        }
    }
    if let Err(p) = app
        .audit(
            actor,
            &format!("{protocol}.enrol.reject"),
            &format!("{protocol}-request:{}", row.id),
            AuditOutcome::Denied,
            format!(
                "profile={} transaction={} {why}",
                row.profile, row.transaction_id
            ),
        )
        .await
    {
        tracing::error!(detail = %p.detail, "cannot audit a rejected enrolment request");
    }
}

/// Runs an `scep.approve` job: files the approval request for the row, once.
pub async fn file(app: &App, job: &Job) -> Result<(), ProofError> {
    let PendingRef { pending_id } = serde_json::from_str(&job.payload)
        .map_err(|e| refused(format!("scep.approve payload: {e}")))?;
    let row = app
        .store
        .scep_pending(pending_id)
        .await
        .map_err(store_trouble("the enrolment request"))?;
    if row.status != ScepPendingStatus::Pending || row.approval_id.is_some() {
        return Ok(());
    }
    let (protocol, kind, _) = protocol_of(&row);
    let actor = format!("{protocol}:{}", row.profile);
    let ev = match evidence(app, &row).await {
        Ok(ev) => ev,
        Err(ProofError::Refused(why)) => {
            reject_row(app, &row, "control", &why).await;
            return Err(ProofError::Refused(why));
        }
        Err(other) => return Err(other),
    };
    let payload = json!({
        "pending_id": row.id,
        "protocol": protocol,
        "profile": row.profile.as_str(),
        "transaction_id": row.transaction_id,
        "subject": ev.subject,
        "names": ev.names.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "signer_fingerprint": row.signer_fingerprint,
        "challenge": ev.challenge.describe(),
    })
    .to_string();
    let now = app.now();
    // At least one approver: a request reaches here only for a profile that needs them,
    // and a front that queued one for a profile that does not gets one anyway.
    let required = ev.approvals_required.max(1);
    let filed = app
        .store
        .file_scep_approval(
            row.id,
            &ApprovalToFile {
                kind,
                payload: &payload,
                requested_by: &actor,
                required,
                expires_at: now + app.config.approvals.ttl_secs,
            },
            now,
        )
        .await
        .map_err(store_trouble("filing the approval"))?;
    if let FileOutcome::Filed(approval) = filed {
        tracing::info!(pending = row.id, approval, profile = %row.profile, protocol, "enrolment waits for approval");
        app.audit(
            &actor,
            "approval.request",
            &format!("approval:{approval}"),
            AuditOutcome::Ok,
            format!(
                "{kind}, {required} approval(s) needed; {protocol}-request:{} transaction={}",
                row.id, row.transaction_id
            ),
        )
        .await
        .map_err(|p| ProofError::Unavailable(p.detail))?;
    }
    Ok(())
}

/// The pending row an [`SCEP_ENROL`] approval names.
async fn row_of(app: &App, r: &ApprovalRequest) -> ApiResult<ScepPendingRecord> {
    let PendingRef { pending_id } = serde_json::from_str(&r.payload).map_err(Problem::internal)?;
    Ok(app.store.scep_pending(pending_id).await?)
}

/// Issues an approved enrolment (`actor`: "scep:P (approved by bob, carol)").
pub async fn execute(app: &App, actor: &str, r: &ApprovalRequest) -> ApiResult<Value> {
    let row = row_of(app, r).await?;
    let (protocol, _, source) = protocol_of(&row);
    let target = format!("{protocol}-request:{}", row.id);
    // Checked again: time passed, a challenge or the profile may have changed.
    let ev = match evidence(app, &row).await {
        Ok(ev) => ev,
        Err(ProofError::Refused(why)) => {
            reject_row(app, &row, actor, &why).await;
            return Err(Problem::conflict(why));
        }
        Err(ProofError::Unavailable(why)) => return Err(Problem::internal(why)),
    };
    let request = IssuanceRequest {
        profile: row.profile.clone(),
        // Only the key and the names reach the certificate; the profile decides the rest.
        subject_key: SubjectKey::CsrKeyAndNames(ev.csr),
        names: ev.names,
        validity_secs: None,
    };
    let issued = match app.signer.issue_certificate(request).await {
        Ok(c) => c,
        Err(e) => {
            let p = Problem::from(e);
            let permanent = p.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY
                || p.status == axum::http::StatusCode::BAD_REQUEST;
            if permanent {
                reject_row(
                    app,
                    &row,
                    actor,
                    &format!("the policy refused: {}", p.detail),
                )
                .await;
            } else {
                app.audit(
                    actor,
                    &format!("{protocol}.certificate.issue"),
                    &target,
                    AuditOutcome::Failed,
                    &p.detail,
                )
                .await?;
            }
            return Err(p);
        }
    };
    let record = record_issued(
        &issued,
        Provenance {
            profile: row.profile.to_string(),
            source,
            owner: format!("{protocol}:{}", row.profile),
            team: None,
            tags: vec![protocol.into()],
            replaces: None,
        },
    )?;
    let detail = format!(
        "profile={} serial={} transaction={} {target} approval:{} journal {}",
        row.profile, record.serial, row.transaction_id, r.id, issued.journal_seq
    );
    let event_actor = actor.to_string();
    let id = app
        .store
        .insert_certificate_audited(
            &record,
            move |id| NewAuditEvent {
                actor: event_actor,
                action: format!("{protocol}.certificate.issue"),
                target: format!("certificate:{id}"),
                outcome: AuditOutcome::Ok,
                detail,
            },
            app.now(),
        )
        .await?;
    app.metrics.issued.fetch_add(1, Ordering::Relaxed);
    app.store
        .decide_scep_pending(
            row.id,
            &ScepPendingStatus::Issued { certificate_id: id },
            app.now(),
        )
        .await?;
    if let Err(p) =
        crate::revocation::presign(app, &record.issuer, vec![record.serial.clone()]).await
    {
        tracing::warn!(detail = %p.detail, "could not pre-sign the OCSP response; the front will on first request");
    }
    tracing::info!(
        pending = row.id,
        certificate = id,
        protocol,
        "enrolment approved and issued"
    );
    Ok(
        json!({"certificate": id, "serial": record.serial.to_string(), format!("{protocol}_request"): row.id}),
    )
}

/// Marks the row of a rejected [`SCEP_ENROL`] approval rejected (the device's next poll
/// gets FAILURE).
pub async fn rejected(app: &App, r: &ApprovalRequest) -> ApiResult<()> {
    let row = row_of(app, r).await?;
    let (who, why) = r
        .decisions
        .iter()
        .rev()
        .find(|(_, d, _)| d == "reject")
        .map(|(who, _, comment)| (who.clone(), format!("rejected by {who}: {comment}")))
        .unwrap_or_else(|| (format!("approval:{}", r.id), "rejected".into()));
    reject_row(app, &row, &who, &why).await;
    Ok(())
}
