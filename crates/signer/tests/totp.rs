//! The TOTP second factor in the signer (issue 19): a secret made here and sealed under an
//! AES key in the token; a code `oathtool` computes from it is accepted once (the step comes
//! back, and a code for a step already used is refused); the sealed secret opens for its own
//! user only; altered blobs, malformed codes and wrong codes are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_wire::{CallError, ErrorKind, Request, Response, SignerClient, TotpCheck};

fn enrol(c: &mut SignerClient, username: &str) -> (Vec<u8>, Vec<u8>) {
    match c
        .call(&Request::TotpEnrol {
            username: username.into(),
        })
        .unwrap()
    {
        Response::TotpEnrolment(e) => (e.sealed, e.secret),
        other => panic!("{other:?}"),
    }
}

fn verify(
    c: &mut SignerClient,
    username: &str,
    sealed: &[u8],
    code: &str,
    after_step: u64,
) -> Result<u64, (ErrorKind, String)> {
    match c.call(&Request::TotpVerify(TotpCheck {
        username: username.into(),
        sealed: sealed.to_vec(),
        code: code.into(),
        after_step,
    })) {
        Ok(Response::TotpVerified { step }) => Ok(step),
        Err(CallError::Refused { kind, detail }) => Err((kind, detail)),
        other => panic!("{other:?}"),
    }
}

/// The current code of `secret` as an authenticator app shows it (oathtool, hex key).
fn oathtool(secret: &[u8]) -> String {
    let out = run(Command::new(tool("oathtool")).args(["--totp", &hex::encode(secret)]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_code_from_an_authenticator_works_once_for_its_user_only() {
    let (_pki, signer) = running_pki("");
    let mut c = signer.client();

    let (sealed, secret) = enrol(&mut c, "alice");
    assert_eq!(secret.len(), 20, "160 bits");
    assert!(
        !sealed.windows(20).any(|w| w == secret.as_slice()),
        "sealed, not copied"
    );
    let (sealed_again, secret_again) = enrol(&mut c, "alice");
    assert_ne!(secret, secret_again, "a new secret per enrolment");
    assert_ne!(sealed, sealed_again);

    // A code computed outside Strongroom is accepted, and names its step.
    use strongroom_types::clock::{Clock, SystemClock};
    let now_step = (SystemClock.now() / 30) as u64;
    let code = oathtool(&secret);
    let step = verify(&mut c, "alice", &sealed, &code, 0).unwrap();
    assert!(step.abs_diff(now_step) <= 1, "{step} vs {now_step}");
    // The same code again, once control has recorded the step: refused (a replay).
    let (kind, detail) = verify(&mut c, "alice", &sealed, &code, step).unwrap_err();
    assert_eq!(kind, ErrorKind::BadRequest);
    assert!(detail.contains("wrong, or was already used"), "{detail}");

    // Alice's sealed secret in Bob's row opens for nobody; an altered blob neither.
    let (kind, detail) = verify(&mut c, "bob", &sealed, &code, 0).unwrap_err();
    assert_eq!(kind, ErrorKind::BadRequest, "{detail}");
    let mut altered = sealed.clone();
    altered[20] ^= 0x40;
    assert!(verify(&mut c, "alice", &altered, &code, 0).is_err());
    // Another enrolment's secret does not take this code.
    assert!(
        verify(&mut c, "alice", &sealed_again, &code, 0).is_err()
            || oathtool(&secret_again) == code
    );

    // Malformed codes are refused for what they are; a wrong code as wrong.
    for bad in ["", "12345", "1234567", "12a456", " 23456"] {
        let (kind, detail) = verify(&mut c, "alice", &sealed, bad, 0).unwrap_err();
        assert_eq!(kind, ErrorKind::BadRequest);
        assert!(detail.contains("6 digits"), "{bad:?}: {detail}");
    }
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    assert!(verify(&mut c, "alice", &sealed, &wrong, 0).is_err());
    // User names are bounded.
    let long = "x".repeat(65);
    assert!(verify(&mut c, &long, &sealed, &code, 0).is_err());
    match c.call(&Request::TotpEnrol {
        username: "".into(),
    }) {
        Err(CallError::Refused { kind, .. }) => assert_eq!(kind, ErrorKind::BadRequest),
        other => panic!("{other:?}"),
    }
}
