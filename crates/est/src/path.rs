//! Where a request is going: `/.well-known/est/{operation}` (the default label) or
//! `/.well-known/est/{label}/{operation}` (RFC 7030 §3.2.2).
//!
//! In: the path segments after `/.well-known/est/`. Out: the [`Label`] (none for the
//! default) and the [`EstOperation`], or [`EstError::Path`]. A label is 1 to 64 characters
//! of `a-z 0-9 -` and is never an operation's name, so the two forms cannot be confused.

use crate::EstError;
use std::fmt;

/// An EST operation (RFC 7030 §3.2.2, RFC 8295 not served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstOperation {
    /// `GET cacerts`: the CA certificates.
    CaCerts,
    /// `POST simpleenroll`: a first certificate.
    SimpleEnroll,
    /// `POST simplereenroll`: a renewal with the current certificate over mutual TLS.
    SimpleReenroll,
    /// `GET csrattrs`: what the CSR should carry.
    CsrAttrs,
    /// `POST serverkeygen`: a key made by the server, with its certificate.
    ServerKeygen,
    /// `POST fullcmc`: Full CMC (RFC 5272), not served.
    FullCmc,
}

impl EstOperation {
    const ALL: [EstOperation; 6] = [
        EstOperation::CaCerts,
        EstOperation::SimpleEnroll,
        EstOperation::SimpleReenroll,
        EstOperation::CsrAttrs,
        EstOperation::ServerKeygen,
        EstOperation::FullCmc,
    ];

    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            EstOperation::CaCerts => "cacerts",
            EstOperation::SimpleEnroll => "simpleenroll",
            EstOperation::SimpleReenroll => "simplereenroll",
            EstOperation::CsrAttrs => "csrattrs",
            EstOperation::ServerKeygen => "serverkeygen",
            EstOperation::FullCmc => "fullcmc",
        }
    }

    /// Whether the operation is a POST (the others are GETs).
    pub fn is_post(self) -> bool {
        matches!(
            self,
            EstOperation::SimpleEnroll
                | EstOperation::SimpleReenroll
                | EstOperation::ServerKeygen
                | EstOperation::FullCmc
        )
    }

    fn parse(segment: &str) -> Option<EstOperation> {
        EstOperation::ALL
            .into_iter()
            .find(|o| o.as_str() == segment)
    }
}

/// An EST label (a configured set of settings: profile, authentication, trust anchors).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Label {
    type Err = EstError;

    fn from_str(s: &str) -> Result<Label, EstError> {
        let well_formed = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            return Err(EstError::Path(format!(
                "an EST label is 1 to 64 characters of a-z, 0-9 and '-', not {:?}",
                s.chars().take(80).collect::<String>()
            )));
        }
        if EstOperation::parse(s).is_some() {
            return Err(EstError::Path(format!(
                "{s:?} is an EST operation and cannot be a label"
            )));
        }
        Ok(Label(s.to_string()))
    }
}

/// The label (none: the default) and operation of the segments after `/.well-known/est/`.
pub fn parse_path(
    label: Option<&str>,
    operation: &str,
) -> Result<(Option<Label>, EstOperation), EstError> {
    let op = EstOperation::parse(operation).ok_or_else(|| {
        EstError::Path(format!(
            "EST has no operation {:?} (cacerts, simpleenroll, simplereenroll, csrattrs, serverkeygen, fullcmc)",
            operation.chars().take(80).collect::<String>()
        ))
    })?;
    let label = label.map(str::parse).transpose()?;
    Ok((label, op))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn both_layouts_parse_and_nothing_else() {
        assert_eq!(
            parse_path(None, "cacerts").unwrap(),
            (None, EstOperation::CaCerts)
        );
        let (label, op) = parse_path(Some("factory-1"), "simpleenroll").unwrap();
        assert_eq!(label.unwrap().as_str(), "factory-1");
        assert_eq!(op, EstOperation::SimpleEnroll);
        assert!(op.is_post());
        assert!(!EstOperation::CsrAttrs.is_post());
        for (label, op) in [
            (None, "enroll"),
            (Some("Factory"), "cacerts"),
            (Some(""), "cacerts"),
            (Some("a/b"), "cacerts"),
            (Some("cacerts"), "cacerts"),
            (Some(&"a".repeat(65)[..]), "cacerts"),
        ] {
            let e = parse_path(label, op).unwrap_err();
            assert_eq!(e.status(), 404, "{e}");
        }
    }
}
