//! The token misbehaving under real clients, across all three daemons of `strongroom up`:
//! the signer runs on the fault shim (hsm-sim/shim) over the real token, while lego issues
//! over ACME (several at once, http-01 through a webroot), the CLI issues through the control
//! API and openssl asks OCSP questions the front has no stored answer for (a SHA-256 CertID).
//!
//! - With 500 ms added to every token call, every client gets a certificate that verifies.
//! - With each fault of the issue's matrix (`CKR_SESSION_HANDLE_INVALID`, `CKR_DEVICE_REMOVED`,
//!   `CKR_TOKEN_NOT_PRESENT`, `CKR_GENERAL_ERROR`, `CKR_USER_NOT_LOGGED_IN`,
//!   `CKR_DEVICE_ERROR`) on every call: ACME finalize answers `serverInternal` with 503 and
//!   Retry-After, the API a 503 problem, an OCSP miss `tryLater`, a stored OCSP answer is still
//!   served, control's `/ready` says the HSM is degraded; no daemon exits; and when the fault
//!   clears, issuance works again within 5 s, without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::clients::{text, Clients};
use common::{check_certificate, ocsp_status, ok, stamp, Knot, Up};
use std::process::Command;
use std::time::{Duration, Instant};
use strongroom_testkit::{run, step};

/// The faults of the matrix, each on every token call while it lasts.
const FAULTS: [&str; 6] = [
    "CKR_SESSION_HANDLE_INVALID",
    "CKR_DEVICE_REMOVED",
    "CKR_TOKEN_NOT_PRESENT",
    "CKR_GENERAL_ERROR",
    "CKR_USER_NOT_LOGGED_IN",
    "CKR_DEVICE_ERROR",
];

#[test]
fn acme_api_and_ocsp_under_token_faults_and_latency() {
    let _step = step("set up: up on the fault shim, names through knot, a webroot for http-01");
    let tmp = common::test_dir("acme-faults");
    let dir = tmp.path();
    let knot = Knot::start(dir);
    let rules = dir.join("shim-rules");
    std::fs::write(&rules, "ok").unwrap();
    let mut up = Up::start_on_shim(dir, Some(knot.port), &rules);
    let b = Clients::new(&up, dir);
    b.up.login(&b.home);
    ok(&mut b.lego("first.lab.test"), "lego before any fault");
    let (first, first_chain) =
        check_certificate(b.up, dir, "first", &b.lego_cert("first.lab.test"));
    let issuer = dir.join("first.issuer.pem");
    let chain = std::fs::read_to_string(&first_chain).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    std::fs::write(&issuer, &chain[..chain.find(end).unwrap() + end.len()]).unwrap();
    let stored = ocsp_status(b.up, &issuer, &first);
    assert!(stored.contains(": good"), "{stored}");

    let _step = step("500 ms on every token call: four lego runs and the API at once");
    std::fs::write(&rules, "latency_ms=500").unwrap();
    let started = Instant::now();
    let names: Vec<String> = (1..=4).map(|i| format!("slow{i}.lab.test")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            b.lego(n)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let api = b.api_issue("slow-api.lab.test");
    assert!(api.status.success(), "API under latency: {}", text(&api));
    for (name, child) in names.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "lego {name} under latency: {}",
            text(&out)
        );
        check_certificate(b.up, dir, name, &b.lego_cert(name));
    }
    let miss = b.ocsp_miss(&issuer, &first);
    assert!(miss.contains(": good"), "OCSP miss under latency: {miss}");
    stamp(&format!(
        "five issuances and an OCSP miss at 500 ms per token call took {:?}",
        started.elapsed()
    ));

    for fault in FAULTS {
        let _step = step("a fault on every token call, then cleared");
        stamp(fault);
        std::fs::write(&rules, format!("fail={fault}")).unwrap();
        b.touch_listeners();

        let name = format!("{}.lab.test", fault.to_lowercase().replace('_', "-"));
        let refused = run(&mut b.lego(&name));
        let said = text(&refused);
        assert!(
            !refused.status.success(),
            "lego got a certificate during {fault}"
        );
        assert!(
            said.contains("urn:ietf:params:acme:error:serverInternal")
                && said.contains("503")
                && said.contains("finalize again shortly"),
            "lego during {fault} did not get a clean retryable error:\n{said}"
        );
        let api = b.api_issue(&format!("api-{name}"));
        assert!(!api.status.success(), "the API issued during {fault}");
        assert!(
            text(&api).contains("503") && text(&api).contains("HSM is unavailable"),
            "the API during {fault}: {}",
            text(&api)
        );
        let miss = b.ocsp_miss(&issuer, &first);
        assert!(
            miss.contains("trylater"),
            "OCSP miss during {fault}: {miss}"
        );
        let stored = ocsp_status(b.up, &issuer, &first);
        assert!(
            stored.contains("Response verify OK") && stored.contains(": good"),
            "the stored OCSP answer during {fault}: {stored}"
        );
        let (status, body) = b.ready();
        assert!(
            status == "503" && body.contains("degraded"),
            "/ready during {fault}: {status} {body}"
        );
        assert!(up_alive(&b), "a daemon exited during {fault}");

        std::fs::write(&rules, "ok").unwrap();
        let cleared = Instant::now();
        loop {
            let api = b.api_issue(&format!("api-after-{name}"));
            if api.status.success() {
                break;
            }
            assert!(
                cleared.elapsed() < Duration::from_secs(5),
                "no issuance 5 s after {fault} cleared: {}",
                text(&api)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        stamp(&format!(
            "{fault} cleared: API issuance again after {:?}",
            cleared.elapsed()
        ));
        ok(&mut b.lego(&name), "lego after the fault cleared");
        check_certificate(b.up, dir, &name, &b.lego_cert(&name));
        let miss = b.ocsp_miss(&issuer, &first);
        assert!(miss.contains(": good"), "OCSP miss after {fault}: {miss}");
    }

    let _step = step("nothing panicked, nothing restarted");
    for (daemon, log) in [
        ("signer", b.up.signer_log()),
        ("control", b.up.control_log()),
        ("front", b.up.front_log()),
    ] {
        assert!(!log.contains("panicked"), "{daemon} panicked:\n{log}");
    }
    drop(b);
    assert!(up.is_running(), "up exited");
}

fn up_alive(b: &Clients) -> bool {
    // Control answers `/ready` (which carries the signer's health) and the front serves its
    // CRL: both still run. `up` itself, which exits when any daemon does, is checked at the end.
    let (status, _) = b.ready();
    let front = run(Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!(
            "http://127.0.0.1:{}/crl/issuing.crl",
            b.up.front_http
        )));
    !status.is_empty() && String::from_utf8_lossy(&front.stdout) == "200"
}
