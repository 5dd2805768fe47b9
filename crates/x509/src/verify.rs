//! Signature verification for what callers send us (CSRs) and for our own output checks.
//!
//! In: a SubjectPublicKeyInfo, the signature AlgorithmIdentifier, the exact signed bytes
//! and the signature. Out: Ok, or why it did not verify. Uses `ring`, never the HSM.

use crate::algorithm::*;
use crate::X509Error;
use der::asn1::ObjectIdentifier;
use der::Encode;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// Verifies `signature` over `message` with the key in `spki` under `sig_alg`.
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), X509Error> {
    let key_alg = key_algorithm_of(spki)?;
    let key = bit_string_bytes(&spki.subject_public_key)?;
    let verifier = ring_algorithm(key_alg, sig_alg)?;
    UnparsedPublicKey::new(verifier, key)
        .verify(message, signature)
        .map_err(|_| X509Error::BadSignature("signature does not match the public key".into()))
}

fn ring_algorithm(
    key: strongroom_types::KeyAlgorithm,
    sig_alg: &AlgorithmIdentifierOwned,
) -> Result<&'static dyn VerificationAlgorithm, X509Error> {
    use strongroom_types::KeyAlgorithm::*;
    let oid: ObjectIdentifier = sig_alg.oid;
    let unsupported =
        || X509Error::Unsupported(format!("signature algorithm {oid} with a {key} key"));
    let ec_params_ok = sig_alg.parameters.is_none();
    let alg: &'static dyn VerificationAlgorithm = match key {
        EcdsaP256 | EcdsaP384 if !ec_params_ok => return Err(unsupported()),
        EcdsaP256 if oid == ECDSA_SHA256 => &signature::ECDSA_P256_SHA256_ASN1,
        EcdsaP256 if oid == ECDSA_SHA384 => &signature::ECDSA_P256_SHA384_ASN1,
        EcdsaP384 if oid == ECDSA_SHA256 => &signature::ECDSA_P384_SHA256_ASN1,
        EcdsaP384 if oid == ECDSA_SHA384 => &signature::ECDSA_P384_SHA384_ASN1,
        Rsa2048 | Rsa3072 | Rsa4096 if oid == RSA_SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Rsa2048 | Rsa3072 | Rsa4096 if oid == RSA_SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Rsa2048 | Rsa3072 | Rsa4096 if oid == RSA_SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Rsa2048 | Rsa3072 | Rsa4096 if oid == RSASSA_PSS => {
            let params = sig_alg
                .parameters
                .as_ref()
                .and_then(|p| p.to_der().ok())
                .ok_or_else(|| X509Error::Malformed("RSASSA-PSS without parameters".into()))?;
            let ours = |a| {
                signature_algorithm_identifier(a)
                    .parameters
                    .and_then(|p| p.to_der().ok())
            };
            if Some(&params) == ours(strongroom_types::SignatureAlgorithm::RsaPssSha256).as_ref() {
                &signature::RSA_PSS_2048_8192_SHA256
            } else if Some(&params)
                == ours(strongroom_types::SignatureAlgorithm::RsaPssSha384).as_ref()
            {
                &signature::RSA_PSS_2048_8192_SHA384
            } else {
                return Err(X509Error::Unsupported(
                    "RSASSA-PSS parameters other than SHA-256/salt 32 or SHA-384/salt 48".into(),
                ));
            }
        }
        Ed25519 if oid == ID_ED25519 && ec_params_ok => &signature::ED25519,
        _ => return Err(unsupported()),
    };
    Ok(alg)
}
