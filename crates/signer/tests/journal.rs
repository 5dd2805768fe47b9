//! The journal end to end: 1,000 issuances from concurrent clients, a restart, `journal
//! verify`, and a flipped byte detected with its line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::run;
use strongroom_types::ProfileName;
use strongroom_wire::{IssuanceRequest, Request, Response, SubjectKey};

fn verify(pki: &strongroom_testkit::TestPki) -> std::process::Output {
    run(Command::new(SIGNER)
        .args(["journal", "verify", "--config"])
        .arg(&pki.config))
}

#[test]
fn chain_verifies_after_1000_issuances_and_a_restart_and_catches_a_flipped_byte() {
    let (pki, mut signer) = running_pki("");
    let spki = {
        let csr = openssl_csr(pki.dir.path(), "j", &ec_p256(), "/CN=j.lab.test", None);
        strongroom_x509::parse_csr(&csr).unwrap().public_key_der
    };
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let socket = signer.socket.clone();
            let spki = spki.clone();
            std::thread::spawn(move || {
                let mut c = strongroom_wire::SignerClient::connect(&socket).unwrap();
                for i in 0..250 {
                    let req = IssuanceRequest {
                        profile: "tls-server".parse::<ProfileName>().unwrap(),
                        subject_key: SubjectKey::PublicKey(spki.clone()),
                        names: vec![format!("dns:h{t}-{i}.lab.test").parse().unwrap()],
                        validity_secs: Some(3600),
                    };
                    assert!(matches!(
                        c.call(&Request::IssueCertificate(req)).unwrap(),
                        Response::Certificate(_)
                    ));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(journal_count(&pki, "issued"), 1000);

    signer.stop();
    let out = verify(&pki);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    // ceremony×2 + startup + policy + 1000 × (intent + issued)
    assert!(summary.contains("2004 records, chain intact"), "{summary}");

    let signer = pki.start_signer();
    let mut c = signer.client();
    assert!(issue(
        &mut c,
        "tls-server",
        openssl_csr(pki.dir.path(), "k", &ec_p256(), "/CN=k.lab.test", None),
        &[],
        None
    )
    .is_ok());
    drop(c);
    drop(signer);
    let out = verify(&pki);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2007 records, chain intact"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Flip one byte in the middle of record 1500.
    let path = pki.state.join("journal/issuance.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let start: usize = bytes
        .split(|b| *b == b'\n')
        .take(1499)
        .map(|l| l.len() + 1)
        .sum();
    let pos = start + 100;
    bytes[pos] = if bytes[pos] == b'a' { b'b' } else { b'a' };
    std::fs::write(&path, bytes).unwrap();
    let out = verify(&pki);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("journal chain broken at line 1500"), "{err}");

    // A signer refuses to start on a broken journal.
    let out = run(pki
        .signer_command()
        .args(["run", "--config"])
        .arg(&pki.config));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1500"));
}
