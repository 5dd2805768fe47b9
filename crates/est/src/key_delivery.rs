//! A server-generated key delivered encrypted (RFC 7030 §4.4.1.2, §4.4.2): the key in an
//! AsymmetricKeyPackage (RFC 5958), signed by the CA's key generator (CMS SignedData),
//! encrypted to the key the client named (CMS EnvelopedData).
//!
//! In: the PKCS#8 DER of the key the front made; the value of the CSR's
//! AsymmetricDecryptKeyIdentifier and the client's TLS certificate, which must be what it
//! names; the key generator's signature over the package's digest, which the signer made
//! ([`KeyGenerator`]). Out: the DER of the `application/pkcs7-mime;
//! smime-type=server-generated-key` part, and the package's digest for the signer.
//!
//! Choices: the recipient is the client's TLS certificate, named by its subjectKeyIdentifier
//! (or, without the extension, the SHA-1 identifier RFC 5280 §4.2.1.2 derives) — the one
//! key the server knows the client holds, proven by the handshake. RSA keys get
//! the content key by RSAES-OAEP with SHA-256 (KeyTransRecipientInfo), P-256 and P-384 keys
//! by ephemeral-static ECDH with the X9.63 SHA-256 KDF and AES-256 key wrap
//! (KeyAgreeRecipientInfo, RFC 5753); the content is AES-256-CBC. Other keys (Ed25519)
//! cannot be encrypted to: refused, saying so. Buffers holding the key or the content key
//! are wiped when dropped.

use crate::EstError;
use aes::cipher::{block_padding::Pkcs7, BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPublicKey;
use sha2::{Digest, Sha256};
use strongroom_x509::key_package::{subject_key_identifier, ID_CT_KP_AKEY_PACKAGE};
use strongroom_x509::pkcs7::tlv;
use zeroize::Zeroizing;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;

/// The OIDs written here, dotted.
mod oid {
    pub const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
    pub const ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
    pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    pub const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
    pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
    pub const RSAES_OAEP: &str = "1.2.840.113549.1.1.7";
    pub const MGF1: &str = "1.2.840.113549.1.1.8";
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub const P256: &str = "1.2.840.10045.3.1.7";
    pub const P384: &str = "1.3.132.0.34";
    /// dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753 §7.1.4).
    pub const ECDH_SHA256_KDF: &str = "1.3.132.1.11.1";
    pub const AES256_WRAP: &str = "2.16.840.1.101.3.4.1.45";
    pub const AES256_CBC: &str = "2.16.840.1.101.3.4.1.42";
}

/// What the signer returned for a package: its signed attributes (a DER SET), the key
/// generator's ECDSA P-256 SHA-256 signature over them, and its certificate.
#[derive(Debug, Clone, Copy)]
pub struct KeyGenerator<'a> {
    /// The DER `SET OF Attribute` that was signed.
    pub signed_attributes: &'a [u8],
    /// The signature (DER ECDSA).
    pub signature: &'a [u8],
    /// The key generator's certificate, DER.
    pub certificate: &'a [u8],
}

/// The client key a server-generated key is encrypted to.
pub struct Recipient {
    key_identifier: Vec<u8>,
    key: RecipientKey,
}

enum RecipientKey {
    Rsa(Box<rsa::PublicKey>),
    Ec {
        curve: &'static ring::agreement::Algorithm,
        curve_oid: &'static str,
        point: Vec<u8>,
    },
}

// By hand: a public key is long and says nothing useful in a log.
impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.key {
            RecipientKey::Rsa(_) => "RSA",
            RecipientKey::Ec { curve_oid, .. } if *curve_oid == oid::P256 => "P-256",
            RecipientKey::Ec { .. } => "P-384",
        };
        write!(f, "Recipient({kind}, {})", hex_id(&self.key_identifier))
    }
}

fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl Recipient {
    /// The key of `certificate` (the client's TLS certificate), if `named` (the
    /// AsymmetricDecryptKeyIdentifier) is its subjectKeyIdentifier and it can be encrypted to.
    pub fn named_by(certificate: &[u8], named: &[u8]) -> Result<Recipient, EstError> {
        let refuse = |why: String| EstError::KeyDelivery(why);
        let cert = x509_cert::Certificate::from_der(certificate)
            .map_err(|e| refuse(format!("the TLS client certificate does not parse: {e}")))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        // Its subjectKeyIdentifier, or, for a certificate without one (many IDevIDs), the
        // identifier RFC 5280 §4.2.1.2 (1) derives: SHA-1 of the subjectPublicKey bits.
        let ski = match subject_key_identifier(certificate)
            .map_err(|e| refuse(format!("the TLS client certificate does not parse: {e}")))?
        {
            Some(ski) => ski,
            None => ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                spki.subject_public_key.raw_bytes(),
            )
            .as_ref()
            .to_vec(),
        };
        if ski != named {
            return Err(refuse(format!(
                "the AsymmetricDecryptKeyIdentifier ({}) is not the subjectKeyIdentifier of the TLS client certificate ({}): the key can only be encrypted to the certificate the client authenticated with",
                hex_id(named),
                hex_id(&ski)
            )));
        }
        let bits = spki.subject_public_key.as_bytes().unwrap_or_default();
        let algorithm = spki.algorithm.oid.to_string();
        let key = if algorithm == oid::RSA_ENCRYPTION {
            let key = rsa::PublicKey::from_pkcs1_der(bits)
                .map_err(|e| refuse(format!("the TLS client certificate's RSA key: {e}")))?;
            RecipientKey::Rsa(Box::new(key))
        } else if algorithm == oid::EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            let (curve, curve_oid) =
                match curve.as_deref() {
                    Some(oid::P256) => (&ring::agreement::ECDH_P256, oid::P256),
                    Some(oid::P384) => (&ring::agreement::ECDH_P384, oid::P384),
                    _ => return Err(refuse(
                        "the TLS client certificate's elliptic curve is neither P-256 nor P-384"
                            .into(),
                    )),
                };
            RecipientKey::Ec {
                curve,
                curve_oid,
                point: bits.to_vec(),
            }
        } else {
            return Err(refuse(format!(
                "a key can be encrypted to an RSA, P-256 or P-384 key; the TLS client certificate's key is {algorithm} (request the key unencrypted: leave out AsymmetricDecryptKeyIdentifier)"
            )));
        };
        Ok(Recipient {
            key_identifier: ski,
            key,
        })
    }
}

/// The AsymmetricKeyPackage (a SEQUENCE OF OneAsymmetricKey) holding the one key.
pub fn key_package(pkcs8: &[u8]) -> Result<Zeroizing<Vec<u8>>, EstError> {
    Ok(Zeroizing::new(tlv(SEQUENCE, &[pkcs8]).map_err(internal)?))
}

/// The package's SHA-256: what the signer's key generator signs.
pub fn package_digest(package: &[u8]) -> Vec<u8> {
    Sha256::digest(package).to_vec()
}

/// The `server-generated-key` part's DER: EnvelopedData(SignedData(package)) to `recipient`.
pub fn encrypted_key_part(
    package: &[u8],
    generator: KeyGenerator<'_>,
    recipient: &Recipient,
) -> Result<Vec<u8>, EstError> {
    let signed = Zeroizing::new(signed_package(package, generator)?);
    enveloped(&signed, recipient)
}

/// ContentInfo(SignedData v3) around the package, with the key generator's certificate and
/// one SignerInfo carrying the signer's attributes and signature.
fn signed_package(package: &[u8], generator: KeyGenerator<'_>) -> Result<Vec<u8>, EstError> {
    let cert = x509_cert::Certificate::from_der(generator.certificate)
        .map_err(|e| internal(format!("the key generator certificate: {e}")))?;
    let issuer = cert.tbs_certificate().issuer().to_der().map_err(internal)?;
    let serial = cert
        .tbs_certificate()
        .serial_number()
        .to_der()
        .map_err(internal)?;
    let attrs = der::asn1::SetOfVec::<der::Any>::from_der(generator.signed_attributes)
        .map_err(|e| internal(format!("the signed attributes: {e}")))?;
    // The SET's contents, re-tagged [0] IMPLICIT as a SignerInfo carries them.
    let attr_bytes: Vec<Vec<u8>> = attrs
        .iter()
        .map(|a| a.to_der())
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let attr_refs: Vec<&[u8]> = attr_bytes.iter().map(Vec::as_slice).collect();
    let sha256 = algorithm(oid::SHA256, None)?;
    let t = |tag: u8, parts: &[&[u8]]| tlv(tag, parts).map_err(internal);
    let signer_info = t(
        SEQUENCE,
        &[
            &[INTEGER, 1, 1],
            &t(SEQUENCE, &[&issuer, &serial])?,
            &sha256,
            &t(0xa0, &attr_refs)?,
            &algorithm(oid::ECDSA_SHA256, None)?,
            &t(OCTET_STRING, &[generator.signature])?,
        ],
    )?;
    let content = Zeroizing::new(t(OCTET_STRING, &[package])?);
    let encap = Zeroizing::new(t(
        SEQUENCE,
        &[
            &object_id(&ID_CT_KP_AKEY_PACKAGE.to_string())?,
            &t(0xa0, &[&content])?,
        ],
    )?);
    let signed_data = Zeroizing::new(t(
        SEQUENCE,
        &[
            &[INTEGER, 1, 3],
            &t(SET, &[&sha256])?,
            &encap,
            &t(0xa0, &[generator.certificate])?,
            &t(SET, &[&signer_info])?,
        ],
    )?);
    let wrapped = Zeroizing::new(t(0xa0, &[&signed_data])?);
    t(SEQUENCE, &[&object_id(oid::SIGNED_DATA)?, &wrapped])
}

/// ContentInfo(EnvelopedData v2) of `content` (a SignedData) for `recipient`.
fn enveloped(content: &[u8], recipient: &Recipient) -> Result<Vec<u8>, EstError> {
    let rng = ring::rand::SystemRandom::new();
    let mut cek = Zeroizing::new([0u8; 32]);
    let mut iv = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, cek.as_mut()).map_err(|_| internal("randomness"))?;
    ring::rand::SecureRandom::fill(&rng, &mut iv).map_err(|_| internal("randomness"))?;
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(cek.as_ref(), &iv)
        .map_err(|_| internal("AES-256 key or IV length"))?
        .encrypt_padded_vec::<Pkcs7>(content);
    let recipient_info = match &recipient.key {
        RecipientKey::Rsa(key) => key_transport(key, &recipient.key_identifier, cek.as_ref())?,
        RecipientKey::Ec {
            curve,
            curve_oid,
            point,
        } => key_agreement(
            curve,
            curve_oid,
            point,
            &recipient.key_identifier,
            cek.as_ref(),
            &rng,
        )?,
    };
    let t = |tag: u8, parts: &[&[u8]]| tlv(tag, parts).map_err(internal);
    let encrypted_content_info = t(
        SEQUENCE,
        &[
            &object_id(oid::SIGNED_DATA)?,
            &t(
                SEQUENCE,
                &[&object_id(oid::AES256_CBC)?, &t(OCTET_STRING, &[&iv])?],
            )?,
            // [0] IMPLICIT OCTET STRING, primitive.
            &t(0x80, &[&ciphertext])?,
        ],
    )?;
    let enveloped_data = t(
        SEQUENCE,
        &[
            &[INTEGER, 1, 2],
            &t(SET, &[&recipient_info])?,
            &encrypted_content_info,
        ],
    )?;
    t(
        SEQUENCE,
        &[
            &object_id(oid::ENVELOPED_DATA)?,
            &t(0xa0, &[&enveloped_data])?,
        ],
    )
}

/// KeyTransRecipientInfo v2: the content key under RSAES-OAEP (SHA-256, MGF1 SHA-256), the
/// recipient named by its subjectKeyIdentifier.
fn key_transport(key: &rsa::PublicKey, ski: &[u8], cek: &[u8]) -> Result<Vec<u8>, EstError> {
    let mut rng = getrandom::SysRng;
    let encrypted = key
        .encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), cek)
        .map_err(|e| internal(format!("RSA-OAEP to the client's key: {e}")))?;
    let t = |tag: u8, parts: &[&[u8]]| tlv(tag, parts).map_err(internal);
    let sha256 = algorithm(oid::SHA256, None)?;
    let params = t(
        SEQUENCE,
        &[
            &t(0xa0, &[&sha256])?,
            &t(0xa1, &[&algorithm(oid::MGF1, Some(&sha256))?])?,
        ],
    )?;
    t(
        SEQUENCE,
        &[
            &[INTEGER, 1, 2],
            &t(0x80, &[ski])?,
            &algorithm(oid::RSAES_OAEP, Some(&params))?,
            &t(OCTET_STRING, &[&encrypted])?,
        ],
    )
}

/// KeyAgreeRecipientInfo v3 (RFC 5753): an ephemeral key on the client's curve, ECDH with
/// the client's key, the X9.63 SHA-256 KDF to an AES-256 key-encryption key that wraps the
/// content key (RFC 3394).
fn key_agreement(
    curve: &'static ring::agreement::Algorithm,
    curve_oid: &str,
    point: &[u8],
    ski: &[u8],
    cek: &[u8],
    rng: &ring::rand::SystemRandom,
) -> Result<Vec<u8>, EstError> {
    let t = |tag: u8, parts: &[&[u8]]| tlv(tag, parts).map_err(internal);
    let ephemeral = ring::agreement::EphemeralPrivateKey::generate(curve, rng)
        .map_err(|_| internal("an ephemeral ECDH key"))?;
    let ephemeral_public = ephemeral
        .compute_public_key()
        .map_err(|_| internal("the ephemeral ECDH public key"))?;
    let wrap_algorithm = algorithm(oid::AES256_WRAP, None)?;
    // ECC-CMS-SharedInfo: the wrap algorithm and the KEK's length in bits (256).
    let shared_info = t(
        SEQUENCE,
        &[
            &wrap_algorithm,
            &t(0xa2, &[&t(OCTET_STRING, &[&[0, 0, 1, 0]])?])?,
        ],
    )?;
    let kek = ring::agreement::agree_ephemeral(
        ephemeral,
        &ring::agreement::UnparsedPublicKey::new(curve, point),
        |z| {
            let mut h = Sha256::new();
            h.update(z);
            h.update([0, 0, 0, 1]);
            h.update(&shared_info);
            Zeroizing::new(<[u8; 32]>::from(h.finalize()))
        },
    )
    .map_err(|_| {
        EstError::KeyDelivery(
            "the TLS client certificate's public key is not a valid point on its curve".into(),
        )
    })?;
    let wrapped = aes_key_wrap(kek.as_ref(), cek)?;
    let originator_key = t(
        0xa1,
        &[
            &algorithm(oid::EC_PUBLIC_KEY, Some(&object_id(curve_oid)?))?,
            &t(BIT_STRING, &[&[0], ephemeral_public.as_ref()])?,
        ],
    )?;
    let recipient_encrypted_key = t(
        SEQUENCE,
        &[
            &t(0xa0, &[&t(OCTET_STRING, &[ski])?])?,
            &t(OCTET_STRING, &[&wrapped])?,
        ],
    )?;
    t(
        0xa1,
        &[
            &[INTEGER, 1, 3],
            &t(0xa0, &[&originator_key])?,
            &algorithm(oid::ECDH_SHA256_KDF, Some(&wrap_algorithm))?,
            &t(SEQUENCE, &[&recipient_encrypted_key])?,
        ],
    )
}

/// RFC 3394 AES key wrap of `key` (whole 8-byte blocks) under a 256-bit `kek`.
fn aes_key_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, EstError> {
    if key.len() % 8 != 0 || key.len() < 16 {
        return Err(internal(
            "AES key wrap takes whole 64-bit blocks, at least two",
        ));
    }
    let cipher = aes::Aes256::new_from_slice(kek).map_err(|_| internal("KEK length"))?;
    let n = key.len() / 8;
    let mut a = [0xa6u8; 8];
    let mut r = Zeroizing::new(key.to_vec());
    for j in 0..6 {
        for i in 0..n {
            let mut block = Zeroizing::new([0u8; 16]);
            block[..8].copy_from_slice(&a);
            block[8..].copy_from_slice(&r[i * 8..i * 8 + 8]);
            let mut b: aes::Block = (*block).into();
            cipher.encrypt_block(&mut b);
            let t = (n * j + i + 1) as u64;
            a.copy_from_slice(&b[..8]);
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            r[i * 8..i * 8 + 8].copy_from_slice(&b[8..]);
        }
    }
    let mut out = a.to_vec();
    out.extend_from_slice(&r);
    Ok(out)
}

/// An AlgorithmIdentifier with the given DER parameters, or none.
fn algorithm(dotted: &str, parameters: Option<&[u8]>) -> Result<Vec<u8>, EstError> {
    let id = object_id(dotted)?;
    tlv(SEQUENCE, &[&id, parameters.unwrap_or_default()]).map_err(internal)
}

fn object_id(dotted: &str) -> Result<Vec<u8>, EstError> {
    const_oid::ObjectIdentifier::new(dotted)
        .map_err(|_| internal(format!("OID {dotted}")))?
        .to_der()
        .map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> EstError {
    EstError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn key_wrap_matches_rfc_3394_section_4_6() {
        // 256 bits of key data under a 256-bit KEK.
        let kek: Vec<u8> = (0u8..32).collect();
        let key = hex_bytes("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let wrapped = aes_key_wrap(&kek, &key).unwrap();
        assert_eq!(
            wrapped,
            hex_bytes(
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
            )
        );
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
