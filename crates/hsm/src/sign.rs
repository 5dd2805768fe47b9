//! Signing and RSA decryption with keys that never leave the token.
//!
//! In: a [`KeyRef`], a [`SignatureAlgorithm`] and the message (the to-be-signed bytes), or
//! an RSA ciphertext. Out: the signature in the encoding X.509 wants (DER `Ecdsa-Sig-Value`
//! for ECDSA, raw for RSA and Ed25519), or the plaintext in zeroizing memory.
//!
//! Hashing happens here on the host and the token gets the raw mechanism (CKM_ECDSA,
//! CKM_RSA_PKCS, CKM_RSA_PKCS_PSS): not every token offers the hash-and-sign mechanisms, and
//! the digest of a certificate is not secret.

use crate::der::{self, DigestKind};
use crate::error::HsmError;
use crate::hsm::{blame_the_ciphertext, Failure, Hsm};
use crate::key::KeyRef;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use sha2::{Digest, Sha256, Sha384};
use strongroom_types::{KeyAlgorithm, SignatureAlgorithm};
use zeroize::Zeroizing;

/// What goes to the token for one signature, and how its answer is post-processed.
struct SignPlan<'a> {
    mechanism: Mechanism<'a>,
    input: Vec<u8>,
    /// ECDSA: the token's r||s must become DER.
    ecdsa: bool,
}

fn plan(algorithm: SignatureAlgorithm, message: &[u8]) -> SignPlan<'static> {
    let sha256 = || Sha256::digest(message).to_vec();
    let sha384 = || Sha384::digest(message).to_vec();
    let pss = |hash_alg, mgf, s_len: u64| {
        Mechanism::RsaPkcsPss(PkcsPssParams {
            hash_alg,
            mgf,
            s_len: s_len.into(),
        })
    };
    let (mechanism, input, ecdsa) = match algorithm {
        SignatureAlgorithm::EcdsaSha256 => (Mechanism::Ecdsa, sha256(), true),
        SignatureAlgorithm::EcdsaSha384 => (Mechanism::Ecdsa, sha384(), true),
        SignatureAlgorithm::RsaPkcs1Sha256 => (
            Mechanism::RsaPkcs,
            der::digest_info(DigestKind::Sha256, &sha256()),
            false,
        ),
        SignatureAlgorithm::RsaPkcs1Sha384 => (
            Mechanism::RsaPkcs,
            der::digest_info(DigestKind::Sha384, &sha384()),
            false,
        ),
        SignatureAlgorithm::RsaPssSha256 => (
            pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32),
            sha256(),
            false,
        ),
        SignatureAlgorithm::RsaPssSha384 => (
            pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48),
            sha384(),
            false,
        ),
        // Pure Ed25519 signs the message itself (no pre-hash, no context).
        SignatureAlgorithm::Ed25519 => (
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
            message.to_vec(),
            false,
        ),
    };
    SignPlan {
        mechanism,
        input,
        ecdsa,
    }
}

/// The raw signature length the token must return for `key`, to catch a confused token.
fn expected_raw_len(key: KeyAlgorithm) -> usize {
    match key {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 => 64,
        KeyAlgorithm::EcdsaP384 => 96,
        KeyAlgorithm::Rsa2048 => 256,
        KeyAlgorithm::Rsa3072 => 384,
        KeyAlgorithm::Rsa4096 => 512,
    }
}

/// Turn "the key may not do that" into an error naming the key, not a bare return value.
fn not_permitted(key: &KeyRef, operation: &'static str, e: HsmError) -> HsmError {
    match &e {
        HsmError::TokenRefused { code, .. } if code == "CKR_KEY_FUNCTION_NOT_PERMITTED" => {
            HsmError::KeyNotPermitted {
                label: key
                    .uri
                    .object
                    .clone()
                    .unwrap_or_else(|| key.uri.to_string()),
                operation,
            }
        }
        _ => e,
    }
}

impl Hsm {
    /// Sign `message` with `key` using `algorithm`.
    ///
    /// Checks that the algorithm fits the key type; does not check what the message is:
    /// the caller decides what deserves a CA signature.
    pub fn sign(
        &self,
        key: &KeyRef,
        algorithm: SignatureAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        if !algorithm.fits_key(key.algorithm) {
            return Err(HsmError::BadRequest {
                detail: format!(
                    "{algorithm} signatures need another key type than {}",
                    key.algorithm
                ),
            });
        }
        let plan = plan(algorithm, message);
        let raw = self
            .with_private_key(key, |session, handle| {
                session
                    .sign(&plan.mechanism, handle, &plan.input)
                    .map_err(|e| Failure::Ck("C_Sign", e))
            })
            .map_err(|e| not_permitted(key, "sign", e))?;
        if raw.len() != expected_raw_len(key.algorithm) {
            return Err(HsmError::Malformed {
                detail: format!(
                    "{algorithm} signature of {} bytes from a {} key",
                    raw.len(),
                    key.algorithm
                ),
            });
        }
        if plan.ecdsa {
            der::ecdsa_raw_to_der(&raw)
        } else {
            Ok(raw)
        }
    }

    /// Decrypt an RSA PKCS#1 v1.5 ciphertext (CKM_RSA_PKCS) with `key`.
    ///
    /// Only keys generated for a purpose that decrypts ([`crate::KeyPurpose::decrypts`]) may
    /// do this; the token
    /// enforces it. Security: a padding failure comes back as an error, which makes this a
    /// Bleichenbacher oracle if the caller reports it differently from other failures. The
    /// caller (SCEP) must answer every failure the same way, e.g. by continuing with a random
    /// content-encryption key.
    pub fn decrypt_rsa_pkcs1(
        &self,
        key: &KeyRef,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        if !key.algorithm.is_rsa() {
            return Err(HsmError::BadRequest {
                detail: format!("RSA decryption needs an RSA key, not {}", key.algorithm),
            });
        }
        self.with_private_key(key, |session, handle| {
            session
                .decrypt(&Mechanism::RsaPkcs, handle, ciphertext)
                .map(Zeroizing::new)
                .map_err(|e| blame_the_ciphertext(session, e))
        })
        .map_err(|e| not_permitted(key, "decrypt", e))
    }
}
