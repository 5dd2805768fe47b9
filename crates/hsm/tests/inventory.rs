//! The key inventory on a real software token (SoftHSM2, or kryoptic: docs/hsm.md): a key pair and a sealing key made here are
//! listed by their URIs, with their type, sensitive and never extractable; the public
//! halves and other objects are not keys to list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::hsm;
use strongroom_hsm::{KeyClass, KeyPurpose};
use strongroom_types::KeyAlgorithm;

#[test]
fn every_key_object_is_listed_by_uri_with_its_security_attributes() {
    let hsm = hsm();
    let pair = hsm
        .generate_key(
            "test-inventory-pair",
            KeyAlgorithm::EcdsaP256,
            KeyPurpose::Signing,
        )
        .unwrap();
    hsm.sealing_key("test-inventory-seal").unwrap();
    let inventory = hsm.key_inventory().unwrap();
    assert!(!inventory.truncated);
    let listed = |label: &str| {
        inventory
            .keys
            .iter()
            .find(|k| k.uri.object.as_deref() == Some(label))
            .unwrap_or_else(|| panic!("{label} not in {:?}", inventory.keys))
            .clone()
    };
    let private = listed("test-inventory-pair");
    assert_eq!(
        private.uri.to_string(),
        pair.uri.to_string(),
        "the same URI as the key's"
    );
    assert_eq!(private.class, KeyClass::Private);
    assert_eq!(private.key_type, "CKK_EC");
    assert!(private.sensitive && !private.extractable);
    let seal = listed("test-inventory-seal");
    assert_eq!(seal.class, KeyClass::Secret);
    assert_eq!(seal.key_type, "CKK_AES");
    assert!(seal.sensitive && !seal.extractable);
    assert_eq!(
        inventory
            .keys
            .iter()
            .filter(|k| k.uri.object.as_deref() == Some("test-inventory-pair"))
            .count(),
        1,
        "the public half is not a key to list"
    );
    let uris: Vec<String> = inventory.keys.iter().map(|k| k.uri.to_string()).collect();
    let mut sorted = uris.clone();
    sorted.sort();
    assert_eq!(uris, sorted, "sorted by URI");
}
