#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! SCEP (issue 17) with a second, independent client: PyScep (PyPI) enrols under a profile
//! of an RSA CA (PyScep checks the RA certificate with RSA padding, so it needs an RSA
//! issuer), choosing AES-256 and SHA-512 from GetCACaps and its recipient by keyUsage (the
//! RA's encryption-only twin); a relayed CSR — one key's CSR signed by another key — is
//! refused; GetCert returns the certificate; after a revocation GetCRL returns a CRL that
//! lists it; GetNextCACert answers once control names a successor CA, signed by the RA.
//! Under a profile that needs an approval it gets PENDING, and after an admin approves, its
//! GetCertInitial (CertPoll) gets the certificate. What it got verifies with openssl and
//! passes pkilint.

mod scep_common;

use scep_common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{repo_root, run, step, tool};

const STATIC_CHALLENGE: &str = "pyscep-static-challenge-42";

fn pyscep(c: &Control, url: &str, work: &Path, extra: &[&str]) -> Value {
    let out = run(Command::new(tool("python3"))
        .arg(repo_root().join("crates/front/tests/py/scep_pyscep.py"))
        .arg(url)
        .arg(work)
        .arg(STATIC_CHALLENGE)
        .args(extra));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyScep: {stdout}{}\nfront: {}",
        String::from_utf8_lossy(&out.stderr),
        c.front_log()
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn pyscep_enrols_gets_its_certificate_and_the_crl_and_a_relayed_csr_is_refused() {
    let mut c = Control::start(Db::Sqlite);
    let admin = c.admin();

    let _step = step("an RSA CA and a device profile on it");
    let r = admin.post(
        "/api/v1/cas",
        &json!({
            "id": "scep-rsa", "parent": "root", "subject": "CN=Strongroom Test SCEP CA,O=Strongroom Test",
            "algorithm": "rsa3072", "validity_days": 365, "permitted": ["dns:lab.test"],
            "crl_url": "http://127.0.0.1:8080/crl/scep-rsa.crl",
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
    profile["name"] = json!("device");
    profile["issuer"] = json!("scep-rsa");
    profile["extended_key_usage"] = json!(["client-auth"]);
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/device",
        &json!({"profile": profile, "enrollers": ["*"]}),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    profile["name"] = json!("device-approved");
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/device-approved",
        &json!({"profile": profile, "approvals_required": 1, "enrollers": ["*"]}),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.text);

    let challenge_file = c.dir().join("scep-challenge");
    std::fs::write(&challenge_file, STATIC_CHALLENGE).unwrap();
    c.start_front_with(&format!(
        "[ocsp]\nvalidity_secs = 3600\n\n[scep]\ndefault_profile = \"device\"\n\n[[scep.profile]]\nname = \"device\"\nchallenge_file = {challenge_file:?}\n\n[[scep.profile]]\nname = \"device-approved\"\nchallenge_file = {challenge_file:?}\n"
    ));
    let url = format!("{}/scep", c.front_base);
    let work = c.dir().join("pyscep");
    std::fs::create_dir_all(&work).unwrap();

    let _step = step("PKCSReq (AES-256, SHA-512), a relayed CSR, GetCert");
    let outcome = pyscep(&c, &url, &work, &[]);
    assert_eq!(outcome["cipher"], "aes256", "{outcome}");
    assert_eq!(outcome["digest"], "sha512", "{outcome}");
    assert_eq!(
        outcome["enrol"]["status"],
        "SUCCESS",
        "{outcome}\n{}",
        c.front_log()
    );
    assert_eq!(outcome["relay"]["status"], "FAILURE", "{outcome}");
    // PyScep reports the failInfo as its number: 1 is badMessageCheck.
    assert_eq!(outcome["relay"]["fail_info"], "1", "{outcome}");
    assert!(
        c.front_log()
            .contains("the CSR's key is not the key that signed the message"),
        "{}",
        c.front_log()
    );
    assert_eq!(outcome["getcert"]["status"], "SUCCESS", "{outcome}");
    let enrolled = std::fs::read(work.join("enrolled.pem")).unwrap();
    assert_eq!(enrolled, std::fs::read(work.join("getcert.pem")).unwrap());

    let _step =
        step("a padding-oracle prober gets one answer for every envelope that does not open");
    {
        // Told apart, "the padding failed" and "it opened to something else" would let a
        // captured request be decrypted block by block (its challengePassword with it).
        let before = c
            .front_log()
            .matches("does not open with this CA's RA key")
            .count();
        let probed = pyscep(&c, &url, &work, &["probe"]);
        for case in ["not_a_csr", "not_an_issuer_and_serial", "bad_padding"] {
            assert_eq!(probed[case]["status"], "FAILURE", "{case}: {probed}");
            assert_eq!(
                probed[case]["fail_info"], "1",
                "{case}: badMessageCheck, {probed}"
            );
        }
        let after = c
            .front_log()
            .matches("does not open with this CA's RA key")
            .count();
        assert_eq!(
            after - before,
            3,
            "one text for all three: {}",
            c.front_log()
        );
    }

    let _step = step("the certificate verifies to the root and lints clean");
    let chain = c.dir().join("scep-chain.pem");
    let r = admin.get("/api/v1/cas/scep-rsa/chain");
    assert_eq!(r.status, 200, "{}", r.text);
    // PEM, the CA first, the root last.
    std::fs::write(&chain, &r.text).unwrap();
    let leaf = work.join("enrolled.pem");
    let verified = openssl(&[
        "verify",
        "-CAfile",
        chain.to_str().unwrap(),
        leaf.to_str().unwrap(),
    ]);
    assert!(verified.contains(": OK"), "{verified}");
    let out = run(Command::new(tool("lint_pkix_cert"))
        .args(["lint", "-s", "ERROR"])
        .arg(&leaf));
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !report.contains("ERROR") && !report.contains("FATAL"),
        "{report}"
    );

    let _step = step("GetNextCACert: none until control names a successor, then its chain");
    let before = pyscep(&c, &url, &work, &["rollover"]);
    assert_eq!(before["offers"], false, "{before}");
    assert!(before["rollover_error"].is_string(), "{before}");
    let r = admin.post(
        "/api/v1/cas",
        &json!({
            "id": "scep-rsa-2", "parent": "root", "subject": "CN=Strongroom Test SCEP CA 2,O=Strongroom Test",
            "algorithm": "rsa2048", "validity_days": 365, "permitted": ["dns:lab.test"],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    for (body, status) in [
        (json!({"successor": "scep-rsa"}), 400),
        (json!({"successor": "nowhere"}), 404),
        (json!({"successor": "scep-rsa-2", "extra": 1}), 400),
    ] {
        let r = admin.send("PUT", "/api/v1/cas/scep-rsa/successor", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    let r = admin.send(
        "PUT",
        "/api/v1/cas/scep-rsa/successor",
        &json!({"successor": "scep-rsa-2"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let after = pyscep(&c, &url, &work, &["rollover"]);
    assert_eq!(after["offers"], true, "{after}");
    let subjects: Vec<&str> = after["rollover"]
        .as_array()
        .unwrap_or_else(|| panic!("{after}\n{}", c.front_log()))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("Strongroom Test SCEP CA 2")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("Strongroom Test Root CA")),
        "{subjects:?}"
    );

    let _step = step("PENDING under a profile needing approval, approved, then GetCertInitial");
    let pending_url = format!("{}/scep/device-approved", c.front_base);
    let child = Command::new(tool("python3"))
        .arg(repo_root().join("crates/front/tests/py/scep_pyscep.py"))
        .arg(&pending_url)
        .arg(&work)
        .arg(STATIC_CHALLENGE)
        .arg("pending")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let approval = loop {
        let r = admin.get("/api/v1/approvals?state=pending");
        let found = r.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .find(|a| a["kind"] == "scep.enrol");
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no scep.enrol approval: {}\n{}",
            r.text,
            c.front_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        approval["payload"]["names"],
        json!(["dns:py-pending.lab.test"]),
        "{approval}"
    );
    let r = admin.post(
        &format!("/api/v1/approvals/{}/approve", approval["id"]),
        &json!({"comment": "PyScep device"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    std::fs::write(work.join("approved"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyScep: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let polled: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(polled["first"]["status"], "PENDING", "{polled}");
    assert_eq!(
        polled["poll"]["status"],
        "SUCCESS",
        "{polled}\n{}",
        c.front_log()
    );
    let pending_leaf = work.join("pending.pem");
    let verified = openssl(&[
        "verify",
        "-CAfile",
        chain.to_str().unwrap(),
        pending_leaf.to_str().unwrap(),
    ]);
    assert!(verified.contains(": OK"), "{verified}");

    let _step = step("revoked, then GetCRL lists it");
    let serial = outcome["serial"].as_str().unwrap().to_string();
    let list = admin.get("/api/v1/certificates?name=py1.lab.test").json();
    let id = list["items"][0]["id"].as_i64().unwrap();
    let r = admin.post(
        &format!("/api/v1/certificates/{id}/revoke"),
        &json!({"reason": "keyCompromise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = pyscep(&c, &url, &work, &["getcrl", &serial]);
        if got["getcrl"]["status"] == "SUCCESS" {
            let text = openssl(&[
                "crl",
                "-inform",
                "DER",
                "-in",
                work.join("crl.der").to_str().unwrap(),
                "-noout",
                "-text",
            ]);
            // openssl prints whole octets ("0DD2…"), Python the shortest hex ("dd2…").
            let listed = text.lines().filter_map(|l| {
                l.trim()
                    .strip_prefix("Serial Number: ")
                    .map(|s| s.trim_start_matches('0').to_ascii_lowercase())
            });
            if listed
                .into_iter()
                .any(|s| s == serial.trim_start_matches('0').to_ascii_lowercase())
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "GetCRL never listed {serial}: {got}\n{}",
            c.front_log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}
