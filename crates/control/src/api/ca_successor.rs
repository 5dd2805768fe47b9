//! `PUT /api/v1/cas/{id}/successor`: names the CA that takes over from a CA, or clears it.
//!
//! In: a CA id in the path and `{"successor": "ID" | null}`. Out: the link as stored and an
//! audit event `ca.successor.set`. SCEP devices fetch the successor before a rollover
//! (GetNextCACert, docs/scep.md); the signer answers only for a successor it holds under
//! the same root. Naming one issues nothing and changes no certificate, so it needs
//! `ca:manage` and no approval.

use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use strongroom_store::AuditOutcome;
use strongroom_types::CaId;

/// Body of `PUT /cas/{id}/successor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSuccessor {
    /// The CA that takes over, or `null` to clear the link.
    successor: Option<CaId>,
}

/// Names or clears a CA's successor.
pub async fn put(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(req): Body<SetSuccessor>,
) -> ApiResult<Json<Value>> {
    let id: CaId = id
        .parse()
        .map_err(|e| Problem::bad_request(format!("CA id {id:?}: {e}")))?;
    app.store
        .set_ca_successor(&id, req.successor.as_ref())
        .await?;
    let named = req.successor.as_ref().map(CaId::as_str);
    app.audit(
        &who.actor(),
        "ca.successor.set",
        &format!("ca:{id}"),
        AuditOutcome::Ok,
        match named {
            Some(s) => format!("successor {s}"),
            None => "successor cleared".to_string(),
        },
    )
    .await?;
    Ok(Json(json!({"id": id.as_str(), "successor": named})))
}
