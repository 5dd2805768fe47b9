//! Whether a CAA record set lets this CA issue (RFC 8659, with RFC 8657's `accounturi`
//! and `validationmethods` parameters).
//!
//! In: the relevant record set — the first non-empty one found climbing from the name
//! toward the root, which the caller looks up — this CA's issuer domain names, and what is
//! being authorized (wildcard or not, the account URL, the validation method). Out: `Ok`,
//! or the reason issuance is forbidden, written for the subscriber who has to fix DNS.

use crate::dns::Caa;

/// What a CAA check is asked about.
#[derive(Clone, Copy, Debug)]
pub struct CaaRequest<'a> {
    /// This CA's issuer domain names (the values subscribers put in `issue`).
    pub identities: &'a [String],
    /// The identifier is `*.name`.
    pub wildcard: bool,
    /// The ACME account URL (RFC 8657 `accounturi`).
    pub account_uri: &'a str,
    /// The validation method used (RFC 8657 `validationmethods`), e.g. `http-01`.
    pub method: &'a str,
}

/// The properties this CA understands; a critical property outside them forbids issuance.
const UNDERSTOOD: [&str; 3] = ["issue", "issuewild", "iodef"];

/// Decides on the relevant record set (an empty set permits).
pub fn permits(records: &[Caa], req: &CaaRequest<'_>) -> Result<(), String> {
    if let Some(r) = records
        .iter()
        .find(|r| r.critical && !UNDERSTOOD.contains(&r.tag.as_str()))
    {
        return Err(format!(
            "the CAA record set has a critical property {:?} that this CA does not understand",
            r.tag
        ));
    }
    // RFC 8659 §4.3: for a wildcard, `issuewild` properties, when there are any, replace
    // `issue`; otherwise only `issue` counts.
    let wild: Vec<&Caa> = records.iter().filter(|r| r.tag == "issuewild").collect();
    let relevant: Vec<&Caa> = if req.wildcard && !wild.is_empty() {
        wild
    } else {
        records.iter().filter(|r| r.tag == "issue").collect()
    };
    if relevant.is_empty() {
        return Ok(());
    }
    let mut seen = Vec::new();
    for r in &relevant {
        let value = String::from_utf8_lossy(&r.value);
        match authorizes(&value, req) {
            Ok(()) => return Ok(()),
            Err(why) => seen.push(format!("{:?} ({why})", value.trim())),
        }
    }
    Err(format!(
        "no CAA {} property authorizes {}: {}",
        relevant[0].tag,
        req.identities.join(" or "),
        seen.join("; ")
    ))
}

/// Whether one `issue`/`issuewild` value names this CA and its parameters allow the request.
fn authorizes(value: &str, req: &CaaRequest<'_>) -> Result<(), &'static str> {
    let (domain, params) = value.split_once(';').unwrap_or((value, ""));
    let domain = domain.trim();
    if domain.is_empty() {
        return Err("it authorizes no CA");
    }
    if !req
        .identities
        .iter()
        .any(|i| i.eq_ignore_ascii_case(domain))
    {
        return Err("another CA");
    }
    for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((tag, val)) = param.split_once('=') else {
            return Err("a malformed parameter");
        };
        match tag.trim().to_ascii_lowercase().as_str() {
            "accounturi" if val.trim() != req.account_uri => return Err("another account"),
            "validationmethods"
                if !val
                    .split(',')
                    .any(|m| m.trim().eq_ignore_ascii_case(req.method)) =>
            {
                return Err("other validation methods")
            }
            // Unknown parameters are ignored (RFC 8659 §4.2).
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(critical: bool, tag: &str, value: &str) -> Caa {
        Caa {
            critical,
            tag: tag.into(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn req(wildcard: bool) -> CaaRequest<'static> {
        static IDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        CaaRequest {
            identities: IDS.get_or_init(|| vec!["pki.example.internal".into()]),
            wildcard,
            account_uri: "https://acme.example/acme/account/7",
            method: "dns-01",
        }
    }

    #[test]
    fn issue_and_issuewild() {
        let ours = rec(false, "issue", "PKI.example.internal");
        let theirs = rec(false, "issue", "other-ca.example");
        assert!(permits(&[], &req(false)).is_ok(), "no records: anyone");
        assert!(permits(&[rec(false, "iodef", "mailto:x@y")], &req(false)).is_ok());
        assert!(permits(&[theirs.clone(), ours.clone()], &req(false)).is_ok());
        let err = permits(std::slice::from_ref(&theirs), &req(false)).unwrap_err();
        assert!(err.contains("other-ca.example"), "{err}");
        assert!(permits(&[rec(false, "issue", ";")], &req(false)).is_err());
        // Wildcards: issuewild wins when present, else issue applies.
        assert!(permits(std::slice::from_ref(&ours), &req(true)).is_ok());
        let no_wild = rec(false, "issuewild", ";");
        assert!(permits(&[ours.clone(), no_wild.clone()], &req(true)).is_err());
        assert!(permits(&[ours.clone(), no_wild], &req(false)).is_ok());
        // An unknown critical property forbids; an unknown non-critical one does not.
        assert!(permits(&[ours.clone(), rec(true, "tbs", "x")], &req(false)).is_err());
        assert!(permits(&[ours, rec(false, "tbs", "x")], &req(false)).is_ok());
    }

    #[test]
    fn rfc8657_parameters() {
        let with = |p: &str| rec(false, "issue", &format!("pki.example.internal; {p}"));
        for ok in [
            "accounturi=https://acme.example/acme/account/7",
            "validationmethods=http-01,dns-01",
            "validationmethods = dns-01 ; unknown=1",
        ] {
            assert!(permits(&[with(ok)], &req(false)).is_ok(), "{ok}");
        }
        for bad in [
            "accounturi=https://acme.example/acme/account/8",
            "validationmethods=http-01",
            "nonsense",
        ] {
            assert!(permits(&[with(bad)], &req(false)).is_err(), "{bad}");
        }
    }
}
