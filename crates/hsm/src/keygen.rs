//! Key pair generation inside the token.
//!
//! In: an object label, a [`KeyAlgorithm`] and a [`KeyPurpose`]. Out: a [`KeyRef`] for a new
//! key pair whose private half is sensitive, non-extractable, private and usable for exactly
//! one purpose. The templates here are the security policy for CA keys: change with care.

use crate::der;
use crate::error::HsmError;
use crate::hsm::{Failure, Hsm};
use crate::key::{self, KeyPurpose, KeyRef};
use crate::uri::Pkcs11Uri;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, ObjectClass};
use std::sync::PoisonError;
use strongroom_types::KeyAlgorithm;

/// Length of the random CKA_ID given to both halves of a new key pair.
const KEY_ID_LEN: u32 = 16;
/// RSA public exponent 65537, big-endian.
const RSA_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

impl Hsm {
    /// Generate a key pair on the token under `object_label`.
    ///
    /// Refuses a label that any object on the token already has: a second key of the same
    /// name would make every later lookup ambiguous. Both halves get the same random 16-byte
    /// CKA_ID (from the token's RNG), which the returned URI carries.
    pub fn generate_key(
        &self,
        object_label: &str,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
    ) -> Result<KeyRef, HsmError> {
        if object_label.is_empty() {
            return Err(HsmError::BadRequest {
                detail: "key label is empty".to_owned(),
            });
        }
        if purpose.decrypts() && !algorithm.is_rsa() {
            return Err(HsmError::BadRequest {
                detail: format!("decryption keys must be RSA, not {algorithm}"),
            });
        }
        let mechanism = match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => Mechanism::EccKeyPairGen,
            KeyAlgorithm::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                Mechanism::RsaPkcsKeyPairGen
            }
        };
        if algorithm == KeyAlgorithm::Ed25519
            && !(self.has_mechanism(MechanismType::ECC_EDWARDS_KEY_PAIR_GEN)
                && self.has_mechanism(MechanismType::EDDSA))
        {
            return Err(HsmError::Unsupported {
                what: format!(
                    "token {} lacks CKM_EC_EDWARDS_KEY_PAIR_GEN/CKM_EDDSA, so it cannot hold Ed25519 keys; use ecdsa-p256",
                    self.token_label()
                ),
            });
        }

        // Held across check and create: the label check is only meaningful if nobody in this
        // process creates the same label in between.
        let _one_at_a_time = self
            .inner
            .keygen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let token = self.token_label().to_owned();
        let key = self.with_session(|session| {
            let existing = session
                .find_objects(&[Attribute::Label(object_label.as_bytes().to_vec())])
                .map_err(|e| Failure::Ck("C_FindObjects", e))?;
            if !existing.is_empty() {
                return Err(Failure::Hsm(HsmError::KeyExists {
                    label: object_label.to_owned(),
                }));
            }
            let id = session
                .generate_random_vec(KEY_ID_LEN)
                .map_err(|e| Failure::Ck("C_GenerateRandom", e))?;
            let (public_template, private_template) =
                templates(object_label, &id, algorithm, purpose);
            let (public, private) =
                match session.generate_key_pair(&mechanism, &public_template, &private_template) {
                    Ok(pair) => pair,
                    Err(e) => {
                        // A token that fails half-way (SoftHSM2's file store, under signing in
                        // other sessions) can leave one half behind under this label, which
                        // would make every later lookup of the label fail. The id is this
                        // attempt's own random value, so what carries both is ours alone.
                        if let Ok(left) = session.find_objects(&[
                            Attribute::Label(object_label.as_bytes().to_vec()),
                            Attribute::Id(id.clone()),
                        ]) {
                            for handle in left {
                                let _ = session.destroy_object(handle);
                            }
                        }
                        return Err(Failure::Ck("C_GenerateKeyPair", e));
                    }
                };
            let (read_algorithm, public_key_der) = key::read_public(session, public)?;
            if read_algorithm != algorithm {
                return Err(Failure::Hsm(HsmError::Malformed {
                    detail: format!(
                        "asked for a {algorithm} key, token made a {read_algorithm} key"
                    ),
                }));
            }
            let uri = Pkcs11Uri {
                token: Some(token.clone()),
                object: Some(object_label.to_owned()),
                id: Some(id),
            };
            Ok((
                KeyRef {
                    uri,
                    algorithm,
                    public_key_der,
                },
                private,
            ))
        })?;
        self.remember_handle(&key.0.uri, key.1);
        Ok(key.0)
    }
}

/// Public and private key templates. Every security-relevant attribute is explicit, so the
/// result does not depend on a token's defaults.
fn templates(
    label: &str,
    id: &[u8],
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let (signing, decrypting) = (purpose.signs(), purpose.decrypts());
    let mut public = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Verify(signing),
        Attribute::Encrypt(decrypting),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ];
    match algorithm {
        KeyAlgorithm::EcdsaP256 => public.push(Attribute::EcParams(der::OID_P256.to_vec())),
        KeyAlgorithm::EcdsaP384 => public.push(Attribute::EcParams(der::OID_P384.to_vec())),
        KeyAlgorithm::Ed25519 => public.push(Attribute::EcParams(der::OID_ED25519.to_vec())),
        KeyAlgorithm::Rsa2048 => push_rsa(&mut public, 2048),
        KeyAlgorithm::Rsa3072 => push_rsa(&mut public, 3072),
        KeyAlgorithm::Rsa4096 => push_rsa(&mut public, 4096),
    }
    let private = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Token(true),
        // Security: only a logged-in user sees it, its value never leaves in plaintext, and it
        // cannot be wrapped out. The token reports NeverExtractable/AlwaysSensitive as proof.
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        // Security: one purpose per key; a CA key that can decrypt is a decryption oracle.
        // Both only for the SCEP RA key (KeyPurpose::SigningAndDecryption).
        Attribute::Sign(signing),
        Attribute::Decrypt(decrypting),
        Attribute::SignRecover(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ];
    (public, private)
}

fn push_rsa(public: &mut Vec<Attribute>, bits: u64) {
    public.push(Attribute::ModulusBits(bits.into()));
    public.push(Attribute::PublicExponent(RSA_EXPONENT.to_vec()));
}
