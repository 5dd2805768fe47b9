//! Signer responses as clients (front, control, CLI) decode them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_wire::{decode_payload, Response};

fuzz_target!(|body: &[u8]| {
    let _ = decode_payload::<Response>(body);
});
