//! The encrypted server-generated key (RFC 7030 §4.4.2) as OpenSSL reads it: `openssl cms
//! -decrypt` with the client's key opens the EnvelopedData (RSA-OAEP for an RSA client,
//! ECDH + AES key wrap for P-256 and P-384 clients), `openssl cms -verify` checks the key
//! generator's signature over the AsymmetricKeyPackage, and the key inside is the one put
//! in. The key generator here is a throwaway openssl key standing in for the signer's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;
use strongroom_est::{encrypted_key_part, key_package, package_digest, KeyGenerator, Recipient};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed certificate (with a subjectKeyIdentifier) for a new key of `kind`.
fn certificate(dir: &Path, name: &str, newkey: &[&str]) -> Vec<u8> {
    let mut args = vec!["req", "-x509", "-new", "-nodes", "-days", "2"];
    args.extend_from_slice(newkey);
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    let subject = format!("/CN={name}");
    args.extend_from_slice(&[
        "-keyout",
        &key,
        "-out",
        &crt,
        "-subj",
        &subject,
        "-addext",
        "subjectKeyIdentifier=hash",
    ]);
    openssl(dir, &args);
    openssl(dir, &["x509", "-in", &crt, "-outform", "DER"])
}

fn ski_of(dir: &Path, name: &str) -> Vec<u8> {
    let text = String::from_utf8(openssl(
        dir,
        &[
            "x509",
            "-in",
            &format!("{name}.crt"),
            "-noout",
            "-ext",
            "subjectKeyIdentifier",
        ],
    ))
    .unwrap();
    let hex: String = text.lines().nth(1).unwrap().trim().split(':').collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn openssl_opens_the_envelope_verifies_the_signature_and_finds_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let generator = certificate(
        dir,
        "generator",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    // The key the server made for the device (any key: the package carries PKCS#8).
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "device.pem",
        ],
    );
    let pkcs8 = openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "device.pem",
            "-outform",
            "DER",
        ],
    );
    let package = key_package(&pkcs8).unwrap();
    let attributes =
        strongroom_x509::key_package::key_package_attributes(&package_digest(&package)).unwrap();
    std::fs::write(dir.join("attrs.der"), &attributes).unwrap();
    let signature = openssl(
        dir,
        &["dgst", "-sha256", "-sign", "generator.key", "attrs.der"],
    );
    let signed_by = KeyGenerator {
        signed_attributes: &attributes,
        signature: &signature,
        certificate: &generator,
    };

    for (client, newkey) in [
        ("rsa-client", vec!["-newkey", "rsa:2048"]),
        (
            "p256-client",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        (
            "p384-client",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
    ] {
        let cert = certificate(dir, client, &newkey);
        let recipient = Recipient::named_by(&cert, &ski_of(dir, client)).unwrap();
        let part = encrypted_key_part(&package, signed_by, &recipient).unwrap();
        let enc = format!("{client}.p7m");
        std::fs::write(dir.join(&enc), &part).unwrap();
        let signed = format!("{client}.signed.der");
        openssl(
            dir,
            &[
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                &enc,
                "-inkey",
                &format!("{client}.key"),
                "-recip",
                &format!("{client}.crt"),
                "-out",
                &signed,
            ],
        );
        let opened = openssl(
            dir,
            &[
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                &signed,
                "-CAfile",
                "generator.crt",
                "-purpose",
                "any",
            ],
        );
        assert_eq!(
            opened,
            package.as_slice(),
            "{client}: the package comes back"
        );
        // The one OneAsymmetricKey inside is the device key's PKCS#8.
        assert_eq!(
            &opened[opened.len() - pkcs8.len()..],
            pkcs8.as_slice(),
            "{client}"
        );
    }
}

#[test]
fn only_the_tls_certificate_the_identifier_names_is_a_recipient() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cert = certificate(
        dir,
        "client",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let err = Recipient::named_by(&cert, &[1, 2, 3, 4, 5]).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("not the subjectKeyIdentifier"),
        "{err}"
    );
    let ed = certificate(dir, "ed", &["-newkey", "ed25519"]);
    let err = Recipient::named_by(&ed, &ski_of(dir, "ed")).unwrap_err();
    assert!(err.to_string().contains("RSA, P-256 or P-384"), "{err}");
}
