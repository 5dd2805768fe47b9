//! The `/serverkeygen` reply (RFC 7030 §4.4.2): `multipart/mixed` with the private key and
//! the certificate (`application/pkcs7-mime; smime-type=certs-only`).
//!
//! In: the key part — the PKCS#8 DER of the key the front made (`application/pkcs8`, sent
//! inside the TLS session only, as §4.4.2 allows) or the CMS EnvelopedData holding it
//! encrypted to the client (`application/pkcs7-mime; smime-type=server-generated-key`,
//! [`crate::encrypted_key_part`]) — and the certificates-only DER of the issued
//! certificate. Out: the body (held in a `Zeroizing` buffer: it may contain the key) and the
//! `Content-Type` with its boundary; the caller wipes its own copy.

use crate::{encode_body, Base64Form};
use zeroize::Zeroizing;

/// The boundary between the parts: base64 and the part headers never contain it.
const BOUNDARY: &str = "strongroom-est-serverkeygen";

/// A `/serverkeygen` reply.
pub struct ServerKeygenReply {
    /// `multipart/mixed; boundary=…`.
    pub content_type: String,
    /// The body, which holds the private key.
    pub body: Zeroizing<Vec<u8>>,
}

// By hand: the body holds a private key.
impl std::fmt::Debug for ServerKeygenReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeygenReply")
            .field("content_type", &self.content_type)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// The key part of a `/serverkeygen` reply.
#[derive(Clone, Copy)]
pub enum KeyPart<'a> {
    /// The key's PKCS#8 DER, in the clear.
    Pkcs8(&'a [u8]),
    /// The key encrypted to the client: the EnvelopedData's DER.
    Encrypted(&'a [u8]),
}

// By hand: the clear form is a private key.
impl std::fmt::Debug for KeyPart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyPart::Pkcs8(k) => write!(f, "Pkcs8(<{} bytes>)", k.len()),
            KeyPart::Encrypted(k) => write!(f, "Encrypted(<{} bytes>)", k.len()),
        }
    }
}

/// The reply carrying `key` and `certs_only`, their base64 in `form`.
pub fn server_keygen_reply(
    key: KeyPart<'_>,
    certs_only: &[u8],
    form: Base64Form,
) -> ServerKeygenReply {
    let (key_type, key) = match key {
        KeyPart::Pkcs8(der) => ("application/pkcs8", der),
        KeyPart::Encrypted(der) => (
            "application/pkcs7-mime; smime-type=server-generated-key",
            der,
        ),
    };
    let key = Zeroizing::new(encode_body(key, form));
    let mut body = Zeroizing::new(Vec::with_capacity(key.len() + certs_only.len() * 2 + 512));
    let part = |body: &mut Vec<u8>, headers: &str, content: &str| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content.as_bytes());
    };
    part(
        &mut body,
        &format!("Content-Type: {key_type}\r\nContent-Transfer-Encoding: base64"),
        &key,
    );
    part(
        &mut body,
        "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64",
        &encode_body(certs_only, form),
    );
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    ServerKeygenReply {
        content_type: format!("multipart/mixed; boundary={BOUNDARY}"),
        body,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;
    use crate::decode_body;

    #[test]
    fn the_two_parts_come_back_out() {
        let reply = server_keygen_reply(
            KeyPart::Pkcs8(b"key bytes"),
            b"certificate bytes",
            Base64Form::Wrapped,
        );
        assert_eq!(
            reply.content_type,
            "multipart/mixed; boundary=strongroom-est-serverkeygen"
        );
        let text = String::from_utf8(reply.body.to_vec()).unwrap();
        let parts: Vec<&str> = text.split("--strongroom-est-serverkeygen").collect();
        assert_eq!(parts.len(), 4, "{text}");
        assert_eq!(parts[0], "");
        assert_eq!(parts[3], "--\r\n");
        let content =
            |p: &str| decode_body(p.split_once("\r\n\r\n").unwrap().1.as_bytes()).unwrap();
        assert!(parts[1].contains("Content-Type: application/pkcs8\r\n"));
        assert_eq!(content(parts[1]), b"key bytes");
        assert!(parts[2].contains("application/pkcs7-mime; smime-type=certs-only"));
        assert_eq!(content(parts[2]), b"certificate bytes");
        assert!(!format!("{reply:?}").contains("a2V5"), "Debug shows no key");
        let sealed = server_keygen_reply(
            KeyPart::Encrypted(b"enveloped"),
            b"certificate bytes",
            Base64Form::OneLine,
        );
        let text = String::from_utf8(sealed.body.to_vec()).unwrap();
        assert!(text
            .contains("Content-Type: application/pkcs7-mime; smime-type=server-generated-key\r\n"));
        assert!(!text.contains("application/pkcs8"));
    }
}
