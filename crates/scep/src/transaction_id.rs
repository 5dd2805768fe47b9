//! Whether a transactionID is derived from the request's public key (RFC 8894 §3.2.1.1:
//! "a hash of the public key"). In: the transactionID and the CSR's SubjectPublicKeyInfo
//! DER. Out: yes or no.
//!
//! Forms accepted, all seen in real clients or named by the RFC: SHA-1, SHA-256, SHA-512,
//! and SHA-256 cut to 160 bits (RFC 7093 method 1; Debian's micromdm `scepclient` 2.1),
//! computed over the subjectPublicKey BIT STRING's bits (PKCS#1 RSAPublicKey for RSA) or
//! over the whole SubjectPublicKeyInfo; written as base64 (padded or not) or hex (either
//! case). MD5 forms (old sscep) are not recognised. Many clients (Windows, Intune, network
//! gear) send random identifiers: whether "no" is a refusal is the profile's policy.

use base64::Engine;

use crate::der_reader::{self, SEQUENCE};

/// Whether `transaction_id` is one of the key-hash forms of this public key.
pub fn transaction_id_binds(transaction_id: &str, csr_subject_public_key_info_der: &[u8]) -> bool {
    let Ok(spki) = der_reader::single(
        csr_subject_public_key_info_der,
        SEQUENCE,
        "SubjectPublicKeyInfo",
    ) else {
        return false;
    };
    let Ok(info) = crate::certificate::public_key_info(spki.value) else {
        return false;
    };
    for input in [info.key, spki.raw] {
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, input);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, input);
        let sha512 = ring::digest::digest(&ring::digest::SHA512, input);
        let hashes: [&[u8]; 4] = [
            sha1.as_ref(),
            sha256.as_ref(),
            &sha256.as_ref()[..20],
            sha512.as_ref(),
        ];
        for hash in hashes {
            if renderings(hash).iter().any(|r| r == transaction_id) {
                return true;
            }
        }
    }
    false
}

fn renderings(hash: &[u8]) -> [String; 4] {
    let hex_lower: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    [
        base64::engine::general_purpose::STANDARD.encode(hash),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash),
        hex_lower.to_ascii_uppercase(),
        hex_lower,
    ]
}
