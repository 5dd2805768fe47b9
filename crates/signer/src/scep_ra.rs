//! SCEP's registration authority (RFC 8894) in the signer: the only place an RA key is used.
//!
//! In: from the front, a CA, the structured fields of a device's envelope, the fields of a
//! reply, or the CA's successor. Out: the RA certificate; the envelope's plaintext; the
//! reply's signed attributes with their RA signature; the successor's certificates-only
//! message, built here, with the RA's signature over it. The RA key is a delegated key of the CA
//! ([`crate::delegated`], purpose `ScepRa`): RSA-2048 in the HSM, sensitive and
//! non-extractable, allowed to sign and decrypt and nothing else, certified by the CA.
//!
//! Security: opening an envelope has one failure answer and one path. When the HSM refuses
//! the RSA ciphertext (bad padding: the Bleichenbacher case) or returns a key of the wrong
//! length, the content is decrypted instead with a substitute key derived from that
//! ciphertext and a secret ([`crate::scep_content::RejectionKey`]), which fails like any
//! other corrupt content (implicit rejection, as in TLS's RSA key exchange). The caller
//! learns "does not decrypt", never which part failed, and the same envelope always gets the
//! same answer.
//! Signing builds every signed attribute here; the caller's one value is the digest of the
//! encapsulated content, which the RA key asserts nothing about (it certifies nothing).

use crate::ca::LoadedCa;
use crate::delegated::{
    certify, check_before_release, delegated_key, previous_delegated_key, Delegated, Purpose,
};
use crate::dispatch::Signer;
use crate::error::{bad_request, internal, wire_error};
use crate::hsm_signer::hsm_error;
use crate::scep_content::decrypt_content;
use crate::state::write_atomic;
use strongroom_types::scep::ScepPkiStatus;
use strongroom_types::{CaId, SignatureAlgorithm};
use strongroom_wire::{
    ErrorKind, Response, ScepEnvelope, ScepPlaintext, ScepReplyRequest, SignedScepNextCa,
    SignedScepReply, SignerError, MAX_SCEP_CIPHERTEXT, MAX_SCEP_TRANSACTION_ID,
};
use strongroom_x509::scep_reply::{signed_attributes, ReplyAttributes};
use strongroom_x509::KeyUsageBits;

/// The one answer to an envelope that does not open, whatever the reason.
const UNDECRYPTABLE: &str =
    "the SCEP envelope does not decrypt with this CA's RA key (wrong recipient or corrupt)";

/// The CA's current RA, made or renewed as needed, with its encryption-only certificate.
fn current_ra(
    signer: &Signer,
    ca: &CaId,
) -> Result<(Delegated, Vec<u8>, strongroom_hsm::Hsm), SignerError> {
    let loaded = signer
        .cas()
        .get(ca)
        .ok_or_else(|| bad_request(format!("unknown CA {ca}")))?;
    let hsm = signer.hsm.get()?;
    let now = signer.clock.now();
    let _guard = signer.audit_key_lock();
    let ra = delegated_key(signer, &hsm, &loaded, Purpose::ScepRa, now)?;
    let encryption = encryption_certificate(signer, &hsm, &loaded, &ra, now)?;
    Ok((ra, encryption, hsm))
}

/// The RA key's second certificate: the same key and lifetime, keyUsage keyEncipherment
/// only. Clients built for NDES (PyScep among them) take a keyEncipherment certificate
/// without digitalSignature as the one they encrypt to, and a digitalSignature one as the
/// reply's signer; clients that pin one certificate (Debian's scepclient) use the first,
/// which does both. Made once per RA certificate, named by that certificate's serial;
/// callers hold the delegated-key lock.
fn encryption_certificate(
    signer: &Signer,
    hsm: &strongroom_hsm::Hsm,
    ca: &LoadedCa,
    ra: &Delegated,
    now: i64,
) -> Result<Vec<u8>, SignerError> {
    let path = encryption_certificate_path(signer, ca, &ra.cert_der)?;
    if let Ok(der) = std::fs::read(&path) {
        return Ok(der);
    }
    let (der, _) = certify(
        signer,
        hsm,
        ca,
        Purpose::ScepRa,
        &ra.key.public_key_der,
        ra.not_after,
        now,
        KeyUsageBits {
            key_encipherment: true,
            ..Default::default()
        },
    )?;
    write_atomic(&path, &der, 0o644).map_err(|e| internal(format!("{}: {e}", path.display())))?;
    Ok(der)
}

/// `STATE/scep-ra/{ca}/encryption-{serial of the RA certificate}.der`.
fn encryption_certificate_path(
    signer: &Signer,
    ca: &LoadedCa,
    ra_cert_der: &[u8],
) -> Result<std::path::PathBuf, SignerError> {
    let serial = serial_of(ra_cert_der)
        .ok_or_else(|| internal("the RA certificate in the state directory does not parse"))?;
    Ok(signer
        .state
        .root()
        .join(Purpose::ScepRa.dir())
        .join(ca.record.id.as_str())
        .join(format!("encryption-{}.der", hex::encode(serial))))
}

/// `ScepRaCertificate`: the CA's RA certificate and its encryption-only twin, DER.
pub fn ra_certificate(signer: &Signer, ca: &CaId) -> Result<Response, SignerError> {
    let (ra, encryption, _) = current_ra(signer, ca)?;
    Ok(Response::ScepRaCertificate {
        certificate: ra.cert_der,
        encryption_certificate: encryption,
    })
}

/// Whether `serial` names the RA certificate `ra` or its encryption-only twin.
fn addressed_to(signer: &Signer, ca: &LoadedCa, ra: &Delegated, serial: &[u8]) -> bool {
    if serial_of(&ra.cert_der).as_deref() == Some(serial) {
        return true;
    }
    encryption_certificate_path(signer, ca, &ra.cert_der)
        .ok()
        .and_then(|p| std::fs::read(p).ok())
        .is_some_and(|der| serial_of(&der).as_deref() == Some(serial))
}

/// `DecryptScepEnvelope`: the envelope's content, or the one refusal.
pub fn decrypt_envelope(signer: &Signer, env: ScepEnvelope) -> Result<Response, SignerError> {
    let block = env.cipher.block_len();
    if env.iv.len() != block
        || env.ciphertext.is_empty()
        || env.ciphertext.len() % block != 0
        || env.ciphertext.len() > MAX_SCEP_CIPHERTEXT
        || env.encrypted_key.is_empty()
        || env.encrypted_key.len() > 512
    {
        return Err(bad_request(format!(
            "a SCEP envelope has an IV of {block} bytes and 1 to {MAX_SCEP_CIPHERTEXT} bytes of content in whole {block}-byte blocks, under an RSA-encrypted key of at most 512 bytes"
        )));
    }
    let (current, _, hsm) = current_ra(signer, &env.ca)?;
    let loaded = signer
        .cas()
        .get(&env.ca)
        .ok_or_else(|| bad_request(format!("unknown CA {}", env.ca)))?;
    // The recipient the device named: the current RA (either certificate), or the one it
    // replaced while that one is still valid (the device fetched GetCACert before the
    // rotation).
    let ra = if addressed_to(signer, &loaded, &current, &env.recipient_serial) {
        current
    } else {
        let previous = {
            let _guard = signer.audit_key_lock();
            previous_delegated_key(signer, &hsm, &loaded, Purpose::ScepRa, signer.clock.now())?
        };
        match previous {
            Some(p) if addressed_to(signer, &loaded, &p, &env.recipient_serial) => p,
            // Not addressed to an RA of this CA: still one answer, the same as corruption.
            _ => current,
        }
    };
    let key_len = env.cipher.key_len();
    let unwrapped = match hsm.decrypt_rsa_pkcs1(&ra.key, &env.encrypted_key) {
        Ok(key) if key.len() == key_len => Some(key),
        // A temporary HSM failure is not the device's fault and says nothing about its
        // ciphertext: the device may retry.
        Err(e) if e.is_temporary() => return Err(hsm_error(&e)),
        _ => None,
    };
    let key = match unwrapped {
        Some(key) => key,
        None => signer
            .scep_rejection()
            .substitute(env.ca.as_str(), &env.encrypted_key, key_len),
    };
    let plaintext = decrypt_content(env.cipher, &key, &env.iv, &env.ciphertext)
        .ok_or_else(|| wire_error(ErrorKind::BadRequest, UNDECRYPTABLE))?;
    Ok(Response::ScepPlaintext(ScepPlaintext(plaintext.to_vec())))
}

/// `SignScepReply`: the reply's signed attributes and the RA's signature over them.
pub fn sign_reply(signer: &Signer, req: ScepReplyRequest) -> Result<Response, SignerError> {
    let failure = req.pki_status == ScepPkiStatus::Failure;
    if failure != req.fail_info.is_some() {
        return Err(bad_request(
            "a SCEP reply carries a failInfo exactly when its status is FAILURE",
        ));
    }
    if req.transaction_id.is_empty()
        || req.transaction_id.len() > MAX_SCEP_TRANSACTION_ID
        || !req.transaction_id.bytes().all(is_printable)
    {
        return Err(bad_request(format!(
            "a transactionID is 1 to {MAX_SCEP_TRANSACTION_ID} PrintableString characters"
        )));
    }
    if req.recipient_nonce.len() != 16 || req.content_digest.len() != 32 {
        return Err(bad_request(
            "a reply echoes a 16-byte nonce and carries a SHA-256 content digest",
        ));
    }
    let (ra, _, hsm) = current_ra(signer, &req.ca)?;
    let mut sender_nonce = vec![0u8; 16];
    signer
        .entropy
        .fill(&mut sender_nonce)
        .map_err(|e| internal(e.to_string()))?;
    let attributes = signed_attributes(&ReplyAttributes {
        pki_status: req.pki_status,
        fail_info: req.fail_info,
        transaction_id: req.transaction_id,
        recipient_nonce: req.recipient_nonce,
        sender_nonce,
        content_digest: req.content_digest,
    })
    .map_err(|e| bad_request(e.to_string()))?;
    let signature = crate::metrics::timed_hsm_signature(|| {
        hsm.sign(&ra.key, SignatureAlgorithm::RsaPkcs1Sha256, &attributes)
    })
    .map_err(|e| hsm_error(&e))?;
    // Security: as for every other signature the signer releases, it is checked against
    // the certificate the device will check it with.
    check_before_release(
        &ra.key.public_key_der,
        SignatureAlgorithm::RsaPkcs1Sha256,
        &attributes,
        &signature,
        "SCEP reply",
    )?;
    Ok(Response::ScepReply(SignedScepReply {
        signed_attributes: attributes,
        signature,
        ra_certificate: ra.cert_der,
    }))
}

/// `SignScepNextCa`: the successor's certificates-only message, built here from the chain
/// the signer holds, and the RA's signature over its digest. The successor must be another
/// CA of the same hierarchy (its chain ends in `ca`'s root): the RA vouches only for a CA
/// the signer itself holds.
pub fn sign_next_ca(signer: &Signer, ca: &CaId, successor: &CaId) -> Result<Response, SignerError> {
    if ca == successor {
        return Err(bad_request(format!("CA {ca} cannot be its own successor")));
    }
    let current = signer
        .cas()
        .get(ca)
        .ok_or_else(|| bad_request(format!("unknown CA {ca}")))?;
    let next = signer
        .cas()
        .get(successor)
        .ok_or_else(|| bad_request(format!("unknown CA {successor}")))?;
    if current.chain.last() != next.chain.last() {
        return Err(bad_request(format!(
            "CA {successor} does not chain to CA {ca}'s root; a successor stays in the hierarchy devices trust"
        )));
    }
    let certificates = next.chain.clone();
    let refs: Vec<&[u8]> = certificates.iter().map(Vec::as_slice).collect();
    let content = strongroom_x509::pkcs7::certs_only(&refs)
        .map_err(|e| internal(format!("the next CA's certificates-only message: {e}")))?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&content).to_vec();
    let attributes = strongroom_x509::scep_reply::next_ca_attributes(&digest)
        .map_err(|e| internal(e.to_string()))?;
    let (ra, _, hsm) = current_ra(signer, ca)?;
    let signature = crate::metrics::timed_hsm_signature(|| {
        hsm.sign(&ra.key, SignatureAlgorithm::RsaPkcs1Sha256, &attributes)
    })
    .map_err(|e| hsm_error(&e))?;
    check_before_release(
        &ra.key.public_key_der,
        SignatureAlgorithm::RsaPkcs1Sha256,
        &attributes,
        &signature,
        "SCEP reply",
    )?;
    Ok(Response::ScepNextCa(SignedScepNextCa {
        content,
        certificates,
        signed_attributes: attributes,
        signature,
        ra_certificate: ra.cert_der,
    }))
}

/// PrintableString's alphabet (X.680 §41.4).
fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

/// The serial of a certificate (big-endian bytes as in its DER).
fn serial_of(cert_der: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    x509_cert::Certificate::from_der(cert_der)
        .ok()
        .map(|c| c.tbs_certificate().serial_number().as_bytes().to_vec())
}
