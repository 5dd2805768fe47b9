//! DNS answers the ACME validator reads from a resolver (UDP, spoofable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_acme::dns;

fuzz_target!(|msg: &[u8]| {
    let id = msg.first().map(|b| u16::from(*b) << 8 | 0x34).unwrap_or(0);
    for (name, qtype) in [("_acme-challenge.lab.test", dns::TXT), ("www.lab.test", dns::A), ("www.lab.test", dns::AAAA)] {
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
});
