//! OCSP (RFC 6960): request parsing, CertID computation, and signed responses.
//!
//! In: DER OCSP requests from relying parties (hostile: parsed strictly, one request
//! list of at most [`MAX_REQUESTS`] entries, no trailing bytes); for responses, the CA,
//! the delegated responder's certificate and a status per serial. Out: the CertIDs asked
//! about, with the nonce if any, and DER `OCSPResponse`s signed by the responder key
//! (through a [`TbsSigner`]) and verified before they are returned. The structures are
//! defined here with `der` derive (x509-ocsp is on the previous RustCrypto generation).

use crate::algorithm::signature_algorithm_identifier;
use crate::certificate::der_sequence;
use crate::verify::verify_signature;
use crate::{CaCertificate, TbsSigner, UnixTime, X509Error};
use der::asn1::{BitString, GeneralizedTime, Int, Null, ObjectIdentifier, OctetString};
use der::{Any, Choice, Decode, Encode, Enumerated, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::Duration;
use strongroom_types::{OcspStatus, RevocationReason, Serial};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::Name;

/// Most CertIDs accepted in one request.
pub const MAX_REQUESTS: usize = 32;

/// id-sha1, the hash most clients (openssl, browsers) use in CertIDs.
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-sha256.
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 8954).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// CertID.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertId {
    /// Hash algorithm of the two hashes.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// Hash of the issuer's DER-encoded name.
    pub issuer_name_hash: OctetString,
    /// Hash of the issuer's public key (BIT STRING value).
    pub issuer_key_hash: OctetString,
    /// The certificate's serial number.
    pub serial_number: Int,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SingleRequest {
    req_cert: CertId,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    single_request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TbsRequest {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    requestor_name: Option<GeneralName>,
    request_list: Vec<SingleRequest>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspRequestAsn1 {
    tbs_request: TbsRequest,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    optional_signature: Option<Any>,
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspRequest {
    /// The certificates asked about.
    pub cert_ids: Vec<CertId>,
    /// The nonce extension's value (RFC 8954), if the client sent one.
    pub nonce: Option<Vec<u8>>,
}

/// OCSPResponseStatus.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Enumerated)]
#[repr(u32)]
pub enum ResponseStatus {
    /// Response has valid confirmations.
    Successful = 0,
    /// Illegal confirmation request.
    MalformedRequest = 1,
    /// Internal error in issuer.
    InternalError = 2,
    /// Try again later.
    TryLater = 3,
    /// Must sign the request.
    SigRequired = 5,
    /// Request unauthorized.
    Unauthorized = 6,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspResponseAsn1 {
    response_status: ResponseStatus,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum ResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    revocation_reason: Option<CrlReason>,
}

#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum CertStatusAsn1 {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: CertStatusAsn1,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    single_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    responder_id: ResponderId,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Extensions>,
}

/// One answer to sign.
#[derive(Clone, Debug)]
pub struct OcspAnswer {
    /// The CertID as asked (or as pre-computed for the cache).
    pub cert_id: CertId,
    /// The status.
    pub status: OcspStatus,
}

/// Everything one signed response needs.
#[derive(Clone, Debug)]
pub struct OcspPlan<'a> {
    /// The CA the answers are about.
    pub ca: &'a CaCertificate,
    /// The responder's certificate (issued by `ca`, EKU OCSPSigning, nocheck), DER.
    pub responder_cert: &'a [u8],
    /// The responder's public key (SubjectPublicKeyInfo DER).
    pub responder_public_key: &'a [u8],
    /// The signature algorithm of the responder key.
    pub signature: strongroom_types::SignatureAlgorithm,
    /// producedAt and thisUpdate.
    pub now: UnixTime,
    /// nextUpdate.
    pub next_update: UnixTime,
    /// The answers.
    pub answers: &'a [OcspAnswer],
    /// The request's nonce to echo (on-demand responses only).
    pub nonce: Option<&'a [u8]>,
}

fn generalized(t: UnixTime) -> Result<GeneralizedTime, X509Error> {
    let secs = u64::try_from(t).map_err(|_| X509Error::Malformed("time before 1970".into()))?;
    Ok(GeneralizedTime::from_unix_duration(Duration::from_secs(
        secs,
    ))?)
}

type HashFn = fn(&[u8]) -> Vec<u8>;

fn sha1(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes)
        .as_ref()
        .to_vec()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, X509Error> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| X509Error::Malformed("public key BIT STRING has unused bits".into()))
}

/// The CertID of `serial` under `ca`, hashed with SHA-1 (`sha256 = false`) or SHA-256.
pub fn cert_id(
    ca: &CaCertificate,
    serial: &Serial,
    sha256_hash: bool,
) -> Result<CertId, X509Error> {
    let name = ca.subject.to_der()?;
    let key = public_key_bits(&ca.public_key_der)?;
    let (oid, h): (ObjectIdentifier, HashFn) = if sha256_hash {
        (ID_SHA256, sha256)
    } else {
        (ID_SHA1, sha1)
    };
    let mut serial_bytes = Vec::with_capacity(21);
    if serial.as_bytes().first().is_some_and(|b| b & 0x80 != 0) {
        serial_bytes.push(0);
    }
    serial_bytes.extend_from_slice(serial.as_bytes());
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid,
            parameters: Some(Any::from(Null)),
        },
        issuer_name_hash: OctetString::new(h(&name))?,
        issuer_key_hash: OctetString::new(h(&key))?,
        serial_number: Int::new(&serial_bytes)?,
    })
}

/// A CA's CertID hashes (issuerNameHash, issuerKeyHash) under SHA-1 and SHA-256, computed
/// once: a responder compares them with every request instead of re-encoding and hashing
/// the CA's name and key each time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerHashes {
    sha1_name: Vec<u8>,
    sha1_key: Vec<u8>,
    sha256_name: Vec<u8>,
    sha256_key: Vec<u8>,
}

impl IssuerHashes {
    /// The hashes of `ca`.
    pub fn of(ca: &CaCertificate) -> Result<IssuerHashes, X509Error> {
        let name = ca.subject.to_der()?;
        let key = public_key_bits(&ca.public_key_der)?;
        Ok(IssuerHashes {
            sha1_name: sha1(&name),
            sha1_key: sha1(&key),
            sha256_name: sha256(&name),
            sha256_key: sha256(&key),
        })
    }
}

impl CertId {
    /// Whether this CertID names a certificate of the CA with these hashes.
    pub fn matches(&self, issuer: &IssuerHashes) -> bool {
        let (name, key) = match self.hash_algorithm.oid {
            ID_SHA1 => (&issuer.sha1_name, &issuer.sha1_key),
            ID_SHA256 => (&issuer.sha256_name, &issuer.sha256_key),
            _ => return false,
        };
        self.issuer_name_hash.as_bytes() == name.as_slice()
            && self.issuer_key_hash.as_bytes() == key.as_slice()
    }

    /// The serial number asked about, when it is a positive integer of at most 20 octets.
    pub fn serial(&self) -> Option<Serial> {
        let b = self.serial_number.as_bytes();
        if b.first().is_some_and(|x| x & 0x80 != 0) {
            return None;
        }
        let b = match b {
            [0, rest @ ..] if !rest.is_empty() => rest,
            other => other,
        };
        Serial::from_be_bytes(b)
    }

    /// DER of this CertID (the key under which responses are cached).
    pub fn to_der_bytes(&self) -> Result<Vec<u8>, X509Error> {
        Ok(self.to_der()?)
    }
}

/// Parses a DER OCSP request strictly.
pub fn parse_ocsp_request(der: &[u8]) -> Result<OcspRequest, X509Error> {
    let req = OcspRequestAsn1::from_der(der)
        .map_err(|e| X509Error::Malformed(format!("OCSP request: {e}")))?;
    if req.tbs_request.version.is_some_and(|v| v != 0) {
        return Err(X509Error::Malformed("OCSP request: unknown version".into()));
    }
    let list = req.tbs_request.request_list;
    if list.is_empty() || list.len() > MAX_REQUESTS {
        return Err(X509Error::Malformed(format!(
            "OCSP request: 1 to {MAX_REQUESTS} certificates per request"
        )));
    }
    let nonce = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
        .map(|e| e.extn_value.as_bytes().to_vec());
    Ok(OcspRequest {
        cert_ids: list.into_iter().map(|r| r.req_cert).collect(),
        nonce,
    })
}

/// An unsigned error response (`malformedRequest`, `tryLater`, `unauthorized`, …).
pub fn error_response(status: ResponseStatus) -> Vec<u8> {
    OcspResponseAsn1 {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    .unwrap_or_default()
}

/// Builds, signs and verifies a successful response.
pub fn build_ocsp_response(
    plan: &OcspPlan<'_>,
    signer: &dyn TbsSigner,
) -> Result<Vec<u8>, X509Error> {
    if plan.answers.is_empty() {
        return Err(X509Error::Lint(
            "ocsp: a response needs at least one answer".into(),
        ));
    }
    if plan.next_update <= plan.now {
        return Err(X509Error::Lint(
            "ocsp: nextUpdate must be after thisUpdate".into(),
        ));
    }
    if signer.signature_algorithm() != plan.signature {
        return Err(X509Error::Signing(
            "signer algorithm differs from the plan".into(),
        ));
    }
    let now = generalized(plan.now)?;
    let next = generalized(plan.next_update)?;
    let responses = plan
        .answers
        .iter()
        .map(|a| {
            let cert_status = match a.status {
                OcspStatus::Good => CertStatusAsn1::Good(Null),
                OcspStatus::Unknown => CertStatusAsn1::Unknown(Null),
                OcspStatus::Revoked { at, reason } => CertStatusAsn1::Revoked(RevokedInfo {
                    revocation_time: generalized(at)?,
                    revocation_reason: if reason == RevocationReason::Unspecified {
                        None
                    } else {
                        Some(CrlReason::from_der(&[0x0a, 0x01, reason.code()])?)
                    },
                }),
            };
            Ok(SingleResponse {
                cert_id: a.cert_id.clone(),
                cert_status,
                this_update: now,
                next_update: Some(next),
                single_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, X509Error>>()?;
    let response_extensions = match plan.nonce {
        Some(n) => Some(vec![Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(n)?,
        }]),
        None => None,
    };
    let data = ResponseData {
        version: None,
        responder_id: ResponderId::ByKey(OctetString::new(sha1(&public_key_bits(
            plan.responder_public_key,
        )?))?),
        produced_at: now,
        responses,
        response_extensions,
    };
    let tbs = data.to_der()?;
    let signature = signer.sign(&tbs)?;
    let alg = signature_algorithm_identifier(plan.signature);
    let spki = SubjectPublicKeyInfoOwned::from_der(plan.responder_public_key)?;
    verify_signature(&spki, &alg, &tbs, &signature).map_err(|e| {
        X509Error::Signing(format!("the HSM's OCSP signature does not verify: {e}"))
    })?;
    // certs [0] EXPLICIT SEQUENCE OF Certificate: the responder certificate.
    let certs_seq = der_sequence(&[plan.responder_cert]);
    let mut certs = vec![0xa0];
    push_len(&mut certs, certs_seq.len());
    certs.extend_from_slice(&certs_seq);
    let basic = der_sequence(&[
        &tbs,
        &alg.to_der()?,
        &BitString::from_bytes(&signature)?.to_der()?,
        &certs,
    ]);
    Ok(OcspResponseAsn1 {
        response_status: ResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic)?,
        }),
    }
    .to_der()?)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_encode() {
        assert_eq!(
            error_response(ResponseStatus::TryLater),
            vec![0x30, 0x03, 0x0a, 0x01, 0x03]
        );
        assert_eq!(
            error_response(ResponseStatus::MalformedRequest),
            vec![0x30, 0x03, 0x0a, 0x01, 0x01]
        );
    }

    #[test]
    fn garbage_and_oversize_requests_are_refused() {
        assert!(parse_ocsp_request(&[]).is_err());
        assert!(parse_ocsp_request(&[0x30, 0x00]).is_err());
        assert!(parse_ocsp_request(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_err());
    }
}
