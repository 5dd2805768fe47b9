//! EST's key generator in the signer (issue 18, RFC 7030 §4.4.2): a P-256 key made in the
//! token on first use, certified by the CA under the reserved name with digitalSignature
//! only and no extended key usage; it signs the attributes the signer builds around a key
//! package's digest (never the caller's bytes), which openssl verifies; a digest of the
//! wrong length, an unknown CA and the reserved name in an ordinary issuance are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_wire::{CallError, ErrorKind, Request, Response, SignedEstKeyPackage, SignerClient};

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = run(Command::new(tool("openssl")).current_dir(dir).args(args));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sign(
    c: &mut SignerClient,
    ca: &str,
    digest: Vec<u8>,
) -> Result<SignedEstKeyPackage, (ErrorKind, String)> {
    match c.call(&Request::SignEstKeyPackage {
        ca: ca.parse().unwrap(),
        package_digest: digest,
    }) {
        Ok(Response::EstKeyPackage(s)) => Ok(s),
        Err(CallError::Refused { kind, detail }) => Err((kind, detail)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_key_generator_signs_a_package_digest_and_nothing_else() {
    let (pki, signer) = running_pki("");
    let mut c = signer.client();
    let dir = pki.dir.path();

    let digest: Vec<u8> = (0u8..32).collect();
    let signed = sign(&mut c, "issuing", digest.clone()).unwrap();
    let again = sign(&mut c, "issuing", vec![0x33; 32]).unwrap();
    assert_eq!(
        signed.certificate, again.certificate,
        "one key generator until renewed"
    );

    // The certificate: the issuing CA's, the reserved name, signing only, no EKU.
    std::fs::write(dir.join("keygen.der"), &signed.certificate).unwrap();
    let text = openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "keygen.der",
            "-noout",
            "-text",
        ],
        dir,
    );
    assert!(text.contains("strongroom-est-keygen."), "{text}");
    assert!(text.contains("Strongroom Test Issuing CA"), "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(!text.contains("Key Encipherment"), "{text}");
    assert!(!text.contains("Extended Key Usage"), "{text}");
    assert!(text.contains("prime256v1"), "{text}");

    // The attributes are the signer's: contentType id-ct-KP-aKeyPackage and the digest given.
    std::fs::write(dir.join("attrs.der"), &signed.signed_attributes).unwrap();
    let parsed = openssl(&["asn1parse", "-inform", "DER", "-in", "attrs.der"], dir);
    assert!(parsed.contains("2.16.840.1.101.2.1.2.78.5"), "{parsed}");
    assert!(parsed.contains(&hex::encode_upper(&digest)), "{parsed}");
    // openssl verifies the signature with the certificate's key.
    std::fs::write(dir.join("attrs.sig"), &signed.signature).unwrap();
    openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "keygen.der",
            "-pubkey",
            "-noout",
            "-out",
            "keygen.pub",
        ],
        dir,
    );
    let verified = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "keygen.pub",
            "-signature",
            "attrs.sig",
            "attrs.der",
        ],
        dir,
    );
    assert!(verified.contains("Verified OK"), "{verified}");

    // Not a digest, or a CA this signer does not hold: refused, nothing signed.
    for bad in [vec![], vec![1; 31], vec![1; 33], vec![1; 64]] {
        let (kind, detail) = sign(&mut c, "issuing", bad).unwrap_err();
        assert_eq!(kind, ErrorKind::BadRequest, "{detail}");
        assert!(detail.contains("SHA-256"), "{detail}");
    }
    let (kind, detail) = sign(&mut c, "nowhere", digest).unwrap_err();
    assert_eq!(kind, ErrorKind::BadRequest, "{detail}");
    assert!(detail.contains("unknown CA"), "{detail}");
}
