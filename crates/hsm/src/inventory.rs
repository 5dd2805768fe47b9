//! The token's key inventory: every private and secret key object, named by its PKCS#11
//! URI, with its type and the two attributes that say whether it can leave the token.
//!
//! In: nothing (the open token). Out: [`KeyEntry`]s, sorted by URI. Read-only: attributes
//! are read, no key is used, no value is read (a sensitive key has none to read).

use crate::error::HsmError;
use crate::hsm::{Failure, Hsm};
use crate::uri::Pkcs11Uri;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};

/// Most key objects one inventory lists: a token holding more is listed up to this many
/// and says so ([`KeyInventory::truncated`]).
pub const MAX_INVENTORY: usize = 10_000;

/// Whether a key is half of a pair or a symmetric key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// A private key (CA, OCSP, audit, listener, SCEP RA, EST key generator).
    Private,
    /// A secret key (the sealing keys of TOTP secrets).
    Secret,
}

/// One key object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Its URI: token, label and id.
    pub uri: Pkcs11Uri,
    /// Private or secret.
    pub class: KeyClass,
    /// CKA_KEY_TYPE as its PKCS#11 name (`CKK_EC`, `CKK_RSA`, `CKK_AES`, …).
    pub key_type: String,
    /// CKA_SENSITIVE.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE.
    pub extractable: bool,
}

/// The token's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInventory {
    /// The keys, sorted by URI.
    pub keys: Vec<KeyEntry>,
    /// More than [`MAX_INVENTORY`] key objects exist.
    pub truncated: bool,
}

fn key_type_name(t: KeyType) -> String {
    match t {
        KeyType::EC => "CKK_EC".into(),
        KeyType::RSA => "CKK_RSA".into(),
        KeyType::EC_EDWARDS => "CKK_EC_EDWARDS".into(),
        KeyType::AES => "CKK_AES".into(),
        KeyType::GENERIC_SECRET => "CKK_GENERIC_SECRET".into(),
        other => format!("CKK 0x{:x}", u64::from(other)),
    }
}

impl Hsm {
    /// Every private and secret key object on the token.
    pub fn key_inventory(&self) -> Result<KeyInventory, HsmError> {
        let token = self.token_label().to_owned();
        self.with_session(|session| {
            let mut keys = Vec::new();
            let mut truncated = false;
            for (class, object_class) in [
                (KeyClass::Private, ObjectClass::PRIVATE_KEY),
                (KeyClass::Secret, ObjectClass::SECRET_KEY),
            ] {
                let handles = session
                    .find_objects(&[Attribute::Class(object_class)])
                    .map_err(|e| Failure::Ck("C_FindObjects", e))?;
                for handle in handles {
                    if keys.len() == MAX_INVENTORY {
                        truncated = true;
                        break;
                    }
                    let attrs = session
                        .get_attributes(
                            handle,
                            &[
                                AttributeType::Label,
                                AttributeType::Id,
                                AttributeType::KeyType,
                                AttributeType::Sensitive,
                                AttributeType::Extractable,
                            ],
                        )
                        .map_err(|e| Failure::Ck("C_GetAttributeValue", e))?;
                    let mut entry = KeyEntry {
                        uri: Pkcs11Uri {
                            token: Some(token.clone()),
                            object: None,
                            id: None,
                        },
                        class,
                        key_type: "unknown".into(),
                        sensitive: false,
                        extractable: true,
                    };
                    for attr in attrs {
                        match attr {
                            Attribute::Label(l) if !l.is_empty() => {
                                entry.uri.object = Some(String::from_utf8_lossy(&l).into_owned());
                            }
                            Attribute::Id(id) if !id.is_empty() => entry.uri.id = Some(id),
                            Attribute::KeyType(t) => entry.key_type = key_type_name(t),
                            Attribute::Sensitive(s) => entry.sensitive = s,
                            Attribute::Extractable(x) => entry.extractable = x,
                            _ => {}
                        }
                    }
                    keys.push(entry);
                }
            }
            keys.sort_by_key(|k| k.uri.to_string());
            Ok(KeyInventory { keys, truncated })
        })
    }
}
