//! revokeCert (RFC 8555 §7.6) and ARI renewalInfo (RFC 9773).
//!
//! In: a verified revocation request signed by the account that obtained the certificate,
//! by an account holding valid authorizations for all of its names, or by the
//! certificate's own key; an ARI certID. Out: a queued `acme.revoke` job that
//! control carries out (the front may not revoke: docs/architecture.md, Trust boundaries) and, once the job is
//! done and OCSP says `revoked` (checked by [`crate::app::App::show_revoked`]), `200` — or
//! `503` with Retry-After when that did not happen within `acme.revocation_wait_secs`
//! (the job stays queued), `alreadyRevoked` when the store already records the
//! revocation; or the suggested renewal window.

use super::account::audit;
use super::http::{finish, rfc3339, verify, Answer, KeyRule, Refusal, Reply};
use super::{Acme, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::{Duration, Instant};
use strongroom_acme::challenge::{renewal_window, AriCertId};
use strongroom_acme::payload::{Revoke, SUBSCRIBER_REASONS};
use strongroom_acme::{b64, Problem, ProblemType};
use strongroom_store::{CertificateRecord, JobState};

/// How often the job's state is read while revokeCert waits for control.
const JOB_POLL: Duration = Duration::from_millis(100);

/// POST /acme/revoke-cert.
pub async fn revoke(State(acme): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = revoke_inner(&acme, &headers, &body).await;
    finish(&acme, outcome).await
}

async fn revoke_inner(acme: &Acme, headers: &HeaderMap, body: &Bytes) -> Answer {
    let v = verify(acme, "/acme/revoke-cert", headers, body, KeyRule::Either).await?;
    let req: Revoke = v.jws.payload_as()?;
    let reason = req.reason.unwrap_or(0);
    if !SUBSCRIBER_REASONS.contains(&reason) {
        return Err(Problem::new(
            ProblemType::BadRevocationReason,
            format!("reason {reason} is not one a subscriber may give; use 0, 1, 3, 4, 5 or 9"),
        )
        .into());
    }
    let der = b64::decode(&req.certificate, "certificate").map_err(Problem::malformed)?;
    let fingerprint = strongroom_x509::fingerprint(&der);
    let cert = match acme
        .app
        .store
        .certificate_by_fingerprint(&fingerprint)
        .await
    {
        Ok(c) => c,
        Err(strongroom_store::StoreError::NotFound(_)) => {
            return Err(Problem::malformed("this CA did not issue that certificate")
                .with_status(404)
                .into())
        }
        Err(e) => return Err(e.into()),
    };
    let (actor, account_id) = match &v.account {
        Some(account) => {
            if !acme
                .app
                .store
                .acme_account_may_revoke(account.id, cert.id, acme.app.now())
                .await?
            {
                return Err(Problem::unauthorized(
                    "this account neither obtained that certificate nor holds valid \
                     authorizations for all of its names",
                )
                .into());
            }
            (format!("acme:{}", account.id), Some(account.id))
        }
        None => {
            let spki = strongroom_x509::acme_alpn::subject_public_key_info(&der)
                .map_err(|e| Problem::malformed(format!("the certificate does not parse: {e}")))?;
            if spki != v.key.to_spki_der() {
                return Err(Problem::unauthorized(
                    "the request is signed neither by an account nor by the certificate's key",
                )
                .into());
            }
            ("acme:certificate-key".to_string(), None)
        }
    };
    if cert.revoked {
        return Err(Problem::new(
            ProblemType::AlreadyRevoked,
            "the certificate is already revoked",
        )
        .into());
    }
    // The client's signed request travels with the job: control verifies it again before
    // it revokes (a compromised front could otherwise queue any revocation).
    let jws = std::str::from_utf8(body).map_err(|_| Problem::malformed("the JWS is not UTF-8"))?;
    let payload =
        json!({"certificate_id": cert.id, "reason": reason, "account_id": account_id, "jws": jws})
            .to_string();
    let job = acme
        .app
        .store
        .enqueue_job("acme.revoke", &payload, acme.app.now(), 5, acme.app.now())
        .await?;
    audit(
        acme,
        actor,
        "acme.certificate.revoke-request",
        format!("certificate:{}", cert.id),
        format!("reason={reason}"),
    )
    .await;
    in_force(acme, job, &cert).await?;
    Ok(Reply::empty())
}

/// Waits until control has carried out job `job` and OCSP says `revoked` for `cert`: a
/// client told `200` has a revocation relying parties see from the next request on. Past
/// the deadline (control stopped, the signer slow), `503` with Retry-After: the job stays
/// queued and takes effect when control runs it; the retry then gets `alreadyRevoked`.
async fn in_force(acme: &Acme, job: i64, cert: &CertificateRecord) -> Result<(), Refusal> {
    let wait = acme.cfg.revocation_wait_secs;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let not_yet = |why: &str| {
        tracing::warn!(
            job,
            certificate = cert.id,
            why,
            "revocation not in force before the deadline; answering 503"
        );
        Refusal {
            problem: Problem::internal(format!(
                "the revocation is queued and will take effect, but is not in force yet \
                 ({why}); until then OCSP and CRLs do not show it. Retry later: \
                 alreadyRevoked then confirms it"
            ))
            .with_status(503),
            retry_after: Some(wait),
        }
    };
    loop {
        match acme.app.store.job_state(job).await {
            Ok(JobState::Done) => break,
            Ok(JobState::Failed) => {
                // Control refused the evidence the front accepted, or gave up: never 200.
                tracing::error!(
                    job,
                    certificate = cert.id,
                    "control failed the acme.revoke job"
                );
                return Err(Problem::internal(
                    "control did not carry out the revocation; the certificate is not revoked",
                )
                .into());
            }
            Ok(JobState::Queued | JobState::Running) => {}
            Err(e) => {
                tracing::warn!(job, error = %e, "cannot read the revocation job's state");
            }
        }
        if Instant::now() >= deadline {
            return Err(not_yet("control has not carried out the revocation job"));
        }
        tokio::time::sleep(JOB_POLL).await;
    }
    let c = &cert.certificate;
    // Done means revoked now or before (by an operator, or a concurrent request's job).
    match acme.app.store.certificate(cert.id).await {
        Ok(now) if now.revoked => {}
        Ok(_) => {
            tracing::error!(
                job,
                certificate = cert.id,
                "acme.revoke job done but the certificate is not revoked"
            );
            return Err(Problem::internal(
                "control finished the revocation job but the certificate is not revoked",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    acme.app
        .show_revoked(&c.issuer, &c.serial)
        .await
        .map_err(|why| not_yet(&why))
}

/// GET /acme/renewal-info/{certID}.
pub async fn renewal_info(State(acme): State<Shared>, Path(cert_id): Path<String>) -> Response {
    match renewal_info_inner(&acme, &cert_id).await {
        Ok(v) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "21600"),
            ],
            v.to_string(),
        )
            .into_response(),
        Err(p) => finish(&acme, Err(p.into())).await,
    }
}

async fn renewal_info_inner(acme: &Acme, cert_id: &str) -> Result<serde_json::Value, Problem> {
    let id = AriCertId::parse(cert_id)?;
    let not_found =
        || Problem::malformed("no certificate of this CA has that certID").with_status(404);
    let serial = id.serial().ok_or_else(not_found)?;
    let cas = acme.app.cas().await;
    let ca = cas
        .iter()
        .find(|c| c.cert.key_id == id.key_identifier)
        .ok_or_else(not_found)?;
    let cert = acme
        .app
        .store
        .certificate_by_serial(&ca.id, &serial)
        .await
        .map_err(|_| not_found())?;
    let c = &cert.certificate;
    let (start, end) = if cert.revoked {
        // Revoked: renew now.
        let now = acme.app.now();
        (now - 86_400, now)
    } else {
        let [s, e] = c
            .profile
            .as_deref()
            .and_then(|p| acme.cfg.profile(p))
            .map(|p| p.renewal_window)
            .unwrap_or([0.66, 0.75]);
        renewal_window(c.not_before, c.not_after, s, e)
    };
    Ok(json!({"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}}))
}
