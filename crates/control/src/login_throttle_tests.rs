//! Unit tests of the login throttle (`crate::login_throttle`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const LIMITS: LoginLimits = LoginLimits {
    user_failures: 5,
    address_failures: 20,
    window_secs: 900,
    tracked: 64,
};

fn from(s: &str) -> ClientAddress {
    ClientAddress::of(Some(SocketAddr::new(s.parse().unwrap(), 4242)))
}

#[test]
fn five_failures_lock_the_name_for_the_window_and_a_success_resets_it() {
    let t = LoginThrottle::new(LIMITS);
    let a = from("192.0.2.1");
    for i in 0..4 {
        assert_eq!(t.begin("dave", a, 100 + i).unwrap().failed(100 + i), i == 0);
    }
    // A success clears the count: five more are needed again.
    t.begin("dave", a, 110).unwrap().succeeded(110);
    let notes = t.take_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]
        .detail
        .starts_with("3 more failed logins for dave from 192.0.2.1"));
    for i in 0..5 {
        t.begin("dave", a, 120 + i).unwrap().failed(120 + i);
    }
    assert_eq!(
        t.begin("dave", a, 130).unwrap_err(),
        Refusal::UserLocked(124 + 900 - 130)
    );
    // Another name from the same address is not locked; the lock ends with its window.
    t.begin("erin", a, 130).unwrap().succeeded(130);
    assert!(t.begin("dave", a, 124 + 900).is_ok());
    let notes = t.take_notes();
    let actions: Vec<_> = notes
        .iter()
        .map(|n| (n.action, n.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("auth.login.failures", "user:dave"),
            ("auth.login.lockout", "user:dave"),
            ("auth.login.failures", "user:dave"),
        ],
        "{notes:?}"
    );
    assert_eq!(
        notes[2].detail,
        "1 login attempts refused while user:dave was locked"
    );
}

#[test]
fn failures_spread_over_more_than_the_window_do_not_lock() {
    let t = LoginThrottle::new(LIMITS);
    let a = from("192.0.2.1");
    for i in 0..20 {
        let now = i * 300;
        t.begin("dave", a, now).unwrap().failed(now);
    }
    assert!(t.begin("dave", a, 6000).is_ok());
}

#[test]
fn parallel_attempts_count_against_the_limit_before_they_end() {
    let t = LoginThrottle::new(LIMITS);
    let a = from("192.0.2.1");
    let admitted: Vec<_> = (0..5).map(|_| t.begin("dave", a, 1).unwrap()).collect();
    assert_eq!(t.begin("dave", a, 1).unwrap_err(), Refusal::Crowded);
    // An attempt that ends unsettled (client gone) frees its place.
    drop(admitted);
    let mut many = Vec::new();
    for i in 0..20 {
        many.push(t.begin(&format!("u{i}"), a, 2).unwrap());
    }
    assert_eq!(t.begin("u99", a, 2).unwrap_err(), Refusal::Crowded);
    for attempt in many {
        attempt.failed(3);
    }
    assert_eq!(
        t.begin("u99", a, 3).unwrap_err(),
        Refusal::AddressLocked(900)
    );
    // Another address is not affected.
    assert!(t.begin("u99", from("192.0.2.2"), 3).is_ok());
}

#[test]
fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
    assert_eq!(from("2001:db8:1:2:aaaa::1"), from("2001:db8:1:2:bbbb::2"));
    assert_ne!(from("2001:db8:1:2::1"), from("2001:db8:1:3::1"));
    assert_eq!(from("::ffff:192.0.2.7"), from("192.0.2.7"));
    assert_eq!(
        from("2001:db8:1:2:aaaa::1").to_string(),
        "2001:db8:1:2::/64"
    );
    assert_eq!(ClientAddress::of(None).to_string(), "0.0.0.0");
}

#[test]
fn tallies_close_with_their_window_in_a_sweep() {
    let t = LoginThrottle::new(LIMITS);
    let a = from("192.0.2.1");
    assert!(t.begin("carol", a, 0).unwrap().failed(0));
    assert!(!t.begin("carol", a, 10).unwrap().failed(10));
    t.sweep(899);
    assert!(t.take_notes().is_empty());
    t.sweep(900);
    let notes = t.take_notes();
    assert_eq!(notes.len(), 1);
    assert!(notes[0]
        .detail
        .starts_with("1 more failed logins for carol from 192.0.2.1 within 10 s"));
    // The next window's first failure is audited on its own again.
    assert!(t.begin("carol", a, 901).unwrap().failed(901));
}

#[test]
fn memory_stays_bounded_under_a_spray_of_names() {
    let limits = LoginLimits {
        address_failures: u32::MAX,
        tracked: 8,
        ..LIMITS
    };
    let t = LoginThrottle::new(limits);
    let a = from("192.0.2.1");
    for i in 0..1000 {
        t.begin(&format!("spray-{i}"), a, i).unwrap().failed(i);
        let ledger = t.ledger();
        assert!(ledger.users.len() <= 8 && ledger.pairs.len() <= 8 && ledger.outbox.len() <= 8);
    }
    // Nothing but counts was dropped: each name failed once, and was audited on its own.
    assert!(t.take_notes().is_empty());
}

#[test]
fn a_spray_of_names_does_not_push_out_a_lock() {
    let limits = LoginLimits {
        address_failures: u32::MAX,
        tracked: 8,
        ..LIMITS
    };
    let t = LoginThrottle::new(limits);
    let a = from("192.0.2.1");
    for i in 0..5 {
        t.begin("admin", a, i).unwrap().failed(i);
    }
    for i in 0..1000 {
        t.begin(&format!("spray-{i}"), a, 10).unwrap().failed(10);
    }
    assert_eq!(
        t.begin("admin", a, 20).unwrap_err(),
        Refusal::UserLocked(884)
    );
}
