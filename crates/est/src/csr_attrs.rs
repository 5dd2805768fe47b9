//! `/csrattrs` (RFC 7030 §4.5.2): what a CSR under a label should carry, from its profile.
//!
//! In: the profile's key algorithms, whether it takes subject alternative names, whether
//! the label requires channel binding. Out: the DER `CsrAttrs` (a SEQUENCE of `AttrOrOID`):
//! per key algorithm the RFC 9908 form (an attribute `id-ecPublicKey` with the curve, the
//! bare `rsaEncryption` or `id-Ed25519`), `subjectAltName` when names are taken, and
//! `challengePassword` when the binding goes there. A client that ignores it is checked
//! the same way at enrolment: this is advice, the profile is the rule.

use strongroom_types::KeyAlgorithm;

const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;

/// OID contents (the bytes after tag and length).
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const ID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const CHALLENGE_PASSWORD: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07];

/// A DER TLV (contents here are far below 64 KiB).
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

fn oid(contents: &[u8]) -> Vec<u8> {
    tlv(TAG_OID, contents)
}

/// The DER `CsrAttrs` for a profile accepting `key_algorithms` (in the profile's order,
/// each key type once), with `names` when it takes subject alternative names and
/// `challenge_password` when the label requires channel binding.
pub fn csr_attributes(
    key_algorithms: &[KeyAlgorithm],
    names: bool,
    challenge_password: bool,
) -> Vec<u8> {
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut push = |item: Vec<u8>| {
        if !items.contains(&item) {
            items.push(item);
        }
    };
    for algorithm in key_algorithms {
        match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                let curve = if *algorithm == KeyAlgorithm::EcdsaP256 {
                    PRIME256V1
                } else {
                    SECP384R1
                };
                let attribute = [oid(ID_EC_PUBLIC_KEY), tlv(TAG_SET, &oid(curve))].concat();
                push(tlv(TAG_SEQUENCE, &attribute));
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                push(oid(RSA_ENCRYPTION))
            }
            KeyAlgorithm::Ed25519 => push(oid(ID_ED25519)),
        }
    }
    if names {
        push(oid(SUBJECT_ALT_NAME));
    }
    if challenge_password {
        push(oid(CHALLENGE_PASSWORD));
    }
    tlv(TAG_SEQUENCE, &items.concat())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn a_p256_profile_with_names_and_binding() {
        let der = csr_attributes(&[KeyAlgorithm::EcdsaP256], true, true);
        assert_eq!(
            hex(&der),
            "3027\
             3015 0607 2a8648ce3d0201 310a 0608 2a8648ce3d030107\
             0603 551d11\
             0609 2a864886f70d010907"
                .replace(' ', "")
        );
    }

    #[test]
    fn each_key_type_is_listed_once_and_an_empty_profile_gives_an_empty_sequence() {
        let der = csr_attributes(
            &[
                KeyAlgorithm::Rsa2048,
                KeyAlgorithm::Rsa3072,
                KeyAlgorithm::EcdsaP384,
                KeyAlgorithm::Ed25519,
            ],
            false,
            false,
        );
        assert_eq!(
            hex(&der),
            "3024 06092a864886f70d010101 3012 06072a8648ce3d0201 3107 06052b81040022 06032b6570"
                .replace(' ', "")
        );
        assert_eq!(csr_attributes(&[], false, false), vec![0x30, 0x00]);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
