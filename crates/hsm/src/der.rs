//! The little DER this crate needs, written by hand to keep the dependency graph small.
//!
//! In: raw key material read from the token (EC points, RSA modulus and exponent), raw
//! signatures, digests. Out: DER SubjectPublicKeyInfo, ECDSA `Ecdsa-Sig-Value`, PKCS#1
//! `DigestInfo`, and the curve OIDs used as CKA_EC_PARAMS. Only encoding, plus unwrapping the
//! one OCTET STRING SoftHSM puts around CKA_EC_POINT; no general DER parser lives here.

use crate::error::HsmError;

/// CKA_EC_PARAMS / namedCurve for NIST P-256 (1.2.840.10045.3.1.7), DER with tag.
pub(crate) const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// CKA_EC_PARAMS / namedCurve for NIST P-384 (1.3.132.0.34), DER with tag.
pub(crate) const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// id-Ed25519 (1.3.101.112): CKA_EC_PARAMS for Edwards keys and the SPKI algorithm.
pub(crate) const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// PKCS#11 3.0 also allows CKA_EC_PARAMS = PrintableString "edwards25519"; some tokens use it.
pub(crate) const NAME_ED25519: &[u8] = b"\x13\x0cedwards25519";
/// id-ecPublicKey (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// rsaEncryption (1.2.840.113549.1.1.1).
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// DER NULL, the parameters of rsaEncryption and of the DigestInfo hash algorithms.
const NULL: &[u8] = &[0x05, 0x00];

/// DigestInfo prefix for SHA-256 (RFC 8017 section 9.2 note 1).
const DIGEST_INFO_SHA256: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// DigestInfo prefix for SHA-384 (RFC 8017 section 9.2 note 1).
const DIGEST_INFO_SHA384: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_SEQUENCE: u8 = 0x30;

/// One TLV with a definite, minimal length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A non-negative INTEGER from big-endian magnitude bytes: leading zeros dropped, one 0x00
/// added back when the high bit is set so the value is not read as negative.
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let trimmed = &magnitude[skip..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

fn spki(algorithm: &[u8], key_bits: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(key_bits.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(key_bits);
    let mut body = tlv(TAG_SEQUENCE, algorithm);
    body.extend(tlv(TAG_BIT_STRING, &bits));
    tlv(TAG_SEQUENCE, &body)
}

/// SubjectPublicKeyInfo of an ECDSA key: id-ecPublicKey, namedCurve, uncompressed point.
pub(crate) fn spki_ec(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    spki(&[OID_EC_PUBLIC_KEY, curve_oid].concat(), point)
}

/// SubjectPublicKeyInfo of an Ed25519 key (RFC 8410: no parameters).
pub(crate) fn spki_ed25519(public: &[u8]) -> Vec<u8> {
    spki(OID_ED25519, public)
}

/// SubjectPublicKeyInfo of an RSA key: rsaEncryption, NULL, PKCS#1 RSAPublicKey.
pub(crate) fn spki_rsa(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut key = unsigned_integer(modulus);
    key.extend(unsigned_integer(exponent));
    spki(
        &[OID_RSA_ENCRYPTION, NULL].concat(),
        &tlv(TAG_SEQUENCE, &key),
    )
}

/// Turn the PKCS#11 ECDSA output r||s (two equal halves) into X.509's `Ecdsa-Sig-Value`.
pub(crate) fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, HsmError> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return Err(HsmError::Malformed {
            detail: format!(
                "ECDSA signature of odd length {} (expected r||s)",
                raw.len()
            ),
        });
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = unsigned_integer(r);
    body.extend(unsigned_integer(s));
    Ok(tlv(TAG_SEQUENCE, &body))
}

/// The hash functions we build DigestInfo for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DigestKind {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

/// PKCS#1 v1.5 `DigestInfo` for a digest, the input of raw `CKM_RSA_PKCS` signing.
pub(crate) fn digest_info(kind: DigestKind, digest: &[u8]) -> Vec<u8> {
    let prefix = match kind {
        DigestKind::Sha256 => DIGEST_INFO_SHA256,
        DigestKind::Sha384 => DIGEST_INFO_SHA384,
    };
    [prefix, digest].concat()
}

/// The public key bytes inside CKA_EC_POINT. PKCS#11 says the attribute is a DER OCTET
/// STRING (SoftHSM follows that, also for Ed25519); some tokens return the bare point. We
/// accept exactly these two shapes and insist on the length the curve dictates, which also
/// settles the ambiguity of a bare uncompressed point that starts with 0x04.
pub(crate) fn ec_point_contents(attr: &[u8], expected_len: usize) -> Option<&[u8]> {
    if let Some(content) = octet_string_contents(attr) {
        if content.len() == expected_len {
            return Some(content);
        }
    }
    (attr.len() == expected_len).then_some(attr)
}

/// Contents of a single DER OCTET STRING spanning all of `data`, if that is what it is.
fn octet_string_contents(data: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = data.split_first()?;
    if tag != TAG_OCTET_STRING {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    (rest.len() == len).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_spki_matches_rfc8410_example() {
        let public =
            hex::decode("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
                .unwrap();
        // RFC 8410 section 10.1: MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
        let expected = hex::decode(
            "302a300506032b657003210019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
        )
        .unwrap();
        assert_eq!(spki_ed25519(&public), expected);
    }

    #[test]
    fn integers_are_minimal_and_non_negative() {
        assert_eq!(unsigned_integer(&[0, 0, 0x7f]), vec![2, 1, 0x7f]);
        assert_eq!(unsigned_integer(&[0, 0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), vec![2, 1, 0]);
        assert_eq!(unsigned_integer(&[1, 0, 1]), vec![2, 3, 1, 0, 1]);
    }

    #[test]
    fn ecdsa_conversion_handles_high_bits_and_leading_zeros() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r has its high bit set: needs a 0x00 pad
        raw[31] = 1;
        raw[63] = 5; // s = 5: 31 leading zero bytes dropped
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 35 + 3, 0x02, 33, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn long_lengths_use_long_form() {
        let t = tlv(TAG_OCTET_STRING, &[0u8; 300]);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(octet_string_contents(&t).map(<[u8]>::len), Some(300));
    }

    #[test]
    fn ec_point_unwrapping() {
        let mut point = vec![0x04u8; 65];
        point[1] = 0x3f; // a bare point that also looks like an OCTET STRING header
        assert_eq!(ec_point_contents(&point, 65), Some(&point[..]));
        let wrapped = tlv(TAG_OCTET_STRING, &point);
        assert_eq!(ec_point_contents(&wrapped, 65), Some(&point[..]));
        let ed = tlv(TAG_OCTET_STRING, &[7u8; 32]);
        assert_eq!(ec_point_contents(&ed, 32), Some(&[7u8; 32][..]));
        assert_eq!(ec_point_contents(&ed, 65), None);
    }

    #[test]
    fn digest_info_prefix_lengths_are_consistent() {
        assert_eq!(digest_info(DigestKind::Sha256, &[0; 32]).len(), 51);
        assert_eq!(digest_info(DigestKind::Sha384, &[0; 48]).len(), 67);
    }
}
