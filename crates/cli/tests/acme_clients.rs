//! ACME against real clients, as an operator would run them: Debian's certbot (http-01
//! standalone, dns-01 through RFC 2136 to knot for a wildcard, renew, revoke, external
//! account binding), certbot 5 from PyPI (an IP identifier, a profile, ARI at renew) and
//! lego (http-01, tls-alpn-01, dns-01, external account binding, revoke), all against
//! `strongroom up` in ACME test mode on loopback. Every certificate they receive verifies
//! with `openssl verify -x509_strict` against the root and passes pkilint; revocations reach
//! OCSP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::{check_certificate, eventually, ocsp_status, ok, Knot, Up};
use std::path::Path;
use std::process::Command;
use strongroom_testkit::run;
use strongroom_testkit::step;

fn certbot(up: &Up, dir: &Path) -> Command {
    let mut c = Command::new("certbot");
    c.env("REQUESTS_CA_BUNDLE", up.root_pem())
        .args(["--config-dir", dir.join("etc").to_str().unwrap()])
        .args(["--work-dir", dir.join("work").to_str().unwrap()])
        .args(["--logs-dir", dir.join("log").to_str().unwrap()])
        .args(["-n", "--agree-tos", "--register-unsafely-without-email"])
        .args(["--server", &up.directory()]);
    c
}

fn lego(up: &Up, dir: &Path, directory: &str) -> Command {
    let mut c = Command::new("lego");
    c.env("LEGO_CA_CERTIFICATES", up.root_pem())
        .args(["--server", directory])
        .args(["--path", dir.to_str().unwrap()])
        .args(["--accept-tos", "--email", "ops@lab.test"]);
    c
}

#[test]
fn certbot_and_lego() {
    let _step = step("set up");
    common::stamp("start");
    let tmp = common::test_dir("acme-clients");
    let knot = Knot::start(tmp.path());
    // CAA is checked for every DNS name below (the zone's apex allows strongroom.test).
    let up = Up::start_with(
        tmp.path(),
        Some(knot.port),
        &["--acme-caa-identity", "strongroom.test"],
    );
    let cb = tmp.path().join("certbot");
    let http01 = up.http01.to_string();

    let _step = step("certbot, http-01 standalone");
    ok(
        certbot(&up, &cb)
            .args([
                "certonly",
                "--standalone",
                "--http-01-address",
                "127.0.0.1",
                "--http-01-port",
                &http01,
            ])
            .args(["-d", "www.lab.test", "--key-type", "ecdsa"]),
        "certbot http-01",
    );
    let live = cb.join("etc/live/www.lab.test");
    let (leaf, chain) =
        check_certificate(&up, tmp.path(), "certbot-www", &live.join("fullchain.pem"));
    let subject = ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&leaf),
        "openssl x509",
    );
    assert!(subject.contains("DNS:www.lab.test"), "{subject}");
    let status = ocsp_status(&up, &chain, &leaf);
    assert!(status.contains(": good"), "{status}");

    let _step = step("certbot renew (forced) gets a new certificate for the same name");
    ok(
        certbot(&up, &cb).args([
            "renew",
            "--cert-name",
            "www.lab.test",
            "--force-renewal",
            "--no-random-sleep-on-renew",
        ]),
        "certbot renew",
    );
    let (renewed, _) = check_certificate(
        &up,
        tmp.path(),
        "certbot-www-2",
        &live.join("fullchain.pem"),
    );
    assert_ne!(
        std::fs::read(&leaf).unwrap(),
        std::fs::read(&renewed).unwrap(),
        "renew gave the same certificate"
    );

    let _step = step("certbot, dns-01 through RFC 2136 for a wildcard, then revoke it");
    let creds = knot.certbot_credentials(tmp.path());
    ok(
        certbot(&up, &cb)
            .args(["certonly", "--dns-rfc2136", "--dns-rfc2136-credentials"])
            .arg(&creds)
            .args([
                "--dns-rfc2136-propagation-seconds",
                "1",
                "-d",
                "*.lab.test",
                "--cert-name",
                "wild",
            ]),
        "certbot dns-01 wildcard",
    );
    let (wild, wild_chain) = check_certificate(
        &up,
        tmp.path(),
        "certbot-wild",
        &cb.join("etc/live/wild/fullchain.pem"),
    );
    ok(
        certbot(&up, &cb).args([
            "revoke",
            "--cert-name",
            "wild",
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        ]),
        "certbot revoke",
    );
    eventually(
        30,
        "the wildcard's OCSP status after certbot revoke",
        || {
            let s = ocsp_status(&up, &wild_chain, &wild);
            if s.contains(": revoked") && s.contains("keyCompromise") {
                Ok(())
            } else {
                Err(s)
            }
        },
    );

    // certbot 5 (PyPI, in .venv-certbot): an IP identifier (RFC 8738) under a profile
    // named in newOrder, then `renew`, which asks ARI first (nothing is due yet).
    let _step = step("certbot 5 (PyPI, in .venv-certbot): an IP identifier (RFC 8738) under a …");
    let cb5 = tmp.path().join("certbot5");
    let certbot5 = |args: &[&str]| {
        let mut c = Command::new(strongroom_testkit::repo_root().join(".venv-certbot/bin/certbot"));
        c.env("REQUESTS_CA_BUNDLE", up.root_pem())
            .args(["--config-dir", cb5.join("etc").to_str().unwrap()])
            .args(["--work-dir", cb5.join("work").to_str().unwrap()])
            .args(["--logs-dir", cb5.join("log").to_str().unwrap()])
            .args(["-n", "--agree-tos", "--register-unsafely-without-email"])
            .args(["--server", &up.directory()])
            .args(args);
        c
    };
    ok(
        &mut certbot5(&[
            "certonly",
            "--standalone",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            &http01,
            "--ip-address",
            "127.0.0.1",
            "--required-profile",
            "tls-server",
            "--cert-name",
            "ip",
        ]),
        "certbot 5 with an IP identifier and a profile",
    );
    let (ip_leaf, _) = check_certificate(
        &up,
        tmp.path(),
        "certbot5-ip",
        &cb5.join("etc/live/ip/fullchain.pem"),
    );
    let san = ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&ip_leaf),
        "openssl x509",
    );
    assert!(san.contains("IP Address:127.0.0.1"), "{san}");
    let renew = ok(
        &mut certbot5(&["renew", "--cert-name", "ip", "--no-random-sleep-on-renew"]),
        "certbot 5 renew (ARI)",
    );
    assert!(renew.contains("not yet due for renewal"), "{renew}");

    // lego: http-01, tls-alpn-01, dns-01 (RFC 2136), each verified; then revoke one.
    let _step = step("lego: http-01, tls-alpn-01, dns-01 (RFC 2136), each verified; then …");
    let lg = tmp.path().join("lego");
    let dir = up.directory();
    ok(
        lego(&up, &lg, &dir).args([
            "-d",
            "h1.lab.test",
            "--http",
            "--http.port",
            &format!("127.0.0.1:{}", up.http01),
            "run",
        ]),
        "lego http-01",
    );
    ok(
        lego(&up, &lg, &dir).args([
            "-d",
            "t1.lab.test",
            "--tls",
            "--tls.port",
            &format!("127.0.0.1:{}", up.tls_alpn01),
            "run",
        ]),
        "lego tls-alpn-01",
    );
    ok(
        lego(&up, &lg, &dir)
            .env("RFC2136_NAMESERVER", format!("127.0.0.1:{}", knot.port))
            .env("RFC2136_TSIG_KEY", "acme-key")
            .env("RFC2136_TSIG_SECRET", &knot.secret)
            .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
            .env("RFC2136_PROPAGATION_TIMEOUT", "20")
            .env("RFC2136_POLLING_INTERVAL", "1")
            .args([
                "--dns",
                "rfc2136",
                "--dns.disable-cp",
                "--dns.resolvers",
                &format!("127.0.0.1:{}", knot.port),
            ])
            .args(["-d", "d1.lab.test", "run"]),
        "lego dns-01",
    );
    // CAA naming another CA: validation passes, issuance is refused with `caa`.
    let refused = lego(&up, &lg, &dir)
        .args([
            "-d",
            "denied.lab.test",
            "--http",
            "--http.port",
            &format!("127.0.0.1:{}", up.http01),
            "run",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && said.contains("urn:ietf:params:acme:error:caa")
            && said.contains("other-ca.example"),
        "lego for a name whose CAA names another CA: {said}"
    );
    for name in ["h1", "t1", "d1"] {
        let crt = lg.join(format!("certificates/{name}.lab.test.crt"));
        check_certificate(&up, tmp.path(), &format!("lego-{name}"), &crt);
    }

    // lego moves revoked certificates away; the copies check_certificate made remain.
    let _step = step("lego moves revoked certificates away; the copies check_certificate made …");
    let (h1, h1_chain) = (
        tmp.path().join("lego-h1.leaf.pem"),
        tmp.path().join("lego-h1.chain.pem"),
    );
    // Asked once while good, so the front holds a "good" response in memory: the
    // revocation must still show within seconds, not at that response's nextUpdate.
    let before = ocsp_status(&up, &h1_chain, &h1);
    assert!(before.contains(": good"), "{before}");
    ok(
        lego(&up, &lg, &dir).args(["-d", "h1.lab.test", "revoke"]),
        "lego revoke",
    );
    eventually(30, "h1's OCSP status after lego revoke", || {
        let s = ocsp_status(&up, &h1_chain, &h1);
        if s.contains(": revoked") {
            Ok(())
        } else {
            Err(s)
        }
    });

    let _step = step("lego with external account binding, on the profile that requires it");
    let home = tmp.path().join("home");
    up.login(&home);
    let (kid, hmac) = up.eab_key(&home, "tls-client");
    let (kid, hmac) = (kid.as_str(), hmac.as_str());
    let client_dir = format!(
        "https://127.0.0.1:{}/acme/tls-client/directory",
        up.front_https
    );
    let le = tmp.path().join("lego-eab");
    ok(
        lego(&up, &le, &client_dir)
            .args(["--eab", &format!("--kid={kid}"), &format!("--hmac={hmac}")])
            .args([
                "-d",
                "e1.lab.test",
                "--http",
                "--http.port",
                &format!("127.0.0.1:{}", up.http01),
                "run",
            ]),
        "lego with EAB",
    );
    check_certificate(
        &up,
        tmp.path(),
        "lego-eab",
        &le.join("certificates/e1.lab.test.crt"),
    );
    // certbot with external account binding (a key of its own) on the same profile.
    let (kid2, hmac2) = up.eab_key(&home, "tls-client");
    let cbe = tmp.path().join("certbot-eab");
    let mut certbot_eab = certbot(&up, &cbe);
    certbot_eab
        .args(["--server", &client_dir])
        // `--opt=value`: a base64url key may begin with '-', which argparse (certbot) and Go's
        // flag package (lego) would otherwise take for an option (1 run in 64 failed so).
        .arg(format!("--eab-kid={kid2}"))
        .arg(format!("--eab-hmac-key={hmac2}"))
        .args(["certonly", "--standalone", "--http-01-address", "127.0.0.1"])
        .args([
            "--http-01-port",
            &http01,
            "-d",
            "c1.lab.test",
            "--key-type",
            "ecdsa",
        ]);
    ok(&mut certbot_eab, "certbot with EAB");
    check_certificate(
        &up,
        tmp.path(),
        "certbot-eab",
        &cbe.join("etc/live/c1.lab.test/fullchain.pem"),
    );

    let _step = step("The same key cannot bind a second account");
    let out = run(lego(&up, &tmp.path().join("lego-eab-2"), &client_dir)
        .args(["--eab", &format!("--kid={kid}"), &format!("--hmac={hmac}")])
        .args([
            "-d",
            "e2.lab.test",
            "--http",
            "--http.port",
            &format!("127.0.0.1:{}", up.http01),
            "run",
        ]));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("already bound"),
        "{text}"
    );

    let _step = step("Every issued certificate is in the inventory with source acme");
    let out = up.cli(
        &home,
        &["--output", "json", "cert", "list", "--tag", "acme", "--all"],
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listed}");
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let items = v["items"]
        .as_array()
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default();
    let acme_count = items.iter().filter(|c| c["source"] == "acme").count();
    assert!(
        acme_count >= 7,
        "expected 7 ACME certificates in the inventory, found {acme_count}: {listed}"
    );
}
