//! Sealing keys: AES-256 secret keys in the token that seal small secrets at rest with
//! AES-GCM (ARCHITECTURE.md §9: "sealed at rest with a key in the HSM").
//!
//! In: a key label, associated data naming what a secret belongs to, a plaintext or a sealed
//! blob. Out: a [`SealingKey`], sealed bytes `IV (12) ‖ ciphertext ‖ tag (16)`, plaintexts in
//! wiping buffers. The key is made on first use: `CKO_SECRET_KEY`, `CKK_AES`, 32 bytes, token,
//! private, sensitive, never extractable, encrypt and decrypt only (no wrap, unwrap, sign,
//! verify or derive). A key found under the label with any other shape is refused, as for
//! listener keys. Several keys under one label (two signers on one partition racing to make
//! it, docs/design/ha.md D15): the lowest CKA_ID is the key, so every signer picks the same.

use crate::error::HsmError;
use crate::hsm::{blame_the_ciphertext, Failure, Hsm};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::sync::PoisonError;
use zeroize::Zeroizing;

/// GCM's IV: 96 bits, fresh from the token's generator for every seal.
const IV_LEN: usize = 12;
/// GCM's tag: 128 bits.
const TAG_LEN: usize = 16;
/// AES-256.
const KEY_LEN: u64 = 32;
/// How often a key generation the token refuses is tried.
const GENERATE_ATTEMPTS: u32 = 5;
/// The largest secret sealed (TOTP secrets are 20 bytes, service credentials a few KiB).
pub const MAX_SEALED_PLAINTEXT: usize = 16 * 1024;

/// A sealing key on the token, known by its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealingKey {
    label: String,
}

impl SealingKey {
    /// The key's label on the token.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Hsm {
    /// The sealing key labelled `label`, made on first use.
    pub fn sealing_key(&self, label: &str) -> Result<SealingKey, HsmError> {
        if label.is_empty() {
            return Err(HsmError::BadRequest {
                detail: "sealing key label is empty".to_owned(),
            });
        }
        // Held across the search and the creation: one process makes one key per label.
        let _one_at_a_time = self
            .inner
            .keygen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 1;
        loop {
            let made = self.with_session(|session| {
                if find(session, label)?.is_some() {
                    return Ok(());
                }
                let id = session
                    .generate_random_vec(16)
                    .map_err(|e| Failure::Ck("C_GenerateRandom", e))?;
                session
                    .generate_key(&Mechanism::AesKeyGen, &template(label, &id))
                    .map_err(|e| Failure::Ck("C_GenerateKey", e))?;
                Ok(())
            });
            match made {
                Ok(()) => break,
                // SoftHSM2's file store sometimes answers CKR_GENERAL_ERROR to a key
                // generation while other sessions work (as for key pairs, see the signer's
                // listener keys); the next attempt, which looks for the key first, succeeds.
                Err(HsmError::TokenRefused { .. } | HsmError::TokenUnavailable { .. })
                    if attempt < GENERATE_ATTEMPTS =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(SealingKey {
            label: label.to_owned(),
        })
    }

    /// `plaintext` sealed under `key`, bound to `aad` (a secret sealed for one purpose and
    /// owner does not unseal for another).
    pub fn seal(
        &self,
        key: &SealingKey,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        if plaintext.len() > MAX_SEALED_PLAINTEXT {
            return Err(HsmError::BadRequest {
                detail: format!("a sealed secret is at most {MAX_SEALED_PLAINTEXT} bytes"),
            });
        }
        self.with_session(|session| {
            let handle = find(session, &key.label)?.ok_or_else(|| missing(key))?;
            let mut iv = session
                .generate_random_vec(IV_LEN as u32)
                .map_err(|e| Failure::Ck("C_GenerateRandom", e))?;
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())
                .map_err(|e| Failure::Ck("GcmParams", e))?;
            let sealed = session
                .encrypt(&Mechanism::AesGcm(params), handle, plaintext)
                .map_err(|e| Failure::Ck("C_Encrypt", e))?;
            let mut out = iv.clone();
            out.extend_from_slice(&sealed);
            Ok(out)
        })
    }

    /// The plaintext of `sealed`, if it was sealed under `key` with `aad`. Any other blob —
    /// altered, truncated, another key's, another owner's — is one `BadRequest`.
    pub fn unseal(
        &self,
        key: &SealingKey,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let refused = || HsmError::BadRequest {
            detail: "the sealed secret does not open with this key for this owner".to_owned(),
        };
        if sealed.len() < IV_LEN + TAG_LEN || sealed.len() > IV_LEN + TAG_LEN + MAX_SEALED_PLAINTEXT
        {
            return Err(refused());
        }
        let (iv, body) = sealed.split_at(IV_LEN);
        let result = self.with_session(|session| {
            let handle = find(session, &key.label)?.ok_or_else(|| missing(key))?;
            let mut iv = iv.to_vec();
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())
                .map_err(|e| Failure::Ck("GcmParams", e))?;
            session
                .decrypt(&Mechanism::AesGcm(params), handle, body)
                .map(Zeroizing::new)
                .map_err(|e| blame_the_ciphertext(session, e))
        });
        match result {
            Ok(plain) => Ok(plain),
            // A temporary failure is the token's, not the blob's: the caller may retry.
            Err(e) if e.is_temporary() => Err(e),
            Err(e @ HsmError::KeyNotFound { .. }) => Err(e),
            Err(_) => Err(refused()),
        }
    }
}

/// The key vanished from the token after it was found or made (deleted by hand).
fn missing(key: &SealingKey) -> Failure {
    Failure::Hsm(HsmError::KeyNotFound {
        uri: format!("pkcs11:object={};type=secret-key", key.label),
    })
}

/// Every security-relevant attribute explicit: the result does not depend on the token's
/// defaults.
fn template(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(KEY_LEN.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ]
}

/// The key under `label` with the lowest CKA_ID, checked to be what [`template`] makes.
fn find(session: &Session, label: &str) -> Result<Option<ObjectHandle>, Failure> {
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| Failure::Ck("C_FindObjects", e))?;
    let mut best: Option<(Vec<u8>, ObjectHandle)> = None;
    for handle in handles {
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Id,
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Wrap,
                    AttributeType::Sign,
                ],
            )
            .map_err(|e| Failure::Ck("C_GetAttributeValue", e))?;
        let mut id = Vec::new();
        let mut shape_ok = true;
        for a in attrs {
            match a {
                Attribute::Id(v) => id = v,
                Attribute::KeyType(t) => shape_ok &= t == KeyType::AES,
                Attribute::ValueLen(l) => shape_ok &= u64::from(l) == KEY_LEN,
                Attribute::Sensitive(b) | Attribute::NeverExtractable(b) => shape_ok &= b,
                Attribute::Extractable(b) | Attribute::Wrap(b) | Attribute::Sign(b) => {
                    shape_ok &= !b
                }
                _ => {}
            }
        }
        if !shape_ok {
            return Err(Failure::Hsm(HsmError::Malformed {
                detail: format!(
                    "the object labelled {label} is not an AES-256 sealing key that is sensitive, never extractable and cannot wrap or sign; remove it"
                ),
            }));
        }
        if best.as_ref().is_none_or(|(b, _)| id < *b) {
            best = Some((id, handle));
        }
    }
    Ok(best.map(|(_, h)| h))
}
