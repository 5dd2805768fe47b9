//! Policy documents (PutPolicy arrives decoded from the wire; the CLI reads TOML).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(policy) = toml::from_str::<strongroom_types::Policy>(text) {
        let _ = policy.validate();
    }
});
