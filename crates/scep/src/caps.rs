//! GetCACaps (RFC 8894 §3.5.2). In: whether a successor CA exists. Out: the capability
//! list, one keyword per line, as clients parse it.

/// The capabilities this server offers. `GetNextCACert` only when a successor exists: a
/// client that sees it will ask, and must get an answer.
pub fn ca_caps(next_ca_exists: bool) -> String {
    let mut caps = vec![
        "POSTPKIOperation",
        "SHA-256",
        "SHA-512",
        "AES",
        "SCEPStandard",
        "Renewal",
    ];
    if next_ca_exists {
        caps.push("GetNextCACert");
    }
    let mut out = caps.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists() {
        let caps = super::ca_caps(false);
        assert!(caps.lines().any(|l| l == "AES") && caps.lines().any(|l| l == "SHA-256"));
        assert!(!caps.contains("GetNextCACert") && !caps.contains("DES"));
        assert!(super::ca_caps(true).lines().any(|l| l == "GetNextCACert"));
    }
}
