//! DER output for the structures this crate builds (certs-only PKCS#7, the reply's
//! EnvelopedData and SignedData). In: already-DER parts. Out: their concatenation under one
//! tag with a minimal length. Parts are never re-encoded, so certificates and the signed
//! attributes go out exactly as they were made.

use crate::ber::write_tlv;

/// `tag` around the concatenation of `parts`.
pub(crate) fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let content: Vec<u8> = parts.concat();
    let mut out = Vec::with_capacity(content.len() + 6);
    write_tlv(&mut out, tag, &content);
    out
}

/// A small non-negative INTEGER (a version number).
pub(crate) fn small_uint(v: u8) -> Vec<u8> {
    debug_assert!(v < 0x80);
    vec![crate::der_reader::INTEGER, 1, v]
}

/// AlgorithmIdentifier with NULL parameters (RSA, digests as CMS writes them).
pub(crate) fn algorithm_null(oid: &const_oid::ObjectIdentifier) -> Vec<u8> {
    tlv(
        crate::der_reader::SEQUENCE,
        &[&crate::oids::oid_der(oid), &[crate::der_reader::NULL, 0]],
    )
}
