//! The job worker: carries out work that other processes queue in the store's `jobs` table
//! and only control may do. Today that is `acme.revoke`, queued by the front when an ACME
//! client revokes a certificate (the front holds no right to revoke; ARCHITECTURE.md §1).
//!
//! In: due jobs claimed with a lease, once a second (several control instances on one
//! database share the queue; each job runs on one of them at a time). Payload of
//! `acme.revoke` (JSON, stored): `{"certificate_id": i64, "reason": u8 (RFC 5280 CRLReason
//! code), "account_id": i64 | null}`. Out: the revocation through [`crate::revoke`] with
//! actor `acme:{account_id}` (or `acme:certificate-key` when the certificate's own
//! key signed the request), and the job completed — also when the certificate was already
//! revoked. A payload that cannot be carried out, or an unknown kind, fails the attempt
//! with a `last_error` that says why; the store retries it until its `max_attempts` (a
//! newer control on another node may know a kind this one does not).
//!
//! Checked again here, not only in the front: the reason is one a subscriber may give
//! (0, 1, 3, 4, 5, 9) and, for an account, that one of its orders obtained the
//! certificate. A request signed with the certificate's key cannot be re-checked (the job
//! carries no signature); the front verified it.

use crate::app::App;
use crate::revoke::{revoke_certificate, RevocationOutcome};
use ring::rand::SecureRandom;
use serde::Deserialize;
use std::time::Duration;
use strongroom_store::{Job, JobState, StoreError};
use strongroom_types::RevocationReason;

/// Kind of the ACME revocation job.
pub const ACME_REVOKE: &str = "acme.revoke";

/// How long a claimed job is ours; another worker may take it over after that.
const LEASE_SECS: i64 = 120;

/// Pause between polls of an empty queue.
const POLL: Duration = Duration::from_secs(1);

/// Payload of [`ACME_REVOKE`] (stored format: change only compatibly with the front).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeRevocation {
    /// Inventory id of the certificate.
    pub certificate_id: i64,
    /// RFC 5280 CRLReason code.
    pub reason: u8,
    /// The account that asked, or `None` when the request was signed with the
    /// certificate's own key.
    pub account_id: Option<i64>,
}

/// Why a job attempt failed (goes to the job's `last_error`; no secrets in it).
#[derive(Debug)]
struct AttemptFailed(String);

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
            Err(AttemptFailed(why)) => {
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
        other => Err(AttemptFailed(format!(
            "unknown job kind {other:?}: this control knows only {ACME_REVOKE}"
        ))),
    }
}

async fn acme_revoke(app: &App, job: &Job) -> Result<(), AttemptFailed> {
    let p: AcmeRevocation = serde_json::from_str(&job.payload)
        .map_err(|e| AttemptFailed(format!("{ACME_REVOKE} payload: {e}")))?;
    // Only the reasons a subscriber may give over ACME (the front refuses the others
    // too): a compromised front cannot put a certificate on hold or claim a CA compromise.
    let reason = RevocationReason::from_code(p.reason)
        .filter(|_| [0u8, 1, 3, 4, 5, 9].contains(&p.reason))
        .ok_or_else(|| {
            AttemptFailed(format!(
                "{ACME_REVOKE}: reason code {} is not one an ACME subscriber may give (0, 1, 3, 4, 5, 9)",
                p.reason
            ))
        })?;
    let actor = match p.account_id {
        Some(account) => {
            // The account must have obtained the certificate or hold authorizations for
            // all of its names (checked again here, not only in the front).
            let may = app
                .store
                .acme_account_may_revoke(account, p.certificate_id, app.now())
                .await
                .map_err(|e| AttemptFailed(format!("{ACME_REVOKE}: {e}")))?;
            if !may {
                return Err(AttemptFailed(format!(
                    "{ACME_REVOKE}: ACME account {account} neither obtained certificate {} nor holds authorizations for all of its names",
                    p.certificate_id
                )));
            }
            format!("acme:{account}")
        }
        None => "acme:certificate-key".to_string(),
    };
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
        Err(p) => Err(AttemptFailed(format!(
            "{ACME_REVOKE}: {} ({})",
            p.detail, p.kind
        ))),
    }
}
