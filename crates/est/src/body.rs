//! Base64 bodies (RFC 7030 §4: `Content-Transfer-Encoding: base64`, the DER inside).
//!
//! In: a request body. Out: its DER, or [`EstError::Base64`]. Clients send one long line
//! (curl with `openssl base64 -A`) or lines wrapped at 64 or 76 columns, ending in LF or
//! CRLF; both are accepted, and nothing else: no other whitespace, no PEM armour, no
//! URL-safe alphabet, padding required. Replies come in one of two forms ([`Base64Form`]),
//! because clients disagree: `openssl base64 -d` (the curl recipe integrators script)
//! reads lines of at most 1024 characters, so a chain must be wrapped; strongSwan's
//! `pki --est` decodes only an unbroken line (RFC 4648 base64, which RFC 8951 points to).
//! Most decoders (Go, BouncyCastle, libest) take either.

use crate::EstError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The largest body read (a CSR with a 4096-bit RSA key and many names is a few KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The DER inside a base64 body.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>, EstError> {
    if body.len() > MAX_BODY {
        return Err(EstError::TooLarge { limit: MAX_BODY });
    }
    let mut joined = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let mut line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if let Some(bad) = line.iter().find(|b| !is_base64(**b)) {
            return Err(EstError::Base64(format!(
                "byte 0x{bad:02x} is not in the base64 alphabet (A-Z a-z 0-9 + / =)"
            )));
        }
        joined.extend_from_slice(line);
    }
    if joined.is_empty() {
        return Err(EstError::Base64("the body is empty".into()));
    }
    STANDARD
        .decode(&joined)
        .map_err(|e| EstError::Base64(e.to_string()))
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// How a reply's base64 is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base64Form {
    /// Lines of 64 characters, each ended by CRLF (RFC 7030's MIME form).
    #[default]
    Wrapped,
    /// One line, ended by CRLF (RFC 4648 without line breaks).
    OneLine,
}

/// Characters per line of a wrapped reply.
const LINE: usize = 64;

/// `der` as a reply body in `form`.
pub fn encode_body(der: &[u8], form: Base64Form) -> String {
    let text = STANDARD.encode(der);
    match form {
        Base64Form::OneLine => text + "\r\n",
        Base64Form::Wrapped => {
            let mut out = String::with_capacity(text.len() + 2 * (text.len() / LINE + 1));
            for line in text.as_bytes().chunks(LINE) {
                // base64 is ASCII.
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push_str("\r\n");
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn one_line_and_wrapped_bodies_decode_alike() {
        let der: Vec<u8> = (0..=255u8).collect();
        let one = STANDARD.encode(&der);
        assert_eq!(decode_body(one.as_bytes()).unwrap(), der);
        assert_eq!(decode_body(format!("{one}\n").as_bytes()).unwrap(), der);
        let sent = encode_body(&der, Base64Form::OneLine);
        assert_eq!(sent, format!("{one}\r\n"));
        assert_eq!(decode_body(sent.as_bytes()).unwrap(), der);
        let wrapped = encode_body(&der, Base64Form::Wrapped);
        assert!(wrapped.split("\r\n").all(|l| l.len() <= 64));
        assert_eq!(wrapped.lines().count(), one.len().div_ceil(64));
        assert_eq!(decode_body(wrapped.as_bytes()).unwrap(), der);
        let lf = wrapped.replace("\r\n", "\n");
        assert_eq!(decode_body(lf.as_bytes()).unwrap(), der);
        let at76: String = one
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_body(at76.as_bytes()).unwrap(), der);
    }

    #[test]
    fn anything_else_is_refused_with_what_is_wrong() {
        let refused = |body: &[u8], why: &str| {
            let e = decode_body(body).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            assert_eq!(e.status(), 400);
        };
        refused(b"", "empty");
        refused(b"\r\n", "empty");
        refused(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "0x2d");
        refused(b"AA AA", "0x20");
        refused(b"AA\tAA", "0x09");
        refused(b"ab_-", "0x5f");
        refused(b"AAA", "");
        refused(b"AA\rAA", "0x0d");
        let big = vec![b'A'; MAX_BODY + 4];
        assert_eq!(
            decode_body(&big).unwrap_err(),
            EstError::TooLarge { limit: MAX_BODY }
        );
    }
}
