//! Users: list, create, one, change (roles, password, disabled), and resealing the
//! break-glass account. Password hashes never leave the store.
//!
//! Dual control: whoever creates a user or grants it roles becomes its sponsor, and a
//! sponsor's approval requests are never that user's to decide (the store refuses). In
//! production mode, creating a user with a privileged role ([`is_privileged`]) or granting
//! one is filed for `approvals.ca_approvers` approvals and runs when the last one arrives.

use crate::api::approvals::file_and_answer;
use crate::app::App;
use crate::auth::{check_password_strength, hash_password, Principal, Secret};
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::is_privileged;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use strongroom_store::{AuditOutcome, Role, UserRecord};
use zeroize::Zeroizing;

/// The JSON view of a user (no password hash).
pub fn view(u: &UserRecord) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "roles": u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "disabled": u.disabled,
        "break_glass": u.break_glass,
        "unsealed_at": u.unsealed_at,
    })
}

/// Checks a user name: 1–64 of `a-z0-9._-`, starting with a letter or digit.
pub fn check_username(name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "user name {name:?} must be 1 to 64 of a-z 0-9 . _ - and start with a letter or digit"
        )))
    }
}

/// Parses role names.
pub fn parse_roles(names: &[String]) -> Result<Vec<Role>, Problem> {
    let mut roles = names
        .iter()
        .map(|n| {
            Role::parse(n).map_err(|_| {
                Problem::bad_request(format!(
                    "role {n:?} is not admin, ca-operator, approver, auditor or enroller"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(Problem::bad_request(
            "roles must name at least one of admin, ca-operator, approver, auditor, enroller",
        ));
    }
    Ok(roles)
}

/// Every user.
pub async fn list(State(app): State<App>) -> ApiResult<Json<Value>> {
    let users = app.store.users().await?;
    Ok(Json(
        json!({"items": users.iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: Secret,
    roles: Vec<String>,
}

/// Creates a user (202 with an approval request for a privileged role in production mode).
pub async fn create(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_username(&req.username)?;
    let roles = parse_roles(&req.roles)?;
    check_password_strength(req.password.expose())?;
    let password = req.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(password.expose()))
        .await
        .map_err(Problem::internal)??;
    let new_user = NewUser {
        username: req.username,
        roles: req.roles,
        password_hash: hash,
    };
    if app.config.production && roles.iter().any(|r| is_privileged(*r)) {
        let payload = serde_json::to_value(&new_user).map_err(Problem::internal)?;
        return file_and_answer(
            &app,
            &who,
            "user.create",
            &payload,
            app.config.approvals.ca_approvers,
        )
        .await;
    }
    let v = execute_create(&app, &who.actor(), &who.username, &new_user).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A user to create, as filed for approval (the password only as its argon2id hash, which
/// the approval views never show).
#[derive(Serialize, Deserialize)]
pub struct NewUser {
    username: String,
    roles: Vec<String>,
    password_hash: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Creates the user with `sponsor` as its sponsor, and audits it.
pub async fn execute_create(
    app: &App,
    actor: &str,
    sponsor: &str,
    u: &NewUser,
) -> ApiResult<Value> {
    let roles = parse_roles(&u.roles)?;
    let id = app
        .store
        .insert_user(&u.username, &u.password_hash, &roles, false, app.now())
        .await?;
    app.store.add_user_sponsor(id, sponsor, app.now()).await?;
    app.audit(
        actor,
        "user.create",
        &format!("user:{}", u.username),
        AuditOutcome::Ok,
        format!("roles {}; sponsor {sponsor}", u.roles.join(",")),
    )
    .await?;
    Ok(view(&app.store.user(id).await?))
}

/// Sets a user's roles with `sponsor` recorded as one who granted them, and audits it.
pub async fn execute_set_roles(
    app: &App,
    actor: &str,
    sponsor: &str,
    payload: &Value,
) -> ApiResult<Value> {
    let name = payload["username"].as_str().unwrap_or_default();
    let names: Vec<String> = serde_json::from_value(payload["roles"].clone())
        .map_err(|e| Problem::internal(format!("stored request: {e}")))?;
    let roles = parse_roles(&names)?;
    let user = app.store.user_by_name(name).await?;
    // Checked again when it runs: the request may have waited while others changed.
    check_an_admin_remains(app, &user, Some(&roles), user.disabled).await?;
    app.store.set_user_roles(user.id, &roles).await?;
    app.store
        .add_user_sponsor(user.id, sponsor, app.now())
        .await?;
    // A change of privileges ends the user's login sessions (API and browser): the new
    // roles start with a new login, which asks for the second factor again. API keys made
    // on purpose stay; they never carry more than their owner's current roles.
    let ended = app.store.revoke_user_sessions(user.id, app.now()).await?;
    app.audit(
        actor,
        "user.update",
        &format!("user:{name}"),
        AuditOutcome::Ok,
        format!(
            "roles {}; sponsor {sponsor}; {ended} login sessions ended",
            names.join(",")
        ),
    )
    .await?;
    Ok(view(&app.store.user(user.id).await?))
}

/// Refuses a change that would leave no enabled admin (break-glass aside): `user` with
/// `roles` (unchanged when `None`) and `disabled`.
async fn check_an_admin_remains(
    app: &App,
    user: &UserRecord,
    roles: Option<&[Role]>,
    disabled: bool,
) -> ApiResult<()> {
    let users = app.store.users().await?;
    let admins_after = users
        .iter()
        .filter(|u| !u.break_glass)
        .filter(|u| {
            let (r, d) = if u.id == user.id {
                (roles.unwrap_or(&u.roles), disabled)
            } else {
                (u.roles.as_slice(), u.disabled)
            };
            !d && r.contains(&Role::Admin)
        })
        .count();
    if admins_after == 0 {
        return Err(Problem::conflict(
            "this would leave no enabled admin; make someone else admin first",
        ));
    }
    Ok(())
}

/// One user.
pub async fn get_one(
    State(app): State<App>,
    Segments(name): Segments<String>,
) -> ApiResult<Json<Value>> {
    check_username(&name)?;
    Ok(Json(view(&app.store.user_by_name(&name).await?)))
}

/// Body of `PATCH /users/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<Secret>,
}

/// Changes roles, password or the disabled flag. Refuses to leave no enabled admin.
pub async fn update(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
    Body(req): Body<UpdateUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_username(&name)?;
    if req.roles.is_none() && req.disabled.is_none() && req.password.is_none() {
        return Err(Problem::bad_request(
            "nothing to change: give roles, disabled or password",
        ));
    }
    let user = app.store.user_by_name(&name).await?;
    if user.break_glass && (req.roles.is_some() || req.password.is_some()) {
        return Err(Problem::bad_request(
            "the break-glass account keeps its roles; change its password with POST /api/v1/users/{name}/reseal",
        ));
    }
    let roles = req.roles.as_deref().map(parse_roles).transpose()?;
    let hash = match &req.password {
        Some(p) => {
            check_password_strength(p.expose())?;
            let p = p.clone();
            Some(
                tokio::task::spawn_blocking(move || hash_password(p.expose()))
                    .await
                    .map_err(Problem::internal)??,
            )
        }
        None => None,
    };
    check_an_admin_remains(
        &app,
        &user,
        roles.as_deref(),
        req.disabled.unwrap_or(user.disabled),
    )
    .await?;
    // Granting a privileged role the user does not hold yet is filed for approval in
    // production mode; nothing else in this request runs before it is decided.
    if let Some(r) = &roles {
        let grants_privilege = r
            .iter()
            .any(|role| is_privileged(*role) && !user.roles.contains(role));
        if app.config.production && grants_privilege {
            if req.disabled.is_some() || hash.is_some() {
                return Err(Problem::bad_request(
                    "granting a privileged role needs approval in production mode: send the role change alone",
                ));
            }
            let names: Vec<&str> = r.iter().map(|r| r.as_str()).collect();
            let payload = json!({"username": name, "roles": names});
            return file_and_answer(
                &app,
                &who,
                "user.roles",
                &payload,
                app.config.approvals.ca_approvers,
            )
            .await;
        }
    }
    let mut changed = Vec::new();
    if let Some(r) = &roles {
        app.store.set_user_roles(user.id, r).await?;
        if r.iter().any(|role| !user.roles.contains(role)) {
            app.store
                .add_user_sponsor(user.id, &who.username, app.now())
                .await?;
        }
        // A change of privileges ends the user's login sessions (as in execute_set_roles).
        let ended = if *r != user.roles {
            app.store.revoke_user_sessions(user.id, app.now()).await?
        } else {
            0
        };
        changed.push(format!(
            "roles {}; {ended} login sessions ended",
            r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
        ));
    }
    if let Some(d) = req.disabled {
        app.store.set_user_disabled(user.id, d).await?;
        changed.push(format!("disabled {d}"));
    }
    if let Some(h) = &hash {
        app.store.set_password(user.id, h).await?;
        // Security: whoever sets another user's password can act as them, so counts as
        // their sponsor: that user can no longer be the second person on their requests.
        if user.id != who.user_id {
            app.store
                .add_user_sponsor(user.id, &who.username, app.now())
                .await?;
        }
        changed.push("password".into());
    }
    app.audit_ok(
        &who,
        "user.update",
        &format!("user:{name}"),
        changed.join("; "),
    )
    .await?;
    Ok((StatusCode::OK, Json(view(&app.store.user(user.id).await?))))
}

/// Generates a new break-glass password, shown once; the account is sealed again.
pub async fn reseal(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
) -> ApiResult<Json<Value>> {
    check_username(&name)?;
    let user = app.store.user_by_name(&name).await?;
    if !user.break_glass {
        return Err(Problem::bad_request(format!(
            "{name} is not the break-glass account"
        )));
    }
    let password = new_password(&app)?;
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(Problem::internal)??;
    app.store.set_password(user.id, &hash).await?;
    // Security: whoever used the envelope keeps nothing once it is resealed: every session
    // and API key the account made ends with the old password.
    let ended = app.store.revoke_user_api_keys(user.id, app.now()).await?;
    app.audit_ok(
        &who,
        "break-glass.reseal",
        &format!("user:{name}"),
        format!("new password issued; account sealed; {ended} sessions and API keys revoked"),
    )
    .await?;
    Ok(Json(json!({
        "username": name,
        "password": password.as_str(),
        "note": "store this password offline (sealed envelope or vault); it is not shown again",
    })))
}

/// A random 32-character password.
pub fn new_password(app: &App) -> Result<Zeroizing<String>, Problem> {
    let mut raw = Zeroizing::new([0u8; 24]);
    app.rng
        .fill(&mut raw[..])
        .map_err(|_| Problem::internal("no randomness for a password"))?;
    Ok(Zeroizing::new(hex::encode(&raw[..])))
}
