//! The TOTP second factor (RFC 6238; issue 19): a user enrols their own authenticator, and
//! from then on every password login — API, CLI, console — needs a code from it (or one of
//! the ten one-time recovery codes).
//!
//! In: the caller ([`Principal`]) and a code; for login, the user whose password matched.
//! Out: the `otpauth://` URI to show as a QR code (once), recovery codes (once), or the
//! verdict on a login's second factor.
//!
//! Security: the secret is made and sealed in the signer; the store holds only the sealed
//! blob, and a code is checked in the signer too ([`strongroom_wire::TotpCheck`]). A code
//! works once: the step it matched is taken in one guarded update, so a replayed code, or
//! two logins racing with one code, get in once. A stolen session cannot move the factor to
//! the thief's phone: replacing or removing an active factor needs a current code from it.
//! An admin may remove a user's factor (a lost phone), audited; the break-glass account has
//! none (its envelope is its control).

use crate::app::App;
use crate::auth::{Principal, Secret};
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use ring::rand::SecureRandom;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use strongroom_store::{TotpRecord, UserRecord};
use strongroom_wire::{CallError, ErrorKind, TotpCheck};

/// Recovery codes made at each confirmed enrolment.
const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show above the account.
const ISSUER: &str = "Strongroom";

/// A body carrying a code from the authenticator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// 6 digits.
    code: Secret,
}

/// The body of an enrolment: a current code, when a factor is already active.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeginBody {
    #[serde(default)]
    code: Option<Secret>,
}

/// `POST /api/v1/auth/totp`: a new secret for the caller, to be confirmed with a code.
pub async fn begin(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<BeginBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = app.store.user(who.user_id).await?;
    if user.break_glass {
        return Err(Problem::bad_request(
            "the break-glass account has no second factor: its sealed envelope is its control",
        ));
    }
    let record = app.store.totp_of(user.id).await?;
    if active(record.as_ref()) {
        let code = req.code.ok_or_else(|| {
            Problem::forbidden(
                "a second factor is active: send a current code from it (\"code\") to replace it",
            )
        })?;
        check_code(&app, &user, record.as_ref(), &code).await?;
    }
    let enrolment = app.signer.totp_enrol(user.username.clone()).await?;
    app.store
        .totp_begin(user.id, &enrolment.sealed, app.now())
        .await?;
    let secret = zeroize::Zeroizing::new(base32(&enrolment.secret));
    let uri = format!(
        "otpauth://totp/{ISSUER}:{}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits=6&period=30",
        percent_encode(&user.username),
        secret.as_str()
    );
    app.audit_ok(
        &who,
        "auth.totp.begin",
        &format!("user:{}", user.username),
        "second factor enrolment started; confirm it with a code",
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "otpauth_uri": uri,
            "secret": secret.as_str(),
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
            "next": "POST /api/v1/auth/totp/confirm with a code from the authenticator",
        })),
    ))
}

/// `POST /api/v1/auth/totp/confirm`: a code from the new secret makes it the active factor;
/// the answer carries ten recovery codes, shown once.
pub async fn confirm(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CodeBody>,
) -> ApiResult<Json<Value>> {
    let user = app.store.user(who.user_id).await?;
    let pending = app
        .store
        .totp_of(user.id)
        .await?
        .and_then(|r| r.pending)
        .ok_or_else(|| {
            Problem::conflict("no second factor enrolment is waiting: POST /api/v1/auth/totp first")
        })?;
    let step = verify(&app, &user, &pending, 0, &req.code).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut raw = [0u8; 10];
        app.rng
            .fill(&mut raw)
            .map_err(|_| Problem::internal("no randomness for recovery codes"))?;
        let code = recovery_code_text(&raw);
        hashes.push(recovery_hash(&code));
        codes.push(code);
    }
    if !app
        .store
        .totp_confirm(user.id, &pending, step, &hashes, app.now())
        .await?
    {
        return Err(Problem::conflict(
            "another enrolment started meanwhile: confirm with a code from the newest secret",
        ));
    }
    app.audit_ok(
        &who,
        "auth.totp.confirm",
        &format!("user:{}", user.username),
        format!("second factor active; {RECOVERY_CODES} new recovery codes (the old ones void)"),
    )
    .await?;
    Ok(Json(json!({
        "active": true,
        "recovery_codes": codes,
        "note": "each recovery code logs in once instead of a TOTP code; keep them apart from the password",
    })))
}

/// `DELETE /api/v1/auth/totp`: the caller removes their own factor with a current code.
pub async fn remove_own(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CodeBody>,
) -> ApiResult<StatusCode> {
    let user = app.store.user(who.user_id).await?;
    let record = app.store.totp_of(user.id).await?;
    if !active(record.as_ref()) {
        return Err(Problem::not_found(
            "no second factor is active for this account",
        ));
    }
    check_code(&app, &user, record.as_ref(), &req.code).await?;
    app.store.totp_remove(user.id).await?;
    app.audit_ok(
        &who,
        "auth.totp.remove",
        &format!("user:{}", user.username),
        "second factor removed by its user",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/{name}/totp`: an admin removes a user's factor (a lost phone); the
/// user enrols again after their next password login.
pub async fn reset(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
) -> ApiResult<StatusCode> {
    let user = app.store.user_by_name(&name).await?;
    if !app.store.totp_remove(user.id).await? {
        return Err(Problem::not_found(format!("{name} has no second factor")));
    }
    app.audit_ok(
        &who,
        "auth.totp.reset",
        &format!("user:{name}"),
        "second factor and recovery codes removed by an administrator",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a login's second factor was.
#[derive(Debug)]
pub enum SecondFactor {
    /// The account has none.
    None,
    /// A TOTP code from the authenticator.
    Code,
    /// A recovery code; this many are left.
    Recovery(i64),
}

/// A password login's second factor: nothing when the user has no active factor; otherwise
/// a code (taken once) or an unused recovery code. `Err` is the refusal to answer.
pub async fn login_factor(
    app: &App,
    user: &UserRecord,
    code: Option<&Secret>,
    recovery: Option<&Secret>,
) -> ApiResult<SecondFactor> {
    let record = app.store.totp_of(user.id).await?;
    if !active(record.as_ref()) {
        return Ok(SecondFactor::None);
    }
    match (code, recovery) {
        (Some(code), None) => {
            check_code(app, user, record.as_ref(), code).await?;
            Ok(SecondFactor::Code)
        }
        (None, Some(recovery)) => {
            let hash = recovery_hash(recovery.expose());
            if !app
                .store
                .totp_use_recovery_code(user.id, &hash, app.now())
                .await?
            {
                return Err(Problem::unauthenticated(
                    "wrong user name, password or second factor",
                ));
            }
            let left = app.store.totp_recovery_codes_left(user.id).await?;
            Ok(SecondFactor::Recovery(left))
        }
        (Some(_), Some(_)) => Err(Problem::bad_request(
            "send a TOTP code or a recovery code, not both",
        )),
        (None, None) => Err(Problem::unauthenticated(
            "this account has a second factor: send the code from the authenticator (\"totp\"; strongroom login --totp CODE) or a recovery code (\"recovery_code\")",
        )),
    }
}

/// A current code from the active secret, taken so it cannot be used again.
async fn check_code(
    app: &App,
    user: &UserRecord,
    record: Option<&TotpRecord>,
    code: &Secret,
) -> ApiResult<()> {
    let Some(TotpRecord {
        sealed: Some(sealed),
        last_step,
        ..
    }) = record
    else {
        return Err(Problem::not_found(
            "no second factor is active for this account",
        ));
    };
    let step = verify(app, user, sealed, *last_step, code).await?;
    if !app.store.totp_take_step(user.id, step).await? {
        // Another request took this step (or a later one) first: a replay.
        return Err(Problem::unauthenticated(
            "wrong user name, password or second factor",
        ));
    }
    Ok(())
}

/// The step `code` matches under `sealed`, later than `after_step`, as the signer finds it.
async fn verify(
    app: &App,
    user: &UserRecord,
    sealed: &[u8],
    after_step: u64,
    code: &Secret,
) -> ApiResult<u64> {
    let check = TotpCheck {
        username: user.username.clone(),
        sealed: sealed.to_vec(),
        code: code.expose().trim().to_string(),
        after_step,
    };
    match app.signer.totp_verify(check).await {
        Ok(step) => Ok(step),
        Err(CallError::Refused {
            kind: ErrorKind::BadRequest,
            ..
        }) => Err(Problem::unauthenticated(
            "wrong user name, password or second factor",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Whether the record holds an active (confirmed) factor.
fn active(record: Option<&TotpRecord>) -> bool {
    record.is_some_and(|r| r.sealed.is_some())
}

/// Whether `user_id` has a confirmed second factor.
pub async fn has_factor(app: &App, user_id: i64) -> Result<bool, Problem> {
    Ok(active(app.store.totp_of(user_id).await?.as_ref()))
}

/// `xxxx-xxxx-xxxx-xxxx` from 80 random bits (base32, lower case).
fn recovery_code_text(raw: &[u8; 10]) -> String {
    let text = base32(raw).to_ascii_lowercase();
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of a recovery code: SHA-256 of its characters, case and dashes ignored.
fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// RFC 4648 base32 without padding (what `otpauth://` URIs carry).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A user name as a URI path segment.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The audit outcome of a login's second factor, for the login's event.
pub fn describe(factor: &SecondFactor) -> Option<String> {
    match factor {
        SecondFactor::None => None,
        SecondFactor::Code => Some("with TOTP".into()),
        SecondFactor::Recovery(left) => Some(format!("with a recovery code ({left} left)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648() {
        // RFC 4648 §10 test vectors, padding removed.
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), expected);
        }
    }

    #[test]
    fn recovery_codes_read_the_same_however_typed() {
        let code = recovery_code_text(&[0xa5; 10]);
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(
            recovery_hash(&code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
    }
}
