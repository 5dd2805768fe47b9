//! The SCEP registration authority in the signer (issue 17): its RSA key is made in the
//! token (sensitive, never extractable, sign and decrypt), its certificate comes from the
//! CA with digitalSignature and keyEncipherment; an envelope openssl made opens; every way
//! an envelope can fail to open — a corrupt RSA block (the Bleichenbacher case), a wrong
//! content key, bad padding — is one answer with one text; a reply's attributes come back
//! signed by the RA key, which openssl verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_types::scep::{ContentCipher, ScepFailInfo, ScepPkiStatus};
use strongroom_wire::{
    CallError, ErrorKind, Request, Response, ScepEnvelope, ScepReplyRequest, SignedScepReply,
    SignerClient,
};

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = run(Command::new(tool("openssl")).current_dir(dir).args(args));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ra_certificates(c: &mut SignerClient) -> (Vec<u8>, Vec<u8>) {
    match c
        .call(&Request::ScepRaCertificate {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        Response::ScepRaCertificate {
            certificate,
            encryption_certificate,
        } => (certificate, encryption_certificate),
        other => panic!("{other:?}"),
    }
}

fn decrypt(c: &mut SignerClient, envelope: ScepEnvelope) -> Result<Vec<u8>, (ErrorKind, String)> {
    match c.call(&Request::DecryptScepEnvelope(envelope)) {
        Ok(Response::ScepPlaintext(p)) => Ok(p.0),
        Err(CallError::Refused { kind, detail }) => Err((kind, detail)),
        other => panic!("{other:?}"),
    }
}

fn sign_reply(c: &mut SignerClient, r: ScepReplyRequest) -> Result<SignedScepReply, ErrorKind> {
    match c.call(&Request::SignScepReply(r)) {
        Ok(Response::ScepReply(s)) => Ok(s),
        Err(CallError::Refused { kind, .. }) => Err(kind),
        other => panic!("{other:?}"),
    }
}

/// The serial of the certificate in `file`, as the bytes of its INTEGER.
fn serial_bytes(dir: &Path, file: &str) -> Vec<u8> {
    let text = String::from_utf8(openssl(
        &["x509", "-inform", "DER", "-in", file, "-noout", "-serial"],
        dir,
    ))
    .unwrap();
    let hex_serial = text.trim().trim_start_matches("serial=");
    let mut bytes = hex::decode(hex_serial).unwrap();
    // DER keeps a leading zero when the high bit is set.
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    bytes
}

#[test]
fn the_ra_opens_envelopes_with_one_failure_answer_and_signs_replies() {
    let (pki, signer) = running_pki("");
    let mut c = signer.client();
    let dir = pki.dir.path();

    // The certificate: from the issuing CA, for signing and key transport.
    let (ra, ra_encryption) = ra_certificates(&mut c);
    assert_eq!(
        (ra.clone(), ra_encryption.clone()),
        ra_certificates(&mut c),
        "one RA until it is renewed"
    );
    std::fs::write(dir.join("ra.der"), &ra).unwrap();
    std::fs::write(dir.join("ra-enc.der"), &ra_encryption).unwrap();
    let text = String::from_utf8(openssl(
        &["x509", "-inform", "DER", "-in", "ra.der", "-noout", "-text"],
        dir,
    ))
    .unwrap();
    assert!(
        text.contains("Digital Signature, Key Encipherment"),
        "{text}"
    );
    assert!(text.contains("rsaEncryption"), "{text}");
    assert!(text.contains("Strongroom Test Issuing CA"), "{text}");
    // The same key's encryption-only twin, for clients that choose the recipient by usage.
    let twin = String::from_utf8(openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "ra-enc.der",
            "-noout",
            "-text",
        ],
        dir,
    ))
    .unwrap();
    assert!(twin.contains("Key Encipherment"), "{twin}");
    assert!(!twin.contains("Digital Signature"), "{twin}");
    let pubkey = |f: &str| {
        openssl(
            &["x509", "-inform", "DER", "-in", f, "-pubkey", "-noout"],
            dir,
        )
    };
    assert_eq!(pubkey("ra.der"), pubkey("ra-enc.der"), "one RA key");
    openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "ra.der",
            "-pubkey",
            "-noout",
            "-out",
            "ra-pub.pem",
        ],
        dir,
    );

    // The key, asked of the token by pkcs11-tool: it never leaves, and it does two things.
    let listing = token_private_keys(&pki);
    let label = listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("label:"))
        .map(str::trim)
        .find(|l| l.starts_with("strongroom-scep-ra-issuing-"))
        .unwrap_or_else(|| panic!("no RA key on the token:\n{listing}"))
        .to_string();
    let block = object_block(&listing, &label);
    for flag in [
        "RSA",
        "sensitive",
        "always sensitive",
        "never extractable",
        "local",
    ] {
        assert!(block.contains(flag), "{flag} missing:\n{block}");
    }
    assert!(!block.contains("Access:     extractable"), "{block}");
    assert!(
        block.contains("decrypt") && block.contains("sign"),
        "{block}"
    );

    // An envelope as a legacy device makes it: single DES, key transported with RSA.
    let key_hex = "0123456789abcdef";
    let iv_hex = "1122334455667788";
    std::fs::write(dir.join("cek"), hex::decode(key_hex).unwrap()).unwrap();
    openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "ra-pub.pem",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-in",
            "cek",
            "-out",
            "cek.enc",
        ],
        dir,
    );
    let content = b"a CSR would be here; any bytes will do for the signer".to_vec();
    std::fs::write(dir.join("content"), &content).unwrap();
    openssl(
        &[
            "enc",
            "-des-cbc",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-K",
            key_hex,
            "-iv",
            iv_hex,
            "-in",
            "content",
            "-out",
            "content.enc",
        ],
        dir,
    );
    let envelope = ScepEnvelope {
        ca: "issuing".parse().unwrap(),
        recipient_serial: serial_bytes(dir, "ra.der"),
        encrypted_key: std::fs::read(dir.join("cek.enc")).unwrap(),
        cipher: ContentCipher::DesCbc,
        iv: hex::decode(iv_hex).unwrap(),
        ciphertext: std::fs::read(dir.join("content.enc")).unwrap(),
    };
    assert_eq!(decrypt(&mut c, envelope.clone()).unwrap(), content);
    let to_twin = ScepEnvelope {
        recipient_serial: serial_bytes(dir, "ra-enc.der"),
        ..envelope.clone()
    };
    assert_eq!(decrypt(&mut c, to_twin).unwrap(), content);

    // Every failure is the same answer: a corrupt RSA block, a corrupt last block (padding),
    // a key for another cipher, another recipient.
    let mut bad_rsa = envelope.clone();
    bad_rsa.encrypted_key[40] ^= 0x01;
    let mut bad_padding = envelope.clone();
    let n = bad_padding.ciphertext.len();
    bad_padding.ciphertext[n - 1] ^= 0x5a;
    let mut wrong_cipher = envelope.clone();
    wrong_cipher.cipher = ContentCipher::Aes128Cbc;
    wrong_cipher.iv = vec![0; 16];
    wrong_cipher.ciphertext = vec![0; 64];
    let mut other_recipient = envelope.clone();
    other_recipient.recipient_serial = vec![0x01, 0x02, 0x03];
    other_recipient.encrypted_key[7] ^= 0x80;
    // An RSA block the RA key cannot use stands for a substitute key derived from the block,
    // so its content decrypts to garbage: the padding fails (the one answer) except about
    // once in 256, when the garbage comes back and the front's parse refuses it. Either way
    // nothing tells the failures apart, and the same envelope gets the same answer every
    // time (a fresh random key per request would let repetition tell a bad block from a
    // good one). Only the corrupt padding under the right key is always the refusal.
    let undecryptable = decrypt(&mut c, bad_padding).unwrap_err();
    assert_eq!(undecryptable.0, ErrorKind::BadRequest);
    for (what, e) in [
        ("corrupt RSA block", bad_rsa),
        ("key for another cipher", wrong_cipher),
        ("another recipient", other_recipient),
    ] {
        let first = decrypt(&mut c, e.clone());
        match &first {
            Err(answer) => assert_eq!(answer, &undecryptable, "{what}: one answer"),
            Ok(garbage) => assert_ne!(garbage, &content, "{what}: garbage, not the content"),
        }
        for _ in 0..3 {
            assert_eq!(
                decrypt(&mut c, e.clone()),
                first,
                "{what}: the same answer again"
            );
        }
    }
    // The attack on a fresh key per request: send one bad block many times and watch for
    // the rare garbage answer. With a random key, 1,000 tries show one with odds 98%; with
    // the derived key there is nothing to see.
    let mut probe = envelope.clone();
    probe.encrypted_key[3] ^= 0x20;
    let first = decrypt(&mut c, probe.clone());
    let differing = (0..1_000)
        .filter(|_| decrypt(&mut c, probe.clone()) != first)
        .count();
    assert_eq!(
        differing, 0,
        "one bad RSA block, one answer, however often it is sent"
    );

    // A reply's attributes, signed by the RA key: openssl verifies them with its certificate.
    let reply = ScepReplyRequest {
        ca: "issuing".parse().unwrap(),
        pki_status: ScepPkiStatus::Success,
        fail_info: None,
        transaction_id: "Q2xpZW50IFRYIDAwMQ==".into(),
        recipient_nonce: vec![7; 16],
        content_digest: vec![9; 32],
    };
    let signed = sign_reply(&mut c, reply.clone()).unwrap();
    assert_eq!(signed.ra_certificate, ra);
    std::fs::write(dir.join("attrs.der"), &signed.signed_attributes).unwrap();
    std::fs::write(dir.join("attrs.sig"), &signed.signature).unwrap();
    let verified = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "ra-pub.pem",
            "-signature",
            "attrs.sig",
            "attrs.der",
        ],
        dir,
    );
    assert!(String::from_utf8_lossy(&verified).contains("Verified OK"));
    let parsed = String::from_utf8(openssl(
        &["asn1parse", "-inform", "DER", "-in", "attrs.der"],
        dir,
    ))
    .unwrap();
    assert!(
        parsed.contains("2.16.840.1.113733.1.9.7"),
        "transactionID: {parsed}"
    );

    // The caller cannot make the signer sign a lie about the status or a malformed field.
    let refusals = [
        ScepReplyRequest {
            fail_info: Some(ScepFailInfo::BadRequest),
            ..reply.clone()
        },
        ScepReplyRequest {
            pki_status: ScepPkiStatus::Failure,
            ..reply.clone()
        },
        ScepReplyRequest {
            recipient_nonce: vec![7; 15],
            ..reply.clone()
        },
        ScepReplyRequest {
            content_digest: vec![9; 20],
            ..reply.clone()
        },
        ScepReplyRequest {
            transaction_id: "tx\n<script>".into(),
            ..reply.clone()
        },
    ];
    for r in refusals {
        assert_eq!(sign_reply(&mut c, r), Err(ErrorKind::BadRequest));
    }

    // GetNextCACert's parts: the signer builds the successor's certificates-only message
    // from its own registry (here the root, the one other CA of this hierarchy) and the RA
    // signs its digest; a successor it does not hold, or the CA itself, is refused.
    let next = |c: &mut SignerClient, successor: &str| {
        c.call(&Request::SignScepNextCa {
            ca: "issuing".parse().unwrap(),
            successor: successor.parse().unwrap(),
        })
    };
    let signed = match next(&mut c, "root").unwrap() {
        Response::ScepNextCa(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(signed.ra_certificate, ra);
    std::fs::write(dir.join("next.p7"), &signed.content).unwrap();
    let listed = String::from_utf8(openssl(
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "next.p7",
            "-print_certs",
            "-noout",
        ],
        dir,
    ))
    .unwrap();
    assert!(listed.contains("Strongroom Test Root CA"), "{listed}");
    std::fs::write(dir.join("next-attrs.der"), &signed.signed_attributes).unwrap();
    std::fs::write(dir.join("next-attrs.sig"), &signed.signature).unwrap();
    let verified = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "ra-pub.pem",
            "-signature",
            "next-attrs.sig",
            "next-attrs.der",
        ],
        dir,
    );
    assert!(String::from_utf8_lossy(&verified).contains("Verified OK"));
    // The signed messageDigest is the SHA-256 of the content the signer built.
    let digest = openssl(&["dgst", "-sha256", "-hex", "next.p7"], dir);
    let digest = String::from_utf8_lossy(&digest);
    let digest = digest.trim().rsplit(' ').next().unwrap();
    assert!(
        hex::encode(&signed.signed_attributes).contains(digest),
        "messageDigest is not the content's"
    );
    for refused in ["issuing", "nowhere"] {
        match next(&mut c, refused) {
            Err(CallError::Refused { kind, .. }) => assert_eq!(kind, ErrorKind::BadRequest),
            other => panic!("{refused}: {other:?}"),
        }
    }
}
