//! The TLS listener keys of control and the front (docs/architecture.md, Keys): each peer's HTTPS
//! key lives in the HSM, and its TLS handshakes are signed here, one signature each.
//!
//! In: `ListenerKey` and `SignTlsHandshake { scheme, message }` from a peer the allow-list
//! lets call them (control, the front; `dev` under `strongroom up`). Out: the public half of
//! *that peer's* key, and signatures made with it. The key is chosen by the kernel-verified
//! peer alone — the request names no key — so a peer can reach its own listener key and
//! nothing else: never a CA, OCSP or audit key, never another peer's listener key.
//!
//! The key is made on the first `ListenerKey` call (ECDSA P-256, sensitive,
//! non-extractable, sign-only) and labelled `strongroom-listener-{peer}`: the label is the
//! whole record of it, so every signer on one HSM partition finds the same key and this
//! module keeps no state on disk (the HA design, docs/architecture.md, Scaling past one appliance, forbids new signer
//! state until it is settled). What it keeps in memory — the key found for each peer — is
//! a cache that a restart loses without harm. A key found under that label is checked
//! before use (P-256, sensitive, never extractable, sign-only): the label is predictable,
//! and a key someone else planted under it, extractable, must not become a listener key.
//!
//! This is the one place the signer signs bytes a caller chose. They are held to what
//! rustls signs as a TLS server: at most [`MAX_TLS_HANDSHAKE_MESSAGE`] bytes, shaped as a
//! TLS 1.3 server CertificateVerify input (64 spaces, the server context string, a SHA-256
//! or SHA-384 transcript hash) or TLS 1.2 ECDHE ServerKeyExchange parameters (two randoms,
//! a named curve, a point of that curve's size). The listener key's certificate carries
//! only serverAuth, so even the 64 free bytes of the TLS 1.2 form make nothing another
//! party would accept for anything but a TLS server of the peer's own names.
//!
//! Journal: the key's creation is journalled (`listener-key`: peer, label, URI). Handshake
//! signatures are not: they certify nothing — no name, no serial, nothing a relying party
//! keeps — and a journal record per TLS connection would put an `fdatasync` and a record
//! into every handshake and grow the journal with each client that connects. They are
//! counted (`Signer::note_handshake_signature`) and logged at debug. Nor is a handshake
//! signature verified before release, as certificates, CRLs, OCSP responses and checkpoints
//! are: the TLS client verifies it within the same handshake, and a wrong one ends only that
//! handshake, leaving nothing behind that anyone would trust later.

use crate::dispatch::Signer;
use crate::error::wire_error;
use crate::hsm_signer::hsm_error;
use serde_json::json;
use strongroom_hsm::{Hsm, HsmError, KeyPurpose, KeyRef, Pkcs11Uri};
use strongroom_types::{KeyAlgorithm, SignatureAlgorithm};
use strongroom_wire::{
    ErrorKind, Response, SignerError, TlsSignatureScheme, MAX_TLS_HANDSHAKE_MESSAGE,
};

/// The first part of every listener key's label; the peer's name follows.
pub const LABEL_PREFIX: &str = "strongroom-listener-";

/// The TLS 1.3 server CertificateVerify context string with its 0 separator (RFC 8446
/// §4.4.3).
const TLS13_SERVER_CONTEXT: &[u8; 34] = b"TLS 1.3, server CertificateVerify\0";

/// ECCurveType `named_curve` (RFC 8422 §5.4).
const NAMED_CURVE: u8 = 3;

/// The label of `peer`'s listener key.
pub fn label(peer: &str) -> String {
    format!("{LABEL_PREFIX}{peer}")
}

/// Whether a peer name can become part of a key label (the configuration refuses others
/// for peers allowed the listener-key operations).
pub fn is_label_safe(peer: &str) -> bool {
    !peer.is_empty()
        && peer.len() <= 64
        && peer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// `ListenerKey`: `peer`'s listener key, made in the HSM on the first call.
pub fn listener_key(signer: &Signer, peer: &str) -> Result<Response, SignerError> {
    let hsm = signer.hsm.get()?;
    let key = find_or_create(signer, &hsm, peer)?;
    Ok(Response::ListenerKey {
        public_key: key.public_key_der,
        uri: key.uri.to_string(),
    })
}

/// `SignTlsHandshake`: one handshake signature with `peer`'s listener key. Never creates the
/// key: a daemon asks for it (and its certificate) at start.
pub fn sign_handshake(
    signer: &Signer,
    peer: &str,
    scheme: TlsSignatureScheme,
    message: &[u8],
) -> Result<Response, SignerError> {
    check_message(message)?;
    let algorithm = match scheme {
        TlsSignatureScheme::EcdsaP256Sha256 => SignatureAlgorithm::EcdsaSha256,
    };
    let hsm = signer.hsm.get()?;
    let key = match signer.cached_listener_key(peer) {
        Some(k) => k,
        None => {
            let found = find(&hsm, peer)?.ok_or_else(|| {
                wire_error(
                    ErrorKind::BadRequest,
                    format!(
                        "peer {peer} has no listener key yet: ask ListenerKey (and a certificate for it) first"
                    ),
                )
            })?;
            signer.cache_listener_key(peer, found.clone());
            found
        }
    };
    match crate::metrics::timed_hsm_signature(|| hsm.sign(&key, algorithm, message)) {
        Ok(signature) => {
            let n = signer.note_handshake_signature();
            tracing::debug!(
                peer,
                count = n,
                "TLS handshake signed with the listener key"
            );
            Ok(Response::TlsHandshakeSignature { signature })
        }
        Err(e) => {
            // The key may have been deleted or replaced on the token: look it up again next
            // time instead of failing every handshake on a stale reference.
            signer.forget_listener_key(peer);
            Err(hsm_error(&e))
        }
    }
}

/// The message must be what rustls signs as a TLS server, and no larger.
fn check_message(message: &[u8]) -> Result<(), SignerError> {
    if message.len() > MAX_TLS_HANDSHAKE_MESSAGE {
        return Err(wire_error(
            ErrorKind::BadRequest,
            format!(
                "a TLS handshake message of {} bytes; at most {MAX_TLS_HANDSHAKE_MESSAGE}",
                message.len()
            ),
        ));
    }
    if is_tls13_certificate_verify(message) || is_tls12_ecdhe_params(message) {
        Ok(())
    } else {
        Err(wire_error(
            ErrorKind::BadRequest,
            format!(
                "{} bytes that are neither a TLS 1.3 server CertificateVerify input nor TLS 1.2 ECDHE ServerKeyExchange parameters",
                message.len()
            ),
        ))
    }
}

/// 64 × 0x20, the server context string, a SHA-256 or SHA-384 transcript hash.
fn is_tls13_certificate_verify(m: &[u8]) -> bool {
    let Some((spaces, rest)) = m.split_at_checked(64) else {
        return false;
    };
    let Some((context, hash)) = rest.split_at_checked(TLS13_SERVER_CONTEXT.len()) else {
        return false;
    };
    spaces.iter().all(|&b| b == 0x20)
        && context == TLS13_SERVER_CONTEXT
        && matches!(hash.len(), 32 | 48)
}

/// client_random ‖ server_random ‖ ServerECDHParams (RFC 8422 §5.4): named_curve, a curve
/// TLS 1.2 offers, and one public point of exactly that curve's size.
fn is_tls12_ecdhe_params(m: &[u8]) -> bool {
    let Some((_randoms, params)) = m.split_at_checked(64) else {
        return false;
    };
    let [NAMED_CURVE, g1, g2, len, point @ ..] = params else {
        return false;
    };
    let (expected, uncompressed) = match u16::from_be_bytes([*g1, *g2]) {
        0x0017 => (65, true),  // secp256r1
        0x0018 => (97, true),  // secp384r1
        0x0019 => (133, true), // secp521r1
        0x001d => (32, false), // x25519
        0x001e => (56, false), // x448
        _ => return false,
    };
    usize::from(*len) == expected
        && point.len() == expected
        && (!uncompressed || point.first() == Some(&0x04))
}

/// `peer`'s key from the cache or the token, or a new one.
fn find_or_create(signer: &Signer, hsm: &Hsm, peer: &str) -> Result<KeyRef, SignerError> {
    if !is_label_safe(peer) {
        return Err(wire_error(
            ErrorKind::BadRequest,
            format!("peer name {peer:?} cannot name a key: use letters, digits, '-', '_', '.'"),
        ));
    }
    // Serialises creation within this signer; another signer on the partition that creates
    // the same label first makes ours fail with KeyExists, and we take its key.
    let _guard = signer.listener_key_lock();
    if let Some(key) = signer.cached_listener_key(peer) {
        return Ok(key);
    }
    let key = match find(hsm, peer)? {
        Some(key) => key,
        None => create(signer, hsm, peer)?,
    };
    signer.cache_listener_key(peer, key.clone());
    Ok(key)
}

/// How often a key generation the token fails is tried (SoftHSM2's file store sometimes
/// answers CKR_GENERAL_ERROR to C_GenerateKeyPair while other sessions sign, and may leave
/// one half of the pair behind, which `Hsm::generate_key` removes; the next attempt
/// succeeds).
const GENERATE_ATTEMPTS: u32 = 3;

/// Makes `peer`'s key and journals it.
fn create(signer: &Signer, hsm: &Hsm, peer: &str) -> Result<KeyRef, SignerError> {
    let label = label(peer);
    let mut attempt = 1;
    let key = loop {
        match hsm.generate_key(&label, KeyAlgorithm::EcdsaP256, KeyPurpose::Signing) {
            Ok(key) => break key,
            // Another signer on the partition made it first: take its key.
            Err(HsmError::KeyExists { .. }) => {
                return find(hsm, peer)?.ok_or_else(|| {
                    wire_error(
                        ErrorKind::HsmFailed,
                        format!("the token holds an object labelled {label} that is not a private key: remove it (pkcs11-tool --delete-object)"),
                    )
                });
            }
            // Temporary or not: CKR_GENERAL_ERROR, the file store's hiccup, is temporary.
            Err(e) if attempt < GENERATE_ATTEMPTS => {
                tracing::warn!(peer, error = %e, attempt, "making the listener key failed; trying again");
                std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)));
                attempt += 1;
                if let Some(key) = find(hsm, peer)? {
                    return Ok(key);
                }
            }
            Err(e) => return Err(hsm_error(&e)),
        }
    };
    signer
        .journal()
        .append_durable(
            signer.clock.now(),
            "listener-key",
            &json!({"peer": peer, "label": label, "key_uri": key.uri.to_string()}),
        )
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    tracing::info!(peer, key = %key.uri, "listener key made in the HSM");
    checked(hsm, key)
}

/// `peer`'s key on the token, checked, or `None` when there is none.
fn find(hsm: &Hsm, peer: &str) -> Result<Option<KeyRef>, SignerError> {
    let uri = Pkcs11Uri {
        token: None,
        object: Some(label(peer)),
        id: None,
    };
    match hsm.find_key(&uri) {
        Ok(key) => checked(hsm, key).map(Some),
        Err(HsmError::KeyNotFound { .. }) => Ok(None),
        Err(e @ HsmError::KeyAmbiguous { .. }) => Err(wire_error(
            ErrorKind::HsmFailed,
            format!(
                "{e} (two signers made {peer}'s listener key at the same moment?): delete all but one with pkcs11-tool --delete-object --id"
            ),
        )),
        Err(e) => Err(hsm_error(&e)),
    }
}

/// Security: a key under a listener label is used only if the token says it is a P-256
/// signing key that was never extractable and always sensitive — what this module makes.
fn checked(hsm: &Hsm, key: KeyRef) -> Result<KeyRef, SignerError> {
    let props = hsm.key_properties(&key).map_err(|e| hsm_error(&e))?;
    let ours = key.algorithm == KeyAlgorithm::EcdsaP256
        && props.sensitive
        && props.always_sensitive
        && !props.extractable
        && props.never_extractable
        && props.private
        && props.can_sign
        && !props.can_decrypt;
    if ours {
        Ok(key)
    } else {
        Err(wire_error(
            ErrorKind::HsmFailed,
            format!(
                "the key at {} is not a listener key this signer would make ({}, sensitive={}, extractable={}, never_extractable={}, decrypt={}): delete it and restart the daemon",
                key.uri, key.algorithm, props.sensitive, props.extractable, props.never_extractable, props.can_decrypt
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls13(hash_len: usize) -> Vec<u8> {
        [
            vec![0x20; 64],
            TLS13_SERVER_CONTEXT.to_vec(),
            vec![7; hash_len],
        ]
        .concat()
    }

    fn tls12(group: u16, point: &[u8]) -> Vec<u8> {
        let mut m = vec![9; 64];
        m.push(NAMED_CURVE);
        m.extend_from_slice(&group.to_be_bytes());
        m.push(point.len() as u8);
        m.extend_from_slice(point);
        m
    }

    fn p256_point() -> Vec<u8> {
        let mut p = vec![0x04];
        p.extend_from_slice(&[1; 64]);
        p
    }

    #[test]
    fn what_rustls_signs_is_accepted() {
        assert!(check_message(&tls13(32)).is_ok());
        assert!(check_message(&tls13(48)).is_ok());
        assert!(check_message(&tls12(0x001d, &[5; 32])).is_ok());
        assert!(check_message(&tls12(0x0017, &p256_point())).is_ok());
        let mut p384 = vec![0x04];
        p384.extend_from_slice(&[1; 96]);
        assert!(check_message(&tls12(0x0018, &p384)).is_ok());
    }

    #[test]
    fn anything_else_is_refused() {
        let refused = |m: &[u8]| {
            let e = check_message(m).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest, "{}", e.detail);
        };
        refused(b"");
        refused(&[0x30; 200]); // a TBSCertificate-looking blob
        refused(&tls13(31));
        refused(&tls13(64));
        let mut client = tls13(32);
        client[64..97].copy_from_slice(b"TLS 1.3, client CertificateVerify");
        refused(&client);
        let mut not_spaces = tls13(32);
        not_spaces[3] = b'x';
        refused(&not_spaces);
        refused(&tls12(0x001d, &[5; 31]));
        refused(&tls12(0x0017, &[5; 65])); // not an uncompressed point
        refused(&tls12(0x0100, &[5; 32])); // an FFDHE group
        let mut long = tls12(0x001d, &[5; 32]);
        long.push(0);
        refused(&long);
        let mut explicit = tls12(0x001d, &[5; 32]);
        explicit[64] = 1; // explicit_prime curve
        refused(&explicit);
        let oversize = vec![0x20; MAX_TLS_HANDSHAKE_MESSAGE + 1];
        assert!(check_message(&oversize)
            .unwrap_err()
            .detail
            .contains("at most 1024"));
    }

    #[test]
    fn labels_follow_the_peer() {
        assert_eq!(label("front"), "strongroom-listener-front");
        assert!(is_label_safe("control"));
        assert!(is_label_safe("dev"));
        assert!(!is_label_safe(""));
        assert!(!is_label_safe("front;object=x"));
        assert!(!is_label_safe("fr ont"));
        assert!(!is_label_safe(&"a".repeat(65)));
    }
}
