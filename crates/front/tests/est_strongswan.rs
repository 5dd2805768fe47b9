#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! EST (issue 18) with an independent client: strongSwan's `pki` (Debian `strongswan-pki`
//! with the curl plugin from `libstrongswan-extra-plugins`), which implements RFC 7030 in
//! C over libcurl. It fetches the CA certificates (`--estca`), enrols a request it made
//! itself with a password (`--est --userpass`), and renews with the certificate it got over
//! mutual TLS (`--est --cert --key`). What it gets verifies with openssl and passes
//! pkilint.
//!
//! strongSwan decodes only unbroken base64 lines: the label sets `wrap_base64 = false`.
//! strongSwan 5.9.8 cannot parse a CA certificate with an iPAddress name constraint (it
//! refuses the whole certificate), which the test stack's issuing CA has; so this test
//! issues the front's listener certificate and the devices' under a CA constrained to
//! `lab.test` DNS names only.

mod scep_common;

use scep_common::openssl;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, step, tool};

const PROFILE: &str = "est-device";
const USER: &str = "strongswan";
const PASSWORD: &str = "strongswan-password-0123";

/// An issuing CA strongSwan can parse: DNS constraints only.
const DNS_ONLY_CA: &str = r#"
id = "dns-issuing"
parent = "root"
subject = "CN=Strongroom Test DNS Issuing CA,O=Strongroom Test"
algorithm = "ecdsa-p256"
validity_days = 1825
permitted = ["dns:lab.test"]
"#;

/// `pki ARGS`, which must succeed: its stdout.
fn pki(args: &[&str]) -> Vec<u8> {
    let out = run(Command::new("pki").args(args));
    assert!(
        out.status.success(),
        "pki {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key (PEM) and a PKCS#10 request (DER) made by `pki` for `name`.
fn request(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    std::fs::write(
        &key,
        pki(&[
            "--gen",
            "--type",
            "ecdsa",
            "--size",
            "256",
            "--outform",
            "pem",
        ]),
    )
    .unwrap();
    let csr = dir.join(format!("{name}.csr"));
    std::fs::write(
        &csr,
        pki(&[
            "--req",
            "--type",
            "priv",
            "--in",
            key.to_str().unwrap(),
            "--dn",
            &format!("CN={name}.lab.test"),
            "--san",
            &format!("{name}.lab.test"),
            "--outform",
            "der",
        ]),
    )
    .unwrap();
    (key, csr)
}

#[test]
fn strongswan_pki_fetches_the_cas_enrols_and_re_enrols() {
    let mut c = Control::start_with_cas(Db::Sqlite, "", &[("dns-issuing", DNS_ONLY_CA)]);
    let admin = c.admin();
    {
        let mut listener = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
        listener["name"] = json!("dns-tls-server");
        listener["issuer"] = json!("dns-issuing");
        let r = admin.send(
            "PUT",
            "/api/v1/profiles/dns-tls-server",
            &json!({"profile": listener, "approvals_required": 0, "enrollers": ["*"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
        profile["name"] = json!(PROFILE);
        profile["issuer"] = json!("dns-issuing");
        profile["extended_key_usage"] = json!(["client-auth"]);
        profile["key_usage"] = json!(["digital-signature"]);
        profile["allowed_name_kinds"] = json!(["dns"]);
        let r = admin.send(
            "PUT",
            &format!("/api/v1/profiles/{PROFILE}"),
            &json!({"profile": profile, "approvals_required": 0, "enrollers": ["*"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let r = admin.post(
            "/api/v1/est/users",
            &json!({"label": "default", "username": USER, "password": PASSWORD}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let port = c.start_front_https(&format!(
        "[tls]\nprofile = \"dns-tls-server\"\nnames = [\"ip:127.0.0.1\"]\n\n\
         [est]\ndefault_label = \"default\"\n\n\
         [[est.label]]\nname = \"default\"\nprofile = \"{PROFILE}\"\nauth = \"password\"\nwrap_base64 = false\n"
    ));
    let dir = c.dir().join("strongswan");
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("root.pem");
    std::fs::write(&root, strongroom_testkit::pem("CERTIFICATE", &c.root_der)).unwrap();
    // pki appends /.well-known/est/OPERATION itself.
    let url = format!("https://127.0.0.1:{port}");

    let _step = step("pki --estca: the CA certificates");
    let chain = {
        let caout = dir.join("cacert.pem");
        pki(&[
            "--estca",
            "--url",
            &url,
            "--cacert",
            root.to_str().unwrap(),
            "--caout",
            caout.to_str().unwrap(),
            "--outform",
            "pem",
            "--force",
        ]);
        let all: String = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("cacert"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        let subjects = openssl_subjects(&dir, &all);
        assert!(
            subjects.contains("Strongroom Test DNS Issuing CA"),
            "{subjects}"
        );
        let chain = dir.join("chain.pem");
        std::fs::write(&chain, all).unwrap();
        chain
    };

    let _step = step("pki --est with a password enrols pki's own request");
    let (key, cert) = {
        let (key, csr) = request(&dir, "sw1");
        let cert = dir.join("sw1.pem");
        let pem = pki(&[
            "--est",
            "--url",
            &url,
            "--cacert",
            root.to_str().unwrap(),
            "--in",
            csr.to_str().unwrap(),
            "--userpass",
            &format!("{USER}:{PASSWORD}"),
            "--outform",
            "pem",
        ]);
        std::fs::write(&cert, pem).unwrap();
        verify(&root, &chain, &cert);
        let text = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
        assert!(text.contains("DNS:sw1.lab.test"), "{text}");
        (key, cert)
    };

    let _step = step("pki --est with the certificate and key re-enrols over mutual TLS");
    {
        let (_, csr) = request(&dir, "sw1-next");
        // The renewal keeps the names: the new request is for sw1 too.
        let csr_same = dir.join("sw1-renew.csr");
        std::fs::write(
            &csr_same,
            pki(&[
                "--req",
                "--type",
                "priv",
                "--in",
                dir.join("sw1-next.key").to_str().unwrap(),
                "--dn",
                "CN=sw1.lab.test",
                "--san",
                "sw1.lab.test",
                "--outform",
                "der",
            ]),
        )
        .unwrap();
        let _ = csr;
        let renewed = dir.join("sw1-renewed.pem");
        let pem = pki(&[
            "--est",
            "--url",
            &url,
            "--cacert",
            root.to_str().unwrap(),
            "--in",
            csr_same.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--outform",
            "pem",
        ]);
        std::fs::write(&renewed, pem).unwrap();
        verify(&root, &chain, &renewed);
        let serial = |p: &Path| openssl(&["x509", "-in", p.to_str().unwrap(), "-noout", "-serial"]);
        assert_ne!(serial(&cert), serial(&renewed));
        let r = admin.get("/api/v1/audit?action=est.certificate.renew");
        assert!(r.text.contains("est.certificate.renew"), "{}", r.text);
    }
}

/// The subjects of the PEM certificates in `pems`.
fn openssl_subjects(dir: &Path, pems: &str) -> String {
    let mut out = String::new();
    for (i, block) in pems.split("-----END CERTIFICATE-----").enumerate() {
        let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
            continue;
        };
        let file = dir.join(format!("subject-{i}.pem"));
        std::fs::write(
            &file,
            format!("{}-----END CERTIFICATE-----\n", &block[start..]),
        )
        .unwrap();
        out += &openssl(&["x509", "-in", file.to_str().unwrap(), "-noout", "-subject"]);
    }
    out
}

/// openssl verify to the root, and pkilint without an ERROR.
fn verify(root: &Path, chain: &Path, cert: &Path) {
    let out = openssl(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        chain.to_str().unwrap(),
        cert.to_str().unwrap(),
    ]);
    assert!(out.contains(": OK"), "{out}");
    let out = run(Command::new(tool("lint_pkix_cert"))
        .args(["lint", "-s", "ERROR"])
        .arg(cert));
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !report.contains("ERROR") && !report.contains("FATAL"),
        "{}: {report}",
        cert.display()
    );
}
