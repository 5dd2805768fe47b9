//! `record_issued` on a certificate OpenSSL made: the row says what the certificate says,
//! is filed under the CA the signer named, carries the caller's provenance, and a
//! certificate that does not read back as the signer reported is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::process::Command;
use strongroom_signer_client::{record_issued, CallError, Provenance};
use strongroom_store::CertificateSource;
use strongroom_testkit::{run, tool};
use strongroom_wire::{IssuedCertificate, JournaledIssuance};

const SERIAL: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A self-signed P-256 certificate for www.lab.test and 192.0.2.1, serial [`SERIAL`], DER.
fn certificate(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("leaf.der");
    let made = run(Command::new(tool("openssl")).args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        dir.join("leaf.key").to_str().unwrap(),
        "-subj",
        "/CN=www.lab.test",
        "-addext",
        "subjectAltName=DNS:www.lab.test,IP:192.0.2.1",
        "-set_serial",
        &format!("0x{SERIAL}"),
        "-days",
        "30",
        "-outform",
        "DER",
        "-out",
        out.to_str().unwrap(),
    ]));
    assert!(made.status.success());
    std::fs::read(out).unwrap()
}

fn provenance() -> Provenance {
    Provenance {
        profile: "tls-server".into(),
        source: CertificateSource::Acme,
        owner: "acme:7".into(),
        team: Some("web".into()),
        tags: vec!["acme".into()],
        replaces: Some(3),
    }
}

#[test]
fn the_row_is_the_certificate_under_the_signers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let der = certificate(dir.path());
    let issued = IssuedCertificate {
        der: der.clone(),
        serial: SERIAL.parse().unwrap(),
        chain: vec![],
        journal_seq: 5,
        ca: "issuing-2".parse().unwrap(),
    };
    let row = record_issued(&issued, provenance()).unwrap();
    assert_eq!(row.issuer.as_str(), "issuing-2");
    assert_eq!(row.serial.to_string(), SERIAL);
    assert_eq!(row.subject_cn.as_deref(), Some("www.lab.test"));
    assert_eq!(row.names, vec!["dns:www.lab.test", "ip:192.0.2.1"]);
    assert_eq!(row.not_after - row.not_before, 30 * 86_400);
    assert_eq!(row.fingerprint.len(), 32 * 3 - 1);
    assert_eq!(row.der, der);
    assert_eq!(row.profile.as_deref(), Some("tls-server"));
    assert_eq!(row.source, CertificateSource::Acme);
    assert_eq!(row.owner.as_deref(), Some("acme:7"));
    assert_eq!(row.team.as_deref(), Some("web"));
    assert_eq!(row.tags, vec!["acme"]);
    assert_eq!(row.replaces, Some(3));

    // A journal record gives the same row.
    let journaled = JournaledIssuance {
        seq: 5,
        at: 0,
        ca: "issuing-2".parse().unwrap(),
        serial: SERIAL.parse().unwrap(),
        peer: "front".into(),
        profile: "tls-server".into(),
        der,
    };
    assert_eq!(record_issued(&journaled, provenance()).unwrap(), row);
}

#[test]
fn a_certificate_that_does_not_read_back_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let der = certificate(dir.path());
    let mut issued = IssuedCertificate {
        der,
        serial: "01".parse().unwrap(),
        chain: vec![],
        journal_seq: 5,
        ca: "issuing".parse().unwrap(),
    };
    match record_issued(&issued, provenance()) {
        Err(CallError::Unexpected(why)) => assert!(why.contains("carries serial"), "{why}"),
        other => panic!("{other:?}"),
    }
    issued.der.truncate(20);
    match record_issued(&issued, provenance()) {
        Err(CallError::Unexpected(why)) => assert!(why.contains("does not parse"), "{why}"),
        other => panic!("{other:?}"),
    }
}
