//! The device's `pkcsPKIEnvelope`: a ContentInfo(EnvelopedData) for the RA. In: its BER
//! (the encapsulated content of the signed message). Out: an `Envelope` — who it is
//! encrypted to, the wrapped key, the cipher, IV and ciphertext — for the signer to open.
//! Nothing is decrypted here: the RA key is in the HSM.
//!
//! Accepted: exactly one KeyTransRecipientInfo (version 0, issuerAndSerialNumber,
//! rsaEncryption); content type id-data; AES-128/192/256-CBC, 3DES-CBC or DES-CBC with an IV
//! of the block size; encryptedContent as a primitive or a constructed OCTET STRING.

use strongroom_types::scep::ContentCipher;

use crate::der_reader::{
    self, context_constructed, context_primitive, DerReader, NULL, OCTET_STRING, SEQUENCE, SET,
};
use crate::error::ScepError;
use crate::oids::{self, read_oid};

/// Bounds: an encrypted CEK of RSA-8192 at most; a CSR well under 64 KiB.
const MAX_ENCRYPTED_KEY: usize = 1024;
const MAX_CIPHERTEXT: usize = 64 * 1024;

/// What the signer needs to open a device's envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The recipient's issuer Name (DER): names the RA certificate the device encrypted to.
    pub recipient_issuer: Vec<u8>,
    /// The recipient's serial number (the INTEGER's content octets, big-endian).
    pub recipient_serial: Vec<u8>,
    /// The content-encryption key, RSA PKCS#1 v1.5-encrypted to the recipient.
    pub encrypted_key: Vec<u8>,
    /// The content cipher.
    pub cipher: ContentCipher,
    /// Its IV (one block).
    pub iv: Vec<u8>,
    /// The encrypted content (whole blocks).
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Envelope {
    // Lengths only: the parts are opaque and the log has no use for them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("recipient_serial", &hex_short(&self.recipient_serial))
            .field("encrypted_key_len", &self.encrypted_key.len())
            .field("cipher", &self.cipher)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

fn hex_short(b: &[u8]) -> String {
    b.iter().take(20).map(|x| format!("{x:02x}")).collect()
}

/// Parse the envelope from its (possibly BER) bytes.
pub(crate) fn parse_envelope(ber: &[u8]) -> Result<Envelope, ScepError> {
    let der = crate::ber::to_der(ber, crate::pki_message::MAX_MESSAGE, "pkcsPKIEnvelope")?;
    let ci = der_reader::single(&der, SEQUENCE, "envelope ContentInfo")?;
    let mut r = DerReader::new(ci.value);
    if read_oid(&r.read()?, "envelope content type")? != oids::ID_ENVELOPED_DATA {
        return Err(ScepError::Invalid(
            "pkcsPKIEnvelope content type (must be envelopedData)",
        ));
    }
    let explicit = r.expect(context_constructed(0), "envelope content")?;
    r.finish("envelope ContentInfo")?;
    let ed = der_reader::single(explicit.value, SEQUENCE, "EnvelopedData")?;
    let mut e = DerReader::new(ed.value);
    let version = der_reader::small_uint(&e.read()?, "EnvelopedData version")?;
    // RFC 5652 §6.1 says 0 (or 2, 3, 4 with structures we refuse below); PyScep and the
    // SCEPy code it grew from write 1. The number changes nothing we read — the recipient
    // and the content are checked field by field — so 0 to 2 pass.
    if version > 2 {
        return Err(ScepError::Invalid("EnvelopedData version"));
    }
    if e.optional(context_constructed(0))?.is_some() {
        return Err(ScepError::Invalid(
            "EnvelopedData originatorInfo (not used by SCEP)",
        ));
    }
    let recipients = e.expect(SET, "recipientInfos")?;
    let KeyTransRecipient {
        issuer: recipient_issuer,
        serial: recipient_serial,
        encrypted_key,
    } = key_trans_recipient(recipients.value)?;
    let eci = e.expect(SEQUENCE, "encryptedContentInfo")?;
    let _unprotected = e.optional(context_constructed(1))?;
    e.finish("EnvelopedData")?;

    let mut c = DerReader::new(eci.value);
    if read_oid(&c.read()?, "encrypted content type")? != oids::ID_DATA {
        return Err(ScepError::Invalid(
            "encrypted content type (must be id-data)",
        ));
    }
    let alg = c.expect(SEQUENCE, "content encryption algorithm")?;
    let ciphertext = match c.peek_tag() {
        Some(t) if t == context_primitive(0) => c.read()?.value.to_vec(),
        // Debian's scepclient sends the constructed form: [0] { OCTET STRING ... }.
        Some(t) if t == context_constructed(0) => crate::ber::join_octet_strings(c.read()?.value)?,
        _ => return Err(ScepError::Missing("encryptedContent")),
    };
    c.finish("encryptedContentInfo")?;

    let mut a = DerReader::new(alg.value);
    let oid = read_oid(&a.read()?, "content encryption algorithm")?;
    let cipher = ContentCipher::from_oid(&oid.to_string()).ok_or(
        ScepError::UnsupportedAlgorithm("content encryption algorithm"),
    )?;
    let iv = a
        .expect(OCTET_STRING, "content encryption IV")?
        .value
        .to_vec();
    a.finish("content encryption algorithm")?;
    if iv.len() != cipher.block_len() {
        return Err(ScepError::Invalid("IV length for the content cipher"));
    }
    if ciphertext.is_empty() || ciphertext.len() % cipher.block_len() != 0 {
        return Err(ScepError::Invalid(
            "encryptedContent length (not whole cipher blocks)",
        ));
    }
    if ciphertext.len() > MAX_CIPHERTEXT {
        return Err(ScepError::TooLarge {
            what: "encryptedContent",
            limit: MAX_CIPHERTEXT,
        });
    }
    Ok(Envelope {
        recipient_issuer,
        recipient_serial,
        encrypted_key,
        cipher,
        iv,
        ciphertext,
    })
}

struct KeyTransRecipient {
    issuer: Vec<u8>,
    serial: Vec<u8>,
    encrypted_key: Vec<u8>,
}

/// The one KeyTransRecipientInfo of a recipientInfos SET's content.
fn key_trans_recipient(set: &[u8]) -> Result<KeyTransRecipient, ScepError> {
    let mut s = DerReader::new(set);
    let ri = s.read()?;
    if !s.is_empty() {
        return Err(ScepError::Invalid(
            "recipientInfos (exactly one recipient expected)",
        ));
    }
    if ri.tag != SEQUENCE {
        // kari [1], kekri [2], pwri [3], ori [4]: not key transport.
        return Err(ScepError::UnsupportedAlgorithm(
            "recipient info (only RSA key transport)",
        ));
    }
    let mut k = DerReader::new(ri.value);
    if der_reader::small_uint(&k.read()?, "KeyTransRecipientInfo version")? != 0 {
        return Err(ScepError::Invalid(
            "KeyTransRecipientInfo version (recipient must be named by issuerAndSerialNumber)",
        ));
    }
    let ias = k.expect(SEQUENCE, "recipient issuerAndSerialNumber")?;
    let alg = k.expect(SEQUENCE, "key encryption algorithm")?;
    let key = k.expect(OCTET_STRING, "encryptedKey")?;
    k.finish("KeyTransRecipientInfo")?;

    let mut a = DerReader::new(alg.value);
    if read_oid(&a.read()?, "key encryption algorithm")? != oids::RSA_ENCRYPTION {
        return Err(ScepError::UnsupportedAlgorithm(
            "key encryption algorithm (only rsaEncryption)",
        ));
    }
    if let Some(p) = a.optional(NULL)? {
        if !p.value.is_empty() {
            return Err(ScepError::Malformed("key encryption algorithm parameters"));
        }
    }
    a.finish("key encryption algorithm")?;
    if key.value.is_empty() || key.value.len() > MAX_ENCRYPTED_KEY {
        return Err(ScepError::Invalid("encryptedKey length"));
    }
    let (issuer, serial) = issuer_and_serial(ias.value)?;
    Ok(KeyTransRecipient {
        issuer: issuer.to_vec(),
        serial: serial.to_vec(),
        encrypted_key: key.value.to_vec(),
    })
}

/// IssuerAndSerialNumber's content: the issuer Name (DER, checked) and the serial's content.
pub(crate) fn issuer_and_serial(content: &[u8]) -> Result<(&[u8], &[u8]), ScepError> {
    let mut r = DerReader::new(content);
    let issuer = r.expect(SEQUENCE, "issuer Name")?;
    let serial = der_reader::integer_bytes(&r.read()?, "serial number")?;
    r.finish("issuerAndSerialNumber")?;
    check_name(issuer.raw)?;
    Ok((issuer.raw, serial))
}

/// A Name that x509-cert accepts as strict DER.
pub(crate) fn check_name(der: &[u8]) -> Result<(), ScepError> {
    use der::Decode;
    x509_cert::name::Name::from_der(der)
        .map(|_| ())
        .map_err(|_| ScepError::Malformed("Name"))
}
