//! Health, readiness, version, the OpenAPI document, metrics, and reconciling the
//! inventory with the signer's journal on demand.

use crate::app::App;
use crate::auth::Principal;
use crate::input::Body;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};
use strongroom_wire::CallError;

/// Liveness.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and the signer reports its HSM.
pub async fn ready(State(app): State<App>) -> ApiResult<Json<Value>> {
    app.store.audit_head().await?;
    let h = app.signer.health().await?;
    match h.hsm_degraded {
        None => Ok(Json(json!({
            "status": "ready",
            "policy_version": h.policy_version,
            "cas": h.cas.len(),
        }))),
        Some(why) => Err(Problem::unavailable(format!(
            "the signer's HSM is degraded: {why}"
        ))),
    }
}

/// The HSM token's key objects by PKCS#11 URI (the signer's read-only `KeyInventory`):
/// class, type, sensitive, extractable — never a key value.
pub async fn keys(State(app): State<App>) -> ApiResult<Json<Value>> {
    let (keys, truncated) = app.signer.key_inventory().await?;
    Ok(Json(json!({
        "items": keys.iter().map(|k| json!({
            "uri": k.uri,
            "class": match k.class {
                strongroom_wire::HsmKeyClass::Private => "private",
                strongroom_wire::HsmKeyClass::Secret => "secret",
            },
            "key_type": k.key_type,
            "sensitive": k.sensitive,
            "extractable": k.extractable,
        })).collect::<Vec<_>>(),
        "truncated": truncated,
    })))
}

/// Build version.
pub async fn version() -> Json<Value> {
    Json(json!({"name": "strongroom-control", "version": env!("CARGO_PKG_VERSION"), "api": "v1"}))
}

/// The OpenAPI document.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// How long a scrape waits for the signer's counters before it reports
/// `strongroom_signer_up 0` (a scraper's own timeout is typically 10 s).
const SIGNER_METRICS_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Prometheus metrics: control's own, and the signer's fetched now.
pub async fn metrics(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let (head, _) = app.store.audit_head().await?;
    let now = app.now();
    let expiring = app
        .store
        .count_certificates(&strongroom_store::CertificateFilter {
            revoked: Some(false),
            valid_at: Some(now),
            expiring_before: Some(now + 30 * 86_400),
            ..Default::default()
        })
        .await?;
    let pending = app
        .store
        .approvals(Some(strongroom_store::ApprovalState::Pending), None, 1000)
        .await?
        .len() as i64;
    let unsealed = app
        .store
        .users()
        .await?
        .iter()
        .filter(|u| u.break_glass && u.unsealed_at.is_some())
        .count() as i64;
    // Down, wedged, or its allow-list lacks `Metrics` for control: the scrape reports
    // `strongroom_signer_up 0` rather than wait on the signer or fail.
    let signer = match app.signer.within(SIGNER_METRICS_WITHIN).metrics().await {
        Ok(m) => Some(m),
        Err(e @ CallError::Unexpected(_)) => {
            tracing::warn!(error = %e, "no signer metrics at this scrape");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "no signer metrics at this scrape");
            None
        }
    };
    let text = app.metrics.render(
        &[
            (
                "strongroom_audit_events",
                "Events in the audit chain.",
                head,
            ),
            (
                "strongroom_certificates_expiring_30d",
                "Valid certificates expiring within 30 days.",
                expiring,
            ),
            (
                "strongroom_approvals_pending",
                "Approval requests waiting (first 1000).",
                pending,
            ),
            (
                "strongroom_break_glass_unsealed",
                "1 while the break-glass account has been used and not resealed.",
                unsealed,
            ),
        ],
        signer.as_ref(),
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            strongroom_httpd::metrics::CONTENT_TYPE,
        )],
        text,
    ))
}

/// Compares the signer's journal with the inventory now and records what is missing.
/// Body: `{}` or `{"grace_secs": N}` — compare only journal records at least N seconds old
/// (default 600, 0 to 30 days). Lower it only when no issuance is in flight: a certificate
/// recorded here first makes its requester's own record fail (an ACME order then ends
/// `invalid`; the certificate is kept). Read by hand so that only a JSON object with that
/// one integer passes (`[]` or `null` would pass a derived struct with a default).
pub async fn reconcile(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(body): Body<serde_json::Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    let mut grace = crate::reconcile::GRACE_SECS;
    for (key, value) in &body {
        match (key.as_str(), value.as_i64()) {
            ("grace_secs", Some(g)) if (0..=30 * 86_400).contains(&g) => grace = g,
            ("grace_secs", _) => {
                return Err(Problem::bad_request(
                    "grace_secs must be an integer from 0 to 2592000 (30 days)",
                ))
            }
            _ => {
                return Err(Problem::bad_request(format!(
                    "unknown field {key:?}: the body takes only grace_secs"
                )))
            }
        }
    }
    let report = crate::reconcile::reconcile_once(&app, grace).await?;
    app.audit_ok(
        &who,
        "inventory.reconcile",
        "journal",
        format!(
            "compared {} journal records (grace {grace} s), recorded {} certificates, watermark {}",
            report.compared,
            report.recorded.len(),
            report.watermark
        ),
    )
    .await?;
    Ok(Json(json!({
        "compared": report.compared,
        "recorded": report.recorded,
        "watermark": report.watermark,
    })))
}
