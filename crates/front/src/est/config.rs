//! The `[est]` table of the front's configuration.
//!
//! In: TOML (unknown keys refused). Out: the EST labels offered — each a certificate
//! profile of the policy, how its clients authenticate, the manufacturers' roots whose
//! device certificates it trusts, whether it requires RFC 9266 channel binding, whether it
//! makes keys for clients, whether a renewal may change names — and the label
//! `/.well-known/est/` serves.

use serde::Deserialize;
use std::path::PathBuf;
use strongroom_est::Label;

/// EST settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstConfig {
    /// The label `/.well-known/est/{operation}` serves (`/.well-known/est/{label}/…` serves
    /// each listed label).
    pub default_label: String,
    /// Labels offered over EST.
    pub label: Vec<EstLabel>,
}

/// How a label's clients prove who they are for `simpleenroll` and `serverkeygen`
/// (`simplereenroll` always takes the certificate being renewed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstAuth {
    /// HTTP Basic with an EST user of the label (`strongroom est user create`).
    Password,
    /// A TLS client certificate: from a manufacturer's root in `manufacturer_anchors`
    /// (a device identity, IDevID), or issued here under the label's profile, in the
    /// inventory and not revoked.
    Certificate,
    /// Either of the two.
    PasswordOrCertificate,
    /// Both.
    PasswordAndCertificate,
}

impl EstAuth {
    /// Whether a password is accepted (alone or with a certificate).
    pub fn takes_password(self) -> bool {
        self != EstAuth::Certificate
    }

    /// Whether a client certificate is accepted.
    pub fn takes_certificate(self) -> bool {
        self != EstAuth::Password
    }
}

/// One label offered over EST.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstLabel {
    /// The label (`a-z 0-9 -`, 1 to 64 characters).
    pub name: String,
    /// The certificate profile it issues under (its issuer is the CA clients enrol with).
    pub profile: String,
    /// How clients authenticate.
    pub auth: EstAuth,
    /// A PEM file of manufacturer root (or issuing) certificates whose device certificates
    /// authenticate here. Re-read when it changes, without a restart.
    #[serde(default)]
    pub manufacturer_anchors: Option<PathBuf>,
    /// Require RFC 9266 `tls-exporter` channel binding in the CSR's challengePassword
    /// (TLS 1.3 only: TLS 1.2 clients are refused on such a label).
    #[serde(default)]
    pub channel_binding: bool,
    /// Serve `/serverkeygen` (the front makes the key, sends it back once and wipes it).
    #[serde(default)]
    pub server_keygen: bool,
    /// Let `/simplereenroll` change the names of the certificate it renews.
    #[serde(default)]
    pub reenroll_name_change: bool,
    /// Wrap base64 replies at 64 characters (default; the curl + openssl recipe needs it
    /// for bodies over 768 bytes). Off: one unbroken line, which strongSwan's `pki --est`
    /// needs.
    #[serde(default = "yes")]
    pub wrap_base64: bool,
}

fn yes() -> bool {
    true
}

impl EstLabel {
    /// How replies under this label lay out their base64.
    pub fn base64_form(&self) -> strongroom_est::Base64Form {
        if self.wrap_base64 {
            strongroom_est::Base64Form::Wrapped
        } else {
            strongroom_est::Base64Form::OneLine
        }
    }
}

impl EstConfig {
    /// Refuses a configuration that cannot serve: no labels, a default that is not listed,
    /// a name listed twice or not a label, `certificate` auth without anchors of its own is
    /// fine (the profile's CA), but `manufacturer_anchors` on a password-only label is not.
    pub fn validate(&self) -> Result<(), String> {
        if self.label.is_empty() {
            return Err("[est] lists no [[est.label]]".into());
        }
        let mut seen = std::collections::HashSet::new();
        for l in &self.label {
            l.name
                .parse::<Label>()
                .map_err(|e| format!("[est] label {:?}: {e}", l.name))?;
            if !seen.insert(l.name.as_str()) {
                return Err(format!("[est] lists label {:?} twice", l.name));
            }
            if l.manufacturer_anchors.is_some() && !l.auth.takes_certificate() {
                return Err(format!(
                    "[est] label {:?}: manufacturer_anchors needs auth = \"certificate\", \"password-or-certificate\" or \"password-and-certificate\"",
                    l.name
                ));
            }
        }
        if !seen.contains(self.default_label.as_str()) {
            return Err(format!(
                "[est] default_label {:?} is not among its [[est.label]] names",
                self.default_label
            ));
        }
        Ok(())
    }

    /// The label named `name`.
    pub fn label(&self, name: &str) -> Option<&EstLabel> {
        self.label.iter().find(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
    use super::*;

    fn parse(text: &str) -> Result<(), String> {
        let cfg: EstConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()
    }

    #[test]
    fn a_configuration_that_cannot_serve_is_refused_with_the_reason() {
        let one = r#"default_label = "default"
            [[label]]
            name = "default"
            profile = "device"
            auth = "password"
        "#;
        assert_eq!(parse(one), Ok(()));
        let refused = |text: &str, why: &str| {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        refused(
            &one.replace("name = \"default\"", "name = \"Default\""),
            "a-z",
        );
        refused(
            &one.replace("name = \"default\"", "name = \"cacerts\""),
            "operation",
        );
        refused(
            &one.replace("default_label = \"default\"", "default_label = \"x\""),
            "not among",
        );
        refused(
            &one.replace("auth = \"password\"", "auth = \"token\""),
            "unknown variant",
        );
        refused(
            &format!("{one}manufacturer_anchors = \"/m.pem\"\n"),
            "manufacturer_anchors needs",
        );
        refused(
            &format!("{one}{}", one.replace("default_label = \"default\"", "")),
            "twice",
        );
    }
}
