//! Two-person integrity: requests that wait for M approvers, and their execution.
//!
//! In: a request filed by an issuance, a CA operation, a profile change or a privileged
//! user grant that needs approval; decisions from principals with `approval:decide`, each
//! with a comment (never the requester nor a user the requester sponsored: the store
//! refuses both). Out: when the last required approval arrives, the action runs under the
//! requester's name and its result is stored on the request.

use crate::api::{cas, certificates, profiles, users};
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{ApprovalRequest, ApprovalState, AuditOutcome, Independence};
use strongroom_types::CaId;

/// A filed request.
#[derive(Debug)]
pub struct Filed {
    /// Its id.
    pub id: i64,
}

/// Files a request for `required` approvals.
pub async fn file_request(
    app: &App,
    who: &Principal,
    kind: &str,
    payload: &Value,
    required: i64,
) -> ApiResult<Filed> {
    let now = app.now();
    let id = app
        .store
        .create_approval(
            kind,
            &payload.to_string(),
            &who.username,
            required,
            now,
            now + app.config.approvals.ttl_secs,
        )
        .await?;
    app.audit_ok(
        who,
        "approval.request",
        &format!("approval:{id}"),
        format!("{kind}, {required} approval(s) needed"),
    )
    .await?;
    Ok(Filed { id })
}

/// Files a request for `required` approvals and answers `202 {"approval": ID, "state":
/// "pending"}`, as every route that defers to approval does.
pub async fn file_and_answer(
    app: &App,
    who: &Principal,
    kind: &str,
    payload: &Value,
    required: i64,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Filed { id } = file_request(app, who, kind, payload, required).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"approval": id, "state": "pending"})),
    ))
}

/// The JSON view of a request (a filed user's password hash is never shown).
pub fn view(r: &ApprovalRequest) -> Value {
    let mut payload = serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null);
    if let Some(o) = payload.as_object_mut() {
        o.remove("password_hash");
    }
    json!({
        "id": r.id,
        "kind": r.kind,
        "payload": payload,
        "decisions": r.decisions.iter().map(|(by, decision, comment)| json!({"by": by, "decision": decision, "comment": comment})).collect::<Vec<_>>(),
        "requested_by": r.requested_by,
        "required": r.required,
        "approved_by": r.approved_by,
        "state": r.state.as_str(),
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "result": r.result.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
    })
}

/// Query of the list route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// Requests, newest first.
pub async fn list(State(app): State<App>, Params(q): Params<ListQuery>) -> ApiResult<Json<Value>> {
    app.store.expire_approvals(app.now()).await?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(ApprovalState::parse(s).map_err(|_| {
            Problem::bad_request(format!(
                "state {s:?} is not pending, approved, rejected or expired"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 1000"));
    }
    let items = app.store.approvals(state, q.before, limit).await?;
    Ok(Json(
        json!({"items": items.iter().map(view).collect::<Vec<_>>()}),
    ))
}

fn parse_id(s: &str) -> Result<i64, Problem> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Problem::bad_request(format!("approval id {s:?} is not a positive integer")))
}

/// One request.
pub async fn get_one(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&app.store.approval(parse_id(&id)?).await?)))
}

/// Body of approve and reject: every decision says why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    comment: String,
}

/// Approves; the approval that completes the request executes it.
pub async fn approve(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Json<Value>> {
    decide(app, who, &id, true, &d.comment).await
}

/// Rejects.
pub async fn reject(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Json<Value>> {
    decide(app, who, &id, false, &d.comment).await
}

async fn decide(
    app: App,
    who: Principal,
    id: &str,
    approve: bool,
    comment: &str,
) -> ApiResult<Json<Value>> {
    let id = parse_id(id)?;
    let target = format!("approval:{id}");
    let action = if approve {
        "approval.approve"
    } else {
        "approval.reject"
    };
    let state = match app
        .store
        .decide_approval(
            id,
            &who.username,
            approve,
            comment,
            if app.config.production {
                Independence::SharedSponsors
            } else {
                Independence::Ancestry
            },
            app.now(),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let p = Problem::from(e);
            if p.status == axum::http::StatusCode::CONFLICT {
                app.audit(
                    &who.actor(),
                    action,
                    &target,
                    AuditOutcome::Denied,
                    &p.detail,
                )
                .await?;
            }
            return Err(p);
        }
    };
    app.audit_ok(
        &who,
        action,
        &target,
        format!("now {}; comment: {comment}", state.as_str()),
    )
    .await?;
    if state == ApprovalState::Rejected {
        let request = app.store.approval(id).await?;
        if crate::scep_enrolment::is_enrolment(&request.kind) {
            crate::scep_enrolment::rejected(&app, &request).await?;
        }
    }
    if state == ApprovalState::Approved {
        let request = app.store.approval(id).await?;
        let result = execute(&app, &request).await;
        let stored = match &result {
            Ok(v) => json!({"ok": v}),
            Err(p) => json!({"error": {"status": p.status.as_u16(), "detail": p.detail}}),
        };
        app.store
            .set_approval_result(id, &stored.to_string())
            .await?;
    }
    Ok(Json(view(&app.store.approval(id).await?)))
}

/// Runs an approved request in the requester's name ("alice, approved by bob, carol").
async fn execute(app: &App, r: &ApprovalRequest) -> ApiResult<Value> {
    let actor = format!(
        "{} (approved by {})",
        r.requested_by,
        r.approved_by.join(", ")
    );
    let payload: Value = serde_json::from_str(&r.payload).map_err(Problem::internal)?;
    match r.kind.as_str() {
        "certificate.issue" => {
            let issuance: certificates::Issuance =
                serde_json::from_value(payload).map_err(Problem::internal)?;
            certificates::execute_issue(app, &actor, &r.requested_by, &issuance).await
        }
        "ca.create" => cas::execute_create(app, &actor, &payload).await,
        "ca.retire" => {
            let ca: CaId = payload["ca"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| Problem::internal(format!("stored request: {e}")))?;
            cas::execute_retire(app, &actor, &ca).await
        }
        "profile.put" => {
            let req: profiles::PutProfile =
                serde_json::from_value(payload).map_err(Problem::internal)?;
            profiles::execute_put(app, &actor, req).await
        }
        "profile.delete" => {
            let name = payload["name"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| Problem::internal(format!("stored request: {e}")))?;
            profiles::execute_delete(app, &actor, &name).await
        }
        "user.create" => {
            let u: users::NewUser = serde_json::from_value(payload).map_err(Problem::internal)?;
            users::execute_create(app, &actor, &r.requested_by, &u).await
        }
        "user.roles" => users::execute_set_roles(app, &actor, &r.requested_by, &payload).await,
        crate::scep_enrolment::SCEP_ENROL | crate::scep_enrolment::EST_ENROL => {
            crate::scep_enrolment::execute(app, &actor, r).await
        }
        other => Err(Problem::internal(format!(
            "unknown approval kind {other:?}"
        ))),
    }
}
