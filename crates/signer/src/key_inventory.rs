//! `KeyInventory`: the token's key objects by PKCS#11 URI, for control's system page.
//!
//! In: nothing. Out: each private and secret key's URI, class, type and whether it is
//! sensitive and extractable — attributes only; no key is used and no value read. An
//! operator reads here that every key is sensitive and none extractable, and finds the
//! objects the signer made (listener, OCSP, audit, SCEP RA, sealing keys) by label.

use crate::dispatch::Signer;
use crate::hsm_signer::hsm_error;
use strongroom_hsm::KeyClass;
use strongroom_wire::{HsmKey, HsmKeyClass, Response, SignerError};

/// The token's keys.
pub fn key_inventory(signer: &Signer) -> Result<Response, SignerError> {
    let hsm = signer.hsm.get()?;
    let inventory = hsm.key_inventory().map_err(|e| hsm_error(&e))?;
    Ok(Response::KeyInventory {
        keys: inventory
            .keys
            .into_iter()
            .map(|k| HsmKey {
                uri: k.uri.to_string(),
                class: match k.class {
                    KeyClass::Private => HsmKeyClass::Private,
                    KeyClass::Secret => HsmKeyClass::Secret,
                },
                key_type: k.key_type,
                sensitive: k.sensitive,
                extractable: k.extractable,
            })
            .collect(),
        truncated: inventory.truncated,
    })
}
