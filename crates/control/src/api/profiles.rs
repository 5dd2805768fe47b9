//! Certificate profiles: the store keeps them with control-side settings (approvals,
//! enrollers); every change is pushed to the signer as a whole new policy *before* it is
//! stored, so a profile the signer refuses changes nothing. In production mode a change
//! (including `approvals_required`, key usages, EKUs or the issuer) or a deletion is filed
//! for `approvals.ca_approvers` approvals and runs when the last one arrives: one operator
//! alone cannot change what the CA signs.

use crate::api::approvals::file_and_answer;
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use strongroom_store::{AuditOutcome, CaState, ProfileRecord, StoreError};
use strongroom_types::{Policy, Profile, ProfileName};

/// The JSON view of a profile.
pub fn view(p: &ProfileRecord) -> Value {
    json!({
        "profile": p.profile,
        "approvals_required": p.approvals_required,
        "enrollers": p.enrollers,
        "version": p.version,
    })
}

fn parse_name(s: &str) -> Result<ProfileName, Problem> {
    s.parse()
        .map_err(|e| Problem::bad_request(format!("profile name {s:?}: {e}")))
}

/// Every profile.
pub async fn list(State(app): State<App>) -> ApiResult<Json<Value>> {
    let all = app.store.profiles().await?;
    Ok(Json(
        json!({"items": all.iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// One profile.
pub async fn get_one(
    State(app): State<App>,
    Segments(name): Segments<String>,
) -> ApiResult<Json<Value>> {
    let p = app.store.profile(&parse_name(&name)?).await?;
    Ok(Json(view(&p)))
}

/// Body of `PUT /profiles/{name}` (also the stored payload of a `profile.put` approval).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutProfile {
    profile: Profile,
    #[serde(default)]
    approvals_required: i64,
    #[serde(default)]
    enrollers: Vec<String>,
}

/// Creates or replaces a profile (202 with an approval request in production mode).
pub async fn put_one(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
    Body(req): Body<PutProfile>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = parse_name(&name)?;
    if req.profile.name != name {
        return Err(Problem::bad_request(format!(
            "the body names profile {} but the path names {name}",
            req.profile.name
        )));
    }
    check(&app, &req).await?;
    if app.config.production {
        let payload = serde_json::to_value(&req).map_err(Problem::internal)?;
        return file_and_answer(
            &app,
            &who,
            "profile.put",
            &payload,
            app.config.approvals.ca_approvers,
        )
        .await;
    }
    Ok((
        StatusCode::OK,
        Json(execute_put(&app, &who.actor(), req).await?),
    ))
}

/// What a profile change must satisfy, checked when it is asked for and again when it runs.
async fn check(app: &App, req: &PutProfile) -> ApiResult<()> {
    if !(0..=10).contains(&req.approvals_required) {
        return Err(Problem::bad_request(
            "approvals_required must be between 0 and 10",
        ));
    }
    for e in &req.enrollers {
        if e != "*" && (e.is_empty() || e.len() > 64 || e.contains(',')) {
            return Err(Problem::bad_request(format!(
                "enroller {e:?} must be a user name (1 to 64 characters, no comma) or *"
            )));
        }
    }
    match app.store.ca(&req.profile.issuer).await {
        Ok(ca) if ca.state == CaState::Active => Ok(()),
        Ok(ca) => Err(Problem::conflict(format!(
            "CA {} is {}; profiles can only issue from an active CA",
            ca.id,
            ca.state.as_str()
        ))),
        Err(StoreError::NotFound(_)) => Err(Problem::bad_request(format!(
            "issuer {} is not a known CA (GET /api/v1/cas)",
            req.profile.issuer
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Pushes the changed policy to the signer, stores the profile and audits it (directly, or
/// when the approval that held it completes).
pub async fn execute_put(app: &App, actor: &str, req: PutProfile) -> ApiResult<Value> {
    check(app, &req).await?;
    let name = req.profile.name.clone();
    let _guard = app.policy_lock.lock().await;
    let mut profiles: Vec<Profile> = app
        .store
        .profiles()
        .await?
        .into_iter()
        .map(|p| p.profile)
        .filter(|p| p.name != name)
        .collect();
    profiles.push(req.profile.clone());
    let version = push_policy(app, profiles).await?;
    app.store
        .put_profile(
            &req.profile,
            req.approvals_required,
            &req.enrollers,
            app.now(),
        )
        .await?;
    app.audit(
        actor,
        "profile.put",
        &format!("profile:{name}"),
        AuditOutcome::Ok,
        format!(
            "policy version {version}; approvals_required {}",
            req.approvals_required
        ),
    )
    .await?;
    Ok(view(&app.store.profile(&name).await?))
}

/// Deletes a profile (202 with an approval request in production mode).
pub async fn delete_one(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let name = parse_name(&name)?;
    app.store.profile(&name).await?;
    if app.config.production {
        let payload = json!({"name": name.as_str()});
        return Ok(file_and_answer(
            &app,
            &who,
            "profile.delete",
            &payload,
            app.config.approvals.ca_approvers,
        )
        .await?
        .into_response());
    }
    execute_delete(&app, &who.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a profile from the signer's policy and the store, and audits it.
pub async fn execute_delete(app: &App, actor: &str, name: &ProfileName) -> ApiResult<Value> {
    app.store.profile(name).await?;
    let _guard = app.policy_lock.lock().await;
    let profiles: Vec<Profile> = app
        .store
        .profiles()
        .await?
        .into_iter()
        .map(|p| p.profile)
        .filter(|p| &p.name != name)
        .collect();
    let version = push_policy(app, profiles).await?;
    app.store.delete_profile(name).await?;
    app.audit(
        actor,
        "profile.delete",
        &format!("profile:{name}"),
        AuditOutcome::Ok,
        format!("policy version {version}"),
    )
    .await?;
    Ok(json!({"deleted": name.as_str()}))
}

/// Validates and pushes a complete policy to the signer with the next version; returns it.
/// Call with `policy_lock` held.
pub async fn push_policy(app: &App, profiles: Vec<Profile>) -> ApiResult<u64> {
    let current = app.signer.health().await?.policy_version;
    let policy = Policy {
        version: current + 1,
        profiles,
    };
    policy
        .validate()
        .map_err(|e| Problem::bad_request(format!("the profile does not validate: {e}")))?;
    Ok(app.signer.put_policy(policy).await?)
}
