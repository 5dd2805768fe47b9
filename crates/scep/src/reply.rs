//! The reply's envelope (RFC 8894 §3.3): ContentInfo(EnvelopedData) that only the device
//! can open. In: the device's certificate (the one that signed its request), the content (a
//! certs-only PKCS#7, or the CRL reply of GetCRL), the AES cipher, and a CSPRNG. Out: the
//! DER of the envelope.
//!
//! The content-encryption key and IV are fresh from the generator; the key is transported
//! with RSA PKCS#1 v1.5 to the device's key (the only transport SCEP clients implement),
//! the recipient named by issuerAndSerialNumber; encryptedContent is a primitive OCTET
//! STRING, because asn1crypto-based clients refuse the constructed form. Never DES: OpenSSL
//! 3 clients cannot read it, so a DES request still gets an AES answer.

use aes::cipher::{block_padding::Pkcs7, BlockModeEncrypt, KeyIvInit};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::rand_core::TryCryptoRng;
use rsa::{Pkcs1v15Encrypt, PublicKey};
use strongroom_types::scep::ContentCipher;
use zeroize::Zeroizing;

use crate::certificate::CertificateView;
use crate::der_reader::{
    context_constructed, context_primitive, INTEGER, OCTET_STRING, SEQUENCE, SET,
};
use crate::der_writer::{algorithm_null, small_uint, tlv};
use crate::error::ScepError;
use crate::oids::{self, oid_der};

/// The largest content accepted (a large CRL).
pub const MAX_REPLY_CONTENT: usize = 8 * 1024 * 1024;

/// Encrypt `content` to the device's certificate.
pub fn reply_envelope<R: TryCryptoRng + ?Sized>(
    recipient_certificate_der: &[u8],
    content: &[u8],
    cipher: ContentCipher,
    rng: &mut R,
) -> Result<Vec<u8>, ScepError> {
    if content.len() > MAX_REPLY_CONTENT {
        return Err(ScepError::TooLarge {
            what: "reply content",
            limit: MAX_REPLY_CONTENT,
        });
    }
    if cipher.is_legacy() {
        return Err(ScepError::UnsupportedAlgorithm(
            "reply cipher (replies are always AES)",
        ));
    }
    let recipient = CertificateView::parse(recipient_certificate_der)?;
    if recipient.key_algorithm != oids::RSA_ENCRYPTION {
        return Err(ScepError::UnsupportedAlgorithm(
            "recipient key (SCEP key transport needs RSA)",
        ));
    }
    let public_key = PublicKey::from_pkcs1_der(recipient.public_key)
        .map_err(|_| ScepError::Malformed("recipient RSA key"))?;

    let mut key = Zeroizing::new(vec![0u8; cipher.key_len()]);
    let mut iv = vec![0u8; cipher.block_len()];
    rng.try_fill_bytes(&mut key)
        .map_err(|_| ScepError::Random)?;
    rng.try_fill_bytes(&mut iv).map_err(|_| ScepError::Random)?;
    let ciphertext = aes_cbc_encrypt(cipher, &key, &iv, content)?;
    let encrypted_key = public_key
        .encrypt(rng, Pkcs1v15Encrypt, &key)
        .map_err(|_| ScepError::Encode("the content key for the recipient's RSA key"))?;

    let mut serial = Vec::new();
    crate::ber::write_tlv(&mut serial, INTEGER, recipient.serial);
    let recipient_info = tlv(
        SEQUENCE,
        &[
            &small_uint(0),
            &tlv(SEQUENCE, &[recipient.issuer, &serial]),
            &algorithm_null(&oids::RSA_ENCRYPTION),
            &tlv(OCTET_STRING, &[&encrypted_key]),
        ],
    );
    let cipher_oid = const_oid::ObjectIdentifier::new(cipher.oid())
        .map_err(|_| ScepError::Encode("content cipher identifier"))?;
    let encrypted_content_info = tlv(
        SEQUENCE,
        &[
            &oid_der(&oids::ID_DATA),
            &tlv(
                SEQUENCE,
                &[&oid_der(&cipher_oid), &tlv(OCTET_STRING, &[&iv])],
            ),
            &tlv(context_primitive(0), &[&ciphertext]),
        ],
    );
    let enveloped = tlv(
        SEQUENCE,
        &[
            &small_uint(0),
            &tlv(SET, &[&recipient_info]),
            &encrypted_content_info,
        ],
    );
    Ok(tlv(
        SEQUENCE,
        &[
            &oid_der(&oids::ID_ENVELOPED_DATA),
            &tlv(context_constructed(0), &[&enveloped]),
        ],
    ))
}

fn aes_cbc_encrypt(
    cipher: ContentCipher,
    key: &[u8],
    iv: &[u8],
    content: &[u8],
) -> Result<Vec<u8>, ScepError> {
    let bad = |_| ScepError::Encode("AES key or IV length");
    Ok(match cipher {
        ContentCipher::Aes128Cbc => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec::<Pkcs7>(content),
        ContentCipher::Aes192Cbc => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec::<Pkcs7>(content),
        ContentCipher::Aes256Cbc => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec::<Pkcs7>(content),
        ContentCipher::DesEde3Cbc | ContentCipher::DesCbc => {
            return Err(ScepError::UnsupportedAlgorithm(
                "reply cipher (replies are always AES)",
            ))
        }
    })
}
