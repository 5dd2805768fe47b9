//! Health, readiness, version, the OpenAPI document and metrics.

use crate::app::App;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use strongroom_wire::{Request, Response};

/// Liveness.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and the signer reports its HSM.
pub async fn ready(State(app): State<App>) -> ApiResult<Json<Value>> {
    app.store.audit_head().await?;
    match app.signer.call(Request::Health).await? {
        Response::Health(h) => match h.hsm_degraded {
            None => Ok(Json(json!({
                "status": "ready",
                "policy_version": h.policy_version,
                "cas": h.cas.len(),
            }))),
            Some(why) => Err(Problem::unavailable(format!(
                "the signer's HSM is degraded: {why}"
            ))),
        },
        other => Err(Problem::internal(format!(
            "unexpected signer answer {other:?}"
        ))),
    }
}

/// Build version.
pub async fn version() -> Json<Value> {
    Json(json!({"name": "strongroom-control", "version": env!("CARGO_PKG_VERSION"), "api": "v1"}))
}

/// The OpenAPI document.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// Prometheus metrics.
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
    let text = app.metrics.render(&[
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
    ]);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
