//! The HTTP query of a SCEP request. In: the raw query string of `GET/POST /scep?...`, and
//! for a PKIOperation by GET its `message` parameter. Out: the operation asked for, the
//! message parameter, and the decoded DER of a GET PKIOperation — or `BadQuery`.
//!
//! Strict and bounded: each parameter at most once, operation names exactly as RFC 8894
//! §4.1 spells them, percent-escapes well formed. The GET message is base64 (RFC 8894
//! §4.3), perhaps percent-encoded, with or without padding and line breaks; a `+` turned
//! into a space by a form-decoding proxy is put back.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::error::ScepError;

/// The longest query string accepted: a base64, percent-encoded message of `MAX_MESSAGE`.
pub const MAX_QUERY: usize = 3 * 4 * crate::pki_message::MAX_MESSAGE / 3 + 1024;
/// The longest `message` of a GetCACert/GetCACaps (a CA identifier).
const MAX_CA_IDENT: usize = 255;

/// The operation a SCEP client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScepOperation {
    /// `GetCACaps`: the capabilities list.
    GetCaCaps,
    /// `GetCACert`: the RA and CA certificates.
    GetCaCert,
    /// `GetNextCACert`: the successor CA's certificate, signed.
    GetNextCaCert,
    /// `PKIOperation`: a signed, enveloped request (POST body, or `message` by GET).
    PkiOperation,
}

impl ScepOperation {
    fn from_name(name: &str) -> Option<ScepOperation> {
        match name {
            "GetCACaps" => Some(ScepOperation::GetCaCaps),
            "GetCACert" => Some(ScepOperation::GetCaCert),
            "GetNextCACert" => Some(ScepOperation::GetNextCaCert),
            "PKIOperation" => Some(ScepOperation::PkiOperation),
            _ => None,
        }
    }
}

/// A parsed SCEP query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScepQuery {
    /// The operation.
    pub operation: ScepOperation,
    /// The `message` parameter, percent-decoded: a CA identifier for GetCACert/GetCACaps, the
    /// base64 request for a PKIOperation by GET (decode it with `decode_get_message`).
    pub message: Option<String>,
}

/// Parse a query string (without the leading `?`).
pub fn parse_query(query: &str) -> Result<ScepQuery, ScepError> {
    if query.len() > MAX_QUERY {
        return Err(ScepError::TooLarge {
            what: "query string",
            limit: MAX_QUERY,
        });
    }
    let (mut operation, mut message) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(key)?.as_str() {
            "operation" => {
                if operation.is_some() {
                    return Err(ScepError::BadQuery("operation given twice"));
                }
                let name = percent_decode(value)?;
                operation = Some(
                    ScepOperation::from_name(&name)
                        .ok_or(ScepError::BadQuery("unknown operation"))?,
                );
            }
            "message" => {
                if message.is_some() {
                    return Err(ScepError::BadQuery("message given twice"));
                }
                message = Some(percent_decode(value)?);
            }
            // Other parameters (cache busters, vendor additions) carry nothing we use.
            _ => {}
        }
    }
    let operation = operation.ok_or(ScepError::BadQuery("no operation parameter"))?;
    if let Some(m) = &message {
        if operation != ScepOperation::PkiOperation && m.len() > MAX_CA_IDENT {
            return Err(ScepError::BadQuery("message (CA identifier) too long"));
        }
    }
    Ok(ScepQuery { operation, message })
}

/// The DER of a PKIOperation sent by GET, from its (already percent-decoded) `message`.
pub fn decode_get_message(message: &str) -> Result<Vec<u8>, ScepError> {
    if message.len() > MAX_QUERY {
        return Err(ScepError::TooLarge {
            what: "message parameter",
            limit: MAX_QUERY,
        });
    }
    let cleaned: String = message
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let url_safe = cleaned.contains(['-', '_']);
    let alphabet = if url_safe {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let der = GeneralPurpose::new(alphabet, config)
        .decode(cleaned.as_bytes())
        .map_err(|_| ScepError::BadQuery("message is not base64"))?;
    if der.len() > crate::pki_message::MAX_MESSAGE {
        return Err(ScepError::TooLarge {
            what: "PKIOperation message",
            limit: crate::pki_message::MAX_MESSAGE,
        });
    }
    Ok(der)
}

/// Percent-decoding of one query component. `+` stays `+`: base64 uses it, and SCEP clients
/// do not form-encode spaces.
fn percent_decode(s: &str) -> Result<String, ScepError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(ScepError::BadQuery("truncated percent-escape"))?;
            let hex =
                std::str::from_utf8(hex).map_err(|_| ScepError::BadQuery("bad percent-escape"))?;
            out.push(
                u8::from_str_radix(hex, 16)
                    .map_err(|_| ScepError::BadQuery("bad percent-escape"))?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ScepError::BadQuery("query is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations() {
        let q = parse_query("operation=GetCACaps&message=CA").expect("valid");
        assert_eq!(
            q,
            ScepQuery {
                operation: ScepOperation::GetCaCaps,
                message: Some("CA".into())
            }
        );
        assert_eq!(
            parse_query("operation=GetNextCACert").map(|q| q.operation),
            Ok(ScepOperation::GetNextCaCert)
        );
        assert!(
            parse_query("operation=getcacaps").is_err(),
            "names are case-sensitive"
        );
        assert!(parse_query("operation=GetCACert&operation=GetCACaps").is_err());
        assert!(parse_query("message=x").is_err());
        assert!(parse_query("operation=PKIOperation&message=%zz").is_err());
        assert!(parse_query("operation=PKIOperation&message=%4").is_err());
    }

    #[test]
    fn get_messages() {
        let der = [0x30u8, 0x03, 0x02, 0x01, 0xfb];
        for form in ["MAMCAfs=", "MAMCAfs", "MAMC\r\nAfs=", "MAMCAfs%3D"] {
            let q = parse_query(&format!("operation=PKIOperation&message={form}")).expect("query");
            assert_eq!(
                decode_get_message(q.message.as_deref().unwrap_or("")),
                Ok(der.to_vec()),
                "{form}"
            );
        }
        // '+' in base64, sent raw, percent-encoded, or turned into a space.
        for form in ["+/8=", "%2B%2F8%3D", " /8"] {
            let q = parse_query(&format!("operation=PKIOperation&message={form}")).expect("query");
            assert_eq!(
                decode_get_message(q.message.as_deref().unwrap_or("")),
                Ok(vec![0xfb, 0xff]),
                "{form}"
            );
        }
        assert!(decode_get_message("not base64!").is_err());
    }
}
