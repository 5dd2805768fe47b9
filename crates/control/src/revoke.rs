//! Revoking one certificate: the single path every revocation takes, whether an operator
//! asked through the REST API or an ACME client through a job queued by the front.
//!
//! In: an inventory id, an RFC 5280 reason, an optional invalidity date and the audit actor
//! (`alice (key …)`, `acme:7`). Out: the signer's record of the revocation (CRLs
//! come from its records), the store's, the revoked counter, a re-signed OCSP response, a
//! CRL request and an audit event — or a problem, with nothing recorded in the store when
//! the signer refused. It does not check who may revoke: callers do.

use crate::app::App;
use crate::problem::{ApiResult, Problem};
use std::sync::atomic::Ordering;
use strongroom_store::{AuditOutcome, RevocationRow};
use strongroom_types::RevocationReason;
use strongroom_wire::RevocationRecord;

/// What a revocation request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// Revoked now.
    Revoked,
    /// It was revoked before; nothing was done.
    AlreadyRevoked,
}

/// Revokes certificate `id` for `reason` in the name of `actor`.
pub async fn revoke_certificate(
    app: &App,
    actor: &str,
    id: i64,
    reason: RevocationReason,
    invalidity_date: Option<i64>,
) -> ApiResult<RevocationOutcome> {
    // removeFromCRL only appears in delta CRLs; every caller refuses it first, and this
    // check keeps a new caller from recording it.
    if reason == RevocationReason::RemoveFromCrl {
        return Err(Problem::bad_request(
            "reason removeFromCRL only appears in delta CRLs; it cannot start a revocation",
        ));
    }
    let c = app.store.certificate(id).await?;
    if c.revoked {
        return Ok(RevocationOutcome::AlreadyRevoked);
    }
    let now = app.now();
    app.signer
        .record_revocation(RevocationRecord {
            ca: c.certificate.issuer.clone(),
            serial: c.certificate.serial.clone(),
            reason,
            revoked_at: now,
            invalidity_date,
        })
        .await?;
    app.store
        .revoke_certificate(&RevocationRow {
            certificate_id: id,
            reason,
            revoked_at: now,
            invalidity_date,
            revoked_by: actor.to_string(),
        })
        .await?;
    app.metrics.revoked.fetch_add(1, Ordering::Relaxed);
    // The revoked response at once; the CRL within the debounce window.
    if let Err(p) = crate::revocation::presign(
        app,
        &c.certificate.issuer,
        vec![c.certificate.serial.clone()],
    )
    .await
    {
        tracing::warn!(detail = %p.detail, "could not re-sign the OCSP response; the refresh pass will retry");
    }
    match crate::revocation::scope_of_revocation(app, &c.certificate.issuer, &c.certificate.serial)
        .await
    {
        Ok(scope) => app.crl_queue.request(scope),
        Err(p) => {
            tracing::warn!(detail = %p.detail, "cannot tell which CRL to regenerate; the refresh pass will")
        }
    }
    app.audit(
        actor,
        "certificate.revoke",
        &format!("certificate:{id}"),
        AuditOutcome::Ok,
        format!("serial {} reason {reason}", c.certificate.serial),
    )
    .await?;
    app.stats.changed();
    Ok(RevocationOutcome::Revoked)
}
