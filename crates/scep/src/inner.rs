//! The decrypted content of a device's envelope, and the challengePassword of its CSR.
//! In: the message type and the plaintext the signer returned; a CSR's DER. Out: the
//! request's content by type (`InnerRequest`), and the challenge as a `ChallengePassword`
//! whose Debug never shows it.
//!
//! Not checked here: the CSR's signature (the issuance path verifies it over the original
//! certificationRequestInfo bytes) or anything about its names and key.

use der::{Decode, Tagged};
use strongroom_types::scep::ScepMessageType;
use x509_cert::request::CertReq;
use zeroize::Zeroizing;

use crate::der_reader::{self, SEQUENCE};
use crate::envelope::{check_name, issuer_and_serial};
use crate::error::ScepError;
use crate::oids;

/// The longest plaintext accepted (a CSR with a large key and many names).
const MAX_INNER: usize = 64 * 1024;
/// The longest challengePassword accepted, in characters. PKCS#9 bounds the attribute at
/// 255 (`ub-challenge-password`), but MDM systems put a signed token in it, longer than
/// that, and real clients send it as given — Strongroom's dynamic challenges (docs/scep.md,
/// Dynamic challenges) are a few hundred characters and may reach this bound. 4096 fits
/// such a token and still bounds what is hashed or parsed (the CSR is capped at 64 KiB).
const MAX_CHALLENGE: usize = 4096;

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

/// A challenge password. Debug shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengePassword(Zeroizing<String>);

impl ChallengePassword {
    /// The password, for a constant-time comparison or a hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ChallengePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChallengePassword(<{} bytes>)", self.0.len())
    }
}

/// The challengePassword attribute (PKCS#9, 1.2.840.113549.1.9.7) of a CSR, if it has one.
/// It is a CSR attribute, not an extension. DirectoryString forms: PrintableString,
/// UTF8String, BMPString, and TeletexString when it is ASCII (UniversalString, which no
/// client sends, is refused).
pub fn challenge_password(csr_der: &[u8]) -> Result<Option<ChallengePassword>, ScepError> {
    if csr_der.len() > MAX_INNER {
        return Err(ScepError::TooLarge {
            what: "certification request",
            limit: MAX_INNER,
        });
    }
    let csr =
        CertReq::from_der(csr_der).map_err(|_| ScepError::Malformed("certification request"))?;
    let mut found = None;
    for attr in csr.info.attributes.iter() {
        if attr.oid != oids::CHALLENGE_PASSWORD {
            continue;
        }
        if found.is_some() || attr.values.len() != 1 {
            return Err(ScepError::Invalid(
                "challengePassword (exactly one value expected)",
            ));
        }
        let value = attr
            .values
            .iter()
            .next()
            .ok_or(ScepError::Invalid("challengePassword"))?;
        found = Some(directory_string(value.tag(), value.value())?);
    }
    Ok(found.map(|s| ChallengePassword(Zeroizing::new(s))))
}

fn directory_string(tag: der::Tag, bytes: &[u8]) -> Result<String, ScepError> {
    let bad = || ScepError::Invalid("challengePassword encoding");
    let s = match tag {
        der::Tag::PrintableString | der::Tag::Utf8String => {
            std::str::from_utf8(bytes).map_err(|_| bad())?.to_owned()
        }
        der::Tag::TeletexString if bytes.is_ascii() => {
            std::str::from_utf8(bytes).map_err(|_| bad())?.to_owned()
        }
        der::Tag::BmpString => {
            if bytes.len() % 2 != 0 {
                return Err(bad());
            }
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if tag == der::Tag::PrintableString
        && !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
    {
        return Err(bad());
    }
    if s.is_empty() || s.chars().count() > MAX_CHALLENGE || s.chars().any(char::is_control) {
        return Err(ScepError::Invalid(
            "challengePassword (1 to 4096 printable characters)",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn a_challenge_as_long_as_a_signed_token_is_read_and_a_longer_one_refused() {
        // A JWS has '_' and '-', which PrintableString lacks: clients send UTF8String.
        let mut token = "eyJhbGciOiJFUzI1NiJ9.".to_string() + &"a_-b".repeat(1024);
        token.truncate(MAX_CHALLENGE);
        assert_eq!(
            directory_string(der::Tag::Utf8String, token.as_bytes()).unwrap(),
            token
        );
        let longer = token.clone() + "x";
        assert!(directory_string(der::Tag::Utf8String, longer.as_bytes()).is_err());
        assert!(directory_string(der::Tag::Utf8String, b"").is_err());
        assert!(directory_string(der::Tag::Utf8String, b"bell\x07").is_err());
        // PrintableString keeps its alphabet.
        assert!(directory_string(der::Tag::PrintableString, b"a_b").is_err());
    }
}
