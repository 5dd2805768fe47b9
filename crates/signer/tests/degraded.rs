//! HSM trouble, injected with the fault shim (hsm-sim/shim): the signer answers
//! `HsmUnavailable` and reports itself degraded instead of failing or crashing, starts
//! degraded when the token is unreachable at start-up, and recovers on its own; a token that
//! returns a wrong signature gets `HsmFailed` and nothing is released.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use strongroom_testkit::{health, SignerProcess, TestPki};
use strongroom_wire::{CallError, CheckpointRequest, ErrorKind, Request, Response};

/// A PKI made with the real module, then configured to run the signer through the shim.
fn pki_with_shim(initial_mode: &str) -> (TestPki, SignerProcess, PathBuf) {
    let pki = TestPki::new(SIGNER, "");
    pki.standard_hierarchy();
    let control = pki.dir.path().join("shim-mode");
    std::fs::write(&control, initial_mode).unwrap();
    let signer = pki.start_signer_on_shim(&control);
    push_test_policy(&signer);
    (pki, signer, control)
}

fn try_issue(pki: &TestPki, signer: &SignerProcess, n: u32) -> Result<(), CallError> {
    let csr = openssl_csr(
        pki.dir.path(),
        &format!("d{n}"),
        &ec_p256(),
        &format!("/CN=d{n}.lab.test"),
        None,
    );
    issue(&mut signer.client(), "tls-server", csr, &[], None).map(|_| ())
}

fn assert_unavailable(r: Result<(), CallError>) {
    match r {
        Err(CallError::Refused { kind, detail }) => {
            assert_eq!(kind, ErrorKind::HsmUnavailable, "{detail}");
            assert!(detail.contains("CKR_DEVICE_ERROR"), "{detail}");
        }
        other => panic!("expected HsmUnavailable, got {other:?}"),
    }
}

#[test]
fn a_failing_token_is_temporary_and_the_signer_recovers() {
    let (pki, signer, control) = pki_with_shim("ok");
    try_issue(&pki, &signer, 1).unwrap();

    std::fs::write(&control, "device_error").unwrap();
    assert_unavailable(try_issue(&pki, &signer, 2));
    let h = health(&mut signer.client());
    assert!(
        h.hsm_degraded
            .as_deref()
            .is_some_and(|d| d.contains("CKR_DEVICE_ERROR")),
        "{h:?}"
    );

    std::fs::write(&control, "ok").unwrap();
    try_issue(&pki, &signer, 3).unwrap();
    assert_eq!(health(&mut signer.client()).hsm_degraded, None);
    assert!(
        signer.log_text().contains("HSM session lost"),
        "the session was replaced"
    );
}

#[test]
fn an_unreachable_token_at_start_means_degraded_not_down() {
    let (pki, signer, control) = pki_with_shim("device_error");
    let h = health(&mut signer.client());
    assert!(h.hsm_degraded.is_some(), "{h:?}");
    assert_unavailable(try_issue(&pki, &signer, 1));
    assert!(signer.log_text().contains("running degraded and probing"));

    std::fs::write(&control, "ok").unwrap();
    // The signer probes every 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 2;
    loop {
        match try_issue(&pki, &signer, n) {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(
                    matches!(
                        &e,
                        CallError::Refused {
                            kind: ErrorKind::HsmUnavailable,
                            ..
                        }
                    ),
                    "{e}"
                );
                std::thread::sleep(Duration::from_millis(500));
                n += 1;
            }
            Err(e) => panic!("no recovery within 20 s: {e}\n{}", signer.log_text()),
        }
    }
    assert!(signer.log_text().contains("HSM reachable again"));
}

fn checkpoint(signer: &SignerProcess, seq: u64) -> Result<Response, CallError> {
    signer
        .client()
        .call(&Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq,
            head_hash: "ab".repeat(32),
        }))
}

#[test]
fn a_checkpoint_signature_that_does_not_verify_is_not_released() {
    let (pki, signer, control) = pki_with_shim("ok");
    // The first checkpoint makes and certifies the audit key (signatures intact).
    match checkpoint(&signer, 1).unwrap() {
        Response::AuditCheckpoint(c) => {
            strongroom_x509::verify_checkpoint(
                &c.certificate,
                c.statement.as_bytes(),
                &c.signature,
            )
            .unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(journal_count(&pki, "audit-checkpoint"), 1);

    // Now the token signs, but the signature is wrong.
    std::fs::write(&control, "corrupt_signature").unwrap();
    match checkpoint(&signer, 2) {
        Err(CallError::Refused { kind, detail }) => {
            assert_eq!(kind, ErrorKind::HsmFailed, "{detail}");
            assert!(detail.contains("does not verify"), "{detail}");
        }
        Ok(Response::AuditCheckpoint(c)) => panic!(
            "released a checkpoint whose signature does not verify: {:?}",
            strongroom_x509::verify_checkpoint(
                &c.certificate,
                c.statement.as_bytes(),
                &c.signature
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        journal_count(&pki, "audit-checkpoint"),
        1,
        "nothing journaled"
    );

    std::fs::write(&control, "ok").unwrap();
    assert!(matches!(
        checkpoint(&signer, 3).unwrap(),
        Response::AuditCheckpoint(_)
    ));
}
