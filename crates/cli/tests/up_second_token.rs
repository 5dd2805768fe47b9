//! `strongroom up --pkcs11-module` with the second PKCS#11 implementation (kryoptic): the
//! token is made through the module itself, the CA keys are generated in it, and all three
//! daemons work end to end — a certificate issued through the signer and one through the
//! control API verify with openssl, and the front answers OCSP for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::process::Command;
use strongroom_testkit::up::Up;
use strongroom_testkit::{kryoptic_module, run, step, tool};

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn up_runs_on_kryoptic_end_to_end() {
    let _step = step("build kryoptic and start up on it");
    let module = kryoptic_module();
    let tmp = tempfile::tempdir().unwrap();
    let up = Up::start_with(
        tmp.path(),
        None,
        &["--pkcs11-module", module.to_str().unwrap()],
    );
    let conf = up.data.join("hsm/kryoptic.conf");
    assert!(conf.is_file(), "no kryoptic.conf in {}", up.data.display());

    let _step = step("the CA keys are in the kryoptic token, private and never extractable");
    let pin = std::fs::read_to_string(up.data.join("secrets/pin")).unwrap();
    let objects = ok(
        &run(Command::new(tool("pkcs11-tool"))
            .env("KRYOPTIC_CONF", &conf)
            .arg("--module")
            .arg(&module)
            .args([
                "--token-label",
                "strongroom",
                "--login",
                "--pin",
                pin.trim(),
            ])
            .args(["--list-objects", "--type", "privkey"])),
        "pkcs11-tool --list-objects",
    );
    for ca in ["root", "issuing"] {
        assert!(objects.contains(ca), "no {ca} key listed:\n{objects}");
    }
    assert!(objects.contains("never extractable"), "{objects}");

    let _step = step("a certificate through the signer and one through the control API");
    let key = tmp.path().join("web.key");
    let csr = tmp.path().join("web.csr");
    ok(
        &run(Command::new(tool("openssl"))
            .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-keyout"])
            .arg(&key)
            .args(["-subj", "/CN=web.lab.test", "-addext"])
            .args(["subjectAltName=DNS:web.lab.test", "-out"])
            .arg(&csr)),
        "openssl req",
    );
    let cert = tmp.path().join("web.pem");
    let chain = tmp.path().join("chain.pem");
    ok(
        &run(Command::new(strongroom_testkit::up::strongroom())
            .args(["signer", "--data-dir"])
            .arg(&up.data)
            .args(["issue", "--profile", "tls-server", "--csr"])
            .arg(&csr)
            .arg("--out")
            .arg(&cert)
            .arg("--chain-out")
            .arg(&chain)),
        "signer issue",
    );
    let verify = |cert: &std::path::Path| {
        ok(
            &run(Command::new(tool("openssl"))
                .args(["verify", "-x509_strict", "-CAfile"])
                .arg(up.root_pem())
                .arg("-untrusted")
                .arg(&chain)
                .arg(cert)),
            "openssl verify",
        )
    };
    verify(&cert);

    let home = tmp.path().join("home");
    up.login(&home);
    let api_pem = tmp.path().join("api.pem");
    ok(
        &up.cli(
            &home,
            &[
                "cert",
                "issue",
                "--profile",
                "tls-server",
                "--csr",
                csr.to_str().unwrap(),
                "--out",
                api_pem.to_str().unwrap(),
            ],
        ),
        "cert issue",
    );
    verify(&api_pem);

    let _step = step("the front answers OCSP for it, signed through the kryoptic token");
    let out = run(Command::new(tool("openssl"))
        .args(["ocsp", "-url"])
        .arg(format!("http://127.0.0.1:{}/ocsp", up.front_http))
        .arg("-issuer")
        .arg(&chain)
        .arg("-cert")
        .arg(&api_pem)
        .arg("-CAfile")
        .arg(up.root_pem()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
}
