//! Key generation, lookup, signing and decryption on a real software token (SoftHSM2, or kryoptic: docs/hsm.md), with every
//! signature checked by an independent verifier (ring) and every public key parsed by OpenSSL.

// Helpers outside #[test] fns fail the test the same way the tests do: loudly, with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fixture, hsm, spki_key_bits, spki_pem, RECOVERY_TOKEN};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use std::process::Command;
use std::time::Instant;
use strongroom_hsm::{Hsm, HsmError, KeyPurpose, KeyRef, Pkcs11Uri};
use strongroom_types::{KeyAlgorithm, SignatureAlgorithm};

const MESSAGE: &[u8] = b"tbsCertificate stand-in: the bytes a CA signs";

fn verifier(
    algorithm: SignatureAlgorithm,
    key: KeyAlgorithm,
) -> &'static dyn VerificationAlgorithm {
    use SignatureAlgorithm as S;
    match (algorithm, key) {
        (S::EcdsaSha256, KeyAlgorithm::EcdsaP256) => &signature::ECDSA_P256_SHA256_ASN1,
        (S::EcdsaSha384, KeyAlgorithm::EcdsaP256) => &signature::ECDSA_P256_SHA384_ASN1,
        (S::EcdsaSha256, KeyAlgorithm::EcdsaP384) => &signature::ECDSA_P384_SHA256_ASN1,
        (S::EcdsaSha384, KeyAlgorithm::EcdsaP384) => &signature::ECDSA_P384_SHA384_ASN1,
        (S::RsaPkcs1Sha256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (S::RsaPkcs1Sha384, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (S::RsaPssSha256, _) => &signature::RSA_PSS_2048_8192_SHA256,
        (S::RsaPssSha384, _) => &signature::RSA_PSS_2048_8192_SHA384,
        (S::Ed25519, _) => &signature::ED25519,
        other => panic!("no verifier for {other:?}"),
    }
}

const ALL_SIGNATURES: [SignatureAlgorithm; 7] = SignatureAlgorithm::ALL;

fn verify(key: &KeyRef, algorithm: SignatureAlgorithm, message: &[u8], sig: &[u8]) {
    let public = spki_key_bits(&key.public_key_der);
    UnparsedPublicKey::new(verifier(algorithm, key.algorithm), &public)
        .verify(message, sig)
        .unwrap_or_else(|_| panic!("{algorithm} signature by {} does not verify", key.algorithm));
}

/// Generate, inspect, look up and sign with one algorithm; every check a CA relies on.
fn generate_sign_verify(algorithm: KeyAlgorithm) {
    let hsm = hsm();
    let label = format!("ca-{algorithm}");
    let started = Instant::now();
    let key = match hsm.generate_key(&label, algorithm, KeyPurpose::Signing) {
        Err(HsmError::Unsupported { what }) if algorithm == KeyAlgorithm::Ed25519 => {
            // Debian 12's SoftHSM has EdDSA; kryoptic built on OpenSSL 3.0 has not (its
            // EdDSA needs 3.2), and the refusal must say so before anything is generated.
            assert!(!common::implementation().ed25519, "{what}");
            let status = hsm.status().unwrap();
            assert!(!status.mechanisms.iter().any(|m| m == "EdDSA"), "{what}");
            assert!(what.contains("Ed25519") || what.contains("EdDSA"), "{what}");
            return;
        }
        other => other.unwrap(),
    };
    eprintln!("generate {algorithm}: {:?}", started.elapsed());
    assert_eq!(key.algorithm, algorithm);
    assert_eq!(key.uri.object.as_deref(), Some(label.as_str()));
    assert_eq!(key.uri.token.as_deref(), Some(common::MAIN_TOKEN));
    assert_eq!(key.uri.id.as_ref().map(Vec::len), Some(16));
    let pem = spki_pem(&key.public_key_der);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));

    let props = hsm.key_properties(&key).unwrap();
    assert!(props.sensitive && props.always_sensitive, "{props:?}");
    assert!(!props.extractable && props.never_extractable, "{props:?}");
    assert!(
        props.private && props.can_sign && !props.can_decrypt,
        "{props:?}"
    );

    // The URI is the stable name: its text form finds the same key again.
    let found = hsm.find_key(&key.uri.to_string().parse().unwrap()).unwrap();
    assert_eq!(found, key);

    for sig_alg in ALL_SIGNATURES {
        if !sig_alg.fits_key(algorithm) {
            let err = hsm.sign(&key, sig_alg, MESSAGE).unwrap_err();
            assert!(matches!(err, HsmError::BadRequest { .. }), "{err}");
            assert!(!err.is_temporary());
            continue;
        }
        let started = Instant::now();
        let sig = hsm.sign(&found, sig_alg, MESSAGE).unwrap();
        eprintln!("sign {sig_alg} with {algorithm}: {:?}", started.elapsed());
        verify(&key, sig_alg, MESSAGE, &sig);
        // And a signature over other bytes must not verify over these.
        let other = hsm.sign(&key, sig_alg, b"something else").unwrap();
        let public = spki_key_bits(&key.public_key_der);
        assert!(
            UnparsedPublicKey::new(verifier(sig_alg, algorithm), &public)
                .verify(MESSAGE, &other)
                .is_err()
        );
    }
}

#[test]
fn ecdsa_p256() {
    generate_sign_verify(KeyAlgorithm::EcdsaP256);
}

#[test]
fn ecdsa_p384() {
    generate_sign_verify(KeyAlgorithm::EcdsaP384);
}

#[test]
fn rsa_2048() {
    generate_sign_verify(KeyAlgorithm::Rsa2048);
}

#[test]
fn rsa_3072() {
    generate_sign_verify(KeyAlgorithm::Rsa3072);
}

#[test]
fn rsa_4096() {
    generate_sign_verify(KeyAlgorithm::Rsa4096);
}

#[test]
fn ed25519() {
    generate_sign_verify(KeyAlgorithm::Ed25519);
}

#[test]
fn decryption_key_decrypts_what_openssl_encrypted_and_cannot_sign() {
    let hsm = hsm();
    let key = hsm
        .generate_key(
            "decrypt-only",
            KeyAlgorithm::Rsa2048,
            KeyPurpose::Decryption,
        )
        .unwrap();
    let props = hsm.key_properties(&key).unwrap();
    assert!(
        props.can_decrypt && !props.can_sign && props.never_extractable,
        "{props:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ra.pem");
    std::fs::write(&pem, spki_pem(&key.public_key_der)).unwrap();
    let plain = dir.path().join("plain");
    let cipher = dir.path().join("cipher");
    std::fs::write(&plain, b"content-encryption key 0123456789").unwrap();
    let status = Command::new("openssl")
        .args([
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&pem)
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&cipher)
        .status()
        .unwrap();
    assert!(status.success());
    let ciphertext = std::fs::read(&cipher).unwrap();
    let decrypted = hsm.decrypt_rsa_pkcs1(&key, &ciphertext).unwrap();
    assert_eq!(&decrypted[..], b"content-encryption key 0123456789");

    let err = hsm
        .sign(&key, SignatureAlgorithm::RsaPkcs1Sha256, MESSAGE)
        .unwrap_err();
    assert!(
        matches!(
            err,
            HsmError::KeyNotPermitted {
                operation: "sign",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_temporary());

    // A corrupted ciphertext is refused, permanently, and is not taken for a failing token:
    // no session is dropped and reopened for it (kryoptic answers CKR_DEVICE_ERROR here,
    // which alone would read as a lost session).
    let reopened = hsm.status().unwrap().sessions_reopened;
    let mut bad = ciphertext.clone();
    bad[10] ^= 0x55;
    let err = hsm.decrypt_rsa_pkcs1(&key, &bad).unwrap_err();
    assert!(!err.is_temporary(), "{err}");
    assert_eq!(hsm.status().unwrap().sessions_reopened, reopened, "{err}");
}

#[test]
fn scep_ra_key_signs_and_decrypts_and_stays_in_the_token() {
    let hsm = hsm();
    let key = hsm
        .generate_key(
            "scep-ra",
            KeyAlgorithm::Rsa2048,
            KeyPurpose::SigningAndDecryption,
        )
        .unwrap();
    let props = hsm.key_properties(&key).unwrap();
    assert!(
        props.can_decrypt
            && props.can_sign
            && props.sensitive
            && !props.extractable
            && props.never_extractable,
        "{props:?}"
    );
    let signature = hsm
        .sign(&key, SignatureAlgorithm::RsaPkcs1Sha256, MESSAGE)
        .unwrap();
    assert_eq!(signature.len(), 256);

    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ra.pem");
    std::fs::write(&pem, spki_pem(&key.public_key_der)).unwrap();
    let plain = dir.path().join("plain");
    let cipher = dir.path().join("cipher");
    std::fs::write(&plain, [7u8; 32]).unwrap();
    let status = Command::new("openssl")
        .args([
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&pem)
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&cipher)
        .status()
        .unwrap();
    assert!(status.success());
    let decrypted = hsm
        .decrypt_rsa_pkcs1(&key, &std::fs::read(&cipher).unwrap())
        .unwrap();
    assert_eq!(&decrypted[..], &[7u8; 32]);
}

#[test]
fn scep_ra_purpose_is_rsa_only() {
    let err = hsm()
        .generate_key(
            "scep-ra-ec",
            KeyAlgorithm::EcdsaP256,
            KeyPurpose::SigningAndDecryption,
        )
        .unwrap_err();
    assert!(matches!(err, HsmError::BadRequest { .. }), "{err}");
}

#[test]
fn signing_key_refuses_to_decrypt() {
    let hsm = hsm();
    let key = hsm
        .generate_key("sign-only", KeyAlgorithm::Rsa2048, KeyPurpose::Signing)
        .unwrap();
    let err = hsm.decrypt_rsa_pkcs1(&key, &[0u8; 256]).unwrap_err();
    assert!(
        matches!(
            err,
            HsmError::KeyNotPermitted {
                operation: "decrypt",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "token refuses to decrypt with key \"sign-only\" (CKR_KEY_FUNCTION_NOT_PERMITTED): the key was generated for another purpose"
    );
    assert!(!err.is_temporary());
}

#[test]
fn decryption_needs_rsa() {
    let err = hsm()
        .generate_key(
            "ec-decrypt",
            KeyAlgorithm::EcdsaP256,
            KeyPurpose::Decryption,
        )
        .unwrap_err();
    assert!(matches!(err, HsmError::BadRequest { .. }), "{err}");
}

#[test]
fn duplicate_label_is_refused() {
    let hsm = hsm();
    let first = hsm
        .generate_key("dup", KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
        .unwrap();
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384] {
        let err = hsm
            .generate_key("dup", algorithm, KeyPurpose::Signing)
            .unwrap_err();
        assert_eq!(
            err,
            HsmError::KeyExists {
                label: "dup".into()
            }
        );
        assert!(!err.is_temporary());
    }
    // Still exactly one key under the label.
    let by_label: Pkcs11Uri = "pkcs11:object=dup".parse().unwrap();
    assert_eq!(hsm.find_key(&by_label).unwrap(), first);
}

#[test]
fn find_key_by_id_alone_and_misses() {
    let hsm = hsm();
    let key = hsm
        .generate_key("by-id", KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
        .unwrap();
    let by_id = Pkcs11Uri {
        token: None,
        object: None,
        id: key.uri.id.clone(),
    };
    assert_eq!(hsm.find_key(&by_id).unwrap(), key);

    let missing: Pkcs11Uri = "pkcs11:object=no-such-key".parse().unwrap();
    let err = hsm.find_key(&missing).unwrap_err();
    assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err}");
    assert!(!err.is_temporary());

    let other_token: Pkcs11Uri = "pkcs11:token=Elsewhere;object=by-id".parse().unwrap();
    assert!(matches!(
        hsm.find_key(&other_token),
        Err(HsmError::BadRequest { .. })
    ));
    assert!(matches!(
        hsm.find_key(&Pkcs11Uri::default()),
        Err(HsmError::BadRequest { .. })
    ));
}

#[test]
fn concurrent_signing_four_threads_two_sessions() {
    let hsm = hsm();
    let key = hsm
        .generate_key("busy", KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
        .unwrap();
    const PER_THREAD: usize = 250;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let (hsm, key) = (hsm.clone(), key.clone());
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let message = [t, (i % 256) as u8, (i / 256) as u8];
                    let sig = hsm
                        .sign(&key, SignatureAlgorithm::EcdsaSha256, &message)
                        .unwrap();
                    if i % 50 == 0 {
                        verify(&key, SignatureAlgorithm::EcdsaSha256, &message, &sig);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "4 threads x {PER_THREAD} P-256 signatures on 2 sessions: {elapsed:?} ({:.0}/s)",
        (4 * PER_THREAD) as f64 / elapsed.as_secs_f64()
    );
    assert!(hsm.status().unwrap().sessions_open <= 2);
}

#[test]
fn status_reports_the_token() {
    let status = hsm().status().unwrap();
    assert_eq!(status.label, common::MAIN_TOKEN);
    assert_eq!(status.sessions_open, 2);
    assert!(
        status
            .manufacturer
            .contains(common::implementation().manufacturer),
        "{status:?}"
    );
    for needed in ["ECDSA", "RSA PKCS#1 v1.5", "RSA-PSS", "RSA key generation"] {
        assert!(status.mechanisms.iter().any(|m| m == needed), "{status:?}");
    }
}

#[test]
fn sessions_closed_behind_the_pool_are_reopened() {
    // Its own token: closing all sessions of a slot must not disturb the other tests.
    let hsm = Hsm::open(fixture().config(RECOVERY_TOKEN, 2)).unwrap();
    let key = hsm
        .generate_key("survivor", KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
        .unwrap();
    hsm.sign(&key, SignatureAlgorithm::EcdsaSha256, MESSAGE)
        .unwrap();
    assert_eq!(hsm.status().unwrap().sessions_reopened, 0);

    hsm.invalidate_sessions_for_test();
    // Sign from both pool sessions at once so each dead session is met and replaced.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let sig = hsm
                        .sign(&key, SignatureAlgorithm::EcdsaSha256, MESSAGE)
                        .unwrap();
                    verify(&key, SignatureAlgorithm::EcdsaSha256, MESSAGE, &sig);
                }
            });
        }
    });
    let status = hsm.status().unwrap();
    assert!(status.sessions_reopened >= 1, "{status:?}");
    assert_eq!(status.sessions_open, 2);
    // Lookups work after the re-login too (private objects are visible again).
    assert_eq!(hsm.find_key(&key.uri).unwrap(), key);
}

#[test]
fn hsm_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Hsm>();
}
