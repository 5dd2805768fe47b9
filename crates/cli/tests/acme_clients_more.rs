//! ACME against more real clients, beside acme_clients.rs: a CSR made the way acme.sh
//! makes it (extendedKeyUsage serverAuth + clientAuth, keyUsage) finalized through certbot
//! `--csr` and lego `--csr`, and Debian's uacme (C, libcurl-gnutls, an http-01 hook) and
//! dehydrated (bash + curl, a `WELLKNOWN` directory), each issuing, renewing and revoking
//! against `strongroom up` in ACME test mode. Every certificate verifies with
//! `openssl verify -x509_strict`, passes pkilint and carries only what the profile grants;
//! revocations reach OCSP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::{check_certificate, eventually, ocsp_status, ok, webroot_server, Knot, Up};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The usages a leaf shows (`openssl x509 -ext`), for asserting what it carries.
fn usages(leaf: &Path) -> String {
    ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "keyUsage,extendedKeyUsage", "-in"])
            .arg(leaf),
        "openssl x509 -ext",
    )
}

/// What tls-server grants and nothing the CSR asked beyond it.
fn only_server_auth(leaf: &Path) {
    let u = usages(leaf);
    assert!(u.contains("TLS Web Server Authentication"), "{u}");
    assert!(!u.contains("TLS Web Client Authentication"), "{u}");
    assert!(!u.contains("Non Repudiation"), "{u}");
    assert!(!u.contains("Key Encipherment"), "an EC key: {u}");
}

/// A P-256 key and a PEM CSR for `name` asking what acme.sh's CSR asks.
fn acme_sh_csr(dir: &Path, name: &str) -> PathBuf {
    let csr = dir.join(format!("{name}.csr.pem"));
    ok(
        Command::new("openssl")
            .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-keyout"])
            .arg(dir.join(format!("{name}.key")))
            .args(["-subj", &format!("/CN={name}")])
            .args(["-addext", &format!("subjectAltName=DNS:{name}")])
            .args(["-addext", "extendedKeyUsage=serverAuth,clientAuth"])
            .args([
                "-addext",
                "keyUsage=nonRepudiation,digitalSignature,keyEncipherment",
            ])
            .arg("-out")
            .arg(&csr),
        "openssl req (acme.sh's extensions)",
    );
    csr
}

/// Runs `cmd` with the system trust store replaced, in a private mount namespace, by one
/// holding `root`: uacme (libcurl-gnutls) has no CA option and trusts only that store. The
/// machine's own store is never touched.
fn with_private_trust_store(cmd: &mut Command, root: &Path, scratch: &Path) -> Command {
    let certs = scratch.join("ssl-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(root, certs.join("ca-certificates.crt")).unwrap();
    std::fs::copy(root, certs.join("strongroom-test-root.pem")).unwrap();
    // As root a mount namespace is enough; otherwise a user namespace brings one.
    let ns = if unsafe { libc::geteuid() } == 0 {
        "-m"
    } else {
        "-Urm"
    };
    let mut wrapped = Command::new("unshare");
    wrapped
        .args([
            ns,
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/ssl/certs && exec \"$@\"",
        ])
        .arg(&certs)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped
}

#[test]
fn acme_sh_csr_through_certbot_and_lego_then_uacme_and_dehydrated() {
    common::stamp("start");
    let tmp = common::test_dir("acme-clients-more");
    let dir = tmp.path();
    // Names resolve through knot (`* A 127.0.0.1`, CAA allowing strongroom.test).
    let knot = Knot::start(dir);
    let up = Up::start_with(
        dir,
        Some(knot.port),
        &["--acme-caa-identity", "strongroom.test"],
    );
    let http01 = up.http01.to_string();
    let directory = up.directory();

    // acme.sh's CSR through certbot --csr: issued with the profile's usages only.
    let csr = acme_sh_csr(dir, "csr-certbot.lab.test");
    let cb = dir.join("certbot");
    ok(
        Command::new("certbot")
            .env("REQUESTS_CA_BUNDLE", up.root_pem())
            .args(["--config-dir", cb.join("etc").to_str().unwrap()])
            .args(["--work-dir", cb.join("work").to_str().unwrap()])
            .args(["--logs-dir", cb.join("log").to_str().unwrap()])
            .args(["-n", "--agree-tos", "--register-unsafely-without-email"])
            .args(["--server", &directory])
            .args(["certonly", "--csr"])
            .arg(&csr)
            .args(["--standalone", "--http-01-address", "127.0.0.1"])
            .args(["--http-01-port", &http01])
            .arg("--cert-path")
            .arg(dir.join("certbot-csr.cert.pem"))
            .arg("--chain-path")
            .arg(dir.join("certbot-csr.chain.pem"))
            .arg("--fullchain-path")
            .arg(dir.join("certbot-csr.fullchain.pem")),
        "certbot --csr (serverAuth + clientAuth requested)",
    );
    let (leaf, _) = check_certificate(
        &up,
        dir,
        "certbot-csr",
        &dir.join("certbot-csr.fullchain.pem"),
    );
    only_server_auth(&leaf);

    // The same through lego --csr.
    let csr = acme_sh_csr(dir, "csr-lego.lab.test");
    let lg = dir.join("lego");
    ok(
        Command::new("lego")
            .env("LEGO_CA_CERTIFICATES", up.root_pem())
            .args(["--server", &directory])
            .args(["--path", lg.to_str().unwrap()])
            .args(["--accept-tos", "--email", "ops@lab.test", "--csr"])
            .arg(&csr)
            .args(["--http", "--http.port", &format!("127.0.0.1:{http01}")])
            .arg("run"),
        "lego --csr (serverAuth + clientAuth requested)",
    );
    let (leaf, _) = check_certificate(
        &up,
        dir,
        "lego-csr",
        &lg.join("certificates/csr-lego.lab.test.crt"),
    );
    only_server_auth(&leaf);

    // From here http-01 is answered by a web server reading a webroot, as these clients
    // expect: uacme's hook and dehydrated write the key authorizations into it.
    let webroot = dir.join("webroot");
    webroot_server("127.0.0.1", up.http01, &webroot);
    let challenges = webroot.join(".well-known/acme-challenge");

    // uacme: account, issue, forced renew, revoke.
    let hook = dir.join("uacme-hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n# uacme hook: METHOD TYPE IDENT TOKEN KEY_AUTH; http-01 only\n\
             [ \"$2\" = http-01 ] || exit 1\n\
             case \"$1\" in\n\
             begin) printf '%s' \"$5\" > '{d}'/\"$4\" ;;\n\
             *) rm -f '{d}'/\"$4\" ;;\n\
             esac\n",
            d = challenges.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uc = dir.join("uacme");
    let uacme = |args: &[&str]| {
        let mut c = Command::new("uacme");
        c.args(["-v", "-c", uc.to_str().unwrap(), "-a", &directory])
            .args(["-t", "EC", "-h", hook.to_str().unwrap()])
            .args(args);
        with_private_trust_store(&mut c, &up.root_pem(), dir)
    };
    ok(&mut uacme(&["-y", "new", "ops@lab.test"]), "uacme new");
    ok(&mut uacme(&["issue", "u1.lab.test"]), "uacme issue");
    let u_cert = uc.join("u1.lab.test/cert.pem");
    let (u1, u1_chain) = check_certificate(&up, dir, "uacme-u1", &u_cert);
    only_server_auth(&u1);
    ok(&mut uacme(&["-f", "issue", "u1.lab.test"]), "uacme renew");
    let (u1_renewed, _) = check_certificate(&up, dir, "uacme-u1-renewed", &u_cert);
    assert_ne!(
        std::fs::read(&u1).unwrap(),
        std::fs::read(&u1_renewed).unwrap(),
        "uacme's renew gave the same certificate"
    );
    ok(
        &mut uacme(&["revoke", u_cert.to_str().unwrap()]),
        "uacme revoke",
    );
    eventually(30, "uacme's certificate's OCSP status after revoke", || {
        let s = ocsp_status(&up, &u1_chain, &u1_renewed);
        s.contains(": revoked").then_some(()).ok_or(s)
    });
    let s = ocsp_status(&up, &u1_chain, &u1);
    assert!(
        s.contains(": good"),
        "only the renewed one was revoked: {s}"
    );

    // dehydrated: register, issue, forced renew, revoke.
    let dh = dir.join("dehydrated");
    std::fs::create_dir_all(&dh).unwrap();
    let config = dh.join("config");
    std::fs::write(
        &config,
        format!(
            "CA=\"{directory}\"\nBASEDIR=\"{b}\"\nWELLKNOWN=\"{w}\"\nKEY_ALGO=prime256v1\n\
             CHALLENGETYPE=\"http-01\"\nCONTACT_EMAIL=\"ops@lab.test\"\n",
            b = dh.display(),
            w = challenges.display()
        ),
    )
    .unwrap();
    let dehydrated = |args: &[&str]| {
        let mut c = Command::new("dehydrated");
        c.env("CURL_CA_BUNDLE", up.root_pem())
            .arg("--config")
            .arg(&config)
            .args(args);
        c
    };
    ok(
        &mut dehydrated(&["--register", "--accept-terms"]),
        "dehydrated --register",
    );
    ok(
        &mut dehydrated(&["--cron", "--domain", "d1.lab.test"]),
        "dehydrated issue",
    );
    let d_cert = dh.join("certs/d1.lab.test/cert.pem");
    let d_full = dh.join("certs/d1.lab.test/fullchain.pem");
    let (d1, d1_chain) = check_certificate(&up, dir, "dehydrated-d1", &d_full);
    only_server_auth(&d1);
    ok(
        &mut dehydrated(&["--cron", "--force", "--domain", "d1.lab.test"]),
        "dehydrated renew",
    );
    let (d1_renewed, _) = check_certificate(&up, dir, "dehydrated-d1-renewed", &d_full);
    assert_ne!(
        std::fs::read(&d1).unwrap(),
        std::fs::read(&d1_renewed).unwrap(),
        "dehydrated's renew gave the same certificate"
    );
    ok(
        &mut dehydrated(&["--revoke", d_cert.to_str().unwrap()]),
        "dehydrated --revoke",
    );
    eventually(
        30,
        "dehydrated's certificate's OCSP status after revoke",
        || {
            let s = ocsp_status(&up, &d1_chain, &d1_renewed);
            s.contains(": revoked").then_some(()).ok_or(s)
        },
    );
}
