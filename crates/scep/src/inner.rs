//! The decrypted content of a device's envelope, and the challengePassword of its CSR.
//! In: the message type and the plaintext the signer returned; a CSR's DER. Out: the
//! request's content by type (`InnerRequest`), and the challenge as a `ChallengePassword`
//! whose Debug never shows it.
//!
//! Not checked here: the CSR's signature (the issuance path verifies it over the original
//! certificationRequestInfo bytes) or anything about its names and key.

use der::Decode;
use strongroom_types::scep::ScepMessageType;
pub use strongroom_x509::ChallengePassword;
use x509_cert::request::CertReq;

use crate::der_reader::{self, SEQUENCE};
use crate::envelope::{check_name, issuer_and_serial};
use crate::error::ScepError;

/// The longest plaintext accepted (a CSR with a large key and many names).
const MAX_INNER: usize = 64 * 1024;

/// What a request's envelope held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InnerRequest {
    /// PKCSReq or RenewalReq: a PKCS#10 CSR (DER, parsed once here).
    Csr(Vec<u8>),
    /// CertPoll: the issuer and subject (Name DER each) of the pending request.
    IssuerAndSubject {
        /// Issuer Name DER.
        issuer: Vec<u8>,
        /// Subject Name DER.
        subject: Vec<u8>,
    },
    /// GetCert or GetCRL: a certificate by issuer (Name DER) and serial (INTEGER content).
    IssuerAndSerial {
        /// Issuer Name DER.
        issuer: Vec<u8>,
        /// Serial number, the INTEGER's content octets.
        serial: Vec<u8>,
    },
}

/// Interpret the decrypted envelope of a request of `message_type`.
pub fn parse_inner(
    message_type: ScepMessageType,
    plaintext: &[u8],
) -> Result<InnerRequest, ScepError> {
    if plaintext.len() > MAX_INNER {
        return Err(ScepError::TooLarge {
            what: "envelope content",
            limit: MAX_INNER,
        });
    }
    match message_type {
        ScepMessageType::PkcsReq | ScepMessageType::RenewalReq => {
            CertReq::from_der(plaintext)
                .map_err(|_| ScepError::Malformed("certification request"))?;
            Ok(InnerRequest::Csr(plaintext.to_vec()))
        }
        ScepMessageType::CertPoll => {
            let seq = der_reader::single(plaintext, SEQUENCE, "IssuerAndSubject")?;
            let mut r = der_reader::DerReader::new(seq.value);
            let issuer = r.expect(SEQUENCE, "IssuerAndSubject issuer")?;
            let subject = r.expect(SEQUENCE, "IssuerAndSubject subject")?;
            r.finish("IssuerAndSubject")?;
            check_name(issuer.raw)?;
            check_name(subject.raw)?;
            Ok(InnerRequest::IssuerAndSubject {
                issuer: issuer.raw.to_vec(),
                subject: subject.raw.to_vec(),
            })
        }
        ScepMessageType::GetCert | ScepMessageType::GetCrl => {
            let seq = der_reader::single(plaintext, SEQUENCE, "IssuerAndSerialNumber")?;
            let (issuer, serial) = issuer_and_serial(seq.value)?;
            Ok(InnerRequest::IssuerAndSerial {
                issuer: issuer.to_vec(),
                serial: serial.to_vec(),
            })
        }
        ScepMessageType::CertRep => {
            Err(ScepError::Invalid("messageType (CertRep is not a request)"))
        }
    }
}

/// The challengePassword attribute of a CSR, if it has one
/// ([`strongroom_x509::challenge_password`], which EST reads too), within SCEP's size
/// bound for what a device's envelope held.
pub fn challenge_password(csr_der: &[u8]) -> Result<Option<ChallengePassword>, ScepError> {
    if csr_der.len() > MAX_INNER {
        return Err(ScepError::TooLarge {
            what: "certification request",
            limit: MAX_INNER,
        });
    }
    strongroom_x509::challenge_password(csr_der).map_err(|e| match e {
        strongroom_x509::X509Error::Malformed(_) => ScepError::Malformed("certification request"),
        _ => ScepError::Invalid(
            "challengePassword (one DirectoryString of 1 to 4096 printable characters)",
        ),
    })
}
