//! A device's PKIOperation message: ContentInfo(SignedData) signed by the device. In: the
//! message bytes (BER as real clients send it). Out: a `PkiRequest` whose signature and
//! messageDigest have been verified against the signer certificate carried in the message,
//! with the encapsulated envelope parsed but not decrypted — or a refusal with its failInfo.
//!
//! Not checked here (the caller's policy): whether the signer certificate is acceptable
//! (self-signed for PKCSReq; issued by us and unexpired for RenewalReq), signingTime, and
//! whether the transactionID binds to the CSR's key (`transaction_id_binds`, after the
//! envelope is opened).

use strongroom_types::scep::{ScepDigest, ScepMessageType};

use crate::certificate::CertificateView;
use crate::der_reader::{
    self, context_constructed, DerReader, NULL, OCTET_STRING, PRINTABLE_STRING, SEQUENCE, SET,
};
use crate::envelope::{issuer_and_serial, parse_envelope, Envelope};
use crate::error::ScepError;
use crate::oids::{self, read_oid};
use crate::signature;

/// The largest PKIOperation message accepted.
pub const MAX_MESSAGE: usize = 128 * 1024;
/// At most this many certificates in one message (a signer and a short chain).
const MAX_CERTIFICATES: usize = 8;
/// At most this many signed attributes.
const MAX_ATTRIBUTES: usize = 32;
/// The longest transactionID accepted (a hex SHA-512 is 128).
const MAX_TRANSACTION_ID: usize = 128;
/// senderNonce is 16 bytes (RFC 8894 §3.2.1.5).
const NONCE_LEN: usize = 16;

/// A verified request from a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiRequest {
    /// PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL (never CertRep).
    pub message_type: ScepMessageType,
    /// The client's transaction identifier (PrintableString).
    pub transaction_id: String,
    /// The client's nonce, returned as the reply's recipientNonce.
    pub sender_nonce: Vec<u8>,
    /// The signer's digest; the reply is signed with the same one.
    pub digest: ScepDigest,
    /// The certificate whose key signed the message (DER); the reply is encrypted to it.
    pub signer_certificate: Vec<u8>,
    /// The encapsulated pkcsPKIEnvelope, still encrypted.
    pub envelope: Envelope,
}

/// Parse and verify a PKIOperation message.
pub fn parse_pki_message(message: &[u8]) -> Result<PkiRequest, ScepError> {
    let der = crate::ber::to_der(message, MAX_MESSAGE, "PKIOperation message")?;
    let ci = der_reader::single(&der, SEQUENCE, "ContentInfo")?;
    let mut r = DerReader::new(ci.value);
    if read_oid(&r.read()?, "content type")? != oids::ID_SIGNED_DATA {
        return Err(ScepError::Invalid(
            "message content type (must be signedData)",
        ));
    }
    let explicit = r.expect(context_constructed(0), "ContentInfo content")?;
    r.finish("ContentInfo")?;
    let sd = der_reader::single(explicit.value, SEQUENCE, "SignedData")?;
    let mut s = DerReader::new(sd.value);
    let version = der_reader::small_uint(&s.read()?, "SignedData version")?;
    if !matches!(version, 1 | 3) {
        return Err(ScepError::Invalid("SignedData version"));
    }
    let _digest_algorithms = s.expect(SET, "digestAlgorithms")?;
    let encap = s.expect(SEQUENCE, "encapContentInfo")?;
    let certificates = s.optional(context_constructed(0))?;
    let _crls = s.optional(context_constructed(1))?;
    let signer_infos = s.expect(SET, "signerInfos")?;
    s.finish("SignedData")?;

    let content = encapsulated_data(encap.value)?;
    let certificates = match certificates {
        Some(c) => parse_certificates(c.value)?,
        None => return Err(ScepError::SignerNotFound),
    };
    let mut si = DerReader::new(signer_infos.value);
    let signer_info = si.expect(SEQUENCE, "SignerInfo")?;
    if !si.is_empty() {
        return Err(ScepError::Invalid(
            "signerInfos (exactly one signer expected)",
        ));
    }
    let signer = parse_signer_info(signer_info.value)?;
    let cert = certificates
        .iter()
        .find(|c| c.issuer == signer.issuer && c.serial == signer.serial)
        .ok_or(ScepError::SignerNotFound)?;

    let attrs = parse_signed_attributes(signer.signed_attrs_content)?;
    // Verify before interpreting anything else the attributes say.
    let mut signed = Vec::with_capacity(signer.signed_attrs_content.len() + 6);
    crate::ber::write_tlv(&mut signed, SET, signer.signed_attrs_content);
    signature::verify(
        cert,
        signer.digest,
        &signer.signature_algorithm,
        &signed,
        signer.signature,
    )?;
    // SECURITY: the digest binds the envelope to the signature; compare before use.
    if attrs.message_digest != signature::digest(signer.digest, content) {
        return Err(ScepError::DigestMismatch);
    }
    let envelope = parse_envelope(content)?;
    Ok(PkiRequest {
        message_type: attrs.message_type,
        transaction_id: attrs.transaction_id,
        sender_nonce: attrs.sender_nonce,
        digest: signer.digest,
        signer_certificate: cert.raw.to_vec(),
        envelope,
    })
}

/// The id-data content of an EncapsulatedContentInfo (required: SCEP requests carry one).
fn encapsulated_data(content: &[u8]) -> Result<&[u8], ScepError> {
    let mut e = DerReader::new(content);
    if read_oid(&e.read()?, "encapsulated content type")? != oids::ID_DATA {
        return Err(ScepError::Invalid(
            "encapsulated content type (must be id-data)",
        ));
    }
    let explicit = e.expect(context_constructed(0), "encapsulated content")?;
    e.finish("encapContentInfo")?;
    Ok(der_reader::single(explicit.value, OCTET_STRING, "encapsulated content")?.value)
}

fn parse_certificates(content: &[u8]) -> Result<Vec<CertificateView<'_>>, ScepError> {
    let mut r = DerReader::new(content);
    let mut out = Vec::new();
    while !r.is_empty() {
        if out.len() == MAX_CERTIFICATES {
            return Err(ScepError::TooLarge {
                what: "certificates (count)",
                limit: MAX_CERTIFICATES,
            });
        }
        // Only plain certificates: the other CertificateChoices are tagged [0]..[3].
        let tlv = r.expect(
            SEQUENCE,
            "certificate (only X.509 certificates are accepted)",
        )?;
        out.push(CertificateView::parse(tlv.raw)?);
    }
    Ok(out)
}

struct SignerInfo<'a> {
    issuer: &'a [u8],
    serial: &'a [u8],
    digest: ScepDigest,
    signed_attrs_content: &'a [u8],
    signature_algorithm: const_oid::ObjectIdentifier,
    signature: &'a [u8],
}

fn parse_signer_info(content: &[u8]) -> Result<SignerInfo<'_>, ScepError> {
    let mut r = DerReader::new(content);
    if der_reader::small_uint(&r.read()?, "SignerInfo version")? != 1 {
        return Err(ScepError::Invalid(
            "SignerInfo version (signer must be named by issuerAndSerialNumber)",
        ));
    }
    let sid = r.expect(SEQUENCE, "signer issuerAndSerialNumber")?;
    let digest_alg = r.expect(SEQUENCE, "digestAlgorithm")?;
    let signed_attrs = r
        .optional(context_constructed(0))?
        .ok_or(ScepError::Missing("signed attributes"))?;
    let sig_alg = r.expect(SEQUENCE, "signatureAlgorithm")?;
    let sig = r.expect(OCTET_STRING, "signature")?;
    let _unsigned = r.optional(context_constructed(1))?;
    r.finish("SignerInfo")?;

    let (issuer, serial) = issuer_and_serial(sid.value)?;
    let (digest_oid, _) = algorithm(digest_alg.value, "digestAlgorithm")?;
    let digest = strongroom_types::scep::ScepDigest::from_oid(&digest_oid.to_string())
        .ok_or(ScepError::UnsupportedAlgorithm("digest algorithm"))?;
    let (signature_algorithm, _) = algorithm(sig_alg.value, "signatureAlgorithm")?;
    Ok(SignerInfo {
        issuer,
        serial,
        digest,
        signed_attrs_content: signed_attrs.value,
        signature_algorithm,
        signature: sig.value,
    })
}

/// An AlgorithmIdentifier whose parameters are absent or NULL (digests, RSA, ECDSA).
fn algorithm(
    content: &[u8],
    what: &'static str,
) -> Result<(const_oid::ObjectIdentifier, ()), ScepError> {
    let mut r = DerReader::new(content);
    let oid = read_oid(&r.read()?, what)?;
    if let Some(p) = r.optional(NULL)? {
        if !p.value.is_empty() {
            return Err(ScepError::Malformed(what));
        }
    }
    r.finish(what)?;
    Ok((oid, ()))
}

struct SignedAttributes {
    message_type: ScepMessageType,
    transaction_id: String,
    sender_nonce: Vec<u8>,
    message_digest: Vec<u8>,
}

fn parse_signed_attributes(content: &[u8]) -> Result<SignedAttributes, ScepError> {
    let mut r = DerReader::new(content);
    let mut seen: Vec<const_oid::ObjectIdentifier> = Vec::new();
    let (
        mut content_type,
        mut message_digest,
        mut message_type,
        mut transaction_id,
        mut sender_nonce,
    ) = (None, None, None, None, None);
    while !r.is_empty() {
        if seen.len() == MAX_ATTRIBUTES {
            return Err(ScepError::TooLarge {
                what: "signed attributes (count)",
                limit: MAX_ATTRIBUTES,
            });
        }
        let attr = r.expect(SEQUENCE, "signed attribute")?;
        let mut a = DerReader::new(attr.value);
        let oid = read_oid(&a.read()?, "signed attribute type")?;
        let values = a.expect(SET, "signed attribute values")?;
        a.finish("signed attribute")?;
        if seen.contains(&oid) {
            return Err(ScepError::Invalid(
                "signed attributes (an attribute type appears twice)",
            ));
        }
        seen.push(oid);
        let single_value = || {
            der_reader::only_child(
                values.value,
                "signed attribute (exactly one value expected)",
            )
        };
        match oid {
            o if o == oids::CONTENT_TYPE => {
                content_type = Some(read_oid(&single_value()?, "contentType")?)
            }
            o if o == oids::MESSAGE_DIGEST => {
                let v = single_value()?;
                if v.tag != OCTET_STRING {
                    return Err(ScepError::Malformed("messageDigest"));
                }
                message_digest = Some(v.value.to_vec());
            }
            o if o == oids::SCEP_MESSAGE_TYPE => {
                message_type = Some(parse_message_type(&single_value()?)?)
            }
            o if o == oids::SCEP_TRANSACTION_ID => {
                transaction_id = Some(parse_transaction_id(&single_value()?)?)
            }
            o if o == oids::SCEP_SENDER_NONCE => {
                let v = single_value()?;
                if v.tag != OCTET_STRING || v.value.len() != NONCE_LEN {
                    return Err(ScepError::Invalid(
                        "senderNonce (must be a 16-byte OCTET STRING)",
                    ));
                }
                sender_nonce = Some(v.value.to_vec());
            }
            // signingTime and other attributes are covered by the signature and ignored.
            _ => {}
        }
    }
    if content_type.ok_or(ScepError::Missing("contentType attribute"))? != oids::ID_DATA {
        return Err(ScepError::Invalid(
            "contentType attribute (must be id-data)",
        ));
    }
    Ok(SignedAttributes {
        message_type: message_type.ok_or(ScepError::Missing("messageType attribute"))?,
        transaction_id: transaction_id.ok_or(ScepError::Missing("transactionID attribute"))?,
        sender_nonce: sender_nonce.ok_or(ScepError::Missing("senderNonce attribute"))?,
        message_digest: message_digest.ok_or(ScepError::Missing("messageDigest attribute"))?,
    })
}

fn parse_message_type(v: &der_reader::Tlv<'_>) -> Result<ScepMessageType, ScepError> {
    let digits = printable(v, 3, "messageType")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(ScepError::Invalid("messageType (must be a decimal number)"));
    }
    let n: u32 = digits
        .parse()
        .map_err(|_| ScepError::Invalid("messageType"))?;
    match ScepMessageType::from_number(n) {
        Some(ScepMessageType::CertRep) => {
            Err(ScepError::Invalid("messageType (CertRep is not a request)"))
        }
        Some(t) => Ok(t),
        None => Err(ScepError::Invalid(
            "messageType (not one this server answers)",
        )),
    }
}

fn parse_transaction_id(v: &der_reader::Tlv<'_>) -> Result<String, ScepError> {
    let id = printable(v, MAX_TRANSACTION_ID, "transactionID")?;
    if id.is_empty() {
        return Err(ScepError::Invalid("transactionID (empty)"));
    }
    Ok(id.to_owned())
}

/// A PrintableString of at most `max` characters, checked against its character set.
fn printable<'a>(
    v: &der_reader::Tlv<'a>,
    max: usize,
    what: &'static str,
) -> Result<&'a str, ScepError> {
    if v.tag != PRINTABLE_STRING {
        return Err(ScepError::Invalid(what));
    }
    if v.value.len() > max {
        return Err(ScepError::Invalid(what));
    }
    let ok = v
        .value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(b));
    if !ok {
        return Err(ScepError::Invalid(what));
    }
    std::str::from_utf8(v.value).map_err(|_| ScepError::Invalid(what))
}
