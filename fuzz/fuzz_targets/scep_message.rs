//! SCEP from devices (crates/scep): a PKIOperation body (BER, normalised then verified), the
//! decrypted inner content of every message type, a CSR's challengePassword, and the query
//! string with a GET message. Seeded from real scepclient captures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_scep::{challenge_password, decode_get_message, parse_inner, parse_pki_message, parse_query, InnerRequest};
use strongroom_types::scep::ScepMessageType;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_pki_message(data) {
        assert_eq!(req.sender_nonce.len(), 16);
        assert_eq!(req.envelope.iv.len(), req.envelope.cipher.block_len());
        assert_eq!(req.envelope.ciphertext.len() % req.envelope.cipher.block_len(), 0);
        assert_ne!(req.message_type, ScepMessageType::CertRep);
    }
    for t in ScepMessageType::ALL {
        if let Ok(InnerRequest::Csr(csr)) = parse_inner(t, data) {
            let _ = challenge_password(&csr);
        }
    }
    if let Ok(Some(p)) = challenge_password(data) {
        assert!(!p.expose().is_empty() && p.expose().chars().count() <= 4096);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(q) = parse_query(s) {
            if let Some(m) = q.message {
                let _ = decode_get_message(&m);
            }
        }
        let _ = decode_get_message(s);
    }
});
