//! The signer operations of SCEP's registration authority (RFC 8894), allowed to the front
//! alone: the RA certificate, opening a device's envelope, and signing a reply.
//!
//! In: structured fields the front parsed from a device's message. Out: the RA certificate,
//! the envelope's plaintext (a CSR or an issuer-and-serial, which may hold a challenge
//! password: its `Debug` is redacted), or the reply's signed attributes with their
//! signature. The signer builds the attributes itself; the one value it signs on the
//! caller's word is the digest of the encapsulated reply, which says nothing the signer
//! vouches for (the RA key certifies nothing).

use serde::{Deserialize, Serialize};
use std::fmt;
use strongroom_types::scep::{ContentCipher, ScepFailInfo, ScepPkiStatus};
use strongroom_types::CaId;

/// Most ciphertext bytes one envelope may hold (a CSR with a 4096-bit key and many names is
/// under 8 KiB).
pub const MAX_SCEP_CIPHERTEXT: usize = 64 * 1024;
/// Longest transactionID (RFC 8894 gives no limit; real clients send 40 to 64 characters).
pub const MAX_SCEP_TRANSACTION_ID: usize = 128;

/// A device's `pkcsPKIEnvelope`, as the front parsed it (one key-transport recipient).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScepEnvelope {
    /// The CA whose RA the device encrypted to.
    pub ca: CaId,
    /// The recipient's serial (issuerAndSerialNumber), big-endian bytes as in the DER:
    /// which RA certificate the device used (the current one or its predecessor).
    pub recipient_serial: Vec<u8>,
    /// The content-encryption key, RSA PKCS#1 v1.5 encrypted to the RA key.
    pub encrypted_key: Vec<u8>,
    /// The content cipher (the front has already checked the profile allows it).
    pub cipher: ContentCipher,
    /// Its IV.
    pub iv: Vec<u8>,
    /// The encrypted content (CBC, PKCS#7 padding), at most [`MAX_SCEP_CIPHERTEXT`] bytes.
    pub ciphertext: Vec<u8>,
}

/// What a decrypted envelope held. Redacted in `Debug`: a CSR's challengePassword is a
/// secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScepPlaintext(pub Vec<u8>);

impl fmt::Debug for ScepPlaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScepPlaintext({} bytes)", self.0.len())
    }
}

/// A reply to sign: the fields of its signed attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScepReplyRequest {
    /// The CA whose RA signs.
    pub ca: CaId,
    /// pkiStatus.
    pub pki_status: ScepPkiStatus,
    /// failInfo: present exactly when the status is a failure.
    pub fail_info: Option<ScepFailInfo>,
    /// The request's transactionID, echoed (at most [`MAX_SCEP_TRANSACTION_ID`] printable
    /// characters).
    pub transaction_id: String,
    /// The request's senderNonce, echoed as recipientNonce (16 bytes).
    pub recipient_nonce: Vec<u8>,
    /// SHA-256 of the encapsulated content (of nothing when the reply carries none).
    pub content_digest: Vec<u8>,
}

/// A signed reply's parts, for the front to assemble the SignedData around.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedScepReply {
    /// The DER `SET OF Attribute` that was signed (the front re-tags it `[0]`).
    pub signed_attributes: Vec<u8>,
    /// RSA PKCS#1 v1.5 SHA-256 signature over `signed_attributes`.
    pub signature: Vec<u8>,
    /// The RA certificate whose key signed, DER.
    pub ra_certificate: Vec<u8>,
}

/// A GetNextCACert answer's parts, for the front to assemble the SignedData around.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedScepNextCa {
    /// The certificates-only message of the successor's chain (successor first), DER.
    pub content: Vec<u8>,
    /// The successor's chain, DER, successor first (also the message's certificates).
    pub certificates: Vec<Vec<u8>>,
    /// The DER `SET OF Attribute` that was signed (contentType, messageDigest).
    pub signed_attributes: Vec<u8>,
    /// RSA PKCS#1 v1.5 SHA-256 signature over `signed_attributes` by the RA key.
    pub signature: Vec<u8>,
    /// The RA certificate whose key signed, DER.
    pub ra_certificate: Vec<u8>,
}
