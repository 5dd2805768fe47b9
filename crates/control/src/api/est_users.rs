//! EST (RFC 7030) HTTP Basic credentials from the operator's side: make a user for an EST
//! label, list them, delete one, lift a lock. The front checks them
//! (`Store::est_credential`, `strongroom_httpd::password::verify_password`) and counts
//! failures (`Store::est_login_failed`).
//!
//! In: requests that passed the guard (`certificate:issue`), a label, a username, and
//! optionally a password. Out: the user (never a hash) and, when control drew the password,
//! that password — 18 random bytes, base64url, 24 characters — once, in the answer that
//! makes it: the store keeps only its argon2id hash, and neither the audit log nor the logs
//! ever see a password.
//!
//! Who: an EST user is an enrolment credential handed to a device, like a SCEP challenge,
//! so the routes need what the SCEP challenge routes need. But a label's profile is the
//! front's configuration, which control does not read: the issuance rule cannot be applied
//! per profile, so only those who may enrol under any profile (`issues_under_any_profile`:
//! admins and CA operators) may manage EST users — the rule SCEP applies to a challenge
//! whose profile is gone. Anyone else with `certificate:issue` gets a 403, audited as a
//! denial for a change.

use crate::app::App;
use crate::auth::{check_password_strength, hash_password, Principal, Secret};
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::issues_under_any_profile;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{check_est_label, check_est_username, AuditOutcome, EstUserRecord};
use zeroize::Zeroizing;

/// Random bytes in a drawn password: 144 bits, 24 base64url characters (printable, no
/// ':', nothing an EST client's configuration would need to escape).
const PASSWORD_BYTES: usize = 18;

/// The JSON view of a user: there is no hash in the record to leave out.
fn view(u: &EstUserRecord, now: i64) -> Value {
    json!({
        "id": u.id,
        "label": u.label,
        "username": u.username,
        "created_by": u.created_by,
        "created_at": u.created_at,
        "failures": u.failures,
        "locked_until": u.locked_until,
        "locked": u.locked_until.is_some_and(|t| t > now),
    })
}

/// The audit target naming a user.
fn target(label: &str, username: &str) -> String {
    format!("est-user:{label}/{username}")
}

/// Checks a label and a username from the body or the path (400 before any lookup).
fn check_names(label: &str, username: &str) -> Result<(), Problem> {
    check_est_label(label)?;
    check_est_username(username)?;
    Ok(())
}

/// Whether the caller may manage EST users (see the module header); a refusal of a change
/// is audited as denied.
async fn allowed(
    app: &App,
    who: &Principal,
    action: Option<&str>,
    target: &str,
) -> Result<(), Problem> {
    if issues_under_any_profile(&who.roles) {
        return Ok(());
    }
    let p = Problem::forbidden(format!(
        "{} may not manage EST users: an EST label's profile is the front's configuration, so only an admin or CA operator (who may enrol under any profile) may",
        who.username
    ));
    if let Some(action) = action {
        app.audit(
            &who.actor(),
            action,
            target,
            AuditOutcome::Denied,
            &p.detail,
        )
        .await?;
    }
    Err(p)
}

/// A password an EST client can send: HTTP Basic (RFC 7617) carries no control characters.
fn check_sendable(password: &str) -> Result<(), Problem> {
    if password.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "the password may not contain control characters (HTTP Basic cannot carry them)",
        ));
    }
    Ok(())
}

/// Body of `POST /est/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEstUser {
    label: String,
    username: String,
    #[serde(default)]
    password: Option<Secret>,
}

/// Makes an EST user; draws its password when the body has none (shown in this answer
/// only).
pub async fn create(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateEstUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_names(&req.label, &req.username)?;
    let target = target(&req.label, &req.username);
    allowed(&app, &who, Some("est.user.create"), &target).await?;
    // SECURITY: the password lives in zeroizing buffers and, when drawn, in the answer;
    // only its argon2id hash goes to the store.
    let (password, drawn) = match &req.password {
        Some(given) => {
            check_password_strength(given.expose())?;
            check_sendable(given.expose())?;
            (Zeroizing::new(given.expose().to_string()), false)
        }
        None => {
            let mut random = Zeroizing::new([0u8; PASSWORD_BYTES]);
            app.rng
                .fill(random.as_mut())
                .map_err(|_| Problem::internal("no randomness for an EST password"))?;
            (
                Zeroizing::new(URL_SAFE_NO_PAD.encode(random.as_slice())),
                true,
            )
        }
    };
    let to_hash = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&to_hash))
        .await
        .map_err(Problem::internal)??;
    let made = app
        .store
        .create_est_user(&req.label, &req.username, &hash, &who.username, app.now())
        .await?;
    tracing::info!(
        est_user_id = made.id,
        label = %made.label,
        username = %made.username,
        actor = %who.actor(),
        "EST user made"
    );
    let origin = if drawn { "drawn by control" } else { "given" };
    app.audit_ok(
        &who,
        "est.user.create",
        &target,
        format!("password {origin}"),
    )
    .await?;
    let mut answer = json!({"user": view(&made, app.now())});
    if drawn {
        answer["password"] = json!(password.as_str());
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Query of `GET /est/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    label: Option<String>,
}

/// EST users, by label then username, of one label or all; never a hash.
pub async fn list(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(label) = &q.label {
        check_est_label(label)?;
    }
    allowed(&app, &who, None, "").await?;
    let now = app.now();
    let items = app.store.est_users(q.label.as_deref()).await?;
    Ok(Json(json!({
        "items": items.iter().map(|u| view(u, now)).collect::<Vec<_>>(),
    })))
}

/// Deletes an EST user: its next login is refused like an unknown name's.
pub async fn delete(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments((label, username)): Segments<(String, String)>,
) -> ApiResult<StatusCode> {
    check_names(&label, &username)?;
    let target = target(&label, &username);
    allowed(&app, &who, Some("est.user.delete"), &target).await?;
    let gone = app.store.delete_est_user(&label, &username).await?;
    app.audit_ok(
        &who,
        "est.user.delete",
        &target,
        format!("made by {} at {}", gone.created_by, gone.created_at),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts an EST user's lock and clears its count of failures.
pub async fn unlock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments((label, username)): Segments<(String, String)>,
) -> ApiResult<Json<Value>> {
    check_names(&label, &username)?;
    let target = target(&label, &username);
    allowed(&app, &who, Some("est.user.unlock"), &target).await?;
    let before = app.store.est_user(&label, &username).await?;
    let now = app.now();
    let after = app.store.unlock_est_user(&label, &username).await?;
    let lock = match before.locked_until {
        Some(t) if t > now => format!("locked until {t}"),
        _ => "not locked".to_string(),
    };
    app.audit_ok(
        &who,
        "est.user.unlock",
        &target,
        format!("{lock}; {} failures cleared", before.failures),
    )
    .await?;
    Ok(Json(json!({"user": view(&after, now)})))
}
