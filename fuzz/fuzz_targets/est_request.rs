//! EST from clients (crates/est): an enrolment body (base64 on one line or wrapped, then
//! the PKCS#10 request, its self-signature and challengePassword), a path's label and
//! operation, and the channel-binding comparison. Seeded from openssl's CSRs as curl sends
//! them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_est::{
    channel_binding_matches, decode_body, encode_body, parse_enrolment, parse_path, Base64Form,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = decode_body(data) {
        // What we send decodes back to the same bytes.
        for form in [Base64Form::Wrapped, Base64Form::OneLine] {
            assert_eq!(decode_body(encode_body(&der, form).as_bytes()).ok(), Some(der.clone()));
        }
    }
    for content_type in [Some("application/pkcs10"), Some("Application/PKCS10; charset=x"), None] {
        if let Ok(e) = parse_enrolment(content_type, data) {
            assert!(content_type.is_some());
            assert!(!e.csr_der.is_empty());
            if let Some(c) = &e.challenge {
                assert!(!c.expose().is_empty() && c.expose().chars().count() <= 4096);
                let _ = channel_binding_matches(c, &[0u8; 32]);
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let mut parts = s.splitn(2, '/');
        let first = parts.next().unwrap_or_default();
        match parts.next() {
            Some(op) => {
                if let Ok((Some(label), _)) = parse_path(Some(first), op) {
                    assert!(!label.as_str().is_empty() && label.as_str().len() <= 64);
                }
            }
            None => {
                let _ = parse_path(None, first);
            }
        }
    }
});
