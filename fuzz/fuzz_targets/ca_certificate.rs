//! CA certificates as the signer loads them, and their name constraints; any certificate as
//! the inventory describes it to a person (`CertificateDetails`, the console's page).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    let _ = strongroom_x509::CertificateDetails::from_der(der);
    if let Ok(ca) = strongroom_x509::CaCertificate::from_der(der) {
        let _ = ca.fingerprint();
        let name = strongroom_types::RequestedName::parse_tagged("dns:www.lab.test").expect("static name");
        let _ = ca.constraints.permits(&name);
    }
});
