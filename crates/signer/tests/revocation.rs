//! Revocations recorded through the signer end up on CRLs that openssl accepts; CRL
//! numbers only go up, across restarts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_types::{CaId, RevocationReason};
use strongroom_wire::{Request, Response, RevocationRecord};

fn crl(client: &mut strongroom_wire::SignerClient, ca: &str) -> (Vec<u8>, u64) {
    match client
        .call(&Request::IssueCrl {
            ca: ca.parse::<CaId>().unwrap(),
        })
        .unwrap()
    {
        Response::Crl { der, number } => (der, number),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoked_leaf_fails_crl_check_and_numbers_increase_across_restart() {
    let (pki, mut signer) = running_pki("");
    let mut c = signer.client();
    let dir = pki.dir.path();
    let good = issue(
        &mut c,
        "tls-server",
        openssl_csr(dir, "good", &ec_p256(), "/CN=good.lab.test", None),
        &[],
        None,
    )
    .unwrap();
    let bad = issue(
        &mut c,
        "tls-server",
        openssl_csr(dir, "bad", &ec_p256(), "/CN=bad.lab.test", None),
        &[],
        None,
    )
    .unwrap();
    let (good_pem, issuing, root) = write_chain(&pki, "good", &good);
    let bad_pem = pki.write_pem("bad.pem", std::slice::from_ref(&bad.der));

    let record = RevocationRecord {
        ca: "issuing".parse().unwrap(),
        serial: bad.serial.clone(),
        reason: RevocationReason::KeyCompromise,
        revoked_at: 1_790_000_000,
        invalidity_date: Some(1_789_990_000),
    };
    assert_eq!(
        c.call(&Request::RecordRevocation(record.clone())).unwrap(),
        Response::RevocationRecorded {
            already_revoked: false
        }
    );
    assert_eq!(
        c.call(&Request::RecordRevocation(record)).unwrap(),
        Response::RevocationRecorded {
            already_revoked: true
        }
    );

    let (der, n1) = crl(&mut c, "issuing");
    let (root_crl, _) = crl(&mut c, "root");
    let crl_pem = dir.join("issuing.crl.pem");
    std::fs::write(&crl_pem, strongroom_testkit::pem("X509 CRL", &der)).unwrap();
    let root_crl_pem = dir.join("root.crl.pem");
    std::fs::write(
        &root_crl_pem,
        strongroom_testkit::pem("X509 CRL", &root_crl),
    )
    .unwrap();

    let out = run(Command::new(tool("openssl"))
        .args(["crl", "-noout", "-text", "-verify", "-CAfile"])
        .arg(&issuing)
        .arg("-in")
        .arg(&crl_pem));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("verify OK"), "{text}");
    assert!(
        text.contains("Key Compromise") && text.contains("Invalidity Date"),
        "{text}"
    );
    assert!(
        text.to_uppercase()
            .contains(&bad.serial.to_string().to_uppercase()),
        "{text}"
    );

    let bundle = dir.join("bundle.pem");
    let all = [&root, &issuing, &crl_pem, &root_crl_pem]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    std::fs::write(&bundle, all).unwrap();
    let check = |leaf: &std::path::Path| {
        run(Command::new(tool("openssl"))
            .args(["verify", "-crl_check_all", "-CAfile"])
            .arg(&bundle)
            .arg(leaf))
    };
    let ok = check(&good_pem);
    assert!(
        ok.status.success(),
        "good leaf: {}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let revoked = check(&bad_pem);
    assert!(!revoked.status.success(), "revoked leaf must fail");
    assert!(
        String::from_utf8_lossy(&revoked.stdout).contains("certificate revoked")
            || String::from_utf8_lossy(&revoked.stderr).contains("certificate revoked")
    );

    let out = run(Command::new(tool("lint_crl"))
        .args(["lint", "-t", "CRL", "-p", "PKIX", "-s", "ERROR"])
        .arg(&crl_pem));
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !report.contains("ERROR") && !report.contains("FATAL"),
        "{report}"
    );

    drop(c);
    signer.stop();
    let signer = pki.start_signer();
    let (_, n2) = crl(&mut signer.client(), "issuing");
    assert!(
        n2 > n1,
        "CRL number went from {n1} to {n2} across a restart"
    );
}
