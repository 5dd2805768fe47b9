//! PKCS#10 CSRs from the network (ACME finalize, EST, SCEP and the signer itself).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    if let Ok(csr) = strongroom_x509::parse_csr(der) {
        // A verified CSR's key must classify the same way on its own.
        let alg = strongroom_x509::key_algorithm_of_spki(&csr.public_key_der).expect("verified key re-parses");
        assert_eq!(alg, csr.key_algorithm);
    }
});
