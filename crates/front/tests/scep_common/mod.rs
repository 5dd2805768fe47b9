//! What the SCEP client tests share: plain HTTP to the front, openssl, and the RA
//! certificate's fingerprint that Debian's scepclient pins with `-ca-fingerprint`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::process::Command;
use strongroom_testkit::run;
use strongroom_testkit::stack::Control;

/// One HTTP/1.1 exchange (connection closed after): (status line, body).
fn exchange(base: &str, head: &str, body: &[u8]) -> (String, Vec<u8>) {
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "{head}Host: {host}\r\nConnection: close\r\n\r\n").unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    (
        head.lines().next().unwrap_or_default().to_string(),
        raw[split + 4..].to_vec(),
    )
}

/// GET over plain HTTP/1.1: (status line, body).
pub fn http_get(base: &str, path: &str) -> (String, Vec<u8>) {
    exchange(base, &format!("GET {path} HTTP/1.1\r\n"), &[])
}

/// POST of a pkiMessage over plain HTTP/1.1: (status line, body).
pub fn http_post(base: &str, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    exchange(
        base,
        &format!(
            "POST {path} HTTP/1.1\r\nContent-Type: application/x-pki-message\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body,
    )
}

/// openssl with `args`, which must succeed: its stdout.
pub fn openssl_bytes(args: &[&str]) -> Vec<u8> {
    let out = run(Command::new("openssl").args(args));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// openssl with `args`, which must succeed: its stdout as text.
pub fn openssl(args: &[&str]) -> String {
    String::from_utf8_lossy(&openssl_bytes(args)).into_owned()
}

/// SHA-256 (hex) of the RA certificate — the first of GetCACert at `scep_path` — as
/// scepclient's `-ca-fingerprint` wants it.
pub fn ra_fingerprint(c: &Control, scep_path: &str) -> String {
    let (status, p7) = http_get(&c.front_base, &format!("{scep_path}?operation=GetCACert"));
    assert!(status.contains(" 200 "), "{status}");
    let p7_path = c.dir().join("getcacert-for-fingerprint.p7");
    std::fs::write(&p7_path, &p7).unwrap();
    let printed = openssl(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        p7_path.to_str().unwrap(),
        "-print_certs",
    ]);
    let start = printed.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = printed.find("-----END CERTIFICATE-----").unwrap() + 25;
    let ra_path = c.dir().join("ra-for-fingerprint.pem");
    std::fs::write(&ra_path, format!("{}\n", &printed[start..end])).unwrap();
    let der = openssl_bytes(&["x509", "-in", ra_path.to_str().unwrap(), "-outform", "DER"]);
    hex::encode(Sha256::digest(der))
}
