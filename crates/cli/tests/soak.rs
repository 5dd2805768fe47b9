//! The soak: a mixed load at fixed rates against `strongroom up` — lego over ACME (a new
//! account and order every 3 s), the CLI issuing through the control API (every second) and
//! OCSP over HTTP (50 requests a second, SHA-1 CertIDs the front answers from its store and
//! SHA-256 ones the signer signs on demand, for every certificate issued so far) — with zero
//! errors allowed and memory that stays flat: each daemon's resident set at the end within
//! 10 % of what it was after the first tenth of the run (minute 1 of the documented ten; at
//! least 10 s in).
//!
//! `make test` runs it for 60 s; `make soak` (docs/operations.md) for ten minutes
//! (`STRONGROOM_SOAK_SECS=600`). Everything is local and bounded: one `up`, one knot, at most
//! one client of each kind at a time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::clients::{text, Clients};
use common::{check_certificate, ok, Knot, Up};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use strongroom_testkit::step;

/// How long the load runs: `STRONGROOM_SOAK_SECS`, 60 by default.
fn soak_secs() -> u64 {
    match std::env::var("STRONGROOM_SOAK_SECS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("STRONGROOM_SOAK_SECS={v} is not a number of seconds")),
        Err(_) => 60,
    }
}

/// Calls `work(i)` every `period` until `deadline`; a call that overruns its slot is
/// followed at once by the next one (the rate is fixed, the clients do not back off).
fn every(period: Duration, deadline: Instant, mut work: impl FnMut(u64)) {
    let mut next = Instant::now();
    let mut i = 0;
    while next < deadline {
        work(i);
        i += 1;
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Resident set of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

/// Each daemon's (pid, resident set in KiB), by name.
fn rss_of(up: &Up) -> BTreeMap<String, (u32, u64)> {
    up.daemon_pids()
        .into_iter()
        .map(|(name, pid)| (name, (pid, rss_kib(pid))))
        .collect()
}

/// Whether an OCSP response's outer status is `successful` (RFC 6960 4.2.1: the first
/// field of the OCSPResponse SEQUENCE is ENUMERATED 0).
fn successful(der: &[u8]) -> bool {
    let header = match der.get(1) {
        Some(&n) if n < 0x80 => 2,
        Some(&n) => 2 + usize::from(n & 0x7f),
        None => return false,
    };
    der.first() == Some(&0x30) && der.get(header..header + 3) == Some(&[0x0a, 0x01, 0x00][..])
}

/// OCSP requests (SHA-1 and SHA-256 CertIDs) for `cert`, as openssl builds them.
fn ocsp_requests(dir: &Path, issuer: &Path, cert: &Path) -> Vec<Vec<u8>> {
    ["-sha1", "-sha256"]
        .iter()
        .map(|digest| {
            let out = dir.join(format!(
                "{}{digest}.ocsp-req",
                cert.file_stem().unwrap().to_string_lossy()
            ));
            ok(
                Command::new("openssl")
                    .args(["ocsp", "-no_nonce", "-issuer"])
                    .arg(issuer)
                    .arg(digest)
                    .arg("-cert")
                    .arg(cert)
                    .arg("-reqout")
                    .arg(&out),
                "openssl ocsp -reqout",
            );
            std::fs::read(&out).unwrap()
        })
        .collect()
}

#[test]
fn mixed_load_without_errors_and_with_flat_memory() {
    let secs = soak_secs();
    let _step = step("set up: up, names through knot, a webroot for http-01");
    let tmp = common::test_dir("soak");
    let dir = tmp.path();
    let knot = Knot::start(dir);
    let up = Up::start(dir, Some(knot.port));
    let clients = Clients::new(&up, dir);
    up.login(&clients.home);
    let issuer = up.data.join("ca/issuing.pem");
    let ocsp_url = format!("http://127.0.0.1:{}/ocsp", up.front_http);
    let first = clients.api_issue("first.lab.test");
    assert!(first.status.success(), "{}", text(&first));
    let requests = Mutex::new(ocsp_requests(dir, &issuer, &dir.join("first.lab.test.pem")));

    let _step = step("the mixed load");
    eprintln!("soak: {secs} s of lego every 3 s, API every 1 s, OCSP 50/s");
    let errors = Mutex::new(Vec::<String>::new());
    let fail = |what: String| {
        eprintln!("soak error: {what}");
        errors.lock().unwrap().push(what);
    };
    let (acme_done, api_done, ocsp_done) =
        (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let warm_at = Duration::from_secs((secs / 10).max(10));
    let mut warm = BTreeMap::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            every(Duration::from_secs(3), deadline, |i| {
                let name = format!("acme{i}.lab.test");
                let out = clients.lego(&name).output().unwrap();
                if out.status.success() {
                    check_certificate(&up, dir, &name, &clients.lego_cert(&name));
                    acme_done.fetch_add(1, Ordering::Relaxed);
                } else {
                    fail(format!("lego {name}: {}", text(&out)));
                }
            })
        });
        s.spawn(|| {
            every(Duration::from_secs(1), deadline, |i| {
                let name = format!("api{i}.lab.test");
                let out = clients.api_issue(&name);
                if out.status.success() {
                    let cert = dir.join(format!("{name}.pem"));
                    let more = ocsp_requests(dir, &issuer, &cert);
                    requests.lock().unwrap().extend(more);
                    api_done.fetch_add(1, Ordering::Relaxed);
                } else {
                    fail(format!("API {name}: {}", text(&out)));
                }
            })
        });
        s.spawn(|| {
            let agent = ureq::Agent::new_with_defaults();
            every(Duration::from_millis(20), deadline, |i| {
                let body = {
                    let pool = requests.lock().unwrap();
                    pool[i as usize % pool.len()].clone()
                };
                match agent
                    .post(&ocsp_url)
                    .header("Content-Type", "application/ocsp-request")
                    .send(&body[..])
                {
                    Ok(mut r) => {
                        let der = r.body_mut().read_to_vec().unwrap_or_default();
                        if r.status() == 200 && successful(&der) {
                            ocsp_done.fetch_add(1, Ordering::Relaxed);
                        } else {
                            fail(format!("OCSP: HTTP {} answered {der:02x?}", r.status()));
                        }
                    }
                    Err(e) => fail(format!("OCSP: {e}")),
                }
            })
        });
        // The resident sets every tenth of the run, for the record; the one after the first
        // sixth is the baseline.
        let every_tenth = Duration::from_secs((secs / 10).max(5));
        let mut next = start + every_tenth;
        while next <= deadline {
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let now = rss_of(&up);
            eprintln!(
                "soak: resident sets at {:?} (pid, KiB): {now:?}",
                start.elapsed()
            );
            if warm.is_empty() && start.elapsed() >= warm_at {
                warm = now;
            }
            next += every_tenth;
        }
    });
    let end = rss_of(&up);
    let (acme, api, ocsp) = (
        acme_done.into_inner(),
        api_done.into_inner(),
        ocsp_done.into_inner(),
    );
    eprintln!(
        "soak: {:?}: {acme} ACME certificates, {api} API certificates, {ocsp} OCSP answers; \
         resident sets at the end (KiB): {end:?}",
        start.elapsed()
    );

    let _step = step("zero errors, every daemon still up, memory flat");
    let errors = errors.into_inner().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, the first: {}",
        errors.len(),
        errors[0]
    );
    // Each client kept at least half its schedule (a slow machine may fall behind the
    // fixed rate; the load must still have happened).
    assert!(
        acme * 3 * 2 >= secs,
        "only {acme} ACME certificates in {secs} s"
    );
    assert!(api * 2 >= secs, "only {api} API certificates in {secs} s");
    assert!(
        ocsp * 20 * 2 >= secs * 1000,
        "only {ocsp} OCSP answers in {secs} s"
    );
    assert_eq!(warm.len(), 3, "daemons at {warm_at:?}: {warm:?}");
    let pids = |m: &BTreeMap<String, (u32, u64)>| m.values().map(|v| v.0).collect::<Vec<_>>();
    assert_eq!(pids(&warm), pids(&end), "a daemon was restarted or exited");
    for (daemon, &(_, before)) in &warm {
        let after = end[daemon].1;
        assert!(
            after * 10 <= before * 11,
            "{daemon}'s resident set grew from {before} KiB at {warm_at:?} to {after} KiB"
        );
    }
}
