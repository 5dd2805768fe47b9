//! Revoking one certificate or many from the inventory.
//!
//! In: a certificate id (or up to 1,000), a reason and, for one, an invalidity date. Out:
//! the revoked certificate's view with its revocation, or each id's outcome. Both go
//! through [`crate::revoke::revoke_certificate`]: the signer first, whose records the CRLs
//! come from, then the store.

use super::{get_one, parse_id};
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use crate::revoke::{revoke_certificate, RevocationOutcome};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_types::RevocationReason;

/// Body of the revoke route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    reason: String,
    #[serde(default)]
    invalidity_date: Option<i64>,
}

fn parse_reason(s: &str) -> Result<RevocationReason, Problem> {
    let r: RevocationReason = s
        .parse()
        .map_err(|e| Problem::bad_request(format!("reason: {e}")))?;
    if r == RevocationReason::RemoveFromCrl {
        return Err(Problem::bad_request(
            "reason removeFromCRL only appears in delta CRLs; it cannot start a revocation",
        ));
    }
    Ok(r)
}

/// Revokes one certificate.
pub async fn revoke(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(body): Body<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let reason = parse_reason(&body.reason)?;
    let now = app.now();
    if let Some(d) = body.invalidity_date {
        if d > now || d < 0 {
            return Err(Problem::bad_request(
                "invalidity_date must be in the past (Unix seconds)",
            ));
        }
    }
    revoke_one(&app, &who, id, reason, body.invalidity_date).await?;
    get_one(State(app), Segments(id.to_string())).await
}

/// Revokes through [`crate::revoke::revoke_certificate`]; a certificate revoked before is a
/// conflict here (an operator asked for something that cannot be done twice).
async fn revoke_one(
    app: &App,
    who: &Principal,
    id: i64,
    reason: RevocationReason,
    invalidity_date: Option<i64>,
) -> ApiResult<()> {
    match revoke_certificate(app, &who.actor(), id, reason, invalidity_date).await? {
        RevocationOutcome::Revoked => Ok(()),
        RevocationOutcome::AlreadyRevoked => Err(Problem::conflict(format!(
            "certificate {id} is already revoked"
        ))),
    }
}

/// Body of the bulk revoke route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRevokeBody {
    ids: Vec<i64>,
    reason: String,
}

/// Revokes up to 1,000 certificates; the answer lists each id's outcome. The input is
/// checked as a whole first: a bad id list or reason changes nothing.
pub async fn bulk_revoke(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(body): Body<BulkRevokeBody>,
) -> ApiResult<Json<Value>> {
    let reason = parse_reason(&body.reason)?;
    if body.ids.is_empty() || body.ids.len() > 1000 {
        return Err(Problem::bad_request(
            "ids must list 1 to 1000 certificate ids",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in &body.ids {
        if *id <= 0 || !seen.insert(*id) {
            return Err(Problem::bad_request(format!(
                "id {id} is not positive or appears twice"
            )));
        }
    }
    let mut results = Vec::with_capacity(body.ids.len());
    let (mut revoked, mut failed) = (0, 0);
    for id in &body.ids {
        let outcome = match revoke_one(&app, &who, *id, reason, None).await {
            Ok(()) => {
                revoked += 1;
                json!({"id": id, "outcome": "revoked"})
            }
            Err(p) => {
                failed += 1;
                json!({"id": id, "outcome": p.kind, "detail": p.detail})
            }
        };
        results.push(outcome);
    }
    Ok(Json(
        json!({"revoked": revoked, "failed": failed, "results": results}),
    ))
}
