//! ACME garbage collection and recovery. At start, validations a stopped front left
//! `processing` are run again (their outcome was never recorded; a challenge must not stay
//! `processing` for good). Every minute, expired nonces are deleted, orders and
//! authorizations past their expiry are closed (`invalid` / `expired`), and orders whose
//! finalize began ten minutes ago and never ended become `invalid` (logged for the
//! operator), so stale state neither piles up, stays usable, nor keeps clients waiting.
//!
//! In: the store and the clock. Out: updated rows; a log line when anything changed.

use super::order::start_validation;
use super::Shared;
use std::time::Duration;

/// Most interrupted validations resumed in one start (the rest follow as orders are retried
/// or expire).
const RESUME_LIMIT: i64 = 1000;

/// An order still `processing` this long after its finalize began lost its front
/// mid-issuance (issuance takes well under a second; recording retries for seconds).
const STUCK_AFTER_SECS: i64 = 600;

/// Starts the collector (once per router).
pub fn spawn(acme: Shared) {
    tokio::spawn(async move {
        resume_validations(&acme).await;
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match acme.app.store.expire_acme(acme.app.now()).await {
                Ok((0, 0, 0)) => {}
                Ok((nonces, orders, authz)) => {
                    tracing::info!(nonces, orders, authz, "ACME state expired")
                }
                Err(e) => tracing::warn!(error = %e, "ACME garbage collection failed"),
            }
            match acme
                .app
                .store
                .fail_stuck_acme_orders(acme.app.now() - STUCK_AFTER_SECS)
                .await
            {
                Ok(ids) => {
                    for order in ids {
                        tracing::error!(order, "an ACME order was left processing by a stopped front and is now invalid; if the signer signed its certificate, it is in the signer's journal but not in the inventory");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for interrupted ACME issuance"),
            }
        }
    });
}

/// Runs again every validation left `processing`. Another live front may be running one
/// of them too: both record through the same guarded move, so the first outcome stands.
async fn resume_validations(acme: &Shared) {
    let store = &acme.app.store;
    let pending = match store.acme_challenges_processing(RESUME_LIMIT).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for interrupted ACME validations");
            return;
        }
    };
    let mut resumed = 0;
    for c in &pending {
        let started = async {
            let z = store.acme_authorization(c.authz_id).await.ok()?;
            let account = store.acme_account(z.account_id).await.ok()?;
            start_validation(acme, c, &z, &account).ok()
        }
        .await;
        match started {
            Some(_) => resumed += 1,
            None => tracing::warn!(challenge = c.id, "cannot resume an ACME validation"),
        }
    }
    if resumed > 0 {
        tracing::info!(resumed, "interrupted ACME validations started again");
    }
}
