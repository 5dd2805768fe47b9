//! ACME request bodies from the internet (the front's /acme/ POSTs): the flattened JWS
//! envelope, the JWK inside it, every payload type, and the EAB JWS inside newAccount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_acme::payload::{AccountUpdate, Finalize, KeyChange, NewAccount, NewOrder, Revoke};
use strongroom_acme::{identifier::AcmeName, jws, Jws};

fuzz_target!(|body: &[u8]| {
    let Ok(parsed) = Jws::parse(body) else { return };
    // Exactly one key reference, a known algorithm.
    assert!(parsed.header.jwk.is_some() != parsed.header.kid.is_some());
    assert!(strongroom_acme::jwk::ALGORITHMS.contains(&parsed.header.alg.as_str()));
    if let Some(k) = &parsed.header.jwk {
        // A thumbprint and an SPKI always come out; verification never panics.
        assert_eq!(k.thumbprint().len(), 43);
        assert!(!k.to_spki_der().is_empty());
        let _ = parsed.verify(k);
    }
    if let Ok(order) = parsed.payload_as::<NewOrder>() {
        for id in &order.identifiers {
            if let Ok(name) = AcmeName::parse(id) {
                // A checked identifier round-trips.
                assert_eq!(AcmeName::parse(&name.to_identifier()).ok(), Some(name.clone()));
                let _ = name.requested_name();
            }
        }
    }
    if let Ok(account) = parsed.payload_as::<NewAccount>() {
        if let (Some(eab), Some(k)) = (&account.external_account_binding, &parsed.header.jwk) {
            let _ = jws::verify_eab(eab, k, &parsed.header.url, |_| Some(vec![7; 32]));
        }
        if let Some(c) = &account.contact {
            let _ = strongroom_acme::payload::check_contacts(c);
        }
    }
    let _ = parsed.payload_as::<AccountUpdate>();
    let _ = parsed.payload_as::<Finalize>();
    let _ = parsed.payload_as::<Revoke>();
    if parsed.payload_as::<KeyChange>().is_ok() {
        let _ = Jws::parse(&parsed.payload);
    }
});
