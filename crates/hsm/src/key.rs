//! Key references and what the token says about a key.
//!
//! In: attributes read from token objects (key type, EC params and point, RSA modulus and
//! exponent, security flags). Out: [`KeyRef`] (URI + algorithm + SPKI), [`KeyProperties`],
//! and the search templates used to find a key's objects again.

use crate::der;
use crate::error::HsmError;
use crate::hsm::Failure;
use crate::uri::Pkcs11Uri;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use strongroom_types::KeyAlgorithm;

/// A key pair on the token, as the rest of Strongroom holds it: where it is, what it is, and
/// its public half. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// Where the key lives: token, object label and id.
    pub uri: Pkcs11Uri,
    /// The key pair's algorithm, as read from the token.
    pub algorithm: KeyAlgorithm,
    /// The public key as DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
}

/// Security attributes of a private key, read back from the token (not what we asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProperties {
    /// CKA_SENSITIVE: the key value can never be read in plaintext.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: the key can be wrapped out of the token.
    pub extractable: bool,
    /// CKA_NEVER_EXTRACTABLE: the key has never been extractable (proves generation in-token).
    pub never_extractable: bool,
    /// CKA_ALWAYS_SENSITIVE: the key has always been sensitive.
    pub always_sensitive: bool,
    /// CKA_PRIVATE: the key is only visible after user login.
    pub private: bool,
    /// CKA_SIGN: the key may sign.
    pub can_sign: bool,
    /// CKA_DECRYPT: the key may decrypt.
    pub can_decrypt: bool,
}

/// What a new key pair is for; the token enforces it for the key's whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Signing only (CA, OCSP and CRL keys): CKA_SIGN true, CKA_DECRYPT false.
    Signing,
    /// RSA decryption only: CKA_DECRYPT true, CKA_SIGN false.
    Decryption,
    /// RSA signing and decryption, for the SCEP registration authority alone: a device
    /// encrypts its request to the RA certificate and expects the reply signed by the same
    /// certificate's key (Debian's `scepclient` pins one certificate for both). Never a CA
    /// key: a key that decrypts and signs lets whoever may decrypt with it reach its
    /// signatures, which is acceptable only because the RA key certifies nothing.
    SigningAndDecryption,
}

impl KeyPurpose {
    /// Whether the key may sign (CKA_SIGN).
    pub fn signs(self) -> bool {
        matches!(self, KeyPurpose::Signing | KeyPurpose::SigningAndDecryption)
    }

    /// Whether the key may decrypt (CKA_DECRYPT); RSA only.
    pub fn decrypts(self) -> bool {
        matches!(
            self,
            KeyPurpose::Decryption | KeyPurpose::SigningAndDecryption
        )
    }
}

/// Search template for the objects of class `class` that `uri` designates (label and/or id).
pub(crate) fn template(class: ObjectClass, uri: &Pkcs11Uri) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(label) = &uri.object {
        t.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// Exactly one object matching `template`, or the reason there is not.
pub(crate) fn find_one(
    session: &Session,
    template: &[Attribute],
    uri: &Pkcs11Uri,
) -> Result<ObjectHandle, Failure> {
    let found = session
        .find_objects(template)
        .map_err(|e| Failure::Ck("C_FindObjects", e))?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::Hsm(HsmError::KeyNotFound {
            uri: uri.to_string(),
        })),
        many => Err(Failure::Hsm(HsmError::KeyAmbiguous {
            uri: uri.to_string(),
            count: many.len(),
        })),
    }
}

/// Read the public half of a key pair from its public key object: algorithm and SPKI.
pub(crate) fn read_public(
    session: &Session,
    public: ObjectHandle,
) -> Result<(KeyAlgorithm, Vec<u8>), Failure> {
    let attrs = session
        .get_attributes(
            public,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ],
        )
        .map_err(|e| Failure::Ck("C_GetAttributeValue", e))?;
    let (mut key_type, mut params, mut point, mut modulus, mut exponent) =
        (None, None, None, None, None);
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    let malformed = |detail: &str| {
        Failure::Hsm(HsmError::Malformed {
            detail: detail.to_owned(),
        })
    };
    let key_type = key_type.ok_or_else(|| malformed("public key has no CKA_KEY_TYPE"))?;
    if key_type == KeyType::RSA {
        let (Some(n), Some(e)) = (modulus, exponent) else {
            return Err(malformed(
                "RSA public key lacks CKA_MODULUS or CKA_PUBLIC_EXPONENT",
            ));
        };
        let algorithm = rsa_algorithm(&n)?;
        return Ok((algorithm, der::spki_rsa(&n, &e)));
    }
    let params = params.ok_or_else(|| malformed("EC public key has no CKA_EC_PARAMS"))?;
    let point = point.ok_or_else(|| malformed("EC public key has no CKA_EC_POINT"))?;
    let (algorithm, point_len) = ec_algorithm(key_type, &params)?;
    let raw = der::ec_point_contents(&point, point_len)
        .ok_or_else(|| malformed("CKA_EC_POINT has an unexpected length for the curve"))?;
    let spki = match algorithm {
        KeyAlgorithm::Ed25519 => der::spki_ed25519(raw),
        KeyAlgorithm::EcdsaP384 => der::spki_ec(der::OID_P384, raw),
        _ => der::spki_ec(der::OID_P256, raw),
    };
    Ok((algorithm, spki))
}

/// Which of our EC algorithms a key type + CKA_EC_PARAMS denote, with the public point size.
fn ec_algorithm(key_type: KeyType, params: &[u8]) -> Result<(KeyAlgorithm, usize), Failure> {
    if key_type == KeyType::EC && params == der::OID_P256 {
        Ok((KeyAlgorithm::EcdsaP256, 65))
    } else if key_type == KeyType::EC && params == der::OID_P384 {
        Ok((KeyAlgorithm::EcdsaP384, 97))
    } else if key_type == KeyType::EC_EDWARDS
        && (params == der::OID_ED25519 || params == der::NAME_ED25519)
    {
        Ok((KeyAlgorithm::Ed25519, 32))
    } else {
        Err(Failure::Hsm(HsmError::Unsupported {
            what: format!(
                "key of type {key_type} with EC params {}: Strongroom uses P-256, P-384 and Ed25519",
                hex::encode(params)
            ),
        }))
    }
}

/// The RSA algorithm for a modulus, by its exact bit length.
fn rsa_algorithm(modulus: &[u8]) -> Result<KeyAlgorithm, Failure> {
    let skip = modulus.iter().take_while(|&&b| b == 0).count();
    let bits = match modulus.get(skip) {
        Some(first) => (modulus.len() - skip) * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    match bits {
        2048 => Ok(KeyAlgorithm::Rsa2048),
        3072 => Ok(KeyAlgorithm::Rsa3072),
        4096 => Ok(KeyAlgorithm::Rsa4096),
        _ => Err(Failure::Hsm(HsmError::Unsupported {
            what: format!("RSA key of {bits} bits: Strongroom uses 2048, 3072 and 4096"),
        })),
    }
}

/// Whether a private key of `key_type` can be the `algorithm` a [`KeyRef`] claims.
pub(crate) fn key_type_fits(key_type: KeyType, algorithm: KeyAlgorithm) -> bool {
    match algorithm {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => key_type == KeyType::EC,
        KeyAlgorithm::Ed25519 => key_type == KeyType::EC_EDWARDS,
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            key_type == KeyType::RSA
        }
    }
}

/// Collect [`KeyProperties`] from the attributes of a private key; every flag must be there.
pub(crate) fn properties_from(attrs: &[Attribute]) -> Result<KeyProperties, HsmError> {
    let flag = |wanted: AttributeType| {
        attrs
            .iter()
            .find_map(|a| match (a, wanted) {
                (Attribute::Sensitive(v), AttributeType::Sensitive)
                | (Attribute::Extractable(v), AttributeType::Extractable)
                | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable)
                | (Attribute::AlwaysSensitive(v), AttributeType::AlwaysSensitive)
                | (Attribute::Private(v), AttributeType::Private)
                | (Attribute::Sign(v), AttributeType::Sign)
                | (Attribute::Decrypt(v), AttributeType::Decrypt) => Some(*v),
                _ => None,
            })
            // Security: a flag the token will not report is not assumed either way.
            .ok_or_else(|| HsmError::Malformed {
                detail: format!("private key does not report {wanted}"),
            })
    };
    Ok(KeyProperties {
        sensitive: flag(AttributeType::Sensitive)?,
        extractable: flag(AttributeType::Extractable)?,
        never_extractable: flag(AttributeType::NeverExtractable)?,
        always_sensitive: flag(AttributeType::AlwaysSensitive)?,
        private: flag(AttributeType::Private)?,
        can_sign: flag(AttributeType::Sign)?,
        can_decrypt: flag(AttributeType::Decrypt)?,
    })
}

/// The attributes [`properties_from`] needs.
pub(crate) const PROPERTY_ATTRIBUTES: [AttributeType; 7] = [
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::NeverExtractable,
    AttributeType::AlwaysSensitive,
    AttributeType::Private,
    AttributeType::Sign,
    AttributeType::Decrypt,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_sizes_are_exact() {
        let mut n = vec![0u8; 257];
        n[1] = 0x80; // leading zero byte, then a full 2048-bit magnitude
        assert!(matches!(rsa_algorithm(&n), Ok(KeyAlgorithm::Rsa2048)));
        n[1] = 0x40; // 2047 bits
        assert!(rsa_algorithm(&n).is_err());
    }
}
