//! HTTP Basic for EST: an EST user of the label, its argon2id hash checked a few at a time,
//! locked for a while after repeated failures.
//!
//! In: the `Authorization` header and the label. Out: the user's name, or why not
//! ([`Refusal`]). The order is the attacker's order: a locked user is refused before any
//! argon2 work; an unknown user costs the same argon2 check as a wrong password (a dummy
//! hash), so timing says nothing about who exists; at most [`RUNNING`] checks run at once
//! (each takes a core and 19 MiB) and [`WAITING`] more wait up to 2 s for a turn, any
//! other request is refused at once with 503. A failure is counted in the store
//! (`est_user_failed`): [`MAX_FAILURES`] in a row lock the user for [`LOCK_SECS`], on every
//! front at once; a success clears the count.

use super::Est;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Failures in a row that lock an EST user.
pub const MAX_FAILURES: i64 = 5;
/// How long a lock lasts.
pub const LOCK_SECS: i64 = 900;
/// argon2 checks at once.
const RUNNING: usize = 2;
/// Checks that may wait for a turn.
const WAITING: usize = 32;
/// How long a check waits for its turn.
const WAIT_FOR_TURN: Duration = Duration::from_secs(2);
/// Longest `Authorization` header value read.
const MAX_HEADER: usize = 2048;

/// Why a password was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Basic` header.
    Missing,
    /// Unknown user, wrong password or an unreadable header (one answer for all).
    Wrong,
    /// Locked after repeated failures.
    Locked,
    /// Too many checks at once: retry.
    Busy,
    /// The store cannot be read: retry.
    Unavailable,
}

/// The argon2 checks of EST passwords.
#[derive(Debug)]
pub struct PasswordChecks {
    running: Arc<Semaphore>,
    places: Arc<Semaphore>,
}

impl Default for PasswordChecks {
    fn default() -> Self {
        PasswordChecks {
            running: Arc::new(Semaphore::new(RUNNING)),
            places: Arc::new(Semaphore::new(RUNNING + WAITING)),
        }
    }
}

/// `user:password` of a Basic header (RFC 7617); none without the header. The password
/// is wiped when dropped.
fn basic(headers: &HeaderMap) -> Option<Result<(String, Zeroizing<String>), ()>> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .map(parse_basic)
}

fn parse_basic(value: &axum::http::HeaderValue) -> Result<(String, Zeroizing<String>), ()> {
    let v = value.to_str().map_err(|_| ())?;
    if v.len() > MAX_HEADER {
        return Err(());
    }
    let (scheme, rest) = v.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(());
    }
    let decoded = Zeroizing::new(STANDARD.decode(rest.trim()).map_err(|_| ())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| ())?;
    let (user, password) = text.split_once(':').ok_or(())?;
    Ok((user.to_string(), Zeroizing::new(password.to_string())))
}

/// The EST user of `label` the request's Basic credentials name, if the password is right.
pub async fn authenticate(est: &Est, label: &str, headers: &HeaderMap) -> Result<String, Refusal> {
    let (user, password) = match basic(headers) {
        None => return Err(Refusal::Missing),
        Some(Err(())) => return Err(Refusal::Wrong),
        Some(Ok(pair)) => pair,
    };
    let place = est
        .passwords
        .places
        .clone()
        .try_acquire_owned()
        .map_err(|_| Refusal::Busy)?;
    let now = est.app.now();
    let credential = match est.app.store.est_credential(label, &user).await {
        Ok(c) => c,
        Err(strongroom_store::StoreError::Invalid(_)) => None,
        Err(e) => {
            tracing::warn!(error = %e, "EST: cannot read a user");
            return Err(Refusal::Unavailable);
        }
    };
    if let Some(until) = credential.as_ref().and_then(|c| c.locked_until) {
        if until > now {
            return Err(Refusal::Locked);
        }
    }
    let turn =
        match tokio::time::timeout(WAIT_FOR_TURN, est.passwords.running.clone().acquire_owned())
            .await
        {
            Ok(Ok(turn)) => turn,
            _ => return Err(Refusal::Busy),
        };
    let phc = credential.as_ref().map(|c| c.password_hash.clone());
    // Security: the permits move into the blocking task, so they are held until argon2
    // has finished even if the client goes away.
    let right = tokio::task::spawn_blocking(move || {
        let _held = (turn, place);
        let phc = phc
            .as_deref()
            .unwrap_or_else(|| strongroom_httpd::password::dummy_hash());
        strongroom_httpd::password::verify_password(&password, phc)
    })
    .await
    .unwrap_or(false);
    let Some(credential) = credential else {
        return Err(Refusal::Wrong);
    };
    if right {
        if let Err(e) = est.app.store.est_login_succeeded(credential.id).await {
            tracing::warn!(error = %e, user = %user, "EST: cannot clear a user's failures");
        }
        return Ok(user);
    }
    match est
        .app
        .store
        .est_login_failed(credential.id, now, MAX_FAILURES, LOCK_SECS)
        .await
    {
        Ok(Some(until)) => {
            tracing::warn!(label, user = %user, locked_until = until, "EST: user locked after {MAX_FAILURES} failed passwords");
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "EST: cannot count a failed password"),
    }
    Err(Refusal::Wrong)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_read_strictly() {
        assert!(basic(&HeaderMap::new()).is_none());
        let (u, p) = basic(&header("Basic ZXN0OnMzY3JldDpwYXJ0"))
            .unwrap()
            .unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("est", "s3cret:part"));
        let (u, _) = basic(&header("basic ZXN0OnMzY3JldDpwYXJ0"))
            .unwrap()
            .unwrap();
        assert_eq!(u, "est");
        assert!(basic(&header("Bearer abc")).unwrap().is_err());
        assert!(basic(&header("Basic !!!")).unwrap().is_err());
        assert!(basic(&header("Basic ZXN0")).unwrap().is_err(), "no colon");
        assert!(basic(&header(&format!("Basic {}", "A".repeat(4096))))
            .unwrap()
            .is_err());
    }
}
