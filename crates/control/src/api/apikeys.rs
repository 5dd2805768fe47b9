//! API keys: list, create (the token is shown once), revoke. Keys carry a subset of their
//! owner's roles; revocation takes effect on the next request.

use crate::api::users::parse_roles;
use crate::app::App;
use crate::auth::{new_api_key, Principal};
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::{allows, Permission};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{ApiKeyRecord, NewApiKey};

/// The JSON view of a key (never its hash).
pub fn view(k: &ApiKeyRecord) -> Value {
    json!({
        "key_id": k.key_id,
        "owner_id": k.owner_id,
        "label": k.label,
        "roles": k.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "expires_at": k.expires_at,
        "revoked_at": k.revoked_at,
        "created_at": k.created_at,
    })
}

/// Query of the list route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    all: bool,
}

/// The caller's keys, or everyone's with `user:read` and `?all=true`.
pub async fn list(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Value>> {
    let owner = if q.all {
        if !allows(&who.roles, Permission::UserRead) {
            return Err(Problem::forbidden(
                "listing everyone's keys needs user:read",
            ));
        }
        None
    } else {
        Some(who.user_id)
    };
    let keys = app.store.api_keys(owner).await?;
    Ok(Json(
        json!({"items": keys.iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// Body of `POST /apikeys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    label: String,
    /// Defaults to all of the caller's roles.
    #[serde(default)]
    roles: Option<Vec<String>>,
    /// Defaults to 90 days; at most 2 years.
    #[serde(default)]
    expires_in_secs: Option<i64>,
}

/// Creates a key for the caller.
pub async fn create(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if req.label.is_empty() || req.label.len() > 64 || req.label.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "label must be 1 to 64 printable characters",
        ));
    }
    let roles = match &req.roles {
        Some(r) => parse_roles(r)?,
        None => who.roles.clone(),
    };
    if let Some(extra) = roles.iter().find(|r| !who.roles.contains(r)) {
        return Err(Problem::forbidden(format!(
            "a key cannot carry role {} that its creator does not hold",
            extra.as_str()
        )));
    }
    let ttl = req.expires_in_secs.unwrap_or(90 * 86_400);
    if !(60..=2 * 366 * 86_400).contains(&ttl) {
        return Err(Problem::bad_request(
            "expires_in_secs must be between 60 and 63244800 (2 years)",
        ));
    }
    let now = app.now();
    let key = new_api_key(&app.rng)?;
    app.store
        .insert_api_key(
            &NewApiKey {
                key_id: &key.key_id,
                secret_hash: &key.secret_hash,
                owner_id: who.user_id,
                roles: &roles,
                expires_at: Some(now + ttl),
                label: &req.label,
            },
            now,
        )
        .await?;
    app.audit_ok(
        &who,
        "apikey.create",
        &format!("apikey:{}", key.key_id),
        format!(
            "label {:?} roles {}",
            req.label,
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .await?;
    let mut v = view(&app.store.api_key(&key.key_id).await?);
    v["token"] = Value::String(key.token.to_string());
    Ok((StatusCode::CREATED, Json(v)))
}

/// Revokes a key: one's own, or anyone's with `user:manage`.
pub async fn revoke(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(key_id): Segments<String>,
) -> ApiResult<StatusCode> {
    if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Problem::bad_request("a key id is 16 hex digits"));
    }
    let key = app.store.api_key(&key_id).await?;
    if key.owner_id != who.user_id && !allows(&who.roles, Permission::UserManage) {
        return Err(Problem::forbidden(
            "revoking another user's key needs user:manage",
        ));
    }
    app.store.revoke_api_key(&key_id, app.now()).await?;
    app.audit_ok(&who, "apikey.revoke", &format!("apikey:{key_id}"), "")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
