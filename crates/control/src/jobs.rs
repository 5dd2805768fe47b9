//! The job worker: carries out work that other processes queue in the store's `jobs` table
//! and only control may do: `acme.revoke`, queued by the front when an ACME client revokes
//! a certificate (the front holds no right to revoke; docs/architecture.md, Trust
//! boundaries), and `scep.approve`, queued with a SCEP request that waits for approval
//! ([`crate::scep_enrolment::file`] re-checks it and files the approval request; a request
//! whose approval lapsed is marked rejected on every pass).
//!
//! In: due jobs claimed with a lease, once a second (several control instances on one
//! database share the queue; each job runs on one of them at a time). Payload of
//! `acme.revoke`: [`AcmeRevocation`] (JSON, stored), including the client's signed request.
//! Out: the revocation through [`crate::revoke`] with actor `acme:{account_id}` (or
//! `acme:certificate-key` when the certificate's own key signed the request), and the job
//! completed — also when the certificate was already revoked. A job whose evidence does not
//! hold (bad payload, a reason a subscriber may not give, a signed request that does not
//! verify: [`crate::acme_proof`]) is refused at once, failed for good and audited as
//! `job.refused`; trouble that may pass (the signer or store unavailable, an unknown kind a
//! newer control may know) fails the attempt and the store retries it until `max_attempts`.

use crate::acme_proof::{self, AcmeRevocation, ProofError};
use crate::app::App;
use crate::revoke::{revoke_certificate, RevocationOutcome};
use ring::rand::SecureRandom;
use std::time::Duration;
use strongroom_acme::payload::SUBSCRIBER_REASONS;
use strongroom_store::{AuditOutcome, Job, JobState, StoreError, SCEP_APPROVE_JOB};
use strongroom_types::RevocationReason;

/// Kind of the ACME revocation job.
pub const ACME_REVOKE: &str = "acme.revoke";

/// How long a claimed job is ours; another worker may take it over after that.
const LEASE_SECS: i64 = 120;

/// Pause between polls of an empty queue.
const POLL: Duration = Duration::from_secs(1);

/// Why a job attempt failed (goes to the job's `last_error`; no secrets in it).
#[derive(Debug)]
enum AttemptFailed {
    /// Worth another attempt (the signer or the store was unavailable, ...).
    Retry(String),
    /// Never worth another: the job's evidence does not hold. Failed at once and audited.
    Refused(String),
}
use AttemptFailed::Retry;

/// A name for this worker that no other process shares.
fn worker_name(app: &App) -> String {
    let mut nonce = [0u8; 4];
    // Without randomness the pid alone still tells this process apart on this host.
    let _ = app.rng.fill(&mut nonce);
    format!("control-{}-{}", std::process::id(), hex::encode(nonce))
}

/// Claims and runs due jobs forever; spawned once at start.
pub async fn worker_loop(app: App) {
    let worker = worker_name(&app);
    tracing::info!(worker = %worker, "job worker started");
    loop {
        // SCEP requests whose approval lapsed: the device's next poll gets FAILURE.
        match app.store.reject_lapsed_scep_pending(app.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                requests = n,
                "SCEP requests rejected: their approval expired"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot reject lapsed SCEP requests"),
        }
        match run_due(&app, &worker).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(jobs = n, "jobs run"),
            Err(e) => tracing::warn!(error = %e, "cannot claim jobs; retrying"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs every job due now; returns how many were claimed.
pub async fn run_due(app: &App, worker: &str) -> Result<usize, StoreError> {
    let mut n = 0;
    while let Some(job) = app.store.claim_job(worker, app.now(), LEASE_SECS).await? {
        n += 1;
        match run(app, &job).await {
            Ok(()) => app.store.complete_job(job.id, worker, app.now()).await?,
            Err(AttemptFailed::Refused(why)) => {
                tracing::error!(job = job.id, kind = %job.kind, error = %why, "job refused: its evidence does not hold");
                if let Err(p) = app
                    .audit(
                        "control",
                        "job.refused",
                        &format!("job:{}", job.id),
                        AuditOutcome::Denied,
                        format!("{}: {why}", job.kind),
                    )
                    .await
                {
                    tracing::error!(detail = %p.detail, "cannot audit a refused job");
                }
                app.store
                    .refuse_job(job.id, worker, &why, app.now())
                    .await?;
            }
            Err(Retry(why)) => {
                let now = app.now();
                // Back off a little more with each attempt, at most ten minutes.
                let retry_at = now + (30 * job.attempts).clamp(30, 600);
                match app
                    .store
                    .fail_job(job.id, worker, &why, retry_at, now)
                    .await?
                {
                    JobState::Failed => {
                        tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %why, "job failed for good")
                    }
                    _ => {
                        tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %why, "job attempt failed; will retry")
                    }
                }
            }
        }
    }
    Ok(n)
}

async fn run(app: &App, job: &Job) -> Result<(), AttemptFailed> {
    match job.kind.as_str() {
        ACME_REVOKE => acme_revoke(app, job).await,
        SCEP_APPROVE_JOB => crate::scep_enrolment::file(app, job)
            .await
            .map_err(|e| match e {
                ProofError::Refused(why) => AttemptFailed::Refused(format!("{SCEP_APPROVE_JOB}: {why}")),
                ProofError::Unavailable(why) => Retry(format!("{SCEP_APPROVE_JOB}: {why}")),
            }),
        other => Err(Retry(format!(
            "unknown job kind {other:?}: this control knows only {ACME_REVOKE} and {SCEP_APPROVE_JOB}"
        ))),
    }
}

async fn acme_revoke(app: &App, job: &Job) -> Result<(), AttemptFailed> {
    let p: AcmeRevocation = serde_json::from_str(&job.payload)
        .map_err(|e| AttemptFailed::Refused(format!("{ACME_REVOKE} payload: {e}")))?;
    // Only the reasons a subscriber may give over ACME (the front refuses the others
    // too): a compromised front cannot put a certificate on hold or claim a CA compromise.
    let reason = RevocationReason::from_code(p.reason)
        .filter(|_| SUBSCRIBER_REASONS.contains(&p.reason))
        .ok_or_else(|| {
            AttemptFailed::Refused(format!(
                "{ACME_REVOKE}: reason code {} is not one an ACME subscriber may give (0, 1, 3, 4, 5, 9)",
                p.reason
            ))
        })?;
    // The client's own signed request, checked again here: the front may queue jobs, but
    // only a proof control verifies itself makes it revoke.
    let actor = acme_proof::verify(app, &p).await.map_err(|e| match e {
        ProofError::Refused(why) => AttemptFailed::Refused(format!("{ACME_REVOKE}: {why}")),
        ProofError::Unavailable(why) => Retry(format!("{ACME_REVOKE}: {why}")),
    })?;
    match revoke_certificate(app, &actor, p.certificate_id, reason, None).await {
        Ok(RevocationOutcome::Revoked) => {
            tracing::info!(job = job.id, certificate = p.certificate_id, %reason, actor = %actor, "certificate revoked for an ACME client");
            Ok(())
        }
        Ok(RevocationOutcome::AlreadyRevoked) => {
            tracing::info!(
                job = job.id,
                certificate = p.certificate_id,
                "already revoked; job done"
            );
            Ok(())
        }
        Err(p) => Err(Retry(format!("{ACME_REVOKE}: {} ({})", p.detail, p.kind))),
    }
}
