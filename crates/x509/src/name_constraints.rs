//! Name constraints (RFC 5280 §4.2.1.10): parsing, matching and the subset rule.
//!
//! In: subtree strings from a ceremony file (`dns:example.com`, `dns:.example.com`,
//! `ip:10.0.0.0/8`, `email:example.com`) or the NameConstraints extension of a CA
//! certificate. Out: whether a requested name is permitted, and whether a child CA's
//! constraints stay inside its parent's. Kinds we cannot evaluate are refused when parsed,
//! so an unknown constraint can never be silently ignored (fail closed).

use crate::X509Error;
use der::asn1::{Ia5String, OctetString};
use std::fmt;
use std::net::IpAddr;
use strongroom_types::RequestedName;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::NameConstraints;

/// One subtree of a name constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subtree {
    /// `example.com` (the host and everything below) or `.example.com` (only below).
    Dns(String),
    /// An address block.
    Ip {
        /// Network address (host bits zero).
        network: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// `user@example.com` (one mailbox), `example.com` (that host) or `.example.com`.
    Email(String),
}

impl Subtree {
    /// Parses `dns:…`, `ip:ADDR/PREFIX` or `email:…`.
    pub fn parse(s: &str) -> Result<Subtree, X509Error> {
        let bad = |why: &str| X509Error::Malformed(format!("name constraint {s:?}: {why}"));
        let (kind, value) = s
            .split_once(':')
            .ok_or_else(|| bad("use dns:, ip: or email:"))?;
        match kind {
            "dns" | "email" => {
                let domain = value.rsplit('@').next().unwrap_or(value);
                let host = domain.strip_prefix('.').unwrap_or(domain);
                host.parse::<strongroom_types::DnsName>()
                    .map_err(|e| bad(&e.to_string()))
                    .and_then(|d| {
                        if d.is_wildcard() {
                            Err(bad("no wildcards in constraints"))
                        } else {
                            Ok(())
                        }
                    })?;
                let v = value.to_ascii_lowercase();
                Ok(if kind == "dns" {
                    Subtree::Dns(v)
                } else {
                    Subtree::Email(v)
                })
            }
            "ip" => {
                let (addr, prefix) = value
                    .split_once('/')
                    .ok_or_else(|| bad("write ip:ADDRESS/PREFIX"))?;
                let network: IpAddr = addr.parse().map_err(|_| bad("bad address"))?;
                let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix"))?;
                let max = if network.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(bad("prefix too long"));
                }
                if mask(network, prefix) != network {
                    return Err(bad("host bits must be zero"));
                }
                Ok(Subtree::Ip { network, prefix })
            }
            _ => Err(bad("use dns:, ip: or email:")),
        }
    }

    pub(crate) fn to_general_subtree(&self) -> Result<GeneralSubtree, X509Error> {
        let base = match self {
            Subtree::Dns(d) => GeneralName::DnsName(Ia5String::new(d)?),
            Subtree::Email(e) => GeneralName::Rfc822Name(Ia5String::new(e)?),
            Subtree::Ip { network, prefix } => {
                let mut bytes = match network {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                let len = bytes.len();
                let full = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                let mask_bytes = full.to_be_bytes();
                bytes.extend_from_slice(&mask_bytes[..len]);
                GeneralName::IpAddress(OctetString::new(bytes)?)
            }
        };
        Ok(GeneralSubtree {
            base,
            minimum: 0,
            maximum: None,
        })
    }

    fn from_general_subtree(gs: &GeneralSubtree) -> Result<Subtree, X509Error> {
        let unsupported = || {
            X509Error::Unsupported(
                "CA name constraint of a kind Strongroom cannot enforce (only dNSName, iPAddress, rfc822Name)".into(),
            )
        };
        if gs.minimum != 0 || gs.maximum.is_some() {
            return Err(unsupported());
        }
        match &gs.base {
            GeneralName::DnsName(d) => Subtree::parse(&format!("dns:{d}")),
            GeneralName::Rfc822Name(e) => Subtree::parse(&format!("email:{e}")),
            GeneralName::IpAddress(o) => {
                let b = o.as_bytes();
                let (addr, m): (IpAddr, &[u8]) = match b.len() {
                    8 => (
                        IpAddr::from(<[u8; 4]>::try_from(&b[..4]).map_err(|_| unsupported())?),
                        &b[4..],
                    ),
                    32 => (
                        IpAddr::from(<[u8; 16]>::try_from(&b[..16]).map_err(|_| unsupported())?),
                        &b[16..],
                    ),
                    _ => return Err(X509Error::Malformed("iPAddress constraint length".into())),
                };
                let prefix = m.iter().map(|x| x.count_ones()).sum::<u32>() as u8;
                Subtree::parse(&format!("ip:{addr}/{prefix}"))
            }
            _ => Err(unsupported()),
        }
    }

    /// Whether `name` falls inside this subtree: for a wildcard, every name it covers does
    /// (the test for a permitted subtree). Names of another kind never match.
    pub fn matches(&self, name: &RequestedName) -> bool {
        match (self, name) {
            (Subtree::Dns(base), RequestedName::Dns(d)) => match d.as_str().strip_prefix("*.") {
                Some(rest) => wildcard_within(rest, base),
                None => dns_within(d.as_str(), base),
            },
            (Subtree::Ip { network, prefix }, RequestedName::Ip(ip)) => {
                network.is_ipv4() == ip.is_ipv4() && mask(*ip, *prefix) == *network
            }
            (Subtree::Email(base), RequestedName::Email(e)) => {
                if base.contains('@') {
                    e.eq_ignore_ascii_case(base)
                } else {
                    let host = e.rsplit('@').next().unwrap_or_default();
                    if base.starts_with('.') {
                        dns_within(host, base)
                    } else {
                        host == base
                    }
                }
            }
            _ => false,
        }
    }

    /// Whether any name `name` covers falls inside this subtree (the test for an excluded
    /// subtree). The same as [`Subtree::matches`] except for a wildcard, which covers every
    /// name one label below its base: `*.example.com` meets `bad.example.com`.
    pub fn meets(&self, name: &RequestedName) -> bool {
        match (self, name) {
            (Subtree::Dns(base), RequestedName::Dns(d)) => match d.as_str().strip_prefix("*.") {
                Some(rest) => {
                    wildcard_within(rest, base)
                        || (!base.starts_with('.')
                            && base
                                .split_once('.')
                                .is_some_and(|(_, parent)| parent == rest))
                }
                None => dns_within(d.as_str(), base),
            },
            _ => self.matches(name),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Subtree::Dns(_) => "dns",
            Subtree::Ip { .. } => "ip",
            Subtree::Email(_) => "email",
        }
    }

    /// Whether every name this subtree admits is also admitted by `outer`.
    fn within(&self, outer: &Subtree) -> bool {
        match (self, outer) {
            (Subtree::Dns(inner), Subtree::Dns(o)) => {
                let host = inner
                    .strip_prefix('.')
                    .map_or(inner.clone(), |h| format!("x.{h}"));
                dns_within(&host, o)
                    && (inner.starts_with('.') || !o.starts_with('.') || inner != o)
            }
            (
                Subtree::Ip {
                    network: n1,
                    prefix: p1,
                },
                Subtree::Ip {
                    network: n2,
                    prefix: p2,
                },
            ) => n1.is_ipv4() == n2.is_ipv4() && p1 >= p2 && mask(*n1, *p2) == *n2,
            (Subtree::Email(inner), Subtree::Email(_)) => {
                let probe = if inner.contains('@') {
                    inner.clone()
                } else {
                    format!("x@{}", inner.trim_start_matches('.'))
                };
                outer.matches(&RequestedName::Email(probe))
            }
            _ => false,
        }
    }
}

impl fmt::Display for Subtree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subtree::Dns(d) => write!(f, "dns:{d}"),
            Subtree::Ip { network, prefix } => write!(f, "ip:{network}/{prefix}"),
            Subtree::Email(e) => write!(f, "email:{e}"),
        }
    }
}

fn dns_within(host: &str, base: &str) -> bool {
    if let Some(below) = base.strip_prefix('.') {
        host.len() > base.len() && host.ends_with(base)
            || host.ends_with(&format!(".{below}")) && host != below
    } else {
        host == base || host.ends_with(&format!(".{base}"))
    }
}

/// Whether every name `*.{rest}` covers (one label, then `rest`) is inside `base`
/// (`example.com` or `.example.com`): exactly when `rest` is the base's host or below it.
fn wildcard_within(rest: &str, base: &str) -> bool {
    let host = base.strip_prefix('.').unwrap_or(base);
    rest == host || rest.ends_with(&format!(".{host}"))
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from(std::net::Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// A CA's name constraints, as parsed from its certificate or its ceremony file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    /// permittedSubtrees
    pub permitted: Vec<Subtree>,
    /// excludedSubtrees
    pub excluded: Vec<Subtree>,
}

impl Constraints {
    /// Parses the extension value of a CA certificate.
    pub(crate) fn from_extension(nc: &NameConstraints) -> Result<Constraints, X509Error> {
        let conv = |list: &Option<Vec<GeneralSubtree>>| {
            list.iter()
                .flatten()
                .map(Subtree::from_general_subtree)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Constraints {
            permitted: conv(&nc.permitted_subtrees)?,
            excluded: conv(&nc.excluded_subtrees)?,
        })
    }

    /// True when there is nothing to enforce.
    pub fn is_empty(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty()
    }

    /// Whether `name` is allowed: no name it covers is in an excluded subtree (a wildcard
    /// covers a whole level), and every name it covers is inside some permitted subtree when
    /// any permitted subtree of its kind exists.
    pub fn permits(&self, name: &RequestedName) -> bool {
        // Security: a wildcard is refused when any one of the names it covers is excluded;
        // a relying party would accept it for that name.
        if self.excluded.iter().any(|s| s.meets(name)) {
            return false;
        }
        let same_kind: Vec<&Subtree> = self
            .permitted
            .iter()
            .filter(|s| s.kind() == name.kind())
            .collect();
        // Names of a kind we never constrain (uri) are refused when any permitted list
        // exists: we cannot prove them inside it, so fail closed.
        if name.kind() == "uri" && !self.permitted.is_empty() {
            return false;
        }
        same_kind.is_empty() || same_kind.iter().any(|s| s.matches(name))
    }

    /// Checks that `self` (a child CA's constraints) admits nothing `parent` forbids:
    /// every kind the parent limits is limited by the child to subtrees inside the
    /// parent's, and every subtree the parent excludes is excluded by the child too.
    pub fn check_subset_of(&self, parent: &Constraints) -> Result<(), X509Error> {
        for kind in ["dns", "ip", "email"] {
            let parent_kind: Vec<&Subtree> = parent
                .permitted
                .iter()
                .filter(|s| s.kind() == kind)
                .collect();
            if parent_kind.is_empty() {
                continue;
            }
            let child_kind: Vec<&Subtree> =
                self.permitted.iter().filter(|s| s.kind() == kind).collect();
            if child_kind.is_empty() {
                return Err(X509Error::WiderThanParent(format!(
                    "the parent permits only some {kind} names ({}); the child must list permitted {kind} subtrees inside them",
                    parent_kind.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            for c in child_kind {
                if !parent_kind.iter().any(|p| c.within(p)) {
                    return Err(X509Error::WiderThanParent(format!(
                        "permitted subtree {c} is not inside the parent's permitted subtrees"
                    )));
                }
            }
        }
        for p in &parent.excluded {
            if !self.excluded.iter().any(|c| p.within(c) || c == p) {
                return Err(X509Error::WiderThanParent(format!(
                    "the parent excludes {p}; the child must exclude it too"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn to_extension(&self) -> Result<x509_cert::ext::Extension, X509Error> {
        crate::extensions::name_constraints(&self.permitted, &self.excluded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> RequestedName {
        RequestedName::parse_tagged(s).unwrap()
    }

    fn c(permitted: &[&str], excluded: &[&str]) -> Constraints {
        Constraints {
            permitted: permitted
                .iter()
                .map(|s| Subtree::parse(s).unwrap())
                .collect(),
            excluded: excluded
                .iter()
                .map(|s| Subtree::parse(s).unwrap())
                .collect(),
        }
    }

    #[test]
    fn matching() {
        let nc = c(
            &["dns:example.com", "ip:10.0.0.0/8"],
            &["dns:bad.example.com"],
        );
        assert!(nc.permits(&n("dns:example.com")));
        assert!(nc.permits(&n("dns:a.b.example.com")));
        // *.example.com would cover the excluded bad.example.com.
        assert!(!nc.permits(&n("dns:*.example.com")));
        assert!(nc.permits(&n("dns:*.a.example.com")));
        assert!(!nc.permits(&n("dns:notexample.com")));
        assert!(!nc.permits(&n("dns:x.bad.example.com")));
        assert!(nc.permits(&n("ip:10.1.2.3")));
        assert!(!nc.permits(&n("ip:11.1.2.3")));
        assert!(
            nc.permits(&n("email:a@anything.test")),
            "email kind is unconstrained here"
        );
        assert!(!nc.permits(&n("uri:https://example.com/")));
        let dot = c(&["dns:.example.com"], &[]);
        assert!(!dot.permits(&n("dns:example.com")));
        assert!(dot.permits(&n("dns:a.example.com")));
    }

    /// A wildcard covers every name one label below its base: refused when any of them is
    /// excluded, allowed only when all of them are permitted.
    #[test]
    fn wildcards_against_excluded_and_permitted_subtrees() {
        let nc = c(&["dns:example.com"], &["dns:bad.example.com"]);
        assert!(
            !nc.permits(&n("dns:*.example.com")),
            "*.example.com covers the excluded bad.example.com"
        );
        assert!(!nc.permits(&n("dns:bad.example.com")));
        assert!(!nc.permits(&n("dns:*.bad.example.com")));
        assert!(
            nc.permits(&n("dns:*.lab.example.com")),
            "permitted, nothing excluded"
        );
        assert!(nc.permits(&n("dns:www.example.com")));
        // `.bad.example.com` excludes only names below it: *.example.com covers none.
        let below = c(&["dns:example.com"], &["dns:.bad.example.com"]);
        assert!(below.permits(&n("dns:*.example.com")));
        assert!(!below.permits(&n("dns:*.bad.example.com")));
        // An excluded ancestor covers the wildcard too.
        assert!(!c(&[], &["dns:example.com"]).permits(&n("dns:*.a.example.com")));
        // Permitted: every covered name must be inside, not just one of them.
        let one_host = c(&["dns:x.example.com"], &[]);
        assert!(!one_host.permits(&n("dns:*.example.com")));
        assert!(one_host.permits(&n("dns:*.x.example.com")));
        let dot = c(&["dns:.example.com"], &[]);
        assert!(dot.permits(&n("dns:*.example.com")));
        assert!(!dot.permits(&n("dns:*.example.org")));
    }

    #[test]
    fn subsets() {
        let parent = c(
            &["dns:example.com", "ip:10.0.0.0/8"],
            &["dns:secret.example.com"],
        );
        assert!(c(
            &["dns:lab.example.com", "ip:10.1.0.0/16"],
            &["dns:secret.example.com"]
        )
        .check_subset_of(&parent)
        .is_ok());
        assert!(c(
            &["dns:example.org", "ip:10.1.0.0/16"],
            &["dns:secret.example.com"]
        )
        .check_subset_of(&parent)
        .is_err());
        assert!(
            c(&["dns:lab.example.com"], &["dns:secret.example.com"])
                .check_subset_of(&parent)
                .is_err(),
            "ip left open"
        );
        assert!(
            c(&["dns:lab.example.com", "ip:10.0.0.0/8"], &[])
                .check_subset_of(&parent)
                .is_err(),
            "exclusion dropped"
        );
        assert!(c(&["dns:a.com"], &[])
            .check_subset_of(&Constraints::default())
            .is_ok());
    }

    #[test]
    fn ip_encoding_round_trips() {
        let s = Subtree::parse("ip:192.168.0.0/16").unwrap();
        assert_eq!(
            Subtree::from_general_subtree(&s.to_general_subtree().unwrap()).unwrap(),
            s
        );
        assert!(Subtree::parse("ip:192.168.0.1/16").is_err());
    }
}
