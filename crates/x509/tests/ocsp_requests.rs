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

/// The precomputed CertID hashes a responder compares requests with match the CertIDs
/// openssl makes for the CA's certificates, under SHA-1 and SHA-256, and tell two CAs apart.
#[test]
fn issuer_hashes_match_openssl_cert_ids() {
    use std::process::Command;
    use strongroom_testkit::{run, tool};
    use strongroom_x509::ocsp::IssuerHashes;
    use strongroom_x509::CaCertificate;
    let dir = tempfile::tempdir().unwrap();
    // One openssl command line (no argument contains a space).
    let openssl = |line: &str| {
        let out = run(Command::new(tool("openssl"))
            .current_dir(dir.path())
            .args(line.split_whitespace()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "openssl {line}: {err}");
    };
    let p256 = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let ca_of = |name: &str| {
        openssl(&format!(
            "req -x509 {p256} -keyout {name}.key -subj /CN={name} -days 2 -out {name}.pem"
        ));
        openssl(&format!("x509 -in {name}.pem -outform DER -out {name}.der"));
        let der = std::fs::read(dir.path().join(format!("{name}.der"))).unwrap();
        IssuerHashes::of(&CaCertificate::from_der(&der).unwrap()).unwrap()
    };
    let ca_h = ca_of("ca");
    let other_h = ca_of("other");
    openssl(&format!(
        "req -new {p256} -keyout leaf.key -subj /CN=leaf -out leaf.csr"
    ));
    openssl(
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -days 1 -set_serial 0x1234 -out leaf.pem",
    );
    for (digest, oid) in [("-sha1", ID_SHA1), ("-sha256", ID_SHA256)] {
        // openssl wants the digest before -cert.
        openssl(&format!(
            "ocsp -issuer ca.pem {digest} -cert leaf.pem -no_nonce -reqout req.der"
        ));
        let r = parse_ocsp_request(&std::fs::read(dir.path().join("req.der")).unwrap()).unwrap();
        let id = &r.cert_ids[0];
        assert_eq!(id.hash_algorithm.oid, oid);
        assert!(id.matches(&ca_h), "{digest}");
        assert!(!id.matches(&other_h), "{digest}");
    }
}
