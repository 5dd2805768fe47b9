//! Real OCSP requests, captured from `openssl ocsp -reqout` (the fuzz seed corpus), parse:
//! one and three certificates, SHA-1 and SHA-256 CertIDs, with and without a nonce.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use strongroom_x509::ocsp::{parse_ocsp_request, ID_SHA1, ID_SHA256};

fn seed(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../fuzz/corpus/ocsp_request/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn openssl_requests_parse() {
    let r = parse_ocsp_request(&seed("single-sha1.der")).unwrap();
    assert_eq!(r.cert_ids.len(), 1);
    assert_eq!(r.cert_ids[0].hash_algorithm.oid, ID_SHA1);
    assert!(r.nonce.is_none());
    assert!(r.cert_ids[0].serial().is_some());
    let r = parse_ocsp_request(&seed("single-nonce.der")).unwrap();
    assert!(r.nonce.as_ref().is_some_and(|n| !n.is_empty()));
    let r = parse_ocsp_request(&seed("three-certs.der")).unwrap();
    assert_eq!(r.cert_ids.len(), 3);
    let r = parse_ocsp_request(&seed("sha256.der")).unwrap();
    assert_eq!(r.cert_ids[0].hash_algorithm.oid, ID_SHA256);
    // Trailing bytes and truncation are refused.
    let mut long = seed("single-sha1.der");
    long.push(0);
    assert!(parse_ocsp_request(&long).is_err());
    let short = seed("single-sha1.der");
    assert!(parse_ocsp_request(&short[..short.len() - 1]).is_err());
}
