//! Login (password → a session API key, through the throttle of
//! [`crate::login_throttle`] and the bounded password checks of
//! [`crate::auth::PasswordChecks`]), logout, who-am-I and the role table.

use crate::app::App;
use crate::auth::{
    csrf_token, new_api_key, AuthMethod, Principal, Secret, CONSOLE_LABEL, LOGIN_LABEL,
    SESSION_COOKIE,
};
use crate::input::Body;
use crate::login_throttle::{write_notes, ClientAddress};
use crate::problem::{ApiResult, Problem};
use crate::rbac::{grants, Permission};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use strongroom_store::{AuditOutcome, NewApiKey, Role, StoreError};

/// Session length.
pub const SESSION_SECS: i64 = 12 * 3600;

/// Login body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: Secret,
    /// The code from the authenticator, for an account with a second factor.
    #[serde(default)]
    totp: Option<Secret>,
    /// Or one of its recovery codes.
    #[serde(default)]
    recovery_code: Option<Secret>,
    /// A browser session: the key goes into an HttpOnly cookie, not the answer, which
    /// carries the session's CSRF token instead.
    #[serde(default)]
    cookie: bool,
}

/// Exchanges a password for a 12-hour API key carrying the user's roles.
///
/// Security: the throttle decides first, from the claimed name and the connection's peer
/// address alone, whether the password is looked at at all; a locked name or address is
/// refused (429) before the store or argon2 is touched. Failures are audited through the
/// throttle: the first of a name and address on its own, the rest as a count.
pub async fn login(
    State(app): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Response> {
    if req.username.is_empty() || req.username.len() > 64 {
        return Err(Problem::bad_request("username must be 1 to 64 characters"));
    }
    let from = ClientAddress::of(peer.map(|Extension(ConnectInfo(addr))| addr));
    let attempt = app
        .login
        .begin(&req.username, from, app.now())
        .map_err(|refusal| {
            app.metrics.logins_throttled.fetch_add(1, Ordering::Relaxed);
            Problem::from(refusal)
        })?;
    let check = app.passwords.admit()?;
    let user = match app.store.user_by_name(&req.username).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = check.verify(req.password.clone(), phc).await?;
    let target = format!("user:{}", req.username);
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            app.metrics.denied.fetch_add(1, Ordering::Relaxed);
            if attempt.failed(app.now()) {
                app.audit(
                    &req.username,
                    "auth.login",
                    &target,
                    AuditOutcome::Denied,
                    format!("wrong user name or password, or disabled (from {from}; further failures are counted in auth.login.failures)"),
                )
                .await?;
            }
            write_notes(&app).await?;
            return Err(Problem::unauthenticated("wrong user name or password"));
        }
    };
    // The second factor, for an account that has one: a wrong, missing or replayed code
    // fails the login as a wrong password does (counted by the throttle, audited).
    let factor = match super::totp::login_factor(
        &app,
        &user,
        req.totp.as_ref(),
        req.recovery_code.as_ref(),
    )
    .await
    {
        Ok(f) => f,
        Err(refusal) => {
            app.metrics.denied.fetch_add(1, Ordering::Relaxed);
            if attempt.failed(app.now()) {
                app.audit(
                    &req.username,
                    "auth.login",
                    &target,
                    AuditOutcome::Denied,
                    format!("password right, second factor missing or wrong (from {from}; further failures are counted in auth.login.failures)"),
                )
                .await?;
            }
            write_notes(&app).await?;
            return Err(refusal);
        }
    };
    attempt.succeeded(app.now());
    write_notes(&app).await?;
    let now = app.now();
    if user.break_glass {
        app.metrics
            .break_glass_logins
            .fetch_add(1, Ordering::Relaxed);
        let first = app.store.unseal(user.id, now).await?;
        tracing::warn!(user = %user.username, first_use_since_sealed = first, "BREAK-GLASS account logged in");
        app.audit(
            &user.username,
            "break-glass.login",
            &target,
            AuditOutcome::Ok,
            if first { "seal broken: first use since the account was sealed; reseal it with POST /api/v1/users/{name}/reseal" } else { "used again while unsealed" },
        )
        .await?;
    }
    let key = new_api_key(&app.rng)?;
    let expires_at = now + SESSION_SECS;
    app.store
        .insert_api_key(
            &NewApiKey {
                key_id: &key.key_id,
                secret_hash: &key.secret_hash,
                owner_id: user.id,
                roles: &user.roles,
                expires_at: Some(expires_at),
                label: if req.cookie {
                    CONSOLE_LABEL
                } else {
                    LOGIN_LABEL
                },
            },
            now,
        )
        .await?;
    app.audit(
        &user.username,
        "auth.login",
        &target,
        AuditOutcome::Ok,
        match super::totp::describe(&factor) {
            Some(how) => format!("session key {} (from {from}; {how})", key.key_id),
            None => format!("session key {} (from {from})", key.key_id),
        },
    )
    .await?;
    let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
    // The same rule the guard applies to every request of this session.
    let must_enrol = app.config.login.require_second_factor
        && !user.break_glass
        && matches!(factor, super::totp::SecondFactor::None);
    if req.cookie {
        let secret = key.token.rsplit('_').next().unwrap_or_default().to_string();
        let cookie = format!(
            "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}",
            key.token.as_str()
        );
        let body = json!({
            "key_id": key.key_id,
            "csrf_token": csrf_token(&secret),
            "username": user.username,
            "roles": roles,
            "expires_at": expires_at,
            "must_enrol_second_factor": must_enrol,
        });
        return Ok((
            StatusCode::CREATED,
            [(header::SET_COOKIE, cookie)],
            Json(body),
        )
            .into_response());
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": key.token.as_str(),
            "key_id": key.key_id,
            "username": user.username,
            "roles": roles,
            "expires_at": expires_at,
            "must_enrol_second_factor": must_enrol,
        })),
    )
        .into_response())
}

/// Revokes the key used for this request (a browser session's cookie is cleared too).
pub async fn logout(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Response> {
    let key_id = who.key_id.clone().ok_or_else(|| {
        Problem::bad_request("this request did not use an API key; nothing to log out")
    })?;
    app.store.revoke_api_key(&key_id, app.now()).await?;
    app.audit_ok(&who, "auth.logout", &format!("apikey:{key_id}"), "")
        .await?;
    Ok(ended(&who))
}

/// Revokes every login session of the caller — API and browser, on every device — but not
/// the API keys they made on purpose.
pub async fn logout_everywhere(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Response> {
    let ended_count = app
        .store
        .revoke_user_sessions(who.user_id, app.now())
        .await?;
    app.audit_ok(
        &who,
        "auth.logout-everywhere",
        &format!("user:{}", who.username),
        format!("{ended_count} sessions ended"),
    )
    .await?;
    Ok(ended(&who))
}

/// 204, clearing the session cookie when the request came with one.
fn ended(who: &Principal) -> Response {
    if who.method == AuthMethod::Cookie {
        let clear =
            format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
        return (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The caller.
pub async fn whoami(Extension(who): Extension<Principal>) -> Json<Value> {
    let mut perms: Vec<&str> = who
        .roles
        .iter()
        .flat_map(|r| grants(*r).iter().map(|p| p.as_str()))
        .collect();
    perms.sort_unstable();
    perms.dedup();
    Json(json!({
        "username": who.username,
        "roles": who.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "permissions": perms,
        "method": format!("{:?}", who.method),
        "key_id": who.key_id,
        "second_factor_missing": who.second_factor_missing,
    }))
}

/// Roles and their permissions.
pub async fn roles() -> Json<Value> {
    let all = [
        Role::Admin,
        Role::CaOperator,
        Role::Approver,
        Role::Auditor,
        Role::Enroller,
    ];
    Json(json!({
        "roles": all.iter().map(|r| json!({
            "name": r.as_str(),
            "permissions": grants(*r).iter().filter(|p| **p != Permission::Authenticated).map(|p| p.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    }))
}
