//! The audit log: query, export (JSON lines, one [`strongroom_types::audit::AuditEvent`]
//! per line, verifiable offline with `strongroom audit verify FILE`), verify.

use crate::app::App;
use crate::input::Params;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

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
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out))
}

/// Verifies the whole stored chain.
pub async fn verify(State(app): State<App>) -> ApiResult<Json<Value>> {
    Ok(Json(match app.store.verify_audit().await? {
        Ok(head) => json!({"ok": true, "events": head}),
        Err(b) => json!({"ok": false, "first_bad_event": b.seq, "why": b.why}),
    }))
}
