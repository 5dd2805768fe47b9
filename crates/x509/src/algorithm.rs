//! Algorithm identifiers: which OID and parameters go with which key and signature.
//!
//! In: our closed algorithm enums, or an untrusted SubjectPublicKeyInfo. Out: DER
//! AlgorithmIdentifiers, the key algorithm an SPKI holds (refusing weak or unknown keys and
//! any AlgorithmIdentifier parameters other than the one form each key type has), or the
//! SPKI re-encoded from those checked parts ([`canonical_spki`]), which is what the signer
//! writes into a TBSCertificate: no caller byte beyond the key itself.

use crate::der_walk::sequence_elements;
use crate::X509Error;
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode, Encode, Tag, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use strongroom_types::{KeyAlgorithm, SignatureAlgorithm};

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub(crate) const ECDSA_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub(crate) const RSA_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub(crate) const RSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub(crate) const RSA_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
pub(crate) const RSASSA_PSS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// RSASSA-PSS-params for SHA-256 / MGF1-SHA-256 / salt 32 (RFC 4055 §3.1), DER.
const PSS_SHA256_PARAMS: &[u8] = &[
    0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
    0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
];
/// RSASSA-PSS-params for SHA-384 / MGF1-SHA-384 / salt 48, DER.
const PSS_SHA384_PARAMS: &[u8] = &[
    0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
    0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0xa2, 0x03, 0x02, 0x01, 0x30,
];
const DER_NULL: &[u8] = &[0x05, 0x00];

/// The AlgorithmIdentifier written into a TBS (and next to the signature) for `alg`.
pub fn signature_algorithm_identifier(alg: SignatureAlgorithm) -> AlgorithmIdentifierOwned {
    let (oid, params): (ObjectIdentifier, Option<&[u8]>) = match alg {
        // RFC 5758: ECDSA identifiers have absent parameters.
        SignatureAlgorithm::EcdsaSha256 => (ECDSA_SHA256, None),
        SignatureAlgorithm::EcdsaSha384 => (ECDSA_SHA384, None),
        // RFC 4055: PKCS#1 v1.5 identifiers carry an explicit NULL.
        SignatureAlgorithm::RsaPkcs1Sha256 => (RSA_SHA256, Some(DER_NULL)),
        SignatureAlgorithm::RsaPkcs1Sha384 => (RSA_SHA384, Some(DER_NULL)),
        SignatureAlgorithm::RsaPssSha256 => (RSASSA_PSS, Some(PSS_SHA256_PARAMS)),
        SignatureAlgorithm::RsaPssSha384 => (RSASSA_PSS, Some(PSS_SHA384_PARAMS)),
        // RFC 8410: absent parameters.
        SignatureAlgorithm::Ed25519 => (ID_ED25519, None),
    };
    AlgorithmIdentifierOwned {
        oid,
        // Invariant: the constants above are valid DER, checked by the unit test below.
        parameters: params.and_then(|p| Any::from_der(p).ok()),
    }
}

/// Identifies a signature AlgorithmIdentifier we produce, for lints and verification.
pub(crate) fn signature_algorithm_from_identifier(
    id: &AlgorithmIdentifierOwned,
) -> Option<SignatureAlgorithm> {
    SignatureAlgorithm::ALL
        .into_iter()
        .find(|alg| &signature_algorithm_identifier(*alg) == id)
}

/// The key algorithm held in a DER SubjectPublicKeyInfo. Refuses curves other than P-256
/// and P-384, RSA moduli other than 2048, 3072 and 4096 bits (so 1024-bit keys are
/// refused with a message that says so), exponents other than 65537, unknown keys, and
/// parameters other than NULL for RSA, a namedCurve OID for EC, none for Ed25519.
pub fn key_algorithm_of_spki(spki_der: &[u8]) -> Result<KeyAlgorithm, X509Error> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    key_algorithm_of(&spki)
}

/// The AlgorithmIdentifier of a subject key as we write it: rsaEncryption with NULL
/// (RFC 3279 §2.3.1), id-ecPublicKey with the namedCurve OID (RFC 5480 §2.1.1), id-Ed25519
/// without parameters (RFC 8410 §3).
fn key_algorithm_identifier(alg: KeyAlgorithm) -> Result<AlgorithmIdentifierOwned, X509Error> {
    let (oid, parameters) = match alg {
        KeyAlgorithm::EcdsaP256 => (ID_EC_PUBLIC_KEY, Some(Any::encode_from(&SECP256R1)?)),
        KeyAlgorithm::EcdsaP384 => (ID_EC_PUBLIC_KEY, Some(Any::encode_from(&SECP384R1)?)),
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            (RSA_ENCRYPTION, Some(Any::from_der(DER_NULL)?))
        }
        KeyAlgorithm::Ed25519 => (ID_ED25519, None),
    };
    Ok(AlgorithmIdentifierOwned { oid, parameters })
}

/// Classifies an untrusted DER SubjectPublicKeyInfo as [`key_algorithm_of_spki`] does and
/// re-encodes it from the checked parts: our own AlgorithmIdentifier for that key type
/// and the key bits (an uncompressed EC point of the curve's length, a minimal
/// RSAPublicKey with exponent 65537, 32 Ed25519 bytes). The result is what goes into a
/// TBSCertificate, so nothing else the caller wrote (parameters, encodings) reaches it.
pub fn canonical_spki(spki_der: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>), X509Error> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    canonical_spki_of(&spki)
}

pub(crate) fn canonical_spki_of(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<(KeyAlgorithm, Vec<u8>), X509Error> {
    let alg = key_algorithm_of(spki)?;
    let rebuilt = SubjectPublicKeyInfoOwned {
        algorithm: key_algorithm_identifier(alg)?,
        subject_public_key: BitString::from_bytes(bit_string_bytes(&spki.subject_public_key)?)?,
    };
    Ok((alg, rebuilt.to_der()?))
}

pub(crate) fn key_algorithm_of(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<KeyAlgorithm, X509Error> {
    let key_bytes = bit_string_bytes(&spki.subject_public_key)?;
    let oid = spki.algorithm.oid;
    if oid == ID_EC_PUBLIC_KEY {
        // Security: only namedCurve (RFC 5480 §2.1.1). specifiedCurve spells out a curve
        // of the caller's choosing; implicitCA (NULL) leaves it to the issuer.
        let curve = match spki.algorithm.parameters.as_ref() {
            None => {
                return Err(X509Error::Malformed(
                    "EC key without parameters; a namedCurve OID (P-256, P-384) is required"
                        .into(),
                ))
            }
            Some(p) if p.tag() == Tag::ObjectIdentifier => p.decode_as::<ObjectIdentifier>()?,
            Some(p) if p.tag() == Tag::Null => {
                return Err(X509Error::Unsupported(
                    "EC key parameters are implicitCA (NULL); only a namedCurve OID (P-256, P-384) is accepted"
                        .into(),
                ))
            }
            Some(p) if p.tag() == Tag::Sequence => {
                return Err(X509Error::Unsupported(
                    "EC key parameters are specifiedCurve (explicit curve parameters); only a namedCurve OID (P-256, P-384) is accepted"
                        .into(),
                ))
            }
            Some(p) => {
                return Err(X509Error::Malformed(format!(
                    "EC key parameters are a {}, not a namedCurve OID",
                    p.tag()
                )))
            }
        };
        let (alg, len) = if curve == SECP256R1 {
            (KeyAlgorithm::EcdsaP256, 65)
        } else if curve == SECP384R1 {
            (KeyAlgorithm::EcdsaP384, 97)
        } else {
            return Err(X509Error::Unsupported(format!(
                "EC curve {curve}; use P-256 or P-384"
            )));
        };
        if key_bytes.len() != len || key_bytes[0] != 0x04 {
            return Err(X509Error::Malformed("EC point must be uncompressed".into()));
        }
        Ok(alg)
    } else if oid == RSA_ENCRYPTION {
        // Security: RFC 3279 §2.3.1 says NULL; anything else would be caller-chosen bytes.
        match spki.algorithm.parameters.as_ref() {
            Some(p) if p.to_der()? == DER_NULL => {}
            None => {
                return Err(X509Error::Malformed(
                    "RSA key AlgorithmIdentifier parameters are absent; they must be NULL".into(),
                ))
            }
            Some(p) => {
                return Err(X509Error::Malformed(format!(
                    "RSA key AlgorithmIdentifier parameters are a {}; they must be NULL",
                    p.tag()
                )))
            }
        }
        let elements = sequence_elements(key_bytes)?;
        let [modulus, exponent] = elements.as_slice() else {
            return Err(X509Error::Malformed(
                "RSAPublicKey must hold modulus and exponent".into(),
            ));
        };
        let bits = integer_bits(modulus)?;
        if exponent != &[0x02, 0x03, 0x01, 0x00, 0x01] {
            return Err(X509Error::Unsupported(
                "RSA public exponent must be 65537".into(),
            ));
        }
        match bits {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            b if b < 2048 => Err(X509Error::Unsupported(format!(
                "RSA-{b} is too weak; use at least RSA-2048"
            ))),
            b => Err(X509Error::Unsupported(format!(
                "RSA-{b}; use 2048, 3072 or 4096 bits"
            ))),
        }
    } else if oid == ID_ED25519 {
        if spki.algorithm.parameters.is_some() || key_bytes.len() != 32 {
            return Err(X509Error::Malformed(
                "Ed25519 key must be 32 bytes without parameters".into(),
            ));
        }
        Ok(KeyAlgorithm::Ed25519)
    } else {
        Err(X509Error::Unsupported(format!(
            "public key algorithm {oid}"
        )))
    }
}

pub(crate) fn bit_string_bytes(bits: &BitString) -> Result<&[u8], X509Error> {
    bits.as_bytes()
        .ok_or_else(|| X509Error::Malformed("BIT STRING with unused bits".into()))
}

/// Bit length of a positive DER INTEGER given as a whole TLV.
fn integer_bits(tlv: &[u8]) -> Result<usize, X509Error> {
    // The walker guarantees a complete TLV; skip the header.
    let header = if tlv.get(1).is_some_and(|&l| l >= 0x80) {
        2 + (tlv[1] & 0x7f) as usize
    } else {
        2
    };
    if tlv.first() != Some(&0x02) || tlv.len() <= header {
        return Err(X509Error::Malformed("RSA modulus is not an INTEGER".into()));
    }
    let mut v = &tlv[header..];
    // DER: a positive INTEGER in the fewest octets (a leading zero only before a high bit).
    match v {
        [first, ..] if first & 0x80 != 0 => {
            return Err(X509Error::Malformed("RSA modulus is negative".into()))
        }
        [0, next, ..] if next & 0x80 == 0 => {
            return Err(X509Error::Malformed(
                "RSA modulus is not minimally encoded".into(),
            ))
        }
        _ => {}
    }
    while let [0, rest @ ..] = v {
        v = rest;
    }
    let Some(&first) = v.first() else {
        return Err(X509Error::Malformed("RSA modulus is zero".into()));
    };
    Ok(v.len() * 8 - first.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_valid_der() {
        for alg in [
            SignatureAlgorithm::RsaPssSha256,
            SignatureAlgorithm::RsaPssSha384,
            SignatureAlgorithm::RsaPkcs1Sha256,
        ] {
            assert!(
                signature_algorithm_identifier(alg).parameters.is_some(),
                "{alg}"
            );
            assert_eq!(
                signature_algorithm_from_identifier(&signature_algorithm_identifier(alg)),
                Some(alg)
            );
        }
    }
}
