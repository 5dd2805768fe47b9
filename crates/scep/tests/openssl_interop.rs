//! What we build, checked by OpenSSL as the independent implementation: the certs-only
//! PKCS#7 lists its certificates, the reply envelope opens with `openssl cms -decrypt`, and
//! a CertRep — attributes from `strongroom_x509::scep_reply`, signed here by a throwaway key
//! standing in for the RA key in the HSM — verifies with `openssl cms -verify`. A request
//! built with AES-256 and a primitive encryptedContent parses too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{fixture, open_envelope, openssl_available, private_key, run};
use rsa::sha2::{Digest, Sha256};
use rsa::Pkcs1v15Sign;
use strongroom_scep::{
    assemble_cert_rep, certs_only, parse_inner, parse_pki_message, reply_envelope, InnerRequest,
    SystemRandom,
};
use strongroom_types::scep::{
    ContentCipher, ScepDigest, ScepFailInfo, ScepMessageType, ScepPkiStatus,
};
use strongroom_x509::scep_reply::{signed_attributes, ReplyAttributes};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

fn pem_key(dir: &tempfile::TempDir, name: &str, pk8_der: &str) -> String {
    let der = write(dir, &format!("{name}.der"), &fixture(pk8_der));
    let pem = dir.path().join(name).display().to_string();
    run(Command::new("openssl").args(["pkey", "-inform", "DER", "-in", &der, "-out", &pem]));
    pem
}

#[test]
fn certs_only_lists_its_certificates_in_openssl() {
    if !openssl_available() {
        panic!("openssl is required for this test");
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = fixture("scepserver-ca.crt.der");
    let dev = fixture("scepclient-dev1.crt.der");
    let p7 = write(
        &dir,
        "certs.p7b",
        &certs_only(&[&dev, &ca]).expect("builds"),
    );
    let text = String::from_utf8(run(Command::new("openssl").args([
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        &p7,
        "-print_certs",
        "-noout",
    ])))
    .unwrap();
    let subjects: Vec<&str> = text.lines().filter(|l| l.starts_with("subject=")).collect();
    assert_eq!(subjects.len(), 2, "{text}");
    assert!(
        subjects[0].contains("dev1.lab.test") && subjects[1].contains("SCEP CA"),
        "caller order kept: {text}"
    );
    assert!(certs_only(&[]).is_err());
    assert!(certs_only(&[b"not a certificate"]).is_err());
}

#[test]
fn reply_envelope_opens_with_openssl_cms_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let device_cert = fixture("scepclient-dev1.crt.der");
    let content = certs_only(&[&fixture("scepserver-ca.crt.der")]).unwrap();
    for cipher in [ContentCipher::Aes256Cbc, ContentCipher::Aes128Cbc] {
        let env =
            reply_envelope(&device_cert, &content, cipher, &mut SystemRandom).expect("envelope");
        let env_path = write(&dir, "env.der", &env);
        let cert_path = write(&dir, "dev.der", &device_cert);
        let cert_pem = dir.path().join("dev.pem").display().to_string();
        run(Command::new("openssl").args([
            "x509", "-inform", "DER", "-in", &cert_path, "-out", &cert_pem,
        ]));
        let key = pem_key(&dir, "dev.key", "scepclient-dev1.key.pk8.der");
        let out = run(Command::new("openssl").args([
            "cms", "-decrypt", "-inform", "DER", "-in", &env_path, "-recip", &cert_pem, "-inkey",
            &key, "-binary",
        ]));
        assert_eq!(out, content, "{cipher:?}");
        // Primitive encryptedContent: [0] IMPLICIT with the primitive tag 0x80.
        let asn1 = String::from_utf8(run(Command::new("openssl").args([
            "asn1parse",
            "-inform",
            "DER",
            "-in",
            &env_path,
        ])))
        .unwrap();
        assert!(
            asn1.lines().any(|l| l.contains("prim: cont [ 0 ]")),
            "{asn1}"
        );
    }
    assert!(
        reply_envelope(
            &device_cert,
            &content,
            ContentCipher::DesCbc,
            &mut SystemRandom
        )
        .is_err(),
        "never DES"
    );
    assert!(reply_envelope(
        &device_cert,
        &content,
        ContentCipher::DesEde3Cbc,
        &mut SystemRandom
    )
    .is_err());
}

fn sign_sha256(key_fixture: &str, data: &[u8]) -> Vec<u8> {
    let key = private_key(key_fixture);
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
        .expect("signs")
}

#[test]
fn cert_rep_verifies_with_openssl_cms_verify() {
    let dir = tempfile::tempdir().unwrap();
    // The scepserver CA plays the RA: its key signs, its certificate goes in `certificates`.
    let ra = fixture("scepserver-ca.crt.der");
    let device_cert = fixture("scepclient-dev1.crt.der");
    let envelope = reply_envelope(
        &device_cert,
        &certs_only(&[&device_cert]).unwrap(),
        ContentCipher::Aes256Cbc,
        &mut SystemRandom,
    )
    .unwrap();
    type Case<'a> = (ScepPkiStatus, Option<ScepFailInfo>, Option<&'a [u8]>);
    let cases: [Case<'_>; 3] = [
        (ScepPkiStatus::Success, None, Some(&envelope)),
        (ScepPkiStatus::Failure, Some(ScepFailInfo::BadRequest), None),
        (ScepPkiStatus::Pending, None, None),
    ];
    for (status, fail, content) in cases {
        let attrs = signed_attributes(&ReplyAttributes {
            pki_status: status,
            fail_info: fail,
            transaction_id: "qL97/q41BtcS1VDcwmn0YyGoEg8=".into(),
            recipient_nonce: vec![7; 16],
            sender_nonce: vec![9; 16],
            content_digest: Sha256::digest(content.unwrap_or(b"")).to_vec(),
        })
        .unwrap();
        let signature = sign_sha256("scepserver-ca.key.pk8.der", &attrs);
        let rep = assemble_cert_rep(content, &ra, &attrs, &signature, ScepDigest::Sha256)
            .expect("assembles");
        let rep_path = write(&dir, "rep.der", &rep);
        let mut cmd = Command::new("openssl");
        cmd.args([
            "cms",
            "-verify",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            &rep_path,
            "-binary",
        ]);
        if content.is_none() {
            // No encapsulated content: OpenSSL verifies it as detached, over nothing.
            cmd.args(["-content", "/dev/null"]);
        }
        let out = run(&mut cmd);
        assert_eq!(out, content.unwrap_or(b""), "{status:?}");

        // A flipped signature byte fails in OpenSSL too: the test can fail.
        let mut bad = signature.clone();
        bad[10] ^= 1;
        let rep = assemble_cert_rep(content, &ra, &attrs, &bad, ScepDigest::Sha256).unwrap();
        let rep_path = write(&dir, "bad.der", &rep);
        let st = Command::new("openssl")
            .args([
                "cms",
                "-verify",
                "-noverify",
                "-inform",
                "DER",
                "-in",
                &rep_path,
                "-out",
                "/dev/null",
            ])
            .args(if content.is_none() {
                &["-content", "/dev/null"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap();
        assert!(!st.status.success(), "tampered CertRep must not verify");
    }
}

/// The request attributes a client signs (hand-built: a test double of a client).
fn request_attributes(message_digest: &[u8], message_type: u8) -> Vec<u8> {
    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let c = parts.concat();
        let mut out = vec![tag];
        if c.len() < 128 {
            out.push(c.len() as u8);
        } else if c.len() < 256 {
            out.extend_from_slice(&[0x81, c.len() as u8]);
        } else {
            out.extend_from_slice(&[0x82, (c.len() >> 8) as u8, c.len() as u8]);
        }
        out.extend(c);
        out
    }
    let oid = |hex_oid: &str| hex::decode(hex_oid).unwrap();
    let attr = |oid_der: Vec<u8>, value: Vec<u8>| tlv(0x30, &[&oid_der, &tlv(0x31, &[&value])]);
    let mt = message_type.to_string();
    let mut attrs = [
        attr(oid("06092a864886f70d010903"), oid("06092a864886f70d010701")),
        attr(oid("06092a864886f70d010904"), tlv(0x04, &[message_digest])),
        attr(oid("060a6086480186f845010902"), tlv(0x13, &[mt.as_bytes()])),
        attr(oid("060a6086480186f845010905"), tlv(0x04, &[&[5u8; 16]])),
        attr(
            oid("060a6086480186f845010907"),
            tlv(0x13, &[b"test-transaction-1"]),
        ),
    ];
    attrs.sort();
    tlv(0x31, &attrs.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

#[test]
fn aes256_request_with_primitive_content_parses_and_opens() {
    // A device (the scepclient key and its issued certificate) sends a CSR encrypted with
    // AES-256 to the scepserver CA, in the primitive form our own envelope uses.
    let csr = {
        let req = parse_pki_message(&fixture("scepclient-pkcsreq-des.der")).unwrap();
        open_envelope(&req.envelope, &private_key("scepserver-ca.key.pk8.der"))
    };
    let envelope = reply_envelope(
        &fixture("scepserver-ca.crt.der"),
        &csr,
        ContentCipher::Aes256Cbc,
        &mut SystemRandom,
    )
    .unwrap();
    let attrs = request_attributes(&Sha256::digest(&envelope), 19);
    let signature = sign_sha256("scepclient-dev1.key.pk8.der", &attrs);
    let device_cert = fixture("scepclient-dev1.crt.der");
    let msg = assemble_cert_rep(
        Some(&envelope),
        &device_cert,
        &attrs,
        &signature,
        ScepDigest::Sha256,
    )
    .unwrap();

    let req = parse_pki_message(&msg).expect("AES-256 request parses");
    assert_eq!(req.message_type, ScepMessageType::PkcsReq);
    assert_eq!(req.digest, ScepDigest::Sha256);
    assert_eq!(req.envelope.cipher, ContentCipher::Aes256Cbc);
    assert_eq!(req.transaction_id, "test-transaction-1");
    assert_eq!(req.signer_certificate, device_cert);
    let plain = open_envelope(&req.envelope, &private_key("scepserver-ca.key.pk8.der"));
    assert_eq!(
        parse_inner(req.message_type, &plain),
        Ok(InnerRequest::Csr(csr))
    );

    // The same message claiming to be a CertRep is refused as a request.
    let attrs = request_attributes(&Sha256::digest(&envelope), 3);
    let signature = sign_sha256("scepclient-dev1.key.pk8.der", &attrs);
    let msg = assemble_cert_rep(
        Some(&envelope),
        &device_cert,
        &attrs,
        &signature,
        ScepDigest::Sha256,
    )
    .unwrap();
    assert_eq!(
        parse_pki_message(&msg).unwrap_err().fail_info(),
        ScepFailInfo::BadRequest
    );
}
