#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! AIA caIssuers (issue 15, relying parties): every certificate names
//! `http://…/ca/{ca}.der`; the front serves that CA's certificate there as DER, which
//! `openssl x509 -inform DER` parses, equal to the CA's certificate, with caching headers.

use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, tool};
use strongroom_wire::{Request, Response};

/// GET over plain HTTP/1.1 (connection closed after): (status line, headers, body).
fn http_get(base: &str, path: &str, extra: &str) -> (String, String, Vec<u8>) {
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        raw[split + 4..].to_vec(),
    )
}

#[test]
fn the_ca_certificate_a_leaf_names_in_aia_is_served() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let admin = c.admin();
    let (csr, _) = c.csr("aia.lab.test", "DNS:aia.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // The URL as the leaf names it (openssl reads the extension).
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "authorityInfoAccess"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    x509.stdin
        .take()
        .unwrap()
        .write_all(r.json()["pem"].as_str().unwrap().as_bytes())
        .unwrap();
    let text = String::from_utf8(x509.wait_with_output().unwrap().stdout).unwrap();
    let url = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("CA Issuers - URI:"))
        .unwrap_or_else(|| panic!("no caIssuers in {text}"))
        .to_string();
    let path = url
        .strip_prefix("http://")
        .and_then(|u| u.find('/').map(|i| u[i..].to_string()))
        .unwrap();
    assert_eq!(path, "/ca/issuing.der");

    let (status, headers, body) = http_get(&c.front_base, &path, "");
    assert!(status.contains(" 200 "), "{status}\n{headers}");
    assert!(
        headers.contains("content-type: application/pkix-cert"),
        "{headers}"
    );
    assert!(
        headers.contains("cache-control: public, max-age=86400"),
        "{headers}"
    );
    let issuing = match c
        .signer
        .client()
        .call(&Request::GetCaChain {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        Response::CaChain(chain) => chain[0].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(body, issuing, "the served certificate is the issuing CA's");
    let mut parse = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    parse.stdin.take().unwrap().write_all(&body).unwrap();
    let out = parse.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Strongroom Test Issuing CA"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Caches revalidate with the ETag.
    let etag = headers
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .trim()
        .to_string();
    let (status, _, body) = http_get(&c.front_base, &path, &format!("If-None-Match: {etag}\r\n"));
    assert!(status.contains(" 304 "), "{status}");
    assert!(body.is_empty());
    // The root too; nothing else.
    let (status, _, _) = http_get(&c.front_base, "/ca/root.der", "");
    assert!(status.contains(" 200 "), "{status}");
    for bad in [
        "/ca/nope.der",
        "/ca/issuing.pem",
        "/ca/..%2Fissuing.der",
        "/ca/issuing",
    ] {
        let (status, _, _) = http_get(&c.front_base, bad, "");
        assert!(status.contains(" 404 "), "{bad}: {status}");
    }
}

/// Runs py/aia_verify.py (a relying party with only the leaf and the root).
fn relying_party(leaf: &Path, root: &Path, name: &str, extra: &[&str]) -> (bool, String) {
    let out = run(Command::new(tool("python3"))
        .arg(strongroom_testkit::repo_root().join("crates/front/tests/py/aia_verify.py"))
        .arg(leaf)
        .arg(root)
        .arg(name)
        .args(extra));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_validator_holding_only_leaf_and_root_fetches_a_new_intermediate_over_aia() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let admin = c.admin();
    // The front has read its CA list (it keeps it a minute) before the new CA exists.
    let (status, _, _) = http_get(&c.front_base, "/ca/issuing.der", "");
    assert!(status.contains(" 200 "), "{status}");
    let primed = std::time::Instant::now();
    // An intermediate made live now, whose certificates name this front in their AIA.
    let r = admin.post(
        "/api/v1/cas",
        &json!({
            "id": "issuing-aia", "parent": "root",
            "subject": "CN=Strongroom Test AIA Issuing CA,O=Strongroom Test",
            "algorithm": "ecdsa-p256", "validity_days": 365,
            "permitted": ["dns:lab.test"],
            "ca_issuers_url": format!("{}/ca/issuing-aia.der", c.front_base),
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
    profile["name"] = json!("tls-aia");
    profile["issuer"] = json!("issuing-aia");
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/tls-aia",
        &json!({"profile": profile, "enrollers": ["*"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (csr, _) = c.csr("relying.lab.test", "DNS:relying.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-aia", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let dir = c.dir().to_path_buf();
    let leaf = dir.join("relying.pem");
    std::fs::write(&leaf, r.json()["pem"].as_str().unwrap()).unwrap();
    let root = c
        .pki
        .write_pem("root.pem", std::slice::from_ref(&c.root_der));

    // Without AIA the chain cannot be built; following it, it verifies — though the front
    // read its CA list before the CA existed and keeps that list a minute: a miss re-reads
    // a list older than a second.
    std::thread::sleep(std::time::Duration::from_millis(1500).saturating_sub(primed.elapsed()));
    let (ok, text) = relying_party(&leaf, &root, "relying.lab.test", &["--no-aia"]);
    assert!(!ok, "{text}");
    let (ok, text) = relying_party(&leaf, &root, "relying.lab.test", &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("VERIFIED CN=relying.lab.test <- CN=Strongroom Test AIA Issuing CA"),
        "{text}"
    );
    // And for the issuing CA the test hierarchy started with, the same way through its
    // own URL on this front (its certificates name port 8080, so the test asks the front
    // the path they name).
    let (status, _, body) = http_get(&c.front_base, "/ca/issuing-aia.der", "");
    assert!(status.contains(" 200 "), "{status}");
    let mut parse = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    parse.stdin.take().unwrap().write_all(&body).unwrap();
    let out = parse.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("AIA Issuing CA"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
