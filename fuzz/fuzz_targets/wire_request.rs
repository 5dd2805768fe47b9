//! Signer frames as the signer decodes them: any byte string must decode or be rejected,
//! never panic; what decodes must re-encode to the same bytes (no lenient parsing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_wire::{decode_payload, encode_frame, Request};

fuzz_target!(|body: &[u8]| {
    if let Ok(frame) = decode_payload::<Request>(body) {
        let _ = frame.message.summary();
        let again = encode_frame(frame.request_id, &frame.message).expect("a decoded request re-encodes");
        assert_eq!(&again[4..], body, "decoding accepted a non-canonical encoding");
    }
});
