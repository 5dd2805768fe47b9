//! Real requests from Debian's micromdm `scepclient` (tests/fixtures/README.md): they parse,
//! their signatures verify, their envelopes open with the CA key, and the CSR inside carries
//! the challenge and the key the transactionID names. And the lies: a flipped byte in the
//! signature or in the content, a missing signer, a reply type sent as a request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{csr_spki, fixture, open_envelope, private_key};
use strongroom_scep::{
    challenge_password, parse_inner, parse_pki_message, transaction_id_binds, InnerRequest,
    ScepError,
};
use strongroom_types::scep::{ContentCipher, ScepDigest, ScepFailInfo, ScepMessageType};

fn ca_issuer_and_serial() -> (Vec<u8>, Vec<u8>) {
    use der::{Decode, Encode};
    let ca = x509_cert::Certificate::from_der(&fixture("scepserver-ca.crt.der")).unwrap();
    (
        ca.tbs_certificate().issuer().to_der().unwrap(),
        ca.tbs_certificate().serial_number().as_bytes().to_vec(),
    )
}

#[test]
fn scepclient_pkcsreq_parses_verifies_and_opens() {
    let req =
        parse_pki_message(&fixture("scepclient-pkcsreq-des.der")).expect("real PKCSReq parses");
    assert_eq!(req.message_type, ScepMessageType::PkcsReq);
    assert_eq!(req.digest, ScepDigest::Sha1);
    assert_eq!(
        req.envelope.cipher,
        ContentCipher::DesCbc,
        "scepclient sends single DES"
    );
    assert_eq!(req.transaction_id, "qL97/q41BtcS1VDcwmn0YyGoEg8=");
    assert_eq!(req.sender_nonce.len(), 16);
    let (issuer, serial) = ca_issuer_and_serial();
    assert_eq!(
        (
            req.envelope.recipient_issuer.clone(),
            req.envelope.recipient_serial.clone()
        ),
        (issuer, serial)
    );

    let csr = open_envelope(&req.envelope, &private_key("scepserver-ca.key.pk8.der"));
    let InnerRequest::Csr(csr) = parse_inner(req.message_type, &csr).expect("inner CSR") else {
        panic!("PKCSReq holds a CSR");
    };
    let challenge = challenge_password(&csr)
        .expect("attribute parses")
        .expect("challenge present");
    assert_eq!(challenge.expose(), "s3cret-Challenge");
    assert!(
        !format!("{challenge:?}").contains("s3cret"),
        "Debug hides the challenge"
    );
    assert!(transaction_id_binds(&req.transaction_id, &csr_spki(&csr)));
}

#[test]
fn scepclient_renewal_is_signed_by_the_issued_certificate() {
    let req = parse_pki_message(&fixture("scepclient-renewalreq-des.der"))
        .expect("real RenewalReq parses");
    assert_eq!(req.message_type, ScepMessageType::RenewalReq);
    use der::Decode;
    let signer = x509_cert::Certificate::from_der(&req.signer_certificate).unwrap();
    let ca = x509_cert::Certificate::from_der(&fixture("scepserver-ca.crt.der")).unwrap();
    assert_eq!(
        signer.tbs_certificate().issuer(),
        ca.tbs_certificate().subject(),
        "signed by the CA-issued cert"
    );
    let csr = open_envelope(&req.envelope, &private_key("scepserver-ca.key.pk8.der"));
    let InnerRequest::Csr(csr) = parse_inner(req.message_type, &csr).unwrap() else {
        panic!("CSR")
    };
    assert!(
        transaction_id_binds(&req.transaction_id, &csr_spki(&csr)),
        "same key, same transactionID"
    );
    assert_eq!(
        challenge_password(&csr)
            .unwrap()
            .map(|c| c.expose().to_owned())
            .as_deref(),
        Some("s3cret-Challenge")
    );
}

#[test]
fn transaction_id_of_another_key_does_not_bind() {
    let req = parse_pki_message(&fixture("scepclient-pkcsreq-des.der")).unwrap();
    use der::{Decode, Encode};
    let other = x509_cert::Certificate::from_der(&fixture("scepserver-ca.crt.der")).unwrap();
    let other_spki = other
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    assert!(!transaction_id_binds(&req.transaction_id, &other_spki));
    assert!(!transaction_id_binds("random-id-1234", &other_spki));
}

#[test]
fn flipped_signature_byte_is_bad_message_check() {
    let mut msg = fixture("scepclient-pkcsreq-des.der");
    // The signature is the message's last element (scepclient sends no unsigned attributes).
    let last = msg.len() - 1;
    msg[last] ^= 0x01;
    let err = parse_pki_message(&msg).expect_err("tampered signature");
    assert_eq!(err, ScepError::BadSignature);
    assert_eq!(err.fail_info(), ScepFailInfo::BadMessageCheck);
}

#[test]
fn flipped_content_byte_is_bad_message_check() {
    let mut msg = fixture("scepclient-pkcsreq-des.der");
    // A byte of the DES ciphertext inside the encapsulated content (offset 1000 of 1164).
    msg[1000] ^= 0x80;
    let err = parse_pki_message(&msg).expect_err("tampered content");
    assert_eq!(err, ScepError::DigestMismatch);
    assert_eq!(err.fail_info(), ScepFailInfo::BadMessageCheck);
}

#[test]
fn real_message_in_indefinite_length_ber_parses_the_same() {
    let der = fixture("scepclient-pkcsreq-des.der");
    let ber = to_indefinite(&der);
    assert_ne!(ber, der);
    assert_eq!(parse_pki_message(&ber), parse_pki_message(&der));
}

#[test]
fn refusals_carry_their_fail_info() {
    let msg = fixture("scepclient-pkcsreq-des.der");
    assert_eq!(
        parse_pki_message(&msg[..msg.len() - 1])
            .unwrap_err()
            .fail_info(),
        ScepFailInfo::BadRequest
    );
    let mut trailing = msg.clone();
    trailing.push(0);
    assert!(matches!(
        parse_pki_message(&trailing),
        Err(ScepError::Malformed(_))
    ));
    assert!(matches!(
        parse_pki_message(&vec![0x30; 200 * 1024]),
        Err(ScepError::TooLarge { .. })
    ));

    // The signer's serial no longer matches the certificate: badCertId.
    let mut other_signer = msg.clone();
    let sid_serial = find(
        &other_signer,
        &hex::decode("526085df6c627b6a9b3d0470bd86c209").unwrap(),
        1,
    );
    other_signer[sid_serial] ^= 0x01;
    assert_eq!(
        parse_pki_message(&other_signer).unwrap_err().fail_info(),
        ScepFailInfo::BadCertId
    );

    // The digest algorithm replaced by one we do not know (1.2.840.0.0, same length): badAlg.
    let mut md5 = msg.clone();
    let sha1_oid = hex::decode("06052b0e03021a").unwrap();
    let at = find(&md5, &sha1_oid, 1); // the SignerInfo's digestAlgorithm
    md5.splice(
        at..at + sha1_oid.len(),
        hex::decode("06052a86480000").unwrap(),
    );
    assert_eq!(
        parse_pki_message(&md5).unwrap_err().fail_info(),
        ScepFailInfo::BadAlg
    );

    // A CertRep sent to us as if it were a request.
    let rep = fixture("scepserver-certrep.der");
    assert!(parse_pki_message(&rep).is_err());
}

/// The offset of the `nth` (0-based) occurrence of `needle`.
fn find(hay: &[u8], needle: &[u8], nth: usize) -> usize {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .nth(nth)
        .map(|(i, _)| i)
        .expect("found")
}

/// Re-encode every constructed element with the indefinite length form.
fn to_indefinite(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = der;
    while !rest.is_empty() {
        let tag = rest[0];
        let (len, header) = if rest[1] < 0x80 {
            (rest[1] as usize, 2)
        } else {
            let n = (rest[1] & 0x7f) as usize;
            (
                rest[2..2 + n]
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | *b as usize),
                2 + n,
            )
        };
        let value = &rest[header..header + len];
        if tag & 0x20 != 0 {
            out.extend_from_slice(&[tag, 0x80]);
            out.extend(to_indefinite(value));
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&rest[..header + len]);
        }
        rest = &rest[header + len..];
    }
    out
}

#[test]
fn every_single_byte_change_and_truncation_is_handled() {
    // A cheap stand-in for the fuzzer in every test run: no panic, and no tampering inside
    // the signed parts is accepted.
    let msg = fixture("scepclient-pkcsreq-des.der");
    let original = parse_pki_message(&msg).unwrap();
    for i in 0..msg.len() {
        let mut m = msg.clone();
        m[i] ^= 0x55;
        if let Ok(req) = parse_pki_message(&m) {
            // Only bytes no check covers may change without refusal (the certificates' own
            // signatures and unused fields); what the request says stays the same.
            assert_eq!(
                (
                    req.message_type,
                    &req.transaction_id,
                    &req.sender_nonce,
                    &req.envelope
                ),
                (
                    original.message_type,
                    &original.transaction_id,
                    &original.sender_nonce,
                    &original.envelope
                ),
                "byte {i}"
            );
        }
        let _ = parse_pki_message(&msg[..i]);
    }
}
