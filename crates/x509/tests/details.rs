#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! A certificate in words (`CertificateDetails`): made by openssl with the extensions a
//! leaf carries, read back with each extension's name, criticality and value; garbage is an
//! error, an unknown extension is listed by OID and length.

use std::process::Command;
use strongroom_x509::CertificateDetails;

fn openssl_cert(dir: &std::path::Path, extra: &[&str]) -> Vec<u8> {
    let out = dir.join("cert.der");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .args([
            "-subj",
            "/CN=shop.lab.test/O=Lab",
            "-days",
            "30",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&out)
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[test]
fn every_extension_is_named_with_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let der = openssl_cert(
        dir.path(),
        &[
            "-addext",
            "subjectAltName=DNS:shop.lab.test,IP:192.0.2.1",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "authorityInfoAccess=OCSP;URI:http://ocsp.lab.test/",
            "-addext",
            "crlDistributionPoints=URI:http://crl.lab.test/1.crl",
            "-addext",
            "1.3.6.1.4.1.99999.1=DER:0500",
        ],
    );
    let d = CertificateDetails::from_der(&der).unwrap();
    // RFC 4514 writes the last RDN first.
    assert_eq!(d.subject, "O=Lab,CN=shop.lab.test");
    assert_eq!(d.key_algorithm, "ecdsa-p256");
    assert_eq!(d.signature_algorithm, "ecdsa-with-SHA256");
    let ext = |name: &str| {
        d.extensions
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name}: {:?}", d.extensions))
    };
    assert_eq!(
        ext("subjectAltName").value,
        "dns:shop.lab.test, ip:192.0.2.1"
    );
    assert!(ext("keyUsage").critical);
    assert_eq!(ext("keyUsage").value, "DigitalSignature");
    assert_eq!(ext("extKeyUsage").value, "id-kp-serverAuth");
    assert_eq!(
        ext("authorityInfoAccess").value,
        "id-ad-ocsp: http://ocsp.lab.test/"
    );
    assert_eq!(
        ext("cRLDistributionPoints").value,
        "http://crl.lab.test/1.crl"
    );
    let unknown = ext("1.3.6.1.4.1.99999.1");
    assert_eq!(unknown.value, "2 bytes");
    assert!(ext("subjectKeyIdentifier").value.contains(':'));
}

#[test]
fn garbage_is_an_error_not_a_guess() {
    assert!(CertificateDetails::from_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    assert!(CertificateDetails::from_der(b"not a certificate").is_err());
}
