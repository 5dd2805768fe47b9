//! Certificate profiles: the store keeps them with control-side settings (approvals,
//! enrollers); every change is pushed to the signer as a whole new policy *before* it is
//! stored, so a profile the signer refuses changes nothing.

use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{CaState, ProfileRecord, StoreError};
use strongroom_types::{Policy, Profile, ProfileName};
use strongroom_wire::{Request, Response};

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

/// Body of `PUT /profiles/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutProfile {
    profile: Profile,
    #[serde(default)]
    approvals_required: i64,
    #[serde(default)]
    enrollers: Vec<String>,
}

/// Creates or replaces a profile.
pub async fn put_one(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
    Body(req): Body<PutProfile>,
) -> ApiResult<Json<Value>> {
    let name = parse_name(&name)?;
    if req.profile.name != name {
        return Err(Problem::bad_request(format!(
            "the body names profile {} but the path names {name}",
            req.profile.name
        )));
    }
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
        Ok(ca) if ca.state == CaState::Active => {}
        Ok(ca) => {
            return Err(Problem::conflict(format!(
                "CA {} is {}; profiles can only issue from an active CA",
                ca.id,
                ca.state.as_str()
            )))
        }
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "issuer {} is not a known CA (GET /api/v1/cas)",
                req.profile.issuer
            )))
        }
        Err(e) => return Err(e.into()),
    }
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
    let version = push_policy(&app, profiles).await?;
    app.store
        .put_profile(
            &req.profile,
            req.approvals_required,
            &req.enrollers,
            app.now(),
        )
        .await?;
    app.audit_ok(
        &who,
        "profile.put",
        &format!("profile:{name}"),
        format!(
            "policy version {version}; approvals_required {}",
            req.approvals_required
        ),
    )
    .await?;
    Ok(Json(view(&app.store.profile(&name).await?)))
}

/// Deletes a profile.
pub async fn delete_one(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
) -> ApiResult<StatusCode> {
    let name = parse_name(&name)?;
    app.store.profile(&name).await?;
    let _guard = app.policy_lock.lock().await;
    let profiles: Vec<Profile> = app
        .store
        .profiles()
        .await?
        .into_iter()
        .map(|p| p.profile)
        .filter(|p| p.name != name)
        .collect();
    let version = push_policy(&app, profiles).await?;
    app.store.delete_profile(&name).await?;
    app.audit_ok(
        &who,
        "profile.delete",
        &format!("profile:{name}"),
        format!("policy version {version}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Validates and pushes a complete policy to the signer with the next version; returns it.
/// Call with `policy_lock` held.
pub async fn push_policy(app: &App, profiles: Vec<Profile>) -> ApiResult<u64> {
    let current = match app.signer.call(Request::Health).await? {
        Response::Health(h) => h.policy_version,
        other => {
            return Err(Problem::internal(format!(
                "unexpected signer answer {other:?}"
            )))
        }
    };
    let policy = Policy {
        version: current + 1,
        profiles,
    };
    policy
        .validate()
        .map_err(|e| Problem::bad_request(format!("the profile does not validate: {}", e.0)))?;
    match app.signer.call(Request::PutPolicy { policy }).await? {
        Response::PolicyAccepted { version } => Ok(version),
        other => Err(Problem::internal(format!(
            "unexpected signer answer {other:?}"
        ))),
    }
}
