//! Sharded and delta CRLs: a CA configured with 4 shards writes each certificate's shard
//! URL into its CRL distribution point; each shard's CRL lists only its revocations, names
//! its URL in a critical IssuingDistributionPoint and points to its delta (FreshestCRL);
//! the delta lists only what was revoked since, with DeltaCRLIndicator. openssl verifies
//! every CRL and uses them in `verify -crl_check` (and `-use_deltas`); pkilint finds no
//! ERROR in any of them, deltas included (it validates their baseCRLNumber).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::{run, tool, TestPki, ROOT_CEREMONY};
use strongroom_types::crl_scope::shard_of;
use strongroom_types::{CaId, RevocationReason};
use strongroom_wire::{
    CallError, ErrorKind, IssuedCertificate, Request, Response, RevocationRecord, SignerClient,
};

const SHARDED: &str = r#"
id = "issuing"
parent = "root"
subject = "CN=Strongroom Sharded Issuing CA,O=Strongroom Test"
algorithm = "ecdsa-p256"
validity_days = 1825
permitted = ["dns:lab.test", "ip:192.0.2.0/24"]

[issuance]
crl_url = "http://127.0.0.1:8080/crl/issuing.crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
crl_shards = 4
delta_crl = true
"#;

fn crl(c: &mut SignerClient, shard: Option<u32>, delta: bool) -> Result<Vec<u8>, CallError> {
    match c.call(&Request::IssueCrlScope {
        ca: "issuing".parse().unwrap(),
        shard,
        delta,
    })? {
        Response::Crl { der, .. } => Ok(der),
        other => panic!("{other:?}"),
    }
}

fn revoke(c: &mut SignerClient, cert: &IssuedCertificate) {
    c.call(&Request::RecordRevocation(RevocationRecord {
        ca: "issuing".parse::<CaId>().unwrap(),
        serial: cert.serial.clone(),
        reason: RevocationReason::KeyCompromise,
        revoked_at: 1_790_000_000,
        invalidity_date: None,
    }))
    .unwrap();
}

fn text(pki: &TestPki, name: &str, der: &[u8]) -> (std::path::PathBuf, String) {
    let path = pki.dir.path().join(name);
    std::fs::write(&path, der).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path));
    (
        path,
        String::from_utf8_lossy(&out.stdout).to_ascii_uppercase(),
    )
}

#[test]
fn shards_and_deltas() {
    let pki = TestPki::new(SIGNER, "");
    pki.ceremony_ok("root", ROOT_CEREMONY);
    pki.ceremony_ok("issuing", SHARDED);
    let signer = pki.start_signer();
    push_test_policy(&signer);
    let mut c = signer.client();
    let dir = pki.dir.path().to_path_buf();
    let leaves: Vec<IssuedCertificate> = (0..12)
        .map(|i| {
            let csr = openssl_csr(
                &dir,
                &format!("l{i}"),
                &ec_p256(),
                &format!("/CN=l{i}.lab.test"),
                None,
            );
            issue(&mut c, "tls-server", csr, &[], None).unwrap()
        })
        .collect();
    // Each certificate names its shard's CRL.
    for l in &leaves {
        let url = format!(
            "http://127.0.0.1:8080/crl/issuing/{}.crl",
            shard_of(&l.serial, 4)
        );
        assert!(
            l.der.windows(url.len()).any(|w| w == url.as_bytes()),
            "{} lacks {url}",
            l.serial
        );
    }
    let (_, _, root) = write_chain(&pki, "l0", &leaves[0]);
    let issuing = pki.write_pem("issuing.pem", &[leaves[0].chain[0].clone()]);

    for l in &leaves[..4] {
        revoke(&mut c, l);
    }
    let serial_text = |l: &IssuedCertificate| l.serial.to_string().to_ascii_uppercase();
    for k in 1..=4u32 {
        let der = crl(&mut c, Some(k), false).unwrap();
        let (path, t) = text(&pki, &format!("shard{k}.crl"), &der);
        assert!(
            t.contains("ISSUING DISTRIBUTION POINT")
                && t.contains(&format!("/CRL/ISSUING/{k}.CRL")),
            "{t}"
        );
        assert!(
            t.contains("FRESHEST CRL") && t.contains(&format!("/CRL/ISSUING/{k}-DELTA.CRL")),
            "{t}"
        );
        for l in &leaves[..4] {
            assert_eq!(
                t.contains(&serial_text(l)),
                shard_of(&l.serial, 4) == k,
                "shard {k} and {}",
                l.serial
            );
        }
        let out = run(Command::new(tool("openssl"))
            .args(["crl", "-inform", "DER", "-noout", "-verify", "-CAfile"])
            .arg(&issuing)
            .arg("-in")
            .arg(&path));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("verify OK"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lint = run(Command::new(tool("lint_crl"))
            .args(["lint", "-t", "CRL", "-p", "PKIX"])
            .arg(&path));
        let lt = String::from_utf8_lossy(&lint.stdout);
        assert!(!lt.contains("ERROR") && !lt.contains("FATAL"), "{lt}");
    }
    // openssl verify -crl_check with the right shard: revoked and good leaves.
    let bundle = dir.join("bundle.pem");
    std::fs::write(
        &bundle,
        format!(
            "{}{}",
            std::fs::read_to_string(&root).unwrap(),
            std::fs::read_to_string(&issuing).unwrap()
        ),
    )
    .unwrap();
    let check = |l: &IssuedCertificate, crls: &[std::path::PathBuf], extra: &[&str]| {
        let leaf = pki.write_pem(&format!("{}.pem", l.serial), std::slice::from_ref(&l.der));
        let mut cmd = Command::new(tool("openssl"));
        cmd.args(["verify", "-crl_check"])
            .args(extra)
            .arg("-CAfile")
            .arg(&bundle);
        for p in crls {
            let pem = p.with_extension("pem");
            run(Command::new(tool("openssl"))
                .args(["crl", "-inform", "DER", "-in"])
                .arg(p)
                .arg("-out")
                .arg(&pem));
            cmd.arg("-CRLfile").arg(pem);
        }
        let out = run(cmd.arg(leaf));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let shard_file =
        |l: &IssuedCertificate| dir.join(format!("shard{}.crl", shard_of(&l.serial, 4)));
    let out = check(&leaves[0], &[shard_file(&leaves[0])], &[]);
    assert!(out.contains("certificate revoked"), "{out}");
    let out = check(&leaves[8], &[shard_file(&leaves[8])], &[]);
    assert!(out.contains(": OK"), "{out}");

    // Two more revocations: each delta lists only what is new in its shard.
    revoke(&mut c, &leaves[8]);
    revoke(&mut c, &leaves[9]);
    for k in 1..=4u32 {
        let der = crl(&mut c, Some(k), true).unwrap();
        let (path, t) = text(&pki, &format!("shard{k}-delta.crl"), &der);
        // pkilint has no delta profile, but its PKIX CRL linter decodes the
        // DeltaCRLIndicator and validates its baseCRLNumber (listed at `-s ALL`).
        let lint = run(Command::new(tool("lint_crl"))
            .args(["lint", "-t", "CRL", "-p", "PKIX", "-s", "ALL"])
            .arg(&path));
        let lt = String::from_utf8_lossy(&lint.stdout);
        assert!(
            lt.contains("CrlNumberValueValidator @ certificateList.tbsCertList.crlExtensions.3.extnValue.baseCRLNumber")
                && !lt.contains("ERROR")
                && !lt.contains("FATAL"),
            "{lt}"
        );
        assert!(
            t.contains("DELTA CRL INDICATOR") && t.contains("ISSUING DISTRIBUTION POINT"),
            "{t}"
        );
        for (i, l) in leaves.iter().enumerate().take(10) {
            let expect = (i == 8 || i == 9) && shard_of(&l.serial, 4) == k;
            assert_eq!(
                t.contains(&serial_text(l)),
                expect,
                "delta {k} and leaf {i}"
            );
        }
        let out = run(Command::new(tool("openssl"))
            .args(["crl", "-inform", "DER", "-noout", "-verify", "-CAfile"])
            .arg(&issuing)
            .arg("-in")
            .arg(&path));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("verify OK"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // With deltas, openssl sees the new revocation; without, the base still says good.
    let delta = dir.join(format!("shard{}-delta.crl", shard_of(&leaves[8].serial, 4)));
    let out = check(
        &leaves[8],
        &[shard_file(&leaves[8]), delta],
        &["-use_deltas"],
    );
    assert!(out.contains("certificate revoked"), "{out}");

    // Bad scopes.
    for (shard, delta, why) in [
        (None, false, "name one"),
        (Some(5), false, "not in 1..=4"),
        (Some(0), false, "not in 1..=4"),
    ] {
        match crl(&mut c, shard, delta) {
            Err(CallError::Refused { kind, detail }) => {
                assert_eq!(kind, ErrorKind::BadRequest);
                assert!(detail.contains(why), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_delta_needs_its_full_crl_first_and_an_unsharded_ca_refuses_shards() {
    let (_pki, signer) = running_pki("");
    let mut c = signer.client();
    for (shard, delta, why) in [
        (Some(1), false, "does not shard"),
        (None, true, "does not publish delta"),
    ] {
        match crl(&mut c, shard, delta) {
            Err(CallError::Refused { detail, .. }) => assert!(detail.contains(why), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
}
