//! Names that cross trust boundaries: CA and profile identifiers, and the subject names a
//! caller may request (DNS, IP, e-mail, URI).
//!
//! In: untrusted strings from configuration, the wire or the network. Out: values whose
//! syntax has been checked once, so later code never re-validates.

use crate::TypesError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

fn check_identifier(kind: &str, s: &str) -> Result<(), TypesError> {
    let ok_len = !s.is_empty() && s.len() <= 63;
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_edges = !s.starts_with('-') && !s.ends_with('-');
    if ok_len && ok_chars && ok_edges {
        Ok(())
    } else {
        Err(TypesError::Name(format!(
            "invalid {kind} {s:?}: use 1-63 characters a-z, 0-9 and '-', not starting or ending with '-'"
        )))
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = TypesError;
            fn from_str(s: &str) -> Result<Self, TypesError> {
                check_identifier($kind, s)?;
                Ok($name(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// The short name of a CA in this installation, e.g. `root` or `issuing-1`.
    CaId,
    "CA id"
);
identifier!(
    /// The name of a certificate profile, e.g. `tls-server`.
    ProfileName,
    "profile name"
);

/// A DNS name as it may appear in a dNSName SAN: lower-case LDH labels, at most one
/// leading `*.` wildcard label, no trailing dot, not an IP address in disguise.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsName(String);

impl DnsName {
    /// The name as text (always lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name starts with a `*.` wildcard label.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

impl FromStr for DnsName {
    type Err = TypesError;
    fn from_str(raw: &str) -> Result<Self, TypesError> {
        let bad = |why: &str| TypesError::Name(format!("invalid DNS name {raw:?}: {why}"));
        if raw.is_empty() || raw.len() > 253 {
            return Err(bad("must be 1-253 characters"));
        }
        if raw.ends_with('.') {
            return Err(bad("remove the trailing dot"));
        }
        let lower = raw.to_ascii_lowercase();
        let rest = lower.strip_prefix("*.").unwrap_or(&lower);
        let labels: Vec<&str> = rest.split('.').collect();
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("each label must be 1-63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad(
                    "only letters, digits, '-' and one leading '*.' are allowed",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label may not start or end with '-'"));
            }
        }
        // An all-numeric last label means an IP address or a numeric TLD; neither is a
        // DNS name a CA should certify as one (RFC 8738 puts addresses in iPAddress).
        if labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("looks like an IP address; request it as an IP name"));
        }
        if lower.starts_with("*.") && labels.len() < 2 {
            return Err(bad("a wildcard needs at least two labels after '*.'"));
        }
        Ok(DnsName(lower))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subject alternative name a caller asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestedName {
    /// dNSName.
    Dns(DnsName),
    /// iPAddress (RFC 8738 for ACME).
    Ip(IpAddr),
    /// rfc822Name: `local@domain`, ASCII only.
    Email(String),
    /// uniformResourceIdentifier: an absolute URI with a scheme, ASCII only, no spaces.
    Uri(String),
}

impl RequestedName {
    /// Short kind name used in profiles and messages: `dns`, `ip`, `email`, `uri`.
    pub fn kind(&self) -> &'static str {
        match self {
            RequestedName::Dns(_) => "dns",
            RequestedName::Ip(_) => "ip",
            RequestedName::Email(_) => "email",
            RequestedName::Uri(_) => "uri",
        }
    }

    /// Parses `kind:value`, e.g. `dns:www.example.com`, `ip:192.0.2.1`.
    pub fn parse_tagged(s: &str) -> Result<Self, TypesError> {
        let (kind, value) = s.split_once(':').ok_or_else(|| {
            TypesError::Name(format!(
                "name {s:?} must look like dns:NAME, ip:ADDR, email:ADDR or uri:URI"
            ))
        })?;
        RequestedName::parse(kind, value)
    }

    /// Parses a value of the given kind.
    pub fn parse(kind: &str, value: &str) -> Result<Self, TypesError> {
        match kind {
            "dns" => Ok(RequestedName::Dns(value.parse()?)),
            "ip" => value
                .parse::<IpAddr>()
                .map(RequestedName::Ip)
                .map_err(|_| TypesError::Name(format!("invalid IP address {value:?}"))),
            "email" => {
                let (local, domain) = value.split_once('@').ok_or_else(|| {
                    TypesError::Name(format!("invalid e-mail address {value:?}: missing '@'"))
                })?;
                let local_ok = !local.is_empty()
                    && local.len() <= 64
                    && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
                if !local_ok {
                    return Err(TypesError::Name(format!(
                        "invalid e-mail address {value:?}: bad local part"
                    )));
                }
                let domain: DnsName = domain.parse()?;
                if domain.is_wildcard() {
                    return Err(TypesError::Name(format!(
                        "invalid e-mail address {value:?}: wildcard domain"
                    )));
                }
                Ok(RequestedName::Email(format!("{local}@{domain}")))
            }
            "uri" => {
                let scheme_ok = value.split_once(':').is_some_and(|(s, rest)| {
                    !s.is_empty()
                        && !rest.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                });
                if scheme_ok && value.len() <= 2048 && value.bytes().all(|b| b.is_ascii_graphic()) {
                    Ok(RequestedName::Uri(value.to_owned()))
                } else {
                    Err(TypesError::Name(format!(
                        "invalid URI {value:?}: need an absolute ASCII URI without spaces"
                    )))
                }
            }
            other => Err(TypesError::Name(format!(
                "unknown name kind {other:?}; use dns, ip, email or uri"
            ))),
        }
    }
}

impl fmt::Display for RequestedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestedName::Dns(n) => write!(f, "dns:{n}"),
            RequestedName::Ip(a) => write!(f, "ip:{a}"),
            RequestedName::Email(e) => write!(f, "email:{e}"),
            RequestedName::Uri(u) => write!(f, "uri:{u}"),
        }
    }
}

impl FromStr for RequestedName {
    type Err = TypesError;
    /// Parses the tagged form `dns:…`, `ip:…`, `email:…`, `uri:…`.
    fn from_str(s: &str) -> Result<Self, TypesError> {
        RequestedName::parse_tagged(s)
    }
}

impl Serialize for RequestedName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RequestedName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RequestedName::parse_tagged(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DnsName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DnsName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(
            "WWW.Example.com".parse::<DnsName>().unwrap().as_str(),
            "www.example.com"
        );
        assert!("*.example.com".parse::<DnsName>().unwrap().is_wildcard());
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "*.com",
            "a.*.com",
            "192.168.1.1",
            "x.",
            "é.com",
        ] {
            assert!(bad.parse::<DnsName>().is_err(), "{bad} accepted");
        }
        assert!("a".repeat(64).parse::<DnsName>().is_err());
    }

    #[test]
    fn tagged_names() {
        assert_eq!(
            RequestedName::parse_tagged("ip:2001:db8::1")
                .unwrap()
                .to_string(),
            "ip:2001:db8::1"
        );
        assert!(RequestedName::parse_tagged("email:a@b.example").is_ok());
        assert!(RequestedName::parse_tagged("email:nobody").is_err());
        assert!(RequestedName::parse_tagged("uri:spiffe://x/y").is_ok());
        assert!(RequestedName::parse_tagged("uri:no scheme").is_err());
        assert!(RequestedName::parse_tagged("x400:foo").is_err());
        assert!("Root".parse::<CaId>().is_err());
        assert!("issuing-1".parse::<CaId>().is_ok());
    }
}
