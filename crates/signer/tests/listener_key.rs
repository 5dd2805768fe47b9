//! The listener keys of control and the front (`ListenerKey`, `SignTlsHandshake`): each peer
//! gets its own P-256 key made in the HSM, non-extractable, found again by every signer on
//! the token; a handshake signature is made with the caller's own key only, never with a CA,
//! audit or other peer's key, and only over what a TLS server signs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use ring::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA256_ASN1,
};
use std::os::unix::process::CommandExt;
use std::process::Command;
use strongroom_testkit::{run, tool, TestPki};
use strongroom_wire::{
    CallError, ErrorKind, Request, Response, SignerClient, TlsSignatureScheme,
    MAX_TLS_HANDSHAKE_MESSAGE,
};

/// A TLS 1.3 server CertificateVerify input over a made-up transcript hash.
fn tls13_message(hash_byte: u8) -> Vec<u8> {
    [
        vec![0x20; 64],
        b"TLS 1.3, server CertificateVerify\0".to_vec(),
        vec![hash_byte; 32],
    ]
    .concat()
}

/// TLS 1.2 randoms and ECDHE parameters for X25519.
fn tls12_message() -> Vec<u8> {
    let mut m = vec![0x42; 64];
    m.extend_from_slice(&[3, 0x00, 0x1d, 32]);
    m.extend_from_slice(&[0x17; 32]);
    m
}

fn listener_key(c: &mut SignerClient) -> Result<(Vec<u8>, String), CallError> {
    match c.call(&Request::ListenerKey)? {
        Response::ListenerKey { public_key, uri } => Ok((public_key, uri)),
        other => panic!("unexpected {other:?}"),
    }
}

fn sign(c: &mut SignerClient, message: Vec<u8>) -> Result<Vec<u8>, CallError> {
    match c.call(&Request::SignTlsHandshake {
        scheme: TlsSignatureScheme::EcdsaP256Sha256,
        message,
    })? {
        Response::TlsHandshakeSignature { signature } => Ok(signature),
        other => panic!("unexpected {other:?}"),
    }
}

fn refusal(r: Result<Vec<u8>, CallError>) -> ErrorKind {
    match r {
        Err(CallError::Refused { kind, .. }) => kind,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The EC point at the end of a P-256 SubjectPublicKeyInfo.
fn point(spki: &[u8]) -> &[u8] {
    assert_eq!(spki.len(), 91, "a P-256 SPKI");
    &spki[26..]
}

fn verifies(alg: &'static dyn VerificationAlgorithm, point: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(alg, point).verify(msg, sig).is_ok()
}

#[test]
fn a_peer_gets_one_key_made_in_the_token_non_extractable_and_kept_across_restarts() {
    let (pki, mut signer) = running_pki("");
    let mut c = signer.client();
    // Before the key exists a handshake cannot be signed (SignTlsHandshake never makes it).
    assert_eq!(
        refusal(sign(&mut c, tls13_message(1))),
        ErrorKind::BadRequest
    );
    let (spki, uri) = listener_key(&mut c).unwrap();
    assert!(uri.contains("object=strongroom-listener-dev"), "{uri}");
    assert_eq!(listener_key(&mut c).unwrap().0, spki, "the same key again");
    assert_eq!(journal_count(&pki, "listener-key"), 1);

    for message in [tls13_message(7), tls12_message()] {
        let sig = sign(&mut c, message.clone()).unwrap();
        assert!(verifies(
            &ECDSA_P256_SHA256_ASN1,
            point(&spki),
            &message,
            &sig
        ));
    }
    // An independent verifier agrees (SHA-256 over the message, ECDSA P-256, DER).
    let message = tls13_message(9);
    let sig = sign(&mut c, message.clone()).unwrap();
    let dir = pki.dir.path();
    std::fs::write(
        dir.join("listener.pub.pem"),
        strongroom_testkit::pem("PUBLIC KEY", &spki),
    )
    .unwrap();
    std::fs::write(dir.join("message"), &message).unwrap();
    std::fs::write(dir.join("sig"), &sig).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join("listener.pub.pem"))
        .arg("-signature")
        .arg(dir.join("sig"))
        .arg(dir.join("message")));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The token, asked by pkcs11-tool, says the key can never leave it.
    let block = object_block(&token_private_keys(&pki), "strongroom-listener-dev");
    assert!(block.contains("EC"), "{block}");
    for flag in [
        "sensitive",
        "always sensitive",
        "never extractable",
        "local",
    ] {
        assert!(block.contains(flag), "{flag} missing:\n{block}");
    }
    assert!(!block.contains("Access:     extractable"), "{block}");
    assert!(block.contains("Usage:      sign"), "{block}");

    // A restart keeps no copy of it: the new process finds the key on the token.
    signer.stop();
    let signer = pki.start_signer();
    let mut c = signer.client();
    let m = tls13_message(3);
    let sig = sign(&mut c, m.clone()).unwrap();
    assert!(verifies(&ECDSA_P256_SHA256_ASN1, point(&spki), &m, &sig));
    assert_eq!(listener_key(&mut c).unwrap().0, spki);
    assert_eq!(
        journal_count(&pki, "listener-key"),
        1,
        "found, not made again"
    );
    // Handshake signatures are counted in the log at debug, not journalled.
    assert_eq!(journal_count(&pki, "tls-handshake"), 0);
    assert!(signer.log_text().contains("TLS handshake signed"));
}

#[test]
fn a_second_signer_on_the_same_token_finds_the_same_key() {
    let (pki, signer) = running_pki("");
    let (spki, _) = listener_key(&mut signer.client()).unwrap();
    // Another signer: its own socket and state directory, the same token (as two
    // appliances on one network-HSM partition).
    let second = pki.dir.path().join("second.toml");
    let text = std::fs::read_to_string(&pki.config)
        .unwrap()
        .replace("run/signer.sock", "run/second.sock")
        .replace(
            &format!("{:?}", pki.state),
            &format!("{:?}", pki.dir.path().join("state2")),
        );
    std::fs::write(&second, text).unwrap();
    // Landlock grants existing paths only; the ceremony made the first one's.
    std::fs::create_dir(pki.dir.path().join("state2")).unwrap();
    std::fs::set_permissions(
        pki.dir.path().join("state2"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut child = pki
        .signer_command()
        .args(["run", "--config"])
        .arg(&second)
        .stderr(std::fs::File::create(pki.dir.path().join("second.log")).unwrap())
        .spawn()
        .unwrap();
    let socket = pki.dir.path().join("run/second.sock");
    let mut answer = None;
    for _ in 0..300 {
        if let Ok(mut c) = SignerClient::connect(&socket) {
            if c.call(&Request::Health).is_ok() {
                answer = Some(listener_key(&mut c).unwrap().0);
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(pki.dir.path().join("second.log")).unwrap_or_default();
    assert_eq!(answer.expect(&log), spki);
    let second_journal =
        std::fs::read_to_string(pki.dir.path().join("state2/journal/issuance.log")).unwrap();
    assert!(second_journal.contains("\"kind\":\"startup\""));
    assert!(
        !second_journal.contains("listener-key"),
        "the second signer found the key; it did not make one"
    );
}

#[test]
fn only_what_a_tls_server_signs_is_signed() {
    let (_pki, signer) = running_pki("");
    let mut c = signer.client();
    listener_key(&mut c).unwrap();
    let oversize = vec![0x20; MAX_TLS_HANDSHAKE_MESSAGE + 1];
    assert_eq!(refusal(sign(&mut c, oversize)), ErrorKind::BadRequest);
    // Bytes a caller might want a signature over for another purpose: a certificate-like
    // DER blob, an arbitrary text, a TLS 1.3 *client* CertificateVerify input.
    let mut client_cv = tls13_message(1);
    client_cv[64..97].copy_from_slice(b"TLS 1.3, client CertificateVerify");
    for m in [vec![0x30; 300], b"pay 1000 to mallory".to_vec(), client_cv] {
        assert_eq!(refusal(sign(&mut c, m)), ErrorKind::BadRequest);
    }
    // The connection carries on after refusals.
    assert!(sign(&mut c, tls13_message(5)).is_ok());
}

#[test]
fn a_planted_extractable_key_under_the_label_is_refused() {
    let (pki, signer) = running_pki("");
    // Someone with the token's PIN makes an extractable key under the predictable label
    // before the first ListenerKey.
    let pin = std::fs::read_to_string(&pki.token.pin_file).unwrap();
    let out = run(Command::new(tool("pkcs11-tool"))
        .envs(pki.token.env())
        .arg("--module")
        .arg(strongroom_testkit::pkcs11_module())
        .args([
            "--token-label",
            &pki.token.label,
            "--login",
            "--pin",
            pin.trim(),
        ])
        .args([
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--extractable",
        ])
        .args(["--label", "strongroom-listener-dev", "--id", "5151"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = signer.client();
    match listener_key(&mut c) {
        Err(CallError::Refused { kind, detail }) => {
            assert_eq!(kind, ErrorKind::HsmFailed);
            assert!(detail.contains("extractable=true"), "{detail}");
        }
        other => panic!("a planted key was accepted: {other:?}"),
    }
    assert_eq!(
        refusal(sign(&mut c, tls13_message(1))),
        ErrorKind::HsmFailed
    );
    assert_eq!(journal_count(&pki, "listener-key"), 0);
}

/// When run with STRONGROOM_TEST_CLIENT_SOCKET set (as another uid, by the test below):
/// asks for its listener key and a signature over STRONGROOM_TEST_HASH's message, and
/// prints what it got.
#[test]
fn listener_client_helper_as_other_uid() {
    let Some(socket) = std::env::var_os("STRONGROOM_TEST_CLIENT_SOCKET") else {
        return;
    };
    let hash: u8 = std::env::var("STRONGROOM_TEST_HASH")
        .unwrap()
        .parse()
        .unwrap();
    let mut c = SignerClient::connect(std::path::Path::new(&socket)).unwrap();
    match listener_key(&mut c) {
        Ok((spki, _)) => println!("KEY={}", hex::encode(spki)),
        Err(CallError::Refused { kind, .. }) => println!("KEY={kind:?}"),
        Err(e) => println!("KEY=transport {e}"),
    }
    match sign(&mut c, tls13_message(hash)) {
        Ok(sig) => println!("SIG={}", hex::encode(sig)),
        Err(CallError::Refused { kind, .. }) => println!("SIG={kind:?}"),
        Err(e) => println!("SIG=transport {e}"),
    }
}

/// Runs the helper above as `uid`; returns (KEY=…, SIG=…).
fn as_uid(pki: &TestPki, helper: &std::path::Path, uid: u32, hash: u8) -> (String, String) {
    let out = Command::new(helper)
        .args([
            "--exact",
            "listener_client_helper_as_other_uid",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STRONGROOM_TEST_CLIENT_SOCKET", &pki.socket)
        .env("STRONGROOM_TEST_HASH", hash.to_string())
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(&format!("{name}=")).map(|(_, v)| v))
            .unwrap_or_else(|| {
                panic!(
                    "uid {uid} printed no {name}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_string()
    };
    (field("KEY"), field("SIG"))
}

#[test]
#[ignore = "needs root: clients as other uids (make test runs it when root, as CI does)"]
fn each_peer_signs_with_its_own_key_and_no_other() {
    let (pki, signer) = running_pki(
        "[[peer]]\nname = \"front\"\nuid = 4242\noperations = [\"Health\", \"ListenerKey\", \"SignTlsHandshake\"]\n\
         [[peer]]\nname = \"control\"\nuid = 4243\noperations = [\"Health\", \"ListenerKey\", \"SignTlsHandshake\"]\n\
         [[peer]]\nname = \"stranger\"\nuid = 4244\noperations = [\"Health\", \"IssueCertificate\"]\n",
    );
    let helper = pki.dir.path().join("listener-helper");
    std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let (front_key, front_sig) = as_uid(&pki, &helper, 4242, 11);
    let (control_key, control_sig) = as_uid(&pki, &helper, 4243, 12);
    let (stranger_key, stranger_sig) = as_uid(&pki, &helper, 4244, 13);
    assert_eq!(
        (stranger_key.as_str(), stranger_sig.as_str()),
        ("NotAllowed", "NotAllowed")
    );
    let front_key = hex::decode(front_key).unwrap();
    let control_key = hex::decode(control_key).unwrap();
    let front_sig = hex::decode(front_sig).unwrap();
    let control_sig = hex::decode(control_sig).unwrap();
    assert_ne!(front_key, control_key, "one key per peer");

    // The keys other than the front's: control's, the dev peer's, both CAs', the audit key.
    let mut c = signer.client();
    let (dev_key, _) = listener_key(&mut c).unwrap();
    let chain = match c
        .call(&Request::GetCaChain {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        Response::CaChain(chain) => chain,
        other => panic!("{other:?}"),
    };
    let issuing = strongroom_x509::acme_alpn::subject_public_key_bits(&chain[0]).unwrap();
    let root = strongroom_x509::acme_alpn::subject_public_key_bits(&chain[1]).unwrap();
    let audit = match c
        .call(&Request::SignAuditCheckpoint(
            strongroom_wire::CheckpointRequest {
                ca: "issuing".parse().unwrap(),
                seq: 1,
                head_hash: "ab".repeat(32),
            },
        ))
        .unwrap()
    {
        Response::AuditCheckpoint(cp) => {
            strongroom_x509::acme_alpn::subject_public_key_bits(&cp.certificate).unwrap()
        }
        other => panic!("{other:?}"),
    };

    let front_msg = tls13_message(11);
    assert!(verifies(
        &ECDSA_P256_SHA256_ASN1,
        point(&front_key),
        &front_msg,
        &front_sig
    ));
    for (who, p256) in [
        ("control", point(&control_key)),
        ("dev", point(&dev_key)),
        ("issuing CA", issuing.as_slice()),
        ("audit", audit.as_slice()),
    ] {
        assert!(
            !verifies(&ECDSA_P256_SHA256_ASN1, p256, &front_msg, &front_sig),
            "the front's signature verifies under the {who} key"
        );
    }
    assert!(!verifies(
        &ECDSA_P384_SHA256_ASN1,
        &root,
        &front_msg,
        &front_sig
    ));
    let control_msg = tls13_message(12);
    assert!(verifies(
        &ECDSA_P256_SHA256_ASN1,
        point(&control_key),
        &control_msg,
        &control_sig
    ));
    assert!(!verifies(
        &ECDSA_P256_SHA256_ASN1,
        point(&front_key),
        &control_msg,
        &control_sig
    ));

    let listing = token_private_keys(&pki);
    object_block(&listing, "strongroom-listener-front");
    object_block(&listing, "strongroom-listener-control");
    assert!(!listing.contains("strongroom-listener-stranger"));
    assert_eq!(
        journal_count(&pki, "listener-key"),
        3,
        "front, control, dev"
    );
}
