//! The signed attributes of a SCEP CertRep (RFC 8894 §3.2.1, §3.3.2), built by the signer
//! from structured fields. In: `ReplyAttributes` — the status, failInfo, transactionID, the
//! device's nonce, our nonce and the digest of the encapsulated reply envelope. Out: the DER
//! `SET OF Attribute` that the RA key signs and that `strongroom_scep::assemble_cert_rep`
//! re-tags `[0] IMPLICIT` into the SignerInfo.
//!
//! Why here and not in crates/scep: the signer builds what it signs and must not depend on
//! the crate that parses Internet input. The only caller value that is not a structured
//! field is `content_digest`: the signer cannot see the envelope, so the front sends its
//! digest (of nothing, for FAILURE and PENDING, which carry no content).

use const_oid::ObjectIdentifier;
use der::asn1::{Any, OctetString, PrintableString, SetOfVec};
use der::Encode;
use strongroom_types::scep::{ScepFailInfo, ScepMessageType, ScepPkiStatus};
use x509_cert::attr::Attribute;

use crate::X509Error;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const MESSAGE_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.2");
const PKI_STATUS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.3");
const FAIL_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.4");
const SENDER_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.5");
const RECIPIENT_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.6");
const TRANSACTION_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.113733.1.9.7");

/// SCEP nonces are 16 bytes (RFC 8894 §3.2.1.5).
const NONCE_LEN: usize = 16;
/// The longest transactionID (the parser of requests accepts the same).
const MAX_TRANSACTION_ID: usize = 128;

/// What a CertRep says, as the signer receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyAttributes {
    /// SUCCESS, FAILURE or PENDING.
    pub pki_status: ScepPkiStatus,
    /// Present exactly when `pki_status` is FAILURE.
    pub fail_info: Option<ScepFailInfo>,
    /// The request's transactionID, echoed.
    pub transaction_id: String,
    /// The request's senderNonce, echoed as recipientNonce.
    pub recipient_nonce: Vec<u8>,
    /// Our fresh nonce.
    pub sender_nonce: Vec<u8>,
    /// The digest (with the request's digest algorithm) of the encapsulated content.
    pub content_digest: Vec<u8>,
}

/// The DER `SET OF Attribute` to sign, in DER order.
pub fn signed_attributes(reply: &ReplyAttributes) -> Result<Vec<u8>, X509Error> {
    let bad = |what: &str| X509Error::ScepReply(what.to_owned());
    match (reply.pki_status, reply.fail_info) {
        (ScepPkiStatus::Failure, None) => return Err(bad("a FAILURE needs a failInfo")),
        (ScepPkiStatus::Success | ScepPkiStatus::Pending, Some(_)) => {
            return Err(bad("failInfo is only sent with FAILURE"))
        }
        _ => {}
    }
    if reply.recipient_nonce.len() != NONCE_LEN || reply.sender_nonce.len() != NONCE_LEN {
        return Err(bad("nonces are 16 bytes"));
    }
    if !matches!(reply.content_digest.len(), 20 | 32 | 64) {
        return Err(bad(
            "content digest is not a SHA-1, SHA-256 or SHA-512 value",
        ));
    }
    if reply.transaction_id.is_empty() || reply.transaction_id.len() > MAX_TRANSACTION_ID {
        return Err(bad("transactionID length (1 to 128)"));
    }
    let printable = |s: &str| {
        PrintableString::new(s).map_err(|_| bad("transactionID is not a PrintableString"))
    };
    let mut attrs = vec![
        attribute(CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(reply.content_digest.clone())?)?,
        )?,
        attribute(
            MESSAGE_TYPE,
            Any::encode_from(&printable(&ScepMessageType::CertRep.number().to_string())?)?,
        )?,
        attribute(
            PKI_STATUS,
            Any::encode_from(&printable(&reply.pki_status.number().to_string())?)?,
        )?,
        attribute(
            TRANSACTION_ID,
            Any::encode_from(&printable(&reply.transaction_id)?)?,
        )?,
        attribute(
            RECIPIENT_NONCE,
            Any::encode_from(&OctetString::new(reply.recipient_nonce.clone())?)?,
        )?,
        attribute(
            SENDER_NONCE,
            Any::encode_from(&OctetString::new(reply.sender_nonce.clone())?)?,
        )?,
    ];
    if let Some(fail) = reply.fail_info {
        attrs.push(attribute(
            FAIL_INFO,
            Any::encode_from(&printable(&fail.number().to_string())?)?,
        )?);
    }
    Ok(SetOfVec::try_from(attrs)?.to_der()?)
}

/// The signed attributes of a GetNextCACert answer (RFC 8894 §4.7.1: a SignedData signed by
/// the current CA or RA): contentType id-data and the messageDigest of its content, the
/// certificates-only message of the next CA, which the signer built itself.
pub fn next_ca_attributes(content_digest: &[u8]) -> Result<Vec<u8>, X509Error> {
    content_attributes(ID_DATA, content_digest)
}

/// The two attributes CMS requires of signed attributes and nothing else: `contentType`
/// and the SHA-256 `messageDigest` of the content, as a DER SET.
pub(crate) fn content_attributes(
    content_type: ObjectIdentifier,
    content_digest: &[u8],
) -> Result<Vec<u8>, X509Error> {
    if content_digest.len() != 32 {
        return Err(X509Error::ScepReply(
            "the content digest is a SHA-256 value".to_owned(),
        ));
    }
    let attrs = vec![
        attribute(CONTENT_TYPE, Any::encode_from(&content_type)?)?,
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(content_digest.to_vec())?)?,
        )?,
    ];
    Ok(SetOfVec::try_from(attrs)?.to_der()?)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, X509Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: ScepPkiStatus, fail: Option<ScepFailInfo>) -> ReplyAttributes {
        ReplyAttributes {
            pki_status: status,
            fail_info: fail,
            transaction_id: "qL97/q41BtcS1VDcwmn0YyGoEg8=".into(),
            recipient_nonce: vec![1; 16],
            sender_nonce: vec![2; 16],
            content_digest: vec![3; 32],
        }
    }

    #[test]
    fn success_has_the_attributes_clients_read() {
        let der = signed_attributes(&reply(ScepPkiStatus::Success, None)).expect("builds");
        assert_eq!(der[0], 0x31, "a SET");
        let hex = hex::encode(&der);
        // messageType "3", pkiStatus "0", the transactionID, both nonces, no failInfo.
        assert!(hex.contains("060a6086480186f8450109023103130133"), "{hex}");
        assert!(hex.contains("060a6086480186f8450109033103130130"), "{hex}");
        assert!(hex.contains(&hex::encode("qL97/q41BtcS1VDcwmn0YyGoEg8=")));
        assert!(hex.contains(&format!("0410{}", "01".repeat(16))));
        assert!(
            !hex.contains("060a6086480186f845010904"),
            "no failInfo on success"
        );
    }

    #[test]
    fn failure_needs_fail_info_and_carries_it() {
        assert!(signed_attributes(&reply(ScepPkiStatus::Failure, None)).is_err());
        assert!(
            signed_attributes(&reply(ScepPkiStatus::Success, Some(ScepFailInfo::BadAlg))).is_err()
        );
        let der = signed_attributes(&reply(
            ScepPkiStatus::Failure,
            Some(ScepFailInfo::BadCertId),
        ))
        .expect("builds");
        // failInfo "4".
        assert!(hex::encode(der).contains("060a6086480186f8450109043103130134"));
    }

    #[test]
    fn refuses_bad_fields() {
        let mut r = reply(ScepPkiStatus::Pending, None);
        r.recipient_nonce = vec![0; 8];
        assert!(signed_attributes(&r).is_err());
        let mut r = reply(ScepPkiStatus::Pending, None);
        r.transaction_id = "not printable: é".into();
        assert!(signed_attributes(&r).is_err());
        let mut r = reply(ScepPkiStatus::Pending, None);
        r.content_digest = vec![0; 31];
        assert!(signed_attributes(&r).is_err());
    }
}
