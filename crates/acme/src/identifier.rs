//! ACME identifiers (RFC 8555 §9.7.7 `dns`, RFC 8738 `ip`).
//!
//! In: `{"type", "value"}` objects from newOrder (hostile). Out: an [`Identifier`] in
//! canonical form (lower-case DNS name, canonical IP text) or a problem: an IP address sent
//! as a `dns` identifier is `malformed` (lego 4.9 does this), an unknown type is
//! `unsupportedIdentifier`, a bad name is `rejectedIdentifier`.

use crate::problem::{Problem, ProblemType};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use strongroom_types::{DnsName, RequestedName};

/// An identifier as it appears in orders and authorizations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// `dns` or `ip`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name or address.
    pub value: String,
}

/// A checked identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AcmeName {
    /// A DNS name; `wildcard` when the order asked for `*.name`.
    Dns {
        /// The name without the wildcard label.
        base: DnsName,
        /// Whether it was `*.base`.
        wildcard: bool,
    },
    /// An IP address.
    Ip(IpAddr),
}

impl AcmeName {
    /// Checks an identifier.
    pub fn parse(id: &Identifier) -> Result<AcmeName, Problem> {
        let shown: String = id.value.chars().take(64).collect();
        match id.kind.as_str() {
            "dns" => {
                if id.value.parse::<IpAddr>().is_ok()
                    || id.value.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
                {
                    return Err(Problem::malformed(format!(
                        "{shown:?} is an IP address in a dns identifier; send it as type \"ip\" (RFC 8738)"
                    )));
                }
                let name: DnsName =
                    id.value
                        .parse()
                        .map_err(|e: strongroom_types::TypesError| {
                            Problem::new(ProblemType::RejectedIdentifier, e.to_string())
                        })?;
                if name.is_wildcard() {
                    let base: DnsName =
                        name.as_str()[2..]
                            .parse()
                            .map_err(|e: strongroom_types::TypesError| {
                                Problem::new(ProblemType::RejectedIdentifier, e.to_string())
                            })?;
                    Ok(AcmeName::Dns {
                        base,
                        wildcard: true,
                    })
                } else {
                    Ok(AcmeName::Dns {
                        base: name,
                        wildcard: false,
                    })
                }
            }
            "ip" => {
                let ip: IpAddr = id
                    .value
                    .parse()
                    .map_err(|_| Problem::malformed(format!("{shown:?} is not an IP address")))?;
                // RFC 8738 §3: the value is the textual form; an IPv4-mapped IPv6
                // address is a different identifier from the IPv4 one, refuse the ambiguity.
                if let IpAddr::V6(v6) = ip {
                    if v6.to_ipv4_mapped().is_some() {
                        return Err(Problem::new(
                            ProblemType::RejectedIdentifier,
                            format!(
                                "{shown:?} is an IPv4-mapped address; request the IPv4 address"
                            ),
                        ));
                    }
                }
                Ok(AcmeName::Ip(ip))
            }
            other => Err(Problem::new(
                ProblemType::UnsupportedIdentifier,
                format!(
                    "identifier type {:?} is not supported; use dns or ip",
                    other.chars().take(32).collect::<String>()
                ),
            )),
        }
    }

    /// The identifier as the order shows it (`*.name` for wildcards).
    pub fn to_identifier(&self) -> Identifier {
        match self {
            AcmeName::Dns { base, wildcard } => Identifier {
                kind: "dns".into(),
                value: if *wildcard {
                    format!("*.{base}")
                } else {
                    base.to_string()
                },
            },
            AcmeName::Ip(ip) => Identifier {
                kind: "ip".into(),
                value: ip.to_string(),
            },
        }
    }

    /// The identifier an authorization shows (no `*.`; RFC 8555 §7.1.4).
    pub fn authorization_identifier(&self) -> Identifier {
        match self {
            AcmeName::Dns { base, .. } => Identifier {
                kind: "dns".into(),
                value: base.to_string(),
            },
            AcmeName::Ip(_) => self.to_identifier(),
        }
    }

    /// The name as it goes into the certificate.
    pub fn requested_name(&self) -> Result<RequestedName, Problem> {
        match self {
            AcmeName::Dns { .. } => self
                .to_identifier()
                .value
                .parse()
                .map(RequestedName::Dns)
                .map_err(|e: strongroom_types::TypesError| Problem::malformed(e.to_string())),
            AcmeName::Ip(ip) => Ok(RequestedName::Ip(*ip)),
        }
    }

    /// Challenge types that can prove control of this identifier (wildcards: dns-01 only;
    /// IP addresses: no dns-01, RFC 8738 §7).
    pub fn challenge_types(&self) -> &'static [&'static str] {
        match self {
            AcmeName::Dns { wildcard: true, .. } => &["dns-01"],
            AcmeName::Dns { .. } => &["http-01", "dns-01", "tls-alpn-01"],
            AcmeName::Ip(_) => &["http-01", "tls-alpn-01"],
        }
    }

    /// Rebuilds from stored authorization columns.
    pub fn from_stored(kind: &str, value: &str, wildcard: bool) -> Result<AcmeName, Problem> {
        let v = if wildcard {
            format!("*.{value}")
        } else {
            value.to_string()
        };
        AcmeName::parse(&Identifier {
            kind: kind.into(),
            value: v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, value: &str) -> Identifier {
        Identifier {
            kind: kind.into(),
            value: value.into(),
        }
    }

    #[test]
    fn identifiers() {
        let w = AcmeName::parse(&id("dns", "*.Lab.Test")).unwrap();
        assert_eq!(w.to_identifier().value, "*.lab.test");
        assert_eq!(w.authorization_identifier().value, "lab.test");
        assert_eq!(w.challenge_types(), &["dns-01"]);
        let ip = AcmeName::parse(&id("ip", "127.0.0.1")).unwrap();
        assert_eq!(ip.challenge_types(), &["http-01", "tls-alpn-01"]);
        let p = AcmeName::parse(&id("dns", "127.0.0.1")).unwrap_err();
        assert!(p.is(ProblemType::Malformed), "{p:?}");
        assert!(AcmeName::parse(&id("dns", "[::1]"))
            .unwrap_err()
            .is(ProblemType::Malformed));
        assert!(AcmeName::parse(&id("dns", "*.*.lab.test")).is_err());
        assert!(AcmeName::parse(&id("dns", "a..b")).is_err());
        assert!(AcmeName::parse(&id("email", "a@b.c"))
            .unwrap_err()
            .is(ProblemType::UnsupportedIdentifier));
        assert!(AcmeName::parse(&id("ip", "::ffff:1.2.3.4")).is_err());
        assert!(AcmeName::parse(&id("ip", "lab.test")).is_err());
    }
}
