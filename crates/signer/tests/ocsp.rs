//! Pre-signed OCSP responses from the signer, checked by openssl and pkilint: good for a
//! certificate it issued, revoked with the reason after `RecordRevocation`, unknown for a
//! serial it never issued; signed by a delegated responder (EKU OCSPSigning, nocheck) whose
//! key is in the HSM; the issued-serial index survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_types::{RevocationReason, Serial};
use strongroom_wire::{
    ErrorKind, OcspSigningRequest, OcspStatus, Request, Response, RevocationRecord,
    SignedOcspResponse, SignerClient,
};

fn sign(c: &mut SignerClient, serials: &[Serial]) -> Vec<SignedOcspResponse> {
    match c
        .call(&Request::SignOcspResponses(OcspSigningRequest {
            ca: "issuing".parse().unwrap(),
            serials: serials.to_vec(),
            validity_secs: 3600,
            sha256_cert_ids: false,
            combined: false,
            nonce: None,
        }))
        .unwrap()
    {
        Response::OcspResponses(r) => r,
        other => panic!("{other:?}"),
    }
}

/// `openssl ocsp -respin` with the response file; returns stdout + stderr.
fn openssl_ocsp(
    dir: &Path,
    name: &str,
    der: &[u8],
    issuing: &Path,
    root: &Path,
    target: &[&str],
) -> String {
    let path = dir.join(format!("{name}.ocsp"));
    std::fs::write(&path, der).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args(["ocsp", "-no_nonce", "-respin"])
        .arg(&path)
        .arg("-issuer")
        .arg(issuing)
        .arg("-CAfile")
        .arg(root)
        .args(target));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn pre_signed_responses_say_good_revoked_unknown_and_verify() {
    let (pki, mut signer) = running_pki("");
    let mut c = signer.client();
    let dir = pki.dir.path().to_path_buf();
    let good = issue(
        &mut c,
        "tls-server",
        openssl_csr(&dir, "good", &ec_p256(), "/CN=good.lab.test", None),
        &[],
        None,
    )
    .unwrap();
    let bad = issue(
        &mut c,
        "tls-server",
        openssl_csr(&dir, "bad", &ec_p256(), "/CN=bad.lab.test", None),
        &[],
        None,
    )
    .unwrap();
    let (good_pem, issuing, root) = write_chain(&pki, "good", &good);
    let bad_pem = pki.write_pem("bad.pem", std::slice::from_ref(&bad.der));
    let revoked_at = 1_790_000_000;
    c.call(&Request::RecordRevocation(RevocationRecord {
        ca: "issuing".parse().unwrap(),
        serial: bad.serial.clone(),
        reason: RevocationReason::KeyCompromise,
        revoked_at,
        invalidity_date: None,
    }))
    .unwrap();
    let stranger: Serial = "7f0000000000000000000000000000aa".parse().unwrap();

    let answers = sign(
        &mut c,
        &[good.serial.clone(), bad.serial.clone(), stranger.clone()],
    );
    assert_eq!(answers[0].status, OcspStatus::Good);
    assert_eq!(
        answers[1].status,
        OcspStatus::Revoked {
            at: revoked_at,
            reason: RevocationReason::KeyCompromise
        }
    );
    assert_eq!(answers[2].status, OcspStatus::Unknown);
    assert!(answers[0].next_update - answers[0].this_update <= 3600);

    let text = openssl_ocsp(
        &dir,
        "good",
        &answers[0].der,
        &issuing,
        &root,
        &["-cert", good_pem.to_str().unwrap()],
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    let text = openssl_ocsp(
        &dir,
        "bad",
        &answers[1].der,
        &issuing,
        &root,
        &["-cert", bad_pem.to_str().unwrap()],
    );
    assert!(
        text.contains("Response verify OK")
            && text.contains(": revoked")
            && text.contains("Reason: keyCompromise"),
        "{text}"
    );
    let text = openssl_ocsp(
        &dir,
        "stranger",
        &answers[2].der,
        &issuing,
        &root,
        &["-serial", &format!("0x{stranger}")],
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": unknown"),
        "{text}"
    );
    // The response for one certificate does not answer for another.
    let text = openssl_ocsp(
        &dir,
        "mixed",
        &answers[0].der,
        &issuing,
        &root,
        &["-cert", bad_pem.to_str().unwrap()],
    );
    assert!(text.contains("No Status found"), "{text}");

    // On demand: one response for both, SHA-256 CertIDs, the nonce echoed.
    let combined = match c
        .call(&Request::SignOcspResponses(OcspSigningRequest {
            ca: "issuing".parse().unwrap(),
            serials: vec![good.serial.clone(), bad.serial.clone()],
            validity_secs: 300,
            sha256_cert_ids: true,
            combined: true,
            nonce: Some(vec![7; 16]),
        }))
        .unwrap()
    {
        Response::OcspResponses(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(combined.len(), 1);
    let text = openssl_ocsp(
        &dir,
        "combined",
        &combined[0].der,
        &issuing,
        &root,
        &[
            "-sha256",
            "-cert",
            good_pem.to_str().unwrap(),
            "-cert",
            bad_pem.to_str().unwrap(),
            "-resp_text",
        ],
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(
        text.contains("good.pem: good") && text.contains("bad.pem: revoked"),
        "{text}"
    );
    assert!(text.contains("OCSP Nonce"), "{text}");
    // A nonce only goes into an on-demand answer, and is at most 32 octets.
    for (combined, nonce) in [
        (false, Some(vec![1; 8])),
        (true, Some(vec![1; 33])),
        (true, Some(vec![])),
    ] {
        let r = c.call(&Request::SignOcspResponses(OcspSigningRequest {
            ca: "issuing".parse().unwrap(),
            serials: vec![good.serial.clone()],
            validity_secs: 60,
            sha256_cert_ids: false,
            combined,
            nonce,
        }));
        assert!(
            matches!(
                r,
                Err(strongroom_wire::CallError::Refused {
                    kind: ErrorKind::BadRequest,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    // The delegated responder: EKU OCSPSigning and nocheck, issued by the CA.
    let text = run(Command::new(tool("openssl"))
        .args(["ocsp", "-respin"])
        .arg(dir.join("good.ocsp"))
        .args(["-resp_text", "-noverify"]));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("OCSP Signing") && text.contains("OCSP No Check"),
        "{text}"
    );
    assert!(
        text.contains("strongroom-ocsp-responder.lab.test"),
        "{text}"
    );

    // pkilint: no ERROR on any of them.
    for name in ["good", "bad", "stranger"] {
        let out = run(Command::new(tool("lint_ocsp_response"))
            .arg("lint")
            .arg(dir.join(format!("{name}.ocsp"))));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("ERROR") && !text.contains("FATAL"),
            "{name}: {text}"
        );
    }

    // Bad requests change nothing.
    for (serials, validity) in [
        (vec![], 3600),
        (vec![good.serial.clone()], 10),
        (vec![good.serial.clone()], 8 * 86_400),
    ] {
        let r = c.call(&Request::SignOcspResponses(OcspSigningRequest {
            ca: "issuing".parse().unwrap(),
            serials,
            validity_secs: validity,
            sha256_cert_ids: false,
            combined: false,
            nonce: None,
        }));
        assert!(
            matches!(
                r,
                Err(strongroom_wire::CallError::Refused {
                    kind: ErrorKind::BadRequest,
                    ..
                })
            ),
            "{r:?}"
        );
    }
    let r = c.call(&Request::SignOcspResponses(OcspSigningRequest {
        ca: "nope".parse().unwrap(),
        serials: vec![good.serial.clone()],
        validity_secs: 60,
        sha256_cert_ids: false,
        combined: false,
        nonce: None,
    }));
    assert!(
        matches!(
            r,
            Err(strongroom_wire::CallError::Refused {
                kind: ErrorKind::BadRequest,
                ..
            })
        ),
        "{r:?}"
    );
    // The root did not issue the leaf: unknown under the root.
    let r = c
        .call(&Request::SignOcspResponses(OcspSigningRequest {
            ca: "root".parse().unwrap(),
            serials: vec![good.serial.clone()],
            validity_secs: 60,
            sha256_cert_ids: false,
            combined: false,
            nonce: None,
        }))
        .unwrap();
    assert!(
        matches!(r, Response::OcspResponses(ref v) if v[0].status == OcspStatus::Unknown),
        "{r:?}"
    );

    // After a restart the signer still knows what it issued and revoked, and reuses its
    // responder key.
    drop(c);
    signer.stop();
    let signer = pki.start_signer();
    let mut c = signer.client();
    let again = sign(&mut c, &[good.serial.clone(), bad.serial.clone()]);
    assert_eq!(again[0].status, OcspStatus::Good);
    assert!(matches!(again[1].status, OcspStatus::Revoked { .. }));
    let text = openssl_ocsp(
        &dir,
        "again",
        &again[0].der,
        &issuing,
        &root,
        &["-cert", good_pem.to_str().unwrap()],
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );

    // Rotation: a responder certificate inside its last 7 days is replaced by a new key
    // and certificate on the next request (the record's notAfter is moved to simulate it).
    let record = pki.state.join("ocsp/issuing/key.toml");
    let record_text = std::fs::read_to_string(&record).unwrap();
    let soon = format!("not_after = {}", again[0].this_update + 3600);
    let moved: String = record_text
        .lines()
        .map(|l| {
            if l.starts_with("not_after") {
                soon.clone()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&record, moved).unwrap();
    let rotated = sign(&mut c, std::slice::from_ref(&good.serial));
    let responder = |der: &[u8]| {
        let path = dir.join("probe.ocsp");
        std::fs::write(&path, der).unwrap();
        let out = run(Command::new(tool("openssl"))
            .args(["ocsp", "-respin"])
            .arg(&path)
            .args(["-resp_text", "-noverify"]));
        // The responder certificate rides in the response as a PEM block in -resp_text.
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let before = responder(&again[0].der);
    let after = responder(&rotated[0].der);
    assert!(
        !before.is_empty() && before != after,
        "responder certificate not rotated: {before} / {after}"
    );
    let text = openssl_ocsp(
        &dir,
        "rotated",
        &rotated[0].der,
        &issuing,
        &root,
        &["-cert", good_pem.to_str().unwrap()],
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    // For CA issuing: one responder key at first use, one at rotation (the restart reused
    // the first; the root got its own when it was asked).
    let journal = std::fs::read_to_string(pki.state.join("journal/issuance.log")).unwrap();
    let issuing_keys = journal
        .lines()
        .filter(|l| l.contains("\"kind\":\"delegated-key\"") && l.contains("\"ca\":\"issuing\""))
        .count();
    assert_eq!(issuing_keys, 2);
}
