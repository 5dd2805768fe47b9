//! DNS answers the ACME validator reads from a resolver (UDP, spoofable), and the CAA
//! records and decision made from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_acme::{caa, dns};

fuzz_target!(|msg: &[u8]| {
    let id = msg.first().map(|b| u16::from(*b) << 8 | 0x34).unwrap_or(0);
    for (name, qtype) in [
        ("_acme-challenge.lab.test", dns::TXT),
        ("www.lab.test", dns::A),
        ("www.lab.test", dns::AAAA),
        ("lab.test", dns::CAA),
    ] {
        if let Ok(records) = dns::parse_answer(msg, id, name, qtype) {
            for r in records {
                match qtype {
                    dns::A => assert_eq!(r.len(), 4),
                    dns::AAAA => assert_eq!(r.len(), 16),
                    _ => assert!(r.len() < msg.len()),
                }
            }
        }
    }
    // The same bytes as one CAA record's rdata, then through the decision.
    if let Ok(record) = dns::caa_record(msg) {
        let identities = ["pki.example.com".to_string()];
        let request = caa::CaaRequest {
            identities: &identities,
            wildcard: msg.len() % 2 == 0,
            account_uri: "https://acme.example/acme/account/1",
            method: "http-01",
        };
        let _ = caa::permits(&[record], &request);
    }
});
