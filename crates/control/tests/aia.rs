#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! AIA caIssuers (issue 15, relying parties): every certificate names
//! `http://…/ca/{ca}.der`; the front serves that CA's certificate there as DER, which
//! `openssl x509 -inform DER` parses, equal to the CA's certificate, with caching headers.

mod common;

use common::{Control, Db};
use serde_json::json;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
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
