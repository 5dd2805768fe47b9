//! The audit log: query, export (JSON lines, one [`strongroom_types::audit::AuditEvent`]
//! per line, verifiable offline with `strongroom audit verify FILE`), verify.

use crate::app::App;
use crate::auth::Principal;
use crate::input::Params;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_types::audit::ExportedCheckpoint;
use strongroom_types::CaId;
use strongroom_wire::CheckpointRequest;

/// Query of `GET /audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// Events, newest first.
pub async fn query(
    State(app): State<App>,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 1000"));
    }
    for (f, v) in [("actor", &q.actor), ("action", &q.action)] {
        if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > 255) {
            return Err(Problem::bad_request(format!(
                "{f} must be 1 to 255 characters"
            )));
        }
    }
    let events = app
        .store
        .audit_query(q.actor.as_deref(), q.action.as_deref(), q.before, limit)
        .await?;
    let next = if events.len() == limit as usize {
        events.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(json!({"items": events, "next_before": next})))
}

/// Query of the export route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// A range of the chain (default: all of it) as JSON lines.
pub async fn export(
    State(app): State<App>,
    Params(q): Params<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let (head, _) = app.store.audit_head().await?;
    let from = q.from.unwrap_or(1);
    let to = q.to.unwrap_or(head).min(head);
    if from < 1 || to < from.saturating_sub(1) {
        return Err(Problem::bad_request(
            "from must be at least 1 and to at least from",
        ));
    }
    let mut out = String::new();
    let mut next = from;
    while next <= to {
        let batch = app.store.audit_events(next, (next + 999).min(to)).await?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            out.push_str(&serde_json::to_string(e).map_err(Problem::internal)?);
            out.push('\n');
        }
        next = batch.last().map(|e| e.seq + 1).unwrap_or(to + 1);
    }
    for (_, signed) in app.store.checkpoints(from, to).await? {
        out.push_str(&format!("{{\"checkpoint\":{signed}}}\n"));
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out))
}

/// Asks the signer for a checkpoint over the current head and stores it; `None` when
/// the head is already covered or the chain is empty.
pub async fn checkpoint_now(app: &App, ca: &CaId) -> ApiResult<Option<Value>> {
    let (seq, hash) = app.store.audit_head().await?;
    if seq == 0 || app.store.last_checkpoint_seq().await? >= seq {
        return Ok(None);
    }
    let request = CheckpointRequest {
        ca: ca.clone(),
        seq: seq as u64,
        head_hash: hash.clone(),
    };
    let signed = app.signer.sign_audit_checkpoint(request).await?;
    let exported = ExportedCheckpoint {
        statement: signed.statement,
        signature: hex::encode(&signed.signature),
        certificate: hex::encode(&signed.certificate),
        chain: signed.chain.iter().map(hex::encode).collect(),
    };
    let text = serde_json::to_string(&exported).map_err(Problem::internal)?;
    app.store
        .insert_checkpoint(seq, &hash, &text, app.now())
        .await?;
    Ok(Some(
        json!({"seq": seq, "head_hash": hash, "checkpoint": exported}),
    ))
}

/// Signs a checkpoint now (with `audit.checkpoint_ca`).
pub async fn create_checkpoint(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ca = app.config.audit.checkpoint_ca.clone().ok_or_else(|| {
        Problem::conflict("no audit.checkpoint_ca is configured; set it in control.toml")
    })?;
    match checkpoint_now(&app, &ca).await? {
        Some(v) => {
            app.audit_ok(
                &who,
                "audit.checkpoint",
                &format!("audit:{}", v["seq"]),
                "signed by the signer's audit key",
            )
            .await?;
            Ok((StatusCode::CREATED, Json(v)))
        }
        None => Err(Problem::conflict(
            "the chain head is already covered by a checkpoint",
        )),
    }
}

/// The newest checkpoints (at most 100), newest first.
pub async fn list_checkpoints(State(app): State<App>) -> ApiResult<Json<Value>> {
    let (head, _) = app.store.audit_head().await?;
    let mut all = app.store.checkpoints((head - 100_000).max(1), head).await?;
    all.reverse();
    all.truncate(100);
    let items: Vec<Value> = all
        .iter()
        .map(|(seq, signed)| json!({"seq": seq, "checkpoint": serde_json::from_str::<Value>(signed).unwrap_or(Value::Null)}))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Runs forever: a checkpoint every `checkpoint_interval_secs` when the chain has grown.
pub async fn checkpoint_loop(app: App, ca: CaId) {
    let every = std::time::Duration::from_secs(app.config.audit.checkpoint_interval_secs);
    loop {
        tokio::time::sleep(every).await;
        match checkpoint_now(&app, &ca).await {
            Ok(Some(v)) => tracing::info!(seq = %v["seq"], "audit checkpoint signed"),
            Ok(None) => {}
            Err(p) => {
                tracing::warn!(detail = %p.detail, "audit checkpoint failed; retrying next interval")
            }
        }
    }
}

/// Verifies the whole stored chain.
pub async fn verify(State(app): State<App>) -> ApiResult<Json<Value>> {
    Ok(Json(match app.store.verify_audit().await? {
        Ok(head) => json!({"ok": true, "events": head}),
        Err(b) => json!({"ok": false, "first_bad_event": b.seq, "why": b.why}),
    }))
}
