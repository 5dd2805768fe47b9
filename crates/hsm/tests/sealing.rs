//! Sealing keys on a real software token (SoftHSM2, or kryoptic: docs/hsm.md): an AES-256 key made once per label, sensitive,
//! never extractable and unable to wrap or sign; a sealed secret opens with its own
//! associated data only, and an altered or truncated blob is one refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::hsm;
use strongroom_hsm::HsmError;

#[test]
fn a_sealed_secret_opens_for_its_owner_only() {
    let hsm = hsm();
    let key = hsm.sealing_key("test-seal-owner").unwrap();
    assert_eq!(
        hsm.sealing_key("test-seal-owner").unwrap(),
        key,
        "one key per label"
    );
    let secret = b"twenty bytes secret!";
    let sealed = hsm.seal(&key, b"owner:alice", secret).unwrap();
    assert_eq!(sealed.len(), 12 + secret.len() + 16, "IV, ciphertext, tag");
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret),
        "sealed, not copied"
    );
    let again = hsm.seal(&key, b"owner:alice", secret).unwrap();
    assert_ne!(sealed, again, "a fresh IV per seal");
    assert_eq!(
        hsm.unseal(&key, b"owner:alice", &sealed)
            .unwrap()
            .as_slice(),
        secret
    );

    let refused = |r: Result<_, HsmError>| match r {
        Err(HsmError::BadRequest { detail }) => {
            assert!(detail.contains("does not open"), "{detail}")
        }
        other => panic!("{:?}", other.map(|_: zeroize::Zeroizing<Vec<u8>>| ())),
    };
    refused(hsm.unseal(&key, b"owner:bob", &sealed));
    for i in [0, 13, sealed.len() - 1] {
        let mut altered = sealed.clone();
        altered[i] ^= 1;
        refused(hsm.unseal(&key, b"owner:alice", &altered));
    }
    refused(hsm.unseal(&key, b"owner:alice", &sealed[..20]));
    refused(hsm.unseal(&key, b"owner:alice", &[]));
    // Another label is another key: its blobs do not open here.
    let other = hsm.sealing_key("test-seal-other").unwrap();
    refused(hsm.unseal(&other, b"owner:alice", &sealed));
}

#[test]
fn the_sealing_key_cannot_leave_the_token() {
    let hsm = hsm();
    hsm.sealing_key("test-seal-attributes").unwrap();
    // pkcs11-tool reads the object's attributes as the token reports them.
    let f = common::fixture();
    let pin = std::fs::read_to_string(f.pin_file(common::MAIN_TOKEN)).unwrap();
    let out = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", &f.conf)
        .args(["--module", common::module_path().to_str().unwrap()])
        .args([
            "--token-label",
            common::MAIN_TOKEN,
            "--login",
            "--pin",
            pin.trim(),
        ])
        .args([
            "--list-objects",
            "--type",
            "secrkey",
            "--label",
            "test-seal-attributes",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("AES length 32"), "{text}");
    assert!(
        text.contains("sensitive") && text.contains("never extractable"),
        "{text}"
    );
    // Encrypt and decrypt, nothing else: no wrap, unwrap, sign, verify or derive.
    assert!(text.contains("Usage:      encrypt, decrypt\n"), "{text}");
}
