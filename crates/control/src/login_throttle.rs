//! Login throttling: how often a user name, and a client address, may fail to log in
//! before password logins for it are refused for a while, and how those failures reach the
//! audit log without one chained event each.
//!
//! In: each login attempt's claimed user name and its client address — the TCP peer of the
//! connection, which the accept loop of `strongroom-httpd` puts in the request as axum's
//! `ConnectInfo` (no header is read: `X-Forwarded-For` is anyone's to write) — then its
//! outcome. Out: before any argon2 work, a [`Refusal`] (a 429 with the seconds to wait), and
//! [`AuditNote`]s for the audit log.
//!
//! The rules, with the defaults of `[login]`: 5 failures for one user name, or 20 from one
//! address, within 15 minutes of the first, lock that name or address for 15 minutes from
//! the failure that reached the limit. A locked name or address is refused even with the
//! right password, and at once: no argon2 runs for it. Attempts still being checked count
//! against the limits, so 500 parallel guesses get no more checks than 5 in a row. Names
//! are counted whether or not they exist, so a lock says nothing about existence. A
//! successful login clears its name's count, never its address's (one good account must
//! not reset a guesser's address). IPv6 addresses are counted per /64 (one host commonly
//! holds a whole /64); IPv4-mapped IPv6 addresses as the IPv4 address.
//!
//! The audit log gets the first failure of a user name from an address in a window as an
//! `auth.login` event of its own; later ones are counted, and one `auth.login.failures`
//! event with the count is written at the next success for the name, at a lockout, or when
//! the window has passed ([`sweep_loop`]). Each lockout is one `auth.login.lockout` event;
//! attempts refused while locked are counted and written as one `auth.login.failures`
//! event when the lock ends.
//!
//! Why memory and not the store: one control process serves an appliance today, so it sees
//! every attempt; a restart forgets the counts (an attacker who can restart control has
//! more than passwords). Several control instances behind a load balancer would each count
//! their own share, multiplying an attacker's attempts by their number: the HA design
//! (docs/design/ha.md) moves this ledger into the database. Memory is bounded: each map
//! holds at most `tracked` keys; when one is full, idle entries go first, then the unlocked
//! entry untouched longest (a lock only when every entry is locked), its pending count
//! noted for the audit log first; the notes waiting to be written are capped the same way.

use crate::app::App;
use crate::problem::Problem;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use strongroom_store::AuditOutcome;

/// How often [`sweep_loop`] closes windows and ends locks.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The limits, from `[login]` in the configuration.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures of one user name within the window that lock it.
    pub user_failures: u32,
    /// Failures from one address within the window that lock it.
    pub address_failures: u32,
    /// The window, and how long a lock lasts, in seconds.
    pub window_secs: i64,
    /// Keys kept per map (user names, addresses, user name and address pairs).
    pub tracked: usize,
}

/// Where an attempt comes from: the peer's IP address, IPv6 cut to its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    /// The address of a connection's peer. Without one (a request that did not come through
    /// the listener) every such request shares the unspecified address, and its limits.
    pub fn of(peer: Option<SocketAddr>) -> ClientAddress {
        let ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip().to_canonical());
        ClientAddress(match ip {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            v4 => v4,
        })
    }
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Why an attempt was refused before its password was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user name is locked for this many more seconds.
    UserLocked(i64),
    /// The address is locked for this many more seconds.
    AddressLocked(i64),
    /// As many attempts for the name or from the address as may still fail are being
    /// checked now.
    Crowded,
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Problem {
        let secs = |s: i64| u32::try_from(s.max(1)).unwrap_or(u32::MAX);
        match r {
            Refusal::UserLocked(s) => Problem::too_many_requests(
                format!("too many failed logins for this user name: password login for it is refused for {} more seconds (API keys and client certificates still work)", secs(s)),
                secs(s),
            ),
            Refusal::AddressLocked(s) => Problem::too_many_requests(
                format!("too many failed logins from this address: password logins from it are refused for {} more seconds", secs(s)),
                secs(s),
            ),
            Refusal::Crowded => Problem::too_many_requests(
                "other login attempts for this user name or from this address are being checked; retry in a second",
                1,
            ),
        }
    }
}

/// An audit event the throttle asks for ([`write_notes`] writes it, outcome denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    /// Who: the user name tried, or `system` for a lockout.
    pub actor: String,
    /// `auth.login.failures` or `auth.login.lockout`.
    pub action: &'static str,
    /// `user:NAME` or `address:ADDRESS`.
    pub target: String,
    /// The count and what it covers.
    pub detail: String,
}

/// Entries that can be evicted when a map is full.
trait Evictable {
    /// Eviction order, lowest first: a lock goes after every unlocked entry (so spraying
    /// names cannot cheaply push out the lock on `admin`), then the longest untouched.
    fn rank(&self) -> (bool, i64);
    /// Whether it carries nothing worth keeping.
    fn idle(&self) -> bool;
}

/// Failures of one user name or from one address.
#[derive(Debug, Default)]
struct Count {
    /// The first failure of the current window.
    since: i64,
    failures: u32,
    /// Attempts being checked now.
    checking: u32,
    locked_until: Option<i64>,
    /// Attempts refused during the current lock.
    refused: u64,
    touched: i64,
}

impl Count {
    /// Ends a lock or a window that has passed; returns how many attempts an ended lock
    /// refused.
    fn roll(&mut self, now: i64, window: i64) -> u64 {
        let mut ended = 0;
        if self.locked_until.is_some_and(|until| until <= now) {
            self.locked_until = None;
            self.failures = 0;
            ended = std::mem::take(&mut self.refused);
        }
        if self.locked_until.is_none() && self.since + window <= now {
            self.failures = 0;
        }
        ended
    }
}

impl Evictable for Count {
    fn rank(&self) -> (bool, i64) {
        (self.locked_until.is_some(), self.touched)
    }
    fn idle(&self) -> bool {
        self.failures == 0 && self.checking == 0 && self.locked_until.is_none() && self.refused == 0
    }
}

/// Failures of one user name from one address, after the first of the window.
#[derive(Debug)]
struct Tally {
    first_at: i64,
    last_at: i64,
    further: u64,
}

impl Evictable for Tally {
    fn rank(&self) -> (bool, i64) {
        (false, self.last_at)
    }
    fn idle(&self) -> bool {
        false
    }
}

/// Makes room for one more key: idle entries go first, then the lowest ranked
/// ([`Evictable::rank`]), which is returned.
fn make_room<K: Clone + Eq + Hash, V: Evictable>(
    map: &mut HashMap<K, V>,
    cap: usize,
) -> Option<(K, V)> {
    if map.len() < cap.max(1) {
        return None;
    }
    map.retain(|_, v| !v.idle());
    if map.len() < cap.max(1) {
        return None;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, v)| v.rank())
        .map(|(k, _)| k.clone())?;
    map.remove(&oldest).map(|v| (oldest, v))
}

/// The scope a [`Count`] belongs to, for notes.
#[derive(Debug, Clone, Copy)]
enum Scope {
    User,
    Address,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Address => "address",
        }
    }
}

/// Everything counted, and the notes not yet written.
#[derive(Debug, Default)]
struct Ledger {
    users: HashMap<String, Count>,
    addresses: HashMap<ClientAddress, Count>,
    pairs: HashMap<(String, ClientAddress), Tally>,
    outbox: Vec<AuditNote>,
    /// Notes dropped because the outbox was full.
    lost: u64,
}

impl Ledger {
    fn note(&mut self, note: AuditNote, cap: usize) {
        if self.outbox.len() < cap.max(1) {
            self.outbox.push(note);
        } else {
            self.lost += 1;
        }
    }

    fn note_refused(&mut self, scope: Scope, key: &str, refused: u64, cap: usize) {
        if refused > 0 {
            let target = format!("{}:{key}", scope.name());
            self.note(
                AuditNote {
                    actor: "system".into(),
                    action: "auth.login.failures",
                    detail: format!("{refused} login attempts refused while {target} was locked"),
                    target,
                },
                cap,
            );
        }
    }

    fn note_tally(&mut self, (user, from): &(String, ClientAddress), tally: &Tally, cap: usize) {
        if tally.further > 0 {
            self.note(
                AuditNote {
                    actor: user.clone(),
                    action: "auth.login.failures",
                    target: format!("user:{user}"),
                    detail: format!(
                        "{} more failed logins for {user} from {from} within {} s after the first (which has its own auth.login event)",
                        tally.further,
                        tally.last_at - tally.first_at
                    ),
                },
                cap,
            );
        }
    }

    /// Notes and forgets every tally matching `which`.
    fn close_tallies(&mut self, which: impl Fn(&(String, ClientAddress)) -> bool, cap: usize) {
        let keys: Vec<_> = self.pairs.keys().filter(|k| which(k)).cloned().collect();
        for key in keys {
            if let Some(tally) = self.pairs.remove(&key) {
                self.note_tally(&key, &tally, cap);
            }
        }
    }

    /// The count of a user name, made (room permitting) if new, its ended lock noted.
    fn user(&mut self, name: &str, now: i64, limits: &LoginLimits) -> &mut Count {
        if !self.users.contains_key(name) {
            if let Some((key, old)) = make_room(&mut self.users, limits.tracked) {
                self.note_refused(Scope::User, &key, old.refused, limits.tracked);
            }
        }
        let ended = self
            .users
            .entry(name.to_string())
            .or_default()
            .roll(now, limits.window_secs);
        self.note_refused(Scope::User, name, ended, limits.tracked);
        self.users.entry(name.to_string()).or_default()
    }

    /// The count of an address, made (room permitting) if new, its ended lock noted.
    fn address(&mut self, from: ClientAddress, now: i64, limits: &LoginLimits) -> &mut Count {
        if !self.addresses.contains_key(&from) {
            if let Some((key, old)) = make_room(&mut self.addresses, limits.tracked) {
                self.note_refused(
                    Scope::Address,
                    &key.to_string(),
                    old.refused,
                    limits.tracked,
                );
            }
        }
        let ended = self
            .addresses
            .entry(from)
            .or_default()
            .roll(now, limits.window_secs);
        self.note_refused(Scope::Address, &from.to_string(), ended, limits.tracked);
        self.addresses.entry(from).or_default()
    }

    /// Counts one failure; returns whether the count just reached `limit` (a new lock).
    fn fail(count: &mut Count, now: i64, limit: u32, window: i64) -> bool {
        count.checking = count.checking.saturating_sub(1);
        count.touched = now;
        if count.locked_until.is_some() {
            return false;
        }
        if count.failures == 0 {
            count.since = now;
        }
        count.failures = count.failures.saturating_add(1);
        let locks = count.failures >= limit;
        if locks {
            count.locked_until = Some(now + window);
        }
        locks
    }

    fn lockout_note(
        &mut self,
        scope: Scope,
        key: &str,
        failures: u32,
        now: i64,
        limits: &LoginLimits,
    ) {
        let target = format!("{}:{key}", scope.name());
        let whose = match scope {
            Scope::User => format!("as {key}"),
            Scope::Address => format!("from {key}"),
        };
        self.note(
            AuditNote {
                actor: "system".into(),
                action: "auth.login.lockout",
                detail: format!(
                    "{failures} failed logins within {window} s: password logins {whose} are refused until {until} ({window} s)",
                    window = limits.window_secs,
                    until = now + limits.window_secs,
                ),
                target,
            },
            limits.tracked,
        );
    }
}

/// The login throttle: one per control process, shared by every login.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: LoginLimits,
    ledger: Mutex<Ledger>,
}

impl LoginThrottle {
    /// An empty ledger under `limits`.
    pub fn new(limits: LoginLimits) -> LoginThrottle {
        LoginThrottle {
            limits,
            ledger: Mutex::new(Ledger::default()),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic while holding the lock leaves counts, never a broken invariant that
        // matters for safety: keep counting rather than refuse every login.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits an attempt to have its password checked, or refuses it. Cheap: no store, no
    /// argon2.
    pub fn begin(&self, user: &str, from: ClientAddress, now: i64) -> Result<Attempt<'_>, Refusal> {
        let limits = self.limits;
        let mut ledger = self.ledger();
        let u = ledger.user(user, now, &limits);
        if let Some(until) = u.locked_until {
            u.refused += 1;
            u.touched = now;
            return Err(Refusal::UserLocked(until - now));
        }
        let user_full = u.failures.saturating_add(u.checking) >= limits.user_failures;
        let a = ledger.address(from, now, &limits);
        if let Some(until) = a.locked_until {
            a.refused += 1;
            a.touched = now;
            return Err(Refusal::AddressLocked(until - now));
        }
        if user_full || a.failures.saturating_add(a.checking) >= limits.address_failures {
            return Err(Refusal::Crowded);
        }
        a.checking += 1;
        a.touched = now;
        let u = ledger.user(user, now, &limits);
        u.checking += 1;
        u.touched = now;
        Ok(Attempt {
            throttle: self,
            user: user.to_string(),
            from,
            settled: false,
        })
    }

    /// Closes windows that have passed and ends locks whose time is up (noting their
    /// counts), and forgets what no longer matters.
    pub fn sweep(&self, now: i64) {
        let limits = self.limits;
        let mut guard = self.ledger();
        let ledger = &mut *guard;
        let mut ended: Vec<(Scope, String, u64)> = Vec::new();
        for (name, count) in ledger.users.iter_mut() {
            ended.push((
                Scope::User,
                name.clone(),
                count.roll(now, limits.window_secs),
            ));
        }
        for (from, count) in ledger.addresses.iter_mut() {
            ended.push((
                Scope::Address,
                from.to_string(),
                count.roll(now, limits.window_secs),
            ));
        }
        for (scope, key, refused) in ended {
            ledger.note_refused(scope, &key, refused, limits.tracked);
        }
        ledger.users.retain(|_, c| !c.idle());
        ledger.addresses.retain(|_, c| !c.idle());
        let window = limits.window_secs;
        let closed: Vec<_> = ledger
            .pairs
            .iter()
            .filter(|(_, t)| t.first_at + window <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in closed {
            if let Some(tally) = ledger.pairs.remove(&key) {
                ledger.note_tally(&key, &tally, limits.tracked);
            }
        }
    }

    /// Takes the notes waiting to be written.
    pub fn take_notes(&self) -> Vec<AuditNote> {
        let mut ledger = self.ledger();
        let mut notes = std::mem::take(&mut ledger.outbox);
        let lost = std::mem::take(&mut ledger.lost);
        if lost > 0 {
            notes.push(AuditNote {
                actor: "system".into(),
                action: "auth.login.failures",
                target: "login".into(),
                detail: format!(
                    "{lost} failure counts were not kept: the throttle's memory cap was reached"
                ),
            });
        }
        notes
    }

    /// Puts back notes that could not be written, ahead of newer ones.
    fn put_back(&self, mut notes: Vec<AuditNote>) {
        let mut ledger = self.ledger();
        notes.append(&mut ledger.outbox);
        ledger.outbox = notes;
    }
}

/// An attempt admitted by [`LoginThrottle::begin`]: settle it with [`Attempt::failed`] or
/// [`Attempt::succeeded`]. Dropped unsettled (the client went away, the password check
/// could not run) it counts as neither.
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    user: String,
    from: ClientAddress,
    settled: bool,
}

impl Attempt<'_> {
    /// Counts a failure (wrong password, unknown name, disabled user). Returns whether it
    /// is the first of its user name and address in the window, to be audited on its own;
    /// the others are counted in a later `auth.login.failures` note.
    pub fn failed(mut self, now: i64) -> bool {
        self.settled = true;
        let limits = self.throttle.limits;
        let mut guard = self.throttle.ledger();
        let ledger = &mut *guard;
        let u = ledger.user(&self.user, now, &limits);
        let user_locks = Ledger::fail(u, now, limits.user_failures, limits.window_secs);
        let user_failures = u.failures;
        let a = ledger.address(self.from, now, &limits);
        let address_locks = Ledger::fail(a, now, limits.address_failures, limits.window_secs);
        let address_failures = a.failures;

        let key = (self.user.clone(), self.from);
        let alone = match ledger.pairs.get_mut(&key) {
            Some(t) if t.first_at + limits.window_secs > now => {
                t.further += 1;
                t.last_at = now;
                false
            }
            _ => {
                if let Some(old) = ledger.pairs.remove(&key) {
                    ledger.note_tally(&key, &old, limits.tracked);
                } else if let Some((k, old)) = make_room(&mut ledger.pairs, limits.tracked) {
                    ledger.note_tally(&k, &old, limits.tracked);
                }
                let tally = Tally {
                    first_at: now,
                    last_at: now,
                    further: 0,
                };
                ledger.pairs.insert(key, tally);
                true
            }
        };
        if user_locks {
            let user = self.user.clone();
            ledger.close_tallies(|(u, _)| *u == user, limits.tracked);
            ledger.lockout_note(Scope::User, &self.user, user_failures, now, &limits);
        }
        if address_locks {
            let from = self.from;
            ledger.close_tallies(|(_, f)| *f == from, limits.tracked);
            ledger.lockout_note(
                Scope::Address,
                &from.to_string(),
                address_failures,
                now,
                &limits,
            );
        }
        alone
    }

    /// A successful login: clears its user name's count (and any lock a parallel failure
    /// set meanwhile) and closes its tallies.
    pub fn succeeded(mut self, now: i64) {
        self.settled = true;
        let limits = self.throttle.limits;
        let mut guard = self.throttle.ledger();
        let ledger = &mut *guard;
        let u = ledger.user(&self.user, now, &limits);
        u.checking = u.checking.saturating_sub(1);
        u.failures = 0;
        u.locked_until = None;
        u.touched = now;
        let refused = std::mem::take(&mut u.refused);
        ledger.note_refused(Scope::User, &self.user, refused, limits.tracked);
        let a = ledger.address(self.from, now, &limits);
        a.checking = a.checking.saturating_sub(1);
        let user = self.user.clone();
        ledger.close_tallies(|(u, _)| *u == user, limits.tracked);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut ledger = self.throttle.ledger();
        if let Some(u) = ledger.users.get_mut(&self.user) {
            u.checking = u.checking.saturating_sub(1);
        }
        if let Some(a) = ledger.addresses.get_mut(&self.from) {
            a.checking = a.checking.saturating_sub(1);
        }
    }
}

/// Writes the throttle's pending notes to the audit log. On a store failure the notes not
/// yet written are kept for the next try and the failure is returned.
pub async fn write_notes(app: &App) -> Result<(), Problem> {
    let mut notes = app.login.take_notes().into_iter();
    while let Some(note) = notes.next() {
        if let Err(p) = app
            .audit(
                &note.actor,
                note.action,
                &note.target,
                AuditOutcome::Denied,
                note.detail.clone(),
            )
            .await
        {
            let mut rest = vec![note];
            rest.extend(notes);
            app.login.put_back(rest);
            return Err(p);
        }
    }
    Ok(())
}

/// Every 30 s: closes passed windows and ended locks and writes their counts.
pub async fn sweep_loop(app: App) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        app.login.sweep(app.now());
        if let Err(p) = write_notes(&app).await {
            tracing::warn!(error = %p.detail, "login failure counts could not be audited; retrying at the next sweep");
        }
    }
}

#[cfg(test)]
#[path = "login_throttle_tests.rs"]
mod tests;
