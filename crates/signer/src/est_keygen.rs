//! EST's key generator (RFC 7030 §4.4.2) in the signer: the only place its key is used.
//!
//! In: from the front, a CA and the SHA-256 of an AsymmetricKeyPackage (RFC 5958) holding
//! a key the front generated for a device that asked for it encrypted. Out: the signed
//! attributes (built here: contentType id-ct-KP-aKeyPackage, messageDigest), the key
//! generator's ECDSA P-256 signature over them, and its certificate. The key is a delegated
//! key of the CA ([`crate::delegated`], purpose `EstKeyGenerator`): P-256 in the HSM,
//! sensitive, non-extractable, sign only, certified by the CA under the reserved name
//! `strongroom-est-keygen.…`.
//!
//! Security: the signer never sees the key or the package, only its digest. The signature
//! says "a front of this CA delivered this package" and nothing more: the certificate has
//! no extended key usage and certifies nothing, so a compromised front that asks for a
//! signature over a digest of its choosing gains only what it already had (it made the key).

use crate::delegated::{check_before_release, delegated_key, Purpose};
use crate::dispatch::Signer;
use crate::error::bad_request;
use crate::hsm_signer::hsm_error;
use strongroom_types::{CaId, SignatureAlgorithm};
use strongroom_wire::{Response, SignedEstKeyPackage, SignerError};
use strongroom_x509::key_package::key_package_attributes;

/// `SignEstKeyPackage`: the package's signed attributes and the key generator's signature.
pub fn sign_key_package(
    signer: &Signer,
    ca: &CaId,
    package_digest: &[u8],
) -> Result<Response, SignerError> {
    if package_digest.len() != 32 {
        return Err(bad_request(
            "a key package is named by its SHA-256 digest (32 bytes)",
        ));
    }
    let loaded = signer
        .cas()
        .get(ca)
        .ok_or_else(|| bad_request(format!("unknown CA {ca}")))?;
    let hsm = signer.hsm.get()?;
    let now = signer.clock.now();
    let generator = {
        let _guard = signer.audit_key_lock();
        delegated_key(signer, &hsm, &loaded, Purpose::EstKeyGenerator, now)?
    };
    let attributes =
        key_package_attributes(package_digest).map_err(|e| bad_request(e.to_string()))?;
    let signature = crate::metrics::timed_hsm_signature(|| {
        hsm.sign(&generator.key, SignatureAlgorithm::EcdsaSha256, &attributes)
    })
    .map_err(|e| hsm_error(&e))?;
    // Security: as for every signature the signer releases, checked against the
    // certificate the device will check it with.
    check_before_release(
        &generator.key.public_key_der,
        SignatureAlgorithm::EcdsaSha256,
        &attributes,
        &signature,
        "key package",
    )?;
    Ok(Response::EstKeyPackage(SignedEstKeyPackage {
        signed_attributes: attributes,
        signature,
        certificate: generator.cert_der,
    }))
}
