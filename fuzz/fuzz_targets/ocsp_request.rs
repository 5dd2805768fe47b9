//! OCSP requests from relying parties (the front's /ocsp, GET and POST).
#![no_main]

use der::Encode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    if let Ok(req) = strongroom_x509::ocsp::parse_ocsp_request(der) {
        assert!(!req.cert_ids.is_empty() && req.cert_ids.len() <= strongroom_x509::ocsp::MAX_REQUESTS);
        for id in &req.cert_ids {
            // Every accepted CertID re-encodes, and its serial (when usable) is in range.
            let _ = id.to_der().expect("an accepted CertID re-encodes");
            if let Some(s) = id.serial() {
                assert!(!s.as_bytes().is_empty() && s.as_bytes().len() <= 20);
            }
        }
    }
});
