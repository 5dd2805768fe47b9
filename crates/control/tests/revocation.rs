#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Revocation at work, end to end: certificates issued through control get a pre-signed
//! OCSP response at once; a revocation re-signs it and regenerates the CRL; the front
//! serves both over plain HTTP. Checked with real clients: `openssl ocsp` (POST) and the
//! Python `cryptography` package (GET form), `openssl crl -verify`, `openssl verify
//! -crl_check`, pkilint on CRLs and responses; a restart keeps CRL numbers going up and
//! the cached responses valid.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ocsp_post(c: &Control, issuing: &Path, root: &Path, target: &[&str]) -> String {
    sh(Command::new("openssl")
        .args(["ocsp", "-url", &format!("{}/ocsp", c.front_base), "-issuer"])
        .arg(issuing)
        .arg("-CAfile")
        .arg(root)
        .args(target))
}

/// An unsigned OCSPResponse with status malformedRequest.
const MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];

/// A raw TCP connection to the front's plain port.
fn connect_front(c: &Control) -> std::net::TcpStream {
    std::net::TcpStream::connect(c.front_base.trim_start_matches("http://")).unwrap()
}

/// What the front sends on `conn` until it closes it; fails if it is still open 20 s
/// from now (the front's deadlines are 10 s; the rest is room for a busy machine).
fn read_until_closed(
    conn: &mut std::net::TcpStream,
    what: &str,
    since: std::time::Instant,
) -> Vec<u8> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let ended = std::io::Read::read_to_end(conn, &mut got);
    assert!(
        ended.is_ok(),
        "a connection with {what} was still open after {:?}: {ended:?}",
        since.elapsed()
    );
    got
}

fn issue(c: &Control, admin: &strongroom_testkit::stack::Client, cn: &str) -> serde_json::Value {
    let (csr, _) = c.csr(cn, &format!("DNS:{cn}"));
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn revocation_end_to_end(db: Db) {
    let _step = step("set up");
    let mut c = Control::start(db);
    c.start_front();
    let admin = c.admin();
    let dir = c.dir().to_path_buf();

    let good = issue(&c, &admin, "good.lab.test");
    let bad = issue(&c, &admin, "bad.lab.test");
    let good_pem = write(&dir, "good.pem", good["pem"].as_str().unwrap());
    let bad_pem = write(&dir, "bad.pem", bad["pem"].as_str().unwrap());
    let issuing = write(
        &dir,
        "issuing.pem",
        good["chain_pem"]
            .as_str()
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap(),
    );
    let root = write(
        &dir,
        "root.pem",
        &strongroom_x509::to_pem("CERTIFICATE", &c.root_der),
    );

    let _step = step("Good before anything happens (the response was pre-signed at issuance)");
    let text = ocsp_post(&c, &issuing, &root, &["-cert", good_pem.to_str().unwrap()]);
    assert!(
        text.contains("Response verify OK") && text.contains("good.pem: good"),
        "{text}\n{}",
        c.front_log()
    );

    let r = admin.post(
        &format!("/api/v1/certificates/{}/revoke", bad["id"]),
        &json!({"reason": "keyCompromise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // The revoked response is there at once.
    let text = ocsp_post(&c, &issuing, &root, &["-cert", bad_pem.to_str().unwrap()]);
    assert!(
        text.contains("Response verify OK")
            && text.contains("bad.pem: revoked")
            && text.contains("Reason: keyCompromise"),
        "{text}"
    );
    // A serial never issued: unauthorized, unsigned, without asking the signer (RFC 6960
    // §2.3; a stranger cannot make the CA sign: tests/ocsp_strangers.rs).
    let text = ocsp_post(
        &c,
        &issuing,
        &root,
        &["-serial", "0x7f00000000000000000000000000abcd"],
    );
    assert!(text.contains("unauthorized (6)"), "{text}");
    // A request with a nonce gets the pre-signed response, without one ...
    let text = ocsp_post(&c, &issuing, &root, &["-cert", good_pem.to_str().unwrap()]);
    assert!(
        text.contains("good.pem: good") && text.contains("WARNING: no nonce in response"),
        "{text}"
    );
    // ... until the profile asks for nonces: then a fresh response echoes it.
    let mut p = admin.get("/api/v1/profiles/tls-server").json();
    p["profile"]["ocsp_nonce"] = json!(true);
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/tls-server",
        &json!({"profile": p["profile"], "enrollers": ["*"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // (The front re-reads which profiles want nonces every few seconds.)
    let mut text = String::new();
    for _ in 0..40 {
        text = ocsp_post(&c, &issuing, &root, &["-cert", good_pem.to_str().unwrap()]);
        if !text.contains("no nonce") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        text.contains("Response verify OK")
            && text.contains("good.pem: good")
            && !text.contains("no nonce"),
        "{text}"
    );
    // Several certificates in one request, with a nonce: one on-demand response.
    let text = ocsp_post(
        &c,
        &issuing,
        &root,
        &[
            "-cert",
            good_pem.to_str().unwrap(),
            "-cert",
            bad_pem.to_str().unwrap(),
        ],
    );
    assert!(
        text.contains("Response verify OK")
            && text.contains("good.pem: good")
            && text.contains("bad.pem: revoked"),
        "{text}"
    );
    // A CA we do not serve: unauthorized.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=Foreign CA",
            "-keyout",
        ])
        .arg(foreign.join("ca.key"))
        .arg("-out")
        .arg(foreign.join("ca.pem")));
    let text = ocsp_post(&c, &foreign.join("ca.pem"), &root, &["-serial", "0x01"]);
    assert!(text.contains("unauthorized"), "{text}");

    let _step = step("GET form with the Python cryptography package");
    for (pem, want) in [
        (&good_pem, "good - max-age="),
        (&bad_pem, "revoked key_compromise max-age="),
    ] {
        let text = sh(Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ocsp_get.py"))
            .arg(&c.front_base)
            .arg(pem)
            .arg(&issuing)
            .arg(&root));
        assert!(text.to_ascii_lowercase().starts_with(want), "{text}");
    }
    // Garbage gets malformedRequest, over both methods.
    let out = Command::new("curl")
        .args(["-s", "-o"])
        .arg(dir.join("m1.der"))
        .args([
            "--data-binary",
            "garbage",
            "-H",
            "Content-Type: application/ocsp-request",
        ])
        .arg(format!("{}/ocsp", c.front_base))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read(dir.join("m1.der")).unwrap(), MALFORMED);
    // So does a body over 16 KiB, read no further than the limit (3 MiB here: more than
    // axum's own 2 MiB default, which would have answered 413 after buffering it).
    // The front stops reading at the limit and closes the connection, so curl's upload
    // fails (exit 55) after the answer arrived; should the reset beat the answer, curl
    // sees no status ("000") and asks again.
    std::fs::write(dir.join("big.req"), vec![0x30u8; 3 << 20]).unwrap();
    let mut code = String::new();
    for _ in 0..5 {
        let out = Command::new("curl")
            .args(["-s", "-w", "%{http_code}", "-o"])
            .arg(dir.join("m3.der"))
            .args(["--data-binary", "@big.req"])
            .args(["-H", "Content-Type: application/ocsp-request"])
            .arg(format!("{}/ocsp", c.front_base))
            .current_dir(&dir)
            .output()
            .unwrap();
        code = String::from_utf8_lossy(&out.stdout).into_owned();
        if code != "000" {
            break;
        }
    }
    assert_eq!(code, "200");
    assert_eq!(std::fs::read(dir.join("m3.der")).unwrap(), MALFORMED);
    let out = Command::new("curl")
        .args(["-s", "-o"])
        .arg(dir.join("m2.der"))
        .arg(format!("{}/ocsp/not-base64!!", c.front_base))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read(dir.join("m2.der")).unwrap(), MALFORMED);

    // The CRL: regenerated after the revocation (debounced), verified, with the serial.
    let _step = step("The CRL: regenerated after the revocation (debounced), verified, with …");
    let crl = dir.join("issuing.crl");
    let mut listed = false;
    for _ in 0..50 {
        let out = Command::new("curl")
            .args(["-s", "-D"])
            .arg(dir.join("crl.headers"))
            .arg("-o")
            .arg(&crl)
            .arg(format!("{}/crl/issuing.crl", c.front_base))
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = sh(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&crl));
        if text
            .to_ascii_uppercase()
            .contains(&bad["serial"].as_str().unwrap().to_ascii_uppercase())
        {
            listed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        listed,
        "the revoked serial never reached the CRL\n{}",
        c.log_text()
    );
    let headers = std::fs::read_to_string(dir.join("crl.headers"))
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("content-type: application/pkix-crl")
            && headers.contains("etag: \"crl-issuing-")
            && headers.contains("cache-control: max-age="),
        "{headers}"
    );
    let text = sh(Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-verify", "-CAfile"])
        .arg(&issuing)
        .arg("-in")
        .arg(&crl));
    assert!(text.contains("verify OK"), "{text}");
    let crl_pem = dir.join("issuing-crl.pem");
    sh(Command::new("openssl")
        .args(["crl", "-inform", "DER", "-in"])
        .arg(&crl)
        .arg("-out")
        .arg(&crl_pem));
    let bundle = write(
        &dir,
        "bundle.pem",
        &format!(
            "{}{}",
            std::fs::read_to_string(&root).unwrap(),
            std::fs::read_to_string(&issuing).unwrap()
        ),
    );
    let bundle_crl = write(
        &dir,
        "bundle-crl.pem",
        &std::fs::read_to_string(&crl_pem).unwrap(),
    );
    let verify = |leaf: &Path| {
        sh(Command::new("openssl")
            .args(["verify", "-crl_check", "-CAfile"])
            .arg(&bundle)
            .arg("-CRLfile")
            .arg(&bundle_crl)
            .arg(leaf))
    };
    assert!(verify(&good_pem).contains(": OK"), "{}", verify(&good_pem));
    assert!(
        verify(&bad_pem).contains("certificate revoked"),
        "{}",
        verify(&bad_pem)
    );
    // pkilint on the CRL and a response.
    let text = sh(Command::new("lint_crl")
        .args(["lint", "-t", "CRL", "-p", "PKIX"])
        .arg(&crl));
    assert!(!text.contains("ERROR") && !text.contains("FATAL"), "{text}");
    let resp = dir.join("good.ocsp");
    sh(Command::new("openssl")
        .args([
            "ocsp",
            "-url",
            &format!("{}/ocsp", c.front_base),
            "-no_nonce",
            "-issuer",
        ])
        .arg(&issuing)
        .arg("-cert")
        .arg(&good_pem)
        .arg("-respout")
        .arg(&resp)
        .arg("-noverify"));
    let text = sh(Command::new("lint_ocsp_response").arg("lint").arg(&resp));
    assert!(!text.contains("ERROR") && !text.contains("FATAL"), "{text}");

    // Restart control and front: the CRL number only goes up; cached responses still serve.
    let _step = step("Restart control and front: the CRL number only goes up; cached …");
    let etag_before = headers
        .lines()
        .find(|l| l.starts_with("etag:"))
        .unwrap()
        .to_string();
    let number = |h: &str| {
        h.trim()
            .trim_end_matches('"')
            .rsplit('-')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    c.stop();
    c.launch();
    c.start_front();
    // A client that opens the public port and never finishes its headers is cut off
    // (checked at the end, so the rest of the test runs meanwhile).
    let started = std::time::Instant::now();
    let mut idle = connect_front(&c);
    std::io::Write::write_all(&mut idle, b"POST /ocsp HTTP/1.1\r\nHost: x\r\n").unwrap();
    // So is one that sends its headers and only part of the body it announced.
    let mut stalled = connect_front(&c);
    std::io::Write::write_all(
        &mut stalled,
        b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .unwrap();
    let text = ocsp_post(&c, &issuing, &root, &["-cert", bad_pem.to_str().unwrap()]);
    assert!(text.contains("bad.pem: revoked"), "{text}");
    let third = issue(&c, &admin, "third.lab.test");
    let third_pem = write(&dir, "third.pem", third["pem"].as_str().unwrap());
    // A relying party that asks with the same bytes every time (no nonce: the front
    // answers a repeat from memory without parsing it) ...
    let ask_third = || {
        ocsp_post(
            &c,
            &issuing,
            &root,
            &["-no_nonce", "-cert", third_pem.to_str().unwrap()],
        )
    };
    for _ in 0..3 {
        let text = ask_third();
        assert!(text.contains("third.pem: good"), "{text}");
    }
    let r = admin.post(
        &format!("/api/v1/certificates/{}/revoke", third["id"]),
        &json!({"reason": "superseded"}),
    );
    assert_eq!(r.status, 200);
    // ... sees the revocation within seconds, not at the good response's nextUpdate (an
    // hour here): what the front holds in memory is looked up again after 3 s.
    let revoked_at = std::time::Instant::now();
    loop {
        let text = ask_third();
        if text.contains("third.pem: revoked") {
            break;
        }
        assert!(text.contains("third.pem: good"), "{text}");
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(15),
            "still good {:?} after the revocation",
            revoked_at.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut after = String::new();
    for _ in 0..50 {
        sh(Command::new("curl")
            .args(["-s", "-D"])
            .arg(dir.join("crl2.headers"))
            .arg("-o")
            .arg(dir.join("crl2.der"))
            .arg(format!("{}/crl/issuing.crl", c.front_base)));
        after = std::fs::read_to_string(dir.join("crl2.headers"))
            .unwrap()
            .to_ascii_lowercase();
        if after
            .lines()
            .find(|l| l.starts_with("etag:"))
            .is_some_and(|l| number(l) > number(&etag_before))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let etag_after = after.lines().find(|l| l.starts_with("etag:")).unwrap();
    assert!(
        number(etag_after) > number(&etag_before),
        "{etag_before} then {etag_after}"
    );

    // With the signer down, stored responses still serve (no HSM on the hot path) and a
    // miss is answered tryLater.
    // (The profile now wants nonces; a client that sends none gets the stored response.)
    let _step = step("With the signer down, stored responses still serve (no HSM on the hot …");
    c.signer.stop();
    let text = ocsp_post(
        &c,
        &issuing,
        &root,
        &["-no_nonce", "-cert", good_pem.to_str().unwrap()],
    );
    assert!(text.contains("good.pem: good"), "{text}");
    // A SHA-256 CertID is never in memory: it needs the signer, which is away.
    let text = ocsp_post(
        &c,
        &issuing,
        &root,
        &["-sha256", "-cert", good_pem.to_str().unwrap()],
    );
    assert!(text.to_ascii_lowercase().contains("trylater"), "{text}");

    read_until_closed(&mut idle, "unfinished headers", started);
    let answer = read_until_closed(&mut stalled, "an unfinished body", started);
    // Answered as a broken request: malformedRequest, then the connection closed.
    assert!(
        answer.ends_with(MALFORMED),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(c.front_alive(), "{}", c.front_log());
}

#[test]
fn revocation_on_sqlite() {
    revocation_end_to_end(Db::Sqlite);
}

#[test]
fn revocation_on_postgres() {
    revocation_end_to_end(Db::Postgres);
}

/// A CA created through the API with 4 CRL shards and deltas: the front serves each
/// shard's CRL and, after a revocation, the shard's delta listing it; openssl verifies both
/// and `verify -crl_check -use_deltas` finds the revoked leaf.
#[test]
fn sharded_ca_with_deltas_through_control_and_front() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let admin = c.admin();
    let dir = c.dir().to_path_buf();
    let r = admin.post(
        "/api/v1/cas",
        &json!({
            "id": "sharded", "parent": "root", "subject": "CN=Strongroom Test Sharded CA,O=Strongroom Test",
            "algorithm": "ecdsa-p256", "validity_days": 365, "permitted": ["dns:lab.test"],
            "crl_url": format!("{}/crl/sharded.crl", c.front_base), "crl_shards": 4, "delta_crl": true,
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
    profile["name"] = json!("sharded-server");
    profile["issuer"] = json!("sharded");
    assert_eq!(
        admin
            .send(
                "PUT",
                "/api/v1/profiles/sharded-server",
                &json!({"profile": profile, "enrollers": ["*"]})
            )
            .status,
        200
    );
    let (csr, _) = c.csr("s.lab.test", "DNS:s.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "sharded-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let leaf = r.json();
    let serial: strongroom_types::Serial = leaf["serial"].as_str().unwrap().parse().unwrap();
    let shard = strongroom_types::crl_scope::shard_of(&serial, 4);
    let leaf_pem = write(&dir, "s.pem", leaf["pem"].as_str().unwrap());
    let text = sh(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "crlDistributionPoints", "-in"])
        .arg(&leaf_pem));
    assert!(
        text.contains(&format!("/crl/sharded/{shard}.crl")),
        "{text}"
    );
    let issuing = write(
        &dir,
        "sharded.pem",
        leaf["chain_pem"]
            .as_str()
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap(),
    );
    let root = write(
        &dir,
        "root.pem",
        &strongroom_x509::to_pem("CERTIFICATE", &c.root_der),
    );

    // The refresh pass at start published every shard (and an empty delta each).
    let fetch = |name: &str| {
        let path = dir.join(name.replace('/', "_"));
        let mut got = false;
        for _ in 0..50 {
            let out = Command::new("curl")
                .args(["-s", "-f", "-o"])
                .arg(&path)
                .arg(format!("{}/crl/{name}", c.front_base))
                .output()
                .unwrap();
            if out.status.success() {
                got = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert!(got, "{name} never appeared\n{}", c.log_text());
        path
    };
    for k in 1..=4 {
        let p = fetch(&format!("sharded/{k}.crl"));
        let t = sh(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-verify", "-CAfile"])
            .arg(&issuing)
            .arg("-in")
            .arg(&p));
        assert!(t.contains("verify OK"), "{t}");
    }
    assert_eq!(
        admin
            .post(
                &format!("/api/v1/certificates/{}/revoke", leaf["id"]),
                &json!({"reason": "keyCompromise"})
            )
            .status,
        200
    );
    // The shard's delta lists it after the debounce.
    let want = leaf["serial"].as_str().unwrap().to_ascii_uppercase();
    let mut delta = dir.join("none");
    for _ in 0..50 {
        delta = fetch(&format!("sharded/{shard}-delta.crl"));
        let t = sh(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&delta))
        .to_ascii_uppercase();
        if t.contains(&want) {
            assert!(t.contains("DELTA CRL INDICATOR"), "{t}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let base = fetch(&format!("sharded/{shard}.crl"));
    let pem = |p: &Path| {
        let out = p.with_extension("pem");
        sh(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-in"])
            .arg(p)
            .arg("-out")
            .arg(&out));
        out
    };
    let bundle = write(
        &dir,
        "sbundle.pem",
        &format!(
            "{}{}",
            std::fs::read_to_string(&root).unwrap(),
            std::fs::read_to_string(&issuing).unwrap()
        ),
    );
    let out = sh(Command::new("openssl")
        .args(["verify", "-crl_check", "-use_deltas", "-CAfile"])
        .arg(&bundle)
        .arg("-CRLfile")
        .arg(pem(&base))
        .arg("-CRLfile")
        .arg(pem(&delta))
        .arg(&leaf_pem));
    assert!(out.contains("certificate revoked"), "{out}");
}
