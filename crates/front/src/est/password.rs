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
//! front at once; a success clears the count. Failures are also counted per client address
//! ([`AddressFailures`]: an IPv4 address or an IPv6 /64, in this front's memory): past
//! [`MAX_ADDRESS_FAILURES`] in [`ADDRESS_WINDOW_SECS`] an address is refused with 429 before
//! any look-up, which stops one address guessing one password across many users (the
//! per-user lock does not). A success never clears an address's count.

use super::Est;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::Arc;
use std::time::Duration;
use strongroom_httpd::Source;
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
/// Failed passwords one client address may send in [`ADDRESS_WINDOW_SECS`].
pub const MAX_ADDRESS_FAILURES: u32 = 20;
/// The window of [`MAX_ADDRESS_FAILURES`], from an address's first failure.
pub const ADDRESS_WINDOW_SECS: i64 = 900;
/// Addresses tracked at once; when full, windows that ended go first, then the oldest.
const TRACKED_ADDRESSES: usize = 10_000;

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
    /// The client's address failed too often: retry after this many seconds.
    AddressLimited(i64),
}

/// Failed passwords per client address within a window (this front's memory, bounded).
#[derive(Debug, Default)]
pub struct AddressFailures {
    counts: std::sync::Mutex<std::collections::HashMap<Source, (u32, i64)>>,
}

impl AddressFailures {
    /// Seconds until `source` may try again, when it is over its limit at `now`.
    fn refused(&self, source: Source, now: i64) -> Option<i64> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (n, start) = counts.get(&source)?;
        let end = start + ADDRESS_WINDOW_SECS;
        (*n >= MAX_ADDRESS_FAILURES && now < end).then_some(end - now)
    }

    /// Counts one failure of `source` at `now`.
    fn failed(&self, source: Source, now: i64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= TRACKED_ADDRESSES && !counts.contains_key(&source) {
            counts.retain(|_, (_, start)| now < *start + ADDRESS_WINDOW_SECS);
            if counts.len() >= TRACKED_ADDRESSES {
                if let Some(oldest) = counts.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    counts.remove(&oldest);
                }
            }
        }
        let entry = counts.entry(source).or_insert((0, now));
        if now >= entry.1 + ADDRESS_WINDOW_SECS {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

/// The argon2 checks of EST passwords, and the failures per client address.
#[derive(Debug)]
pub struct PasswordChecks {
    running: Arc<Semaphore>,
    places: Arc<Semaphore>,
    addresses: AddressFailures,
}

impl Default for PasswordChecks {
    fn default() -> Self {
        PasswordChecks {
            running: Arc::new(Semaphore::new(RUNNING)),
            places: Arc::new(Semaphore::new(RUNNING + WAITING)),
            addresses: AddressFailures::default(),
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
/// `client`: the TCP peer's address (none: not counted per address).
pub async fn authenticate(
    est: &Est,
    label: &str,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
) -> Result<String, Refusal> {
    let source = client.map(Source::of);
    let now = est.app.now();
    if let Some(wait) = source.and_then(|s| est.passwords.addresses.refused(s, now)) {
        return Err(Refusal::AddressLimited(wait));
    }
    let (user, password) = match basic(headers) {
        None => return Err(Refusal::Missing),
        Some(Err(())) => {
            if let Some(s) = source {
                est.passwords.addresses.failed(s, now);
            }
            return Err(Refusal::Wrong);
        }
        Some(Ok(pair)) => pair,
    };
    let place = est
        .passwords
        .places
        .clone()
        .try_acquire_owned()
        .map_err(|_| Refusal::Busy)?;
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
    if !right {
        if let Some(s) = source {
            est.passwords.addresses.failed(s, now);
        }
    }
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
    fn an_address_is_refused_past_its_failures_until_its_window_ends() {
        let a = AddressFailures::default();
        let one = Source::of("192.0.2.1".parse().unwrap());
        let other = Source::of("2001:db8::1".parse().unwrap());
        let same_64 = Source::of("2001:db8::ffff".parse().unwrap());
        for i in 0..MAX_ADDRESS_FAILURES {
            assert_eq!(a.refused(one, 100), None, "after {i}");
            a.failed(one, 100 + i64::from(i));
        }
        assert_eq!(a.refused(one, 200), Some(100 + ADDRESS_WINDOW_SECS - 200));
        assert_eq!(a.refused(other, 200), None);
        assert_eq!(a.refused(one, 100 + ADDRESS_WINDOW_SECS), None);
        // A new window starts at the next failure.
        a.failed(one, 100 + ADDRESS_WINDOW_SECS);
        assert_eq!(a.refused(one, 100 + ADDRESS_WINDOW_SECS), None);
        // An IPv6 /64 is one address.
        for _ in 0..MAX_ADDRESS_FAILURES {
            a.failed(other, 300);
        }
        assert!(a.refused(same_64, 301).is_some());
    }

    #[test]
    fn the_tracked_addresses_stay_bounded() {
        let a = AddressFailures::default();
        let ip = |i: u32| Source::of(std::net::Ipv4Addr::from(0x0a00_0000 + i).into());
        // All within one window: the oldest goes.
        for i in 0..(TRACKED_ADDRESSES as u32 + 50) {
            a.failed(ip(i), 100 + i64::from(i / 1000));
        }
        assert_eq!(a.counts.lock().unwrap().len(), TRACKED_ADDRESSES);
        // Windows that ended go first, all of them at once.
        a.failed(ip(1_000_000), 100 + ADDRESS_WINDOW_SECS + 5);
        assert!(a.counts.lock().unwrap().len() < TRACKED_ADDRESSES);
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
