//! An enrolment request (`simpleenroll`, `simplereenroll`, `serverkeygen`): a base64
//! PKCS#10 body, and the RFC 9266 channel binding a profile may require in it.
//!
//! In: the request's `Content-Type` and body; for a binding, the CSR's challengePassword
//! and the TLS session's exporter value. Out: an [`Enrolment`] — the CSR's DER, its
//! verified reading (signature checked, key classified, names pulled out) and its
//! challengePassword — or an [`EstError`] saying what to fix.

use crate::{decode_body, EstError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use strongroom_x509::{
    challenge_password, csr_attribute_octets, parse_csr, ChallengePassword, VerifiedCsr,
};

/// The media type of an enrolment body (RFC 7030 §4.2.1).
const PKCS10: &str = "application/pkcs10";

/// A readable, self-signed PKCS#10 request.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The CSR as sent (DER): what the signer is given.
    pub csr_der: Vec<u8>,
    /// Its verified reading.
    pub csr: VerifiedCsr,
    /// Its challengePassword attribute, if any (Debug shows only its length).
    pub challenge: Option<ChallengePassword>,
    /// How it asks a server-generated key to be encrypted, if it does.
    pub key_encryption: Option<KeyEncryption>,
}

/// How a `serverkeygen` request asks for its key to be encrypted (RFC 7030 §4.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEncryption {
    /// DecryptKeyIdentifier (§4.4.1.1): under a symmetric key shared beforehand, named by
    /// this identifier.
    Symmetric(Vec<u8>),
    /// AsymmetricDecryptKeyIdentifier (§4.4.1.2): to the client key with this identifier.
    Asymmetric(Vec<u8>),
}

/// id-aa-decryptKeyID (RFC 7030 §4.4.1.1).
const DECRYPT_KEY_ID: &str = "1.2.840.113549.1.9.16.2.37";
/// id-aa-asymmDecryptKeyID (RFC 7030 §4.4.1.2).
const ASYMMETRIC_DECRYPT_KEY_ID: &str = "1.2.840.113549.1.9.16.2.54";

/// Reads an enrolment body: `Content-Type: application/pkcs10` (parameters allowed), a
/// base64 body, a DER CSR whose self-signature verifies, at most one challengePassword.
pub fn parse_enrolment(content_type: Option<&str>, body: &[u8]) -> Result<Enrolment, EstError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if !media.eq_ignore_ascii_case(PKCS10) {
        return Err(EstError::ContentType { expected: PKCS10 });
    }
    let csr_der = decode_body(body)?;
    let csr = parse_csr(&csr_der).map_err(|e| EstError::Csr(e.to_string()))?;
    let challenge = challenge_password(&csr_der).map_err(|e| EstError::Csr(e.to_string()))?;
    let octets =
        |oid| csr_attribute_octets(&csr_der, oid).map_err(|e| EstError::Csr(e.to_string()));
    let key_encryption = match (octets(DECRYPT_KEY_ID)?, octets(ASYMMETRIC_DECRYPT_KEY_ID)?) {
        (None, None) => None,
        (Some(id), None) => Some(KeyEncryption::Symmetric(id)),
        (None, Some(id)) => Some(KeyEncryption::Asymmetric(id)),
        (Some(_), Some(_)) => {
            return Err(EstError::Csr(
                "both DecryptKeyIdentifier and AsymmetricDecryptKeyIdentifier: name one key to encrypt the server-generated key to".into(),
            ))
        }
    };
    Ok(Enrolment {
        csr_der,
        csr,
        challenge,
        key_encryption,
    })
}

/// Whether a CSR's challengePassword carries the session's `tls-exporter` value (RFC 9266),
/// base64-encoded as RFC 7030 §3.5 puts a channel binding there. Compared without an early
/// exit.
pub fn channel_binding_matches(challenge: &ChallengePassword, exporter: &[u8; 32]) -> bool {
    let expected = STANDARD.encode(exporter);
    let presented = challenge.expose().as_bytes();
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
