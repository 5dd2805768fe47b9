//! CA certificates as the signer loads them, and their name constraints.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    if let Ok(ca) = strongroom_x509::CaCertificate::from_der(der) {
        let _ = ca.fingerprint();
        let name = strongroom_types::RequestedName::parse_tagged("dns:www.lab.test").expect("static name");
        let _ = ca.constraints.permits(&name);
    }
});
