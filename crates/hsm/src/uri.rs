//! PKCS#11 URIs (RFC 7512), the stable name of a key in configuration and logs.
//!
//! In: text such as `pkcs11:token=Strongroom%20Dev;object=root-ca;id=%01%02`.
//! Out: [`Pkcs11Uri`] holding the three attributes Strongroom uses (token, object, id), and
//! back to canonical text. Parsing is strict: attributes outside RFC 7512's standard set are
//! errors, and a query part is refused outright because it is where `pin-value` lives.

use crate::error::HsmError;
use std::fmt;
use std::str::FromStr;

/// A key's address on a token: any of token label, object label and object id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pkcs11Uri {
    /// Token label (`token=`).
    pub token: Option<String>,
    /// Object label, CKA_LABEL (`object=`).
    pub object: Option<String>,
    /// Object id, CKA_ID (`id=`), raw bytes.
    pub id: Option<Vec<u8>>,
}

/// Path attributes RFC 7512 defines that we accept but do not use for key lookup.
const IGNORED_ATTRIBUTES: &[&str] = &[
    "manufacturer",
    "model",
    "serial",
    "library-manufacturer",
    "library-description",
    "library-version",
    "slot-id",
    "slot-description",
    "slot-manufacturer",
];

fn invalid(detail: impl Into<String>) -> HsmError {
    HsmError::InvalidUri {
        detail: detail.into(),
    }
}

impl FromStr for Pkcs11Uri {
    type Err = HsmError;

    fn from_str(s: &str) -> Result<Self, HsmError> {
        let rest = match s.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("pkcs11:") => &s[7..],
            _ => return Err(invalid("must start with \"pkcs11:\"")),
        };
        // Security: the query part carries pin-value/pin-source. Refuse it without echoing it.
        if rest.contains('?') {
            return Err(invalid(
                "query attributes (?pin-value=..., ?pin-source=...) are refused: PINs never go in URIs; use the PIN file",
            ));
        }
        if rest.contains('#') {
            return Err(invalid("fragments (#...) are not part of a PKCS#11 URI"));
        }
        let mut uri = Pkcs11Uri::default();
        let mut seen: Vec<&str> = Vec::new();
        for attr in rest.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| invalid(format!("attribute {attr:?} has no '='")))?;
            if seen.contains(&name) {
                return Err(invalid(format!("attribute {name:?} appears twice")));
            }
            seen.push(name);
            let bytes = percent_decode(name, value)?;
            match name {
                "token" => uri.token = Some(text_value(name, bytes)?),
                "object" => uri.object = Some(text_value(name, bytes)?),
                "id" => {
                    if bytes.is_empty() {
                        return Err(invalid("id is empty"));
                    }
                    uri.id = Some(bytes);
                }
                "type" => match bytes.as_slice() {
                    b"private" | b"public" => {}
                    _ => {
                        return Err(invalid(
                            "type must be private or public: Strongroom URIs name key pairs",
                        ))
                    }
                },
                _ if IGNORED_ATTRIBUTES.contains(&name) => {}
                _ => {
                    return Err(invalid(format!(
                        "unknown attribute {name:?}; Strongroom understands token, object and id"
                    )))
                }
            }
        }
        Ok(uri)
    }
}

/// A token or object label: non-empty UTF-8.
fn text_value(name: &str, bytes: Vec<u8>) -> Result<String, HsmError> {
    if bytes.is_empty() {
        return Err(invalid(format!("{name} is empty")));
    }
    String::from_utf8(bytes).map_err(|_| invalid(format!("{name} is not UTF-8 after decoding")))
}

/// RFC 3986 unreserved characters: the only ones we write unencoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 7512 `pk11-p-res`: reserved characters a path value may also carry literally.
fn is_path_literal(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b':' | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b'&'
        )
}

fn percent_decode(name: &str, value: &str) -> Result<Vec<u8>, HsmError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    invalid(format!("{name} has a '%' not followed by two hex digits"))
                })?;
            out.push(hex);
            i += 3;
        } else if is_path_literal(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(invalid(format!(
                "{name} contains {:?} unencoded; percent-encode it",
                char::from(b)
            )));
        }
    }
    Ok(out)
}

fn write_encoded(f: &mut fmt::Formatter<'_>, bytes: &[u8], encode_all: bool) -> fmt::Result {
    for &b in bytes {
        if !encode_all && is_unreserved(b) {
            write!(f, "{}", char::from(b))?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Pkcs11Uri {
    /// Canonical form: attributes in the order token, object, id; labels with everything but
    /// unreserved characters percent-encoded; the id fully percent-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:")?;
        let mut sep = "";
        if let Some(token) = &self.token {
            f.write_str("token=")?;
            write_encoded(f, token.as_bytes(), false)?;
            sep = ";";
        }
        if let Some(object) = &self.object {
            write!(f, "{sep}object=")?;
            write_encoded(f, object.as_bytes(), false)?;
            sep = ";";
        }
        if let Some(id) = &self.id {
            write!(f, "{sep}id=")?;
            write_encoded(f, id, true)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Pkcs11Uri, HsmError> {
        s.parse()
    }

    #[test]
    fn parses_and_prints_the_canonical_example() {
        let text = "pkcs11:token=Strongroom%20Dev;object=root-ca;id=%01%02";
        let uri = parse(text).unwrap();
        assert_eq!(uri.token.as_deref(), Some("Strongroom Dev"));
        assert_eq!(uri.object.as_deref(), Some("root-ca"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(uri.to_string(), text);
    }

    #[test]
    fn round_trips_awkward_labels() {
        let uri = Pkcs11Uri {
            token: Some("a;b=c%d é".into()),
            object: Some("x/y?z#".into()),
            id: Some(vec![0, 0xff, b'a']),
        };
        let text = uri.to_string();
        assert_eq!(
            text,
            "pkcs11:token=a%3Bb%3Dc%25d%20%C3%A9;object=x%2Fy%3Fz%23;id=%00%FF%61"
        );
        assert_eq!(parse(&text).unwrap(), uri);
    }

    #[test]
    fn accepts_standard_attributes_and_ignores_them() {
        let uri = parse(
            "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=abc;token=T;\
             type=private;object=k;slot-id=3;library-version=2.6",
        )
        .unwrap();
        assert_eq!(
            uri,
            Pkcs11Uri {
                token: Some("T".into()),
                object: Some("k".into()),
                id: None
            }
        );
        assert_eq!(parse("pkcs11:").unwrap(), Pkcs11Uri::default());
        assert_eq!(
            parse("PKCS11:object=k").unwrap().object.as_deref(),
            Some("k")
        );
        // Literal pk11-p-res characters are allowed in values.
        assert_eq!(
            parse("pkcs11:object=a:b@c").unwrap().object.as_deref(),
            Some("a:b@c")
        );
    }

    #[test]
    fn refuses_pins_and_unknown_things() {
        let err = parse("pkcs11:object=k?pin-value=1234")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PINs never go in URIs"), "{err}");
        assert!(!err.contains("1234"), "{err}");
        assert!(parse("pkcs11:object=k;x-vendor=1").is_err());
        assert!(parse("pkcs11:object=k;type=cert").is_err());
        assert!(parse("pkcs11:object=k;object=j").is_err());
        assert!(parse("pkcs11:object").is_err());
        assert!(parse("pkcs11:object=%zz").is_err());
        assert!(parse("pkcs11:object=%4").is_err());
        assert!(parse("pkcs11:object=a b").is_err());
        assert!(parse("pkcs11:object=a/b").is_err());
        assert!(parse("pkcs11:object=").is_err());
        assert!(parse("pkcs11:id=").is_err());
        assert!(parse("pkcs11:token=%FF").is_err());
        assert!(parse("file:object=k").is_err());
        assert!(parse("pkcs").is_err());
        assert!(parse("pkcs11:object=k#frag").is_err());
    }
}
