//! Digests and the verification of a device's signature over its signed attributes.
//! In: a `ScepDigest`, the signer's certificate, the signatureAlgorithm it names, the bytes
//! signed and the signature. Out: the digest, or whether the signature verifies (ring).
//!
//! Accepted: RSA PKCS#1 v1.5 with SHA-1 (legacy clients, Debian's scepclient among them),
//! SHA-256 or SHA-512, named either as rsaEncryption or as the matching shaNWithRSAEncryption;
//! ECDSA P-256 with SHA-256. ring refuses RSA keys under 2048 bits, so do we.

use const_oid::ObjectIdentifier;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use strongroom_types::scep::ScepDigest;

use crate::certificate::CertificateView;
use crate::error::ScepError;
use crate::oids;

/// The digest of `data`.
pub(crate) fn digest(d: ScepDigest, data: &[u8]) -> Vec<u8> {
    let alg = match d {
        ScepDigest::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ScepDigest::Sha256 => &ring::digest::SHA256,
        ScepDigest::Sha512 => &ring::digest::SHA512,
    };
    ring::digest::digest(alg, data).as_ref().to_vec()
}

/// Verify `sig` over `message` with the certificate's key.
pub(crate) fn verify(
    signer: &CertificateView<'_>,
    digest: ScepDigest,
    signature_algorithm: &ObjectIdentifier,
    message: &[u8],
    sig: &[u8],
) -> Result<(), ScepError> {
    let algorithm = choose(signer, digest, signature_algorithm)?;
    UnparsedPublicKey::new(algorithm, signer.public_key)
        .verify(message, sig)
        .map_err(|_| ScepError::BadSignature)
}

fn choose(
    signer: &CertificateView<'_>,
    digest: ScepDigest,
    signature_algorithm: &ObjectIdentifier,
) -> Result<&'static dyn VerificationAlgorithm, ScepError> {
    if signer.key_algorithm == oids::RSA_ENCRYPTION {
        // The signatureAlgorithm must agree with the digestAlgorithm when it names one: a
        // mismatch is a message this server cannot interpret, not a weaker check.
        let named = match *signature_algorithm {
            a if a == oids::RSA_ENCRYPTION => digest,
            a if a == oids::SHA1_WITH_RSA => ScepDigest::Sha1,
            a if a == oids::SHA256_WITH_RSA => ScepDigest::Sha256,
            a if a == oids::SHA512_WITH_RSA => ScepDigest::Sha512,
            _ => return Err(ScepError::UnsupportedAlgorithm("signature algorithm")),
        };
        if named != digest {
            return Err(ScepError::UnsupportedAlgorithm(
                "signature algorithm that disagrees with the digest algorithm",
            ));
        }
        return Ok(match digest {
            ScepDigest::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            ScepDigest::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            ScepDigest::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        });
    }
    let p256 = crate::oids::oid_der(&oids::PRIME256V1);
    if signer.key_algorithm == oids::EC_PUBLIC_KEY
        && signer.key_parameters == Some(p256.as_slice())
        && *signature_algorithm == oids::ECDSA_WITH_SHA256
        && digest == ScepDigest::Sha256
    {
        return Ok(&signature::ECDSA_P256_SHA256_ASN1);
    }
    Err(ScepError::UnsupportedAlgorithm(
        "signer key or signature algorithm",
    ))
}
