//! Challenge values (RFC 8555 §8, RFC 8737) and ARI certificate ids (RFC 9773 §4.1).
//!
//! In: a token and the account key thumbprint; a certID path segment. Out: the exact bytes
//! a validator expects to find, or the (AKI, serial) pair a certID names.

use crate::b64;
use crate::problem::Problem;

/// ALPN protocol of tls-alpn-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), DER content octets of the OID.
pub const ACME_IDENTIFIER_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f];

/// A new random token (128 bits of entropy or more, RFC 8555 §8.1); None only when the
/// system has no randomness to give.
pub fn new_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).ok()?;
    Some(b64::encode(&bytes))
}

/// `token.thumbprint` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// The TXT record value for dns-01: base64url(SHA-256(key authorization)).
pub fn dns01_value(key_authorization: &str) -> String {
    b64::encode(sha256(key_authorization.as_bytes()).as_slice())
}

/// The acmeIdentifier extension value for tls-alpn-01: SHA-256(key authorization), which the
/// extension carries as an OCTET STRING.
pub fn tls_alpn_digest(key_authorization: &str) -> [u8; 32] {
    sha256(key_authorization.as_bytes())
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// An ARI certID `base64url(AKI keyIdentifier).base64url(serial DER content)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AriCertId {
    /// The issuer's key identifier.
    pub key_identifier: Vec<u8>,
    /// The serial number's DER content octets (may have a leading zero).
    pub serial: Vec<u8>,
}

impl AriCertId {
    /// Parses a certID.
    pub fn parse(s: &str) -> Result<AriCertId, Problem> {
        let (aki, serial) = s.split_once('.').ok_or_else(|| {
            Problem::malformed("an ARI certID is base64url(AKI keyIdentifier).base64url(serial)")
        })?;
        let key_identifier =
            b64::decode(aki, "the certID's key identifier").map_err(Problem::malformed)?;
        let serial = b64::decode(serial, "the certID's serial").map_err(Problem::malformed)?;
        if key_identifier.is_empty()
            || key_identifier.len() > 64
            || serial.is_empty()
            || serial.len() > 21
        {
            return Err(Problem::malformed(
                "the certID's parts have impossible lengths",
            ));
        }
        Ok(AriCertId {
            key_identifier,
            serial,
        })
    }

    /// The certID of a certificate: its issuer's key identifier and its serial (as the
    /// DER INTEGER's content octets, with the sign octet when the high bit is set).
    pub fn of(key_identifier: &[u8], serial: &strongroom_types::Serial) -> AriCertId {
        let mut content = Vec::with_capacity(serial.as_bytes().len() + 1);
        if serial.as_bytes().first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(serial.as_bytes());
        AriCertId {
            key_identifier: key_identifier.to_vec(),
            serial: content,
        }
    }

    /// The textual form, `base64url(keyIdentifier).base64url(serial)`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            b64::encode(&self.key_identifier),
            b64::encode(&self.serial)
        )
    }

    /// The serial, when it is a valid positive serial.
    pub fn serial(&self) -> Option<strongroom_types::Serial> {
        strongroom_types::Serial::from_be_bytes(&self.serial)
    }
}

/// The ARI suggested window for a certificate valid from `not_before` to `not_after`:
/// between `start` and `end` fractions of its lifetime (e.g. 0.66 and 0.75).
pub fn renewal_window(not_before: i64, not_after: i64, start: f64, end: f64) -> (i64, i64) {
    let life = (not_after - not_before).max(0) as f64;
    (
        not_before + (life * start) as i64,
        not_before + (life * end) as i64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        // RFC 8555 §8.4 shape: 43 base64url characters.
        let v = dns01_value(&key_authorization("tok", "thumb"));
        assert_eq!(v.len(), 43);
        assert_eq!(new_token().unwrap().len(), 43);
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn ari_cert_id() {
        // RFC 9773 §4.1 example.
        let id = AriCertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(id.serial, vec![0x00, 0x87, 0x65, 0x43, 0x21]);
        assert_eq!(id.serial().unwrap().to_string(), "87654321");
        let rebuilt = AriCertId::of(&id.key_identifier, &id.serial().unwrap());
        assert_eq!(rebuilt.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        for bad in [
            "",
            "abc",
            ".x",
            "x.",
            "a+b.c",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=",
        ] {
            assert!(AriCertId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(renewal_window(0, 100, 0.5, 0.75), (50, 75));
    }
}
