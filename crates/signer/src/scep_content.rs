//! The symmetric half of opening a device's SCEP envelope. In: the content cipher the
//! device chose, the content-encryption key the HSM unwrapped with the RA key, the IV and
//! the ciphertext. Out: the plaintext (a CSR, or an IssuerAndSerialNumber /
//! IssuerAndSubject), in a zeroizing buffer — or `None`.
//!
//! SECURITY: every failure (a key or IV of the wrong length, a ciphertext that is not whole
//! blocks, bad PKCS#7 padding) is the same `None`, so a caller cannot tell a padding error
//! from any other and the answer is no padding oracle. With implicit rejection in the RSA
//! unwrap ([`RejectionKey`]), a wrong key decrypts to garbage whose padding almost always
//! fails here, and looks exactly like every other failure. DES and 3DES are accepted because
//! legacy clients send them (Debian's `scepclient`: single DES); replies are never DES.

use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
use strongroom_types::scep::ContentCipher;
use zeroize::Zeroizing;

/// The secret behind implicit rejection: an RSA block the RA key cannot unwrap (or that
/// unwraps to a key of the wrong length) stands for a substitute key derived from the block
/// itself, HMAC-SHA256(secret, CA ‖ block), cut to the cipher's length.
///
/// SECURITY: the substitute must be a function of the ciphertext, not fresh randomness.
/// A good RSA block always unwraps to the same key, so the same envelope always gets the
/// same answer; were a bad block's key drawn anew per request, about one answer in 256
/// would pad correctly, and sending one envelope a few thousand times would tell a good
/// block from a bad one — the Bleichenbacher oracle by statistics. With a derived key a
/// bad block behaves exactly like a good one whose key the caller does not know. The
/// secret lives in memory only, drawn at start; after a restart (or on another node) a bad
/// block maps to another key, which tells the caller nothing about the block.
pub(crate) struct RejectionKey(ring::hmac::Key);

impl std::fmt::Debug for RejectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RejectionKey(<secret>)")
    }
}

impl RejectionKey {
    /// A fresh secret from the signer's entropy.
    pub(crate) fn draw(entropy: &dyn crate::entropy::Entropy) -> Result<Self, crate::Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        entropy.fill(secret.as_mut())?;
        Ok(RejectionKey(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            secret.as_ref(),
        )))
    }

    /// The substitute content-encryption key, `len` bytes (at most 32), for `block` sent to
    /// `ca`'s RA.
    pub(crate) fn substitute(&self, ca: &str, block: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        // The CA's id is length-prefixed so that no (CA, block) pair reads as another.
        ctx.update(&(ca.len() as u32).to_be_bytes());
        ctx.update(ca.as_bytes());
        ctx.update(block);
        let tag = ctx.sign();
        Zeroizing::new(tag.as_ref()[..len.min(tag.as_ref().len())].to_vec())
    }
}

/// Decrypt CBC content and check its PKCS#7 padding.
pub(crate) fn decrypt_content(
    cipher: ContentCipher,
    key: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if key.len() != cipher.key_len()
        || iv.len() != cipher.block_len()
        || ciphertext.is_empty()
        || ciphertext.len() % cipher.block_len() != 0
    {
        return None;
    }
    // Decrypt in place in a buffer that is wiped when dropped, whatever happens.
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = match cipher {
        ContentCipher::Aes128Cbc => in_place::<cbc::Decryptor<aes::Aes128>>(key, iv, &mut buf)?,
        ContentCipher::Aes192Cbc => in_place::<cbc::Decryptor<aes::Aes192>>(key, iv, &mut buf)?,
        ContentCipher::Aes256Cbc => in_place::<cbc::Decryptor<aes::Aes256>>(key, iv, &mut buf)?,
        ContentCipher::DesEde3Cbc => in_place::<cbc::Decryptor<des::TdesEde3>>(key, iv, &mut buf)?,
        ContentCipher::DesCbc => in_place::<cbc::Decryptor<des::Des>>(key, iv, &mut buf)?,
    };
    buf.truncate(len);
    Some(buf)
}

/// The plaintext length after decrypting `buf` in place and removing the padding.
fn in_place<D: KeyIvInit + BlockModeDecrypt>(
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Option<usize> {
    let decryptor = D::new_from_slices(key, iv).ok()?;
    decryptor.decrypt_padded::<Pkcs7>(buf).ok().map(<[u8]>::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    fn encrypt(cipher: ContentCipher, key: &[u8], iv: &[u8], msg: &[u8]) -> Vec<u8> {
        fn with<E: KeyIvInit + BlockModeEncrypt>(key: &[u8], iv: &[u8], msg: &[u8]) -> Vec<u8> {
            E::new_from_slices(key, iv)
                .expect("sizes")
                .encrypt_padded_vec::<Pkcs7>(msg)
        }
        match cipher {
            ContentCipher::Aes128Cbc => with::<cbc::Encryptor<aes::Aes128>>(key, iv, msg),
            ContentCipher::Aes192Cbc => with::<cbc::Encryptor<aes::Aes192>>(key, iv, msg),
            ContentCipher::Aes256Cbc => with::<cbc::Encryptor<aes::Aes256>>(key, iv, msg),
            ContentCipher::DesEde3Cbc => with::<cbc::Encryptor<des::TdesEde3>>(key, iv, msg),
            ContentCipher::DesCbc => with::<cbc::Encryptor<des::Des>>(key, iv, msg),
        }
    }

    #[test]
    fn round_trips_every_cipher() {
        for cipher in ContentCipher::ALL {
            let key: Vec<u8> = (0..cipher.key_len() as u8)
                .map(|b| b.wrapping_mul(37) ^ 0x5a)
                .collect();
            let iv = vec![0x42; cipher.block_len()];
            for len in [0usize, 1, 15, 16, 17, 300] {
                let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let ct = encrypt(cipher, &key, &iv, &msg);
                let pt = decrypt_content(cipher, &key, &iv, &ct).expect("decrypts");
                assert_eq!(pt.as_slice(), msg.as_slice(), "{cipher:?} {len}");
            }
        }
    }

    #[test]
    fn openssl_known_answer_aes_256_cbc() {
        // printf 'strongroom scep' | openssl enc -aes-256-cbc -K 00..1f -iv 00..0f | xxd -p
        let key: Vec<u8> = (0u8..32).collect();
        let iv: Vec<u8> = (0u8..16).collect();
        let ct = hex::decode("e2f38aa0a01bae57022b4ba00dcde775").expect("hex");
        let pt = decrypt_content(ContentCipher::Aes256Cbc, &key, &iv, &ct).expect("decrypts");
        assert_eq!(pt.as_slice(), b"strongroom scep");
    }

    #[test]
    fn every_failure_is_the_same_none() {
        let c = ContentCipher::Aes128Cbc;
        let (key, iv) = ([7u8; 16], [9u8; 16]);
        let ct = encrypt(c, &key, &iv, b"a certification request");
        assert!(
            decrypt_content(c, &key[..15], &iv, &ct).is_none(),
            "short key"
        );
        assert!(
            decrypt_content(c, &key, &iv[..8], &ct).is_none(),
            "short IV"
        );
        assert!(
            decrypt_content(c, &key, &iv, &ct[..ct.len() - 1]).is_none(),
            "partial block"
        );
        assert!(decrypt_content(c, &key, &iv, &[]).is_none(), "empty");
        assert!(
            decrypt_content(ContentCipher::Aes256Cbc, &key, &iv, &ct).is_none(),
            "wrong cipher for the key"
        );
        // A wrong key: garbage whose padding fails (checked over many keys, none may pass as
        // the original plaintext).
        let mut padding_failures = 0;
        for k in (0u8..64).filter(|k| *k != 7) {
            match decrypt_content(c, &[k; 16], &iv, &ct) {
                None => padding_failures += 1,
                Some(pt) => assert_ne!(pt.as_slice(), b"a certification request"),
            }
        }
        assert!(
            padding_failures > 50,
            "most wrong keys fail the padding check"
        );
        // Tampered last block: bad padding.
        let mut bad = ct.clone();
        let n = bad.len();
        bad[n - 17] ^= 0x01;
        assert!(decrypt_content(c, &key, &iv, &bad).is_none());
    }

    #[test]
    fn a_bad_block_always_stands_for_the_same_substitute_key() {
        let rejection = RejectionKey::draw(&crate::entropy::SystemEntropy::default()).unwrap();
        let block = [0x5au8; 256];
        let first = rejection.substitute("issuing", &block, 16);
        assert_eq!(first.len(), 16);
        // The same envelope, the same answer: no statistics to gather by repeating it.
        assert_eq!(first, rejection.substitute("issuing", &block, 16));
        // Another block, another CA or another cipher length: another key.
        let mut other = block;
        other[255] ^= 1;
        assert_ne!(first, rejection.substitute("issuing", &other, 16));
        assert_ne!(first, rejection.substitute("issuing-2", &block, 16));
        assert_eq!(rejection.substitute("issuing", &block, 8).len(), 8);
        assert_eq!(rejection.substitute("issuing", &block, 24).len(), 24);
        // Another signer (a restart, another node): another secret, another key.
        let restarted = RejectionKey::draw(&crate::entropy::SystemEntropy::default()).unwrap();
        assert_ne!(first, restarted.substitute("issuing", &block, 16));
    }
}
