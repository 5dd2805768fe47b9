//! One-time SCEP challenge passwords from the operator's side: make one for a profile,
//! list them, revoke an unused one. The front consumes them (`Store::consume_scep_challenge`).
//!
//! In: requests that passed the guard (`certificate:issue`), a profile, a lifetime. Out: a
//! new challenge — 32 random bytes, base64url without padding — shown once, in the answer
//! that makes it, and never again: the store keeps only its SHA-256, and neither the audit
//! log nor the logs ever see it. Who may make, see or revoke a profile's challenges is who
//! may enrol under it, by the issuance rule (`rbac::may_enrol_under`): a challenge is an
//! enrolment handed to a device.

use crate::api::certificates::enrolment_profile;
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::{issues_under_any_profile, may_enrol_under};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use strongroom_store::{scep_challenge_hash, AuditOutcome, ChallengeRecord, StoreError};
use strongroom_types::ProfileName;
use zeroize::Zeroizing;

/// Random bytes in a challenge (256 bits: guessing is hopeless, so no attempt counting).
const CHALLENGE_BYTES: usize = 32;
/// Shortest lifetime (a device needs time to be handed the challenge and to enrol).
pub const MIN_TTL_SECS: u64 = 60;
/// Longest lifetime: 30 days. A challenge is a bearer credential; a long-lived one is a
/// standing enrolment right.
pub const MAX_TTL_SECS: u64 = 30 * 86_400;
/// Lifetime when the body names none: one hour.
pub const DEFAULT_TTL_SECS: u64 = 3_600;
/// Expired challenges, used or not, are kept this long (so a late attempt is logged as
/// expired rather than unknown), then purged when the next one is made.
const KEEP_EXPIRED_SECS: i64 = 7 * 86_400;

/// How a challenge stands now (computed, not stored: expiry is a matter of the clock).
fn state(c: &ChallengeRecord, now: i64) -> &'static str {
    if c.consumed_at.is_some() {
        "used"
    } else if c.expires_at <= now {
        "expired"
    } else {
        "usable"
    }
}

/// The JSON view of a challenge: there is no secret in the record to leave out.
fn view(c: &ChallengeRecord, now: i64) -> Value {
    json!({
        "id": c.id,
        "profile": c.profile.as_str(),
        "state": state(c, now),
        "created_by": c.created_by,
        "created_at": c.created_at,
        "expires_at": c.expires_at,
        "consumed_at": c.consumed_at,
        "consumed_transaction": c.consumed_transaction,
    })
}

fn parse_profile(s: &str) -> Result<ProfileName, Problem> {
    s.parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))
}

/// Audits a refusal to enrol-by-challenge and returns it.
async fn denied(app: &App, who: &Principal, action: &str, target: &str, p: Problem) -> Problem {
    if p.status == StatusCode::FORBIDDEN {
        if let Err(e) = app
            .audit(
                &who.actor(),
                action,
                target,
                AuditOutcome::Denied,
                &p.detail,
            )
            .await
        {
            return e;
        }
    }
    p
}

/// Body of `POST /scep/challenges`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChallenge {
    profile: String,
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// Makes a challenge for a profile the caller may enrol under; the answer is the only
/// place the challenge appears.
pub async fn create(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateChallenge>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = parse_profile(&req.profile)?;
    let ttl = req.ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
        return Err(Problem::bad_request(format!(
            "ttl_secs must be between {MIN_TTL_SECS} and {MAX_TTL_SECS} (30 days); default {DEFAULT_TTL_SECS}"
        )));
    }
    if let Err(p) = enrolment_profile(&app, &who, &name).await {
        let target = format!("profile:{name}");
        return Err(denied(&app, &who, "scep.challenge.create", &target, p).await);
    }
    let mut random = Zeroizing::new([0u8; CHALLENGE_BYTES]);
    app.rng
        .fill(random.as_mut())
        .map_err(|_| Problem::internal("no randomness for a SCEP challenge"))?;
    // SECURITY: the challenge lives in these two zeroizing buffers and the answer below;
    // only its hash goes to the store.
    let challenge = Zeroizing::new(URL_SAFE_NO_PAD.encode(random.as_slice()));
    let now = app.now();
    // The bound above keeps this far from overflow.
    let expires_at = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    app.store
        .purge_expired_scep_challenges(now - KEEP_EXPIRED_SECS)
        .await?;
    let made = app
        .store
        .create_scep_challenge(
            &name,
            scep_challenge_hash(&challenge),
            &who.username,
            now,
            expires_at,
        )
        .await?;
    // The id names it in the log; the challenge never goes there.
    tracing::info!(
        challenge_id = made.id,
        profile = %name,
        expires_at,
        actor = %who.actor(),
        "one-time SCEP challenge made"
    );
    app.audit_ok(
        &who,
        "scep.challenge.create",
        &format!("scep-challenge:{}", made.id),
        format!("profile {name}, expires at {expires_at}"),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": made.id,
            "challenge": challenge.as_str(),
            "profile": name.as_str(),
            "expires_at": made.expires_at,
        })),
    ))
}

/// Query of `GET /scep/challenges`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    profile: Option<String>,
    #[serde(default)]
    include_used: bool,
}

/// Challenges, newest first, never a secret: of one profile the caller may enrol under,
/// or of every profile they may (all of them for an admin or CA operator).
pub async fn list(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Value>> {
    let now = app.now();
    let items = match &q.profile {
        Some(p) => {
            let name = parse_profile(p)?;
            enrolment_profile(&app, &who, &name).await?;
            app.store
                .scep_challenges(Some(&name), q.include_used)
                .await?
        }
        None if issues_under_any_profile(&who.roles) => {
            app.store.scep_challenges(None, q.include_used).await?
        }
        None => {
            let mine: BTreeSet<ProfileName> = app
                .store
                .profiles()
                .await?
                .into_iter()
                .filter(|p| may_enrol_under(&who.roles, &who.username, &p.enrollers))
                .map(|p| p.profile.name)
                .collect();
            app.store
                .scep_challenges(None, q.include_used)
                .await?
                .into_iter()
                .filter(|c| mine.contains(&c.profile))
                .collect()
        }
    };
    Ok(Json(json!({
        "items": items.iter().map(|c| view(c, now)).collect::<Vec<_>>(),
    })))
}

fn parse_id(s: &str) -> Result<i64, Problem> {
    s.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        Problem::bad_request(format!("SCEP challenge id {s:?} is not a positive integer"))
    })
}

/// Revokes (deletes) a challenge no device has used.
pub async fn delete(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    let gone = || Problem::not_found(format!("SCEP challenge {id} does not exist"));
    let used = || {
        Problem::conflict(format!(
            "SCEP challenge {id} was used; there is nothing to revoke (revoke the certificate instead)"
        ))
    };
    let challenge = app.store.scep_challenge(id).await?.ok_or_else(gone)?;
    // The profile's enrollers decide; a challenge whose profile was deleted since is left
    // to those who may enrol under any profile.
    let allowed = match app.store.profile(&challenge.profile).await {
        Ok(p) => may_enrol_under(&who.roles, &who.username, &p.enrollers),
        Err(StoreError::NotFound(_)) => issues_under_any_profile(&who.roles),
        Err(e) => return Err(e.into()),
    };
    let target = format!("scep-challenge:{id}");
    if !allowed {
        let p = Problem::forbidden(format!(
            "{} may not revoke SCEP challenge {id}: it is not among the enrollers of profile {}",
            who.username, challenge.profile
        ));
        return Err(denied(&app, &who, "scep.challenge.delete", &target, p).await);
    }
    if challenge.consumed_at.is_some() {
        return Err(used());
    }
    if !app.store.delete_unused_scep_challenge(id).await? {
        // A device used it (or someone deleted it) since we looked.
        return Err(match app.store.scep_challenge(id).await? {
            Some(_) => used(),
            None => gone(),
        });
    }
    app.audit_ok(
        &who,
        "scep.challenge.delete",
        &target,
        format!("profile {}", challenge.profile),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
