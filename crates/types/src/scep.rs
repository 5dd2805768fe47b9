//! SCEP's domain values (RFC 8894 §3.2.1): one enum each for the message type, the PKI
//! status, the failure information and the content cipher of a device's envelope, shared by
//! the front that parses a device's message, the wire that carries the structured fields to
//! the signer, and the signer that decrypts the envelope and signs the reply's attributes.
//!
//! In: the numbers and object identifiers SCEP puts on the wire. Out: these enums. The enums
//! are part of the signer protocol's encoding (postcard): append, never reorder.

use serde::{Deserialize, Serialize};

/// `messageType` (RFC 8894 §3.2.1.2), carried as a PrintableString of its decimal number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScepMessageType {
    /// 3: the CA's answer.
    CertRep,
    /// 17: a renewal, signed by the certificate it renews.
    RenewalReq,
    /// 19: a certification request, signed by a self-signed certificate of the new key.
    PkcsReq,
    /// 20: polling for a request answered PENDING.
    CertPoll,
    /// 21: a certificate by issuer and serial.
    GetCert,
    /// 22: a CRL for the certificate named by issuer and serial.
    GetCrl,
}

impl ScepMessageType {
    /// Every type, in declaration order.
    pub const ALL: [ScepMessageType; 6] = [
        ScepMessageType::CertRep,
        ScepMessageType::RenewalReq,
        ScepMessageType::PkcsReq,
        ScepMessageType::CertPoll,
        ScepMessageType::GetCert,
        ScepMessageType::GetCrl,
    ];

    /// The number on the wire.
    pub fn number(self) -> u8 {
        match self {
            ScepMessageType::CertRep => 3,
            ScepMessageType::RenewalReq => 17,
            ScepMessageType::PkcsReq => 19,
            ScepMessageType::CertPoll => 20,
            ScepMessageType::GetCert => 21,
            ScepMessageType::GetCrl => 22,
        }
    }

    /// The type with this number, if SCEP defines one.
    pub fn from_number(n: u32) -> Option<ScepMessageType> {
        ScepMessageType::ALL
            .into_iter()
            .find(|t| u32::from(t.number()) == n)
    }

    /// A name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ScepMessageType::CertRep => "CertRep",
            ScepMessageType::RenewalReq => "RenewalReq",
            ScepMessageType::PkcsReq => "PKCSReq",
            ScepMessageType::CertPoll => "CertPoll",
            ScepMessageType::GetCert => "GetCert",
            ScepMessageType::GetCrl => "GetCRL",
        }
    }
}

/// `pkiStatus` (RFC 8894 §3.2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScepPkiStatus {
    /// 0: granted; the reply carries the certificate or CRL.
    Success,
    /// 2: rejected; the reply carries a failInfo.
    Failure,
    /// 3: waiting for an approval; poll with CertPoll.
    Pending,
}

impl ScepPkiStatus {
    /// The number on the wire.
    pub fn number(self) -> u8 {
        match self {
            ScepPkiStatus::Success => 0,
            ScepPkiStatus::Failure => 2,
            ScepPkiStatus::Pending => 3,
        }
    }
}

/// `failInfo` (RFC 8894 §3.2.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScepFailInfo {
    /// 0: unrecognised or unsupported algorithm.
    BadAlg,
    /// 1: integrity check (signature, decryption) failed.
    BadMessageCheck,
    /// 2: transaction not permitted or supported (wrong challenge, policy refusal).
    BadRequest,
    /// 3: the signingTime was not close enough to the system time.
    BadTime,
    /// 4: no certificate could be identified matching the criteria.
    BadCertId,
}

impl ScepFailInfo {
    /// Every value, in declaration order.
    pub const ALL: [ScepFailInfo; 5] = [
        ScepFailInfo::BadAlg,
        ScepFailInfo::BadMessageCheck,
        ScepFailInfo::BadRequest,
        ScepFailInfo::BadTime,
        ScepFailInfo::BadCertId,
    ];

    /// The number on the wire.
    pub fn number(self) -> u8 {
        match self {
            ScepFailInfo::BadAlg => 0,
            ScepFailInfo::BadMessageCheck => 1,
            ScepFailInfo::BadRequest => 2,
            ScepFailInfo::BadTime => 3,
            ScepFailInfo::BadCertId => 4,
        }
    }

    /// A name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ScepFailInfo::BadAlg => "badAlg",
            ScepFailInfo::BadMessageCheck => "badMessageCheck",
            ScepFailInfo::BadRequest => "badRequest",
            ScepFailInfo::BadTime => "badTime",
            ScepFailInfo::BadCertId => "badCertId",
        }
    }
}

/// The content-encryption algorithm of a device's `pkcsPKIEnvelope`. DES and 3DES exist for
/// legacy clients (Debian's `scepclient` sends single DES whatever GetCACaps says): a profile
/// may refuse them, and each use is logged and counted. Replies are always AES.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentCipher {
    /// AES-128-CBC (2.16.840.1.101.3.4.1.2).
    Aes128Cbc,
    /// AES-192-CBC (2.16.840.1.101.3.4.1.22).
    Aes192Cbc,
    /// AES-256-CBC (2.16.840.1.101.3.4.1.42).
    Aes256Cbc,
    /// DES-EDE3-CBC (1.2.840.113549.3.7); legacy.
    DesEde3Cbc,
    /// DES-CBC (1.3.14.3.2.7); legacy, 56-bit.
    DesCbc,
}

impl ContentCipher {
    /// Every cipher, in declaration order.
    pub const ALL: [ContentCipher; 5] = [
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes192Cbc,
        ContentCipher::Aes256Cbc,
        ContentCipher::DesEde3Cbc,
        ContentCipher::DesCbc,
    ];

    /// The key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            ContentCipher::Aes128Cbc => 16,
            ContentCipher::Aes192Cbc => 24,
            ContentCipher::Aes256Cbc => 32,
            ContentCipher::DesEde3Cbc => 24,
            ContentCipher::DesCbc => 8,
        }
    }

    /// The block (and IV) length in bytes.
    pub fn block_len(self) -> usize {
        match self {
            ContentCipher::Aes128Cbc | ContentCipher::Aes192Cbc | ContentCipher::Aes256Cbc => 16,
            ContentCipher::DesEde3Cbc | ContentCipher::DesCbc => 8,
        }
    }

    /// Whether this is a legacy (DES family) cipher.
    pub fn is_legacy(self) -> bool {
        matches!(self, ContentCipher::DesEde3Cbc | ContentCipher::DesCbc)
    }

    /// The algorithm's object identifier, dotted.
    pub fn oid(self) -> &'static str {
        match self {
            ContentCipher::Aes128Cbc => "2.16.840.1.101.3.4.1.2",
            ContentCipher::Aes192Cbc => "2.16.840.1.101.3.4.1.22",
            ContentCipher::Aes256Cbc => "2.16.840.1.101.3.4.1.42",
            ContentCipher::DesEde3Cbc => "1.2.840.113549.3.7",
            ContentCipher::DesCbc => "1.3.14.3.2.7",
        }
    }

    /// The cipher with this dotted object identifier.
    pub fn from_oid(oid: &str) -> Option<ContentCipher> {
        ContentCipher::ALL.into_iter().find(|c| c.oid() == oid)
    }

    /// A name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentCipher::Aes128Cbc => "aes-128-cbc",
            ContentCipher::Aes192Cbc => "aes-192-cbc",
            ContentCipher::Aes256Cbc => "aes-256-cbc",
            ContentCipher::DesEde3Cbc => "des-ede3-cbc",
            ContentCipher::DesCbc => "des-cbc",
        }
    }
}

/// The digest of a SCEP SignedData's signer (RFC 8894 §3.1: SHA-256 and SHA-512 advertised;
/// SHA-1 accepted from legacy clients). The reply is signed with the request's digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScepDigest {
    /// SHA-1 (1.3.14.3.2.26); legacy.
    Sha1,
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
    /// SHA-512 (2.16.840.1.101.3.4.2.3).
    Sha512,
}

impl ScepDigest {
    /// Every digest, in declaration order.
    pub const ALL: [ScepDigest; 3] = [ScepDigest::Sha1, ScepDigest::Sha256, ScepDigest::Sha512];

    /// The algorithm's object identifier, dotted.
    pub fn oid(self) -> &'static str {
        match self {
            ScepDigest::Sha1 => "1.3.14.3.2.26",
            ScepDigest::Sha256 => "2.16.840.1.101.3.4.2.1",
            ScepDigest::Sha512 => "2.16.840.1.101.3.4.2.3",
        }
    }

    /// The digest with this dotted object identifier.
    pub fn from_oid(oid: &str) -> Option<ScepDigest> {
        ScepDigest::ALL.into_iter().find(|d| d.oid() == oid)
    }

    /// The digest's length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            ScepDigest::Sha1 => 20,
            ScepDigest::Sha256 => 32,
            ScepDigest::Sha512 => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for t in ScepMessageType::ALL {
            assert_eq!(ScepMessageType::from_number(t.number().into()), Some(t));
        }
        assert_eq!(ScepMessageType::from_number(18), None);
        for c in ContentCipher::ALL {
            assert_eq!(ContentCipher::from_oid(c.oid()), Some(c));
        }
        for d in ScepDigest::ALL {
            assert_eq!(ScepDigest::from_oid(d.oid()), Some(d));
        }
    }
}
