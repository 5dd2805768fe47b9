//! Certificate profiles and the issuance policy the signer enforces.
//!
//! In: a policy document (TOML or JSON) written by an operator or pushed by control with
//! `PutPolicy`. Out: a validated [`Policy`]: every profile names its issuing CA, the key
//! algorithms, usages and names it allows, and the longest validity it may grant. The
//! signer checks every issuance request against it; nothing outside it gets signed.

use crate::{CaId, KeyAlgorithm, ProfileName, RequestedName, TypesError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// keyUsage bits a profile may grant (RFC 5280 §4.2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyUsage {
    /// digitalSignature.
    DigitalSignature,
    /// contentCommitment (formerly nonRepudiation).
    ContentCommitment,
    /// keyEncipherment: only ever set on RSA subject keys.
    KeyEncipherment,
    /// dataEncipherment.
    DataEncipherment,
    /// keyAgreement: only on EC subject keys.
    KeyAgreement,
}

/// extendedKeyUsage purposes a profile may grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtendedKeyUsage {
    /// id-kp-serverAuth.
    ServerAuth,
    /// id-kp-clientAuth.
    ClientAuth,
    /// id-kp-codeSigning.
    CodeSigning,
    /// id-kp-emailProtection.
    EmailProtection,
    /// id-kp-timeStamping.
    TimeStamping,
    /// id-kp-OCSPSigning.
    OcspSigning,
}

/// What the signer does with extensions a CSR asks for (beyond its names) that the profile
/// does not grant. Either way the certificate carries the profile's extensions only: a CSR
/// never adds anything; this decides only whether asking for more is an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsrExtensions {
    /// Refuse the request (`PolicyDenied`), so a caller learns its CSR asked for a usage it
    /// will not get. The default for the control API.
    #[default]
    Strict,
    /// Leave out what the profile does not grant and issue. ACME finalize always issues
    /// this way (RFC 8555 CAs take only the key and the names from a CSR), whatever this
    /// field says.
    Ignore,
}

/// One certificate profile: what a leaf issued under it may look like.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Unique name, e.g. `tls-server`.
    pub name: ProfileName,
    /// Free text for operators.
    #[serde(default)]
    pub description: String,
    /// The CA that signs certificates under this profile.
    pub issuer: CaId,
    /// The longest validity granted, in seconds. Requests asking for more are denied;
    /// requests asking for nothing get exactly this.
    pub max_validity_secs: u64,
    /// How far notBefore is set in the past to absorb relying parties' clock skew.
    #[serde(default = "default_backdate")]
    pub backdate_secs: u64,
    /// Subject key algorithms accepted. RSA keys smaller than 2048 bits are never accepted.
    pub key_algorithms: Vec<KeyAlgorithm>,
    /// keyUsage bits; keyEncipherment is dropped for non-RSA keys and keyAgreement for RSA.
    pub key_usage: Vec<KeyUsage>,
    /// extendedKeyUsage purposes; empty means the extension is omitted.
    #[serde(default)]
    pub extended_key_usage: Vec<ExtendedKeyUsage>,
    /// Which kinds of subject alternative names may be requested: `dns`, `ip`, `email`, `uri`.
    pub allowed_name_kinds: Vec<String>,
    /// Whether `*.` wildcard DNS names are allowed.
    #[serde(default)]
    pub allow_wildcards: bool,
    /// Most names a single certificate may carry.
    #[serde(default = "default_max_names")]
    pub max_names: usize,
    /// Whether the subject commonName is copied from the first DNS name (some TLS stacks
    /// still read it). When false the subject is empty and SAN is critical.
    #[serde(default = "default_true")]
    pub common_name_from_first_name: bool,
    /// Signer peers (by name from the signer's peer table) that may issue under this
    /// profile. Empty means every peer allowed to call IssueCertificate.
    #[serde(default)]
    pub allowed_peers: Vec<String>,
    /// OCSP: answer requests that carry a nonce, for certificates of this profile, with a
    /// fresh response signed on demand that echoes it (one HSM signature per request).
    /// Off: such requests get the pre-signed response without a nonce (RFC 8954 allows it).
    #[serde(default)]
    pub ocsp_nonce: bool,
    /// Requested extensions the profile does not grant (an extendedKeyUsage the profile
    /// lacks): refused (`strict`, the default) or left out (`ignore`). ACME ignores them
    /// on every profile.
    #[serde(default)]
    pub csr_extensions: CsrExtensions,
}

fn default_backdate() -> u64 {
    60
}

fn default_max_names() -> usize {
    100
}

fn default_true() -> bool {
    true
}

const NAME_KINDS: [&str; 4] = ["dns", "ip", "email", "uri"];

impl Profile {
    /// Whether the profile allows a name of this kind (and wildcard, for DNS).
    pub fn allows_name(&self, name: &RequestedName) -> bool {
        let kind_ok = self.allowed_name_kinds.iter().any(|k| k == name.kind());
        let wildcard_ok = match name {
            RequestedName::Dns(d) => !d.is_wildcard() || self.allow_wildcards,
            _ => true,
        };
        kind_ok && wildcard_ok
    }

    fn validate(&self) -> Result<(), TypesError> {
        let bad = |why: String| TypesError::Policy(format!("profile {}: {why}", self.name));
        if self.max_validity_secs == 0 {
            return Err(bad("max_validity_secs must be positive".into()));
        }
        if self.key_algorithms.is_empty() {
            return Err(bad("key_algorithms must name at least one algorithm".into()));
        }
        if self.key_usage.is_empty() {
            return Err(bad("key_usage must name at least one usage".into()));
        }
        if self.max_names == 0 {
            return Err(bad("max_names must be at least 1".into()));
        }
        for kind in &self.allowed_name_kinds {
            if !NAME_KINDS.contains(&kind.as_str()) {
                return Err(bad(format!(
                    "unknown name kind {kind:?} in allowed_name_kinds; use dns, ip, email or uri"
                )));
            }
        }
        if self
            .extended_key_usage
            .contains(&ExtendedKeyUsage::ServerAuth)
            && !self
                .allowed_name_kinds
                .iter()
                .any(|k| k == "dns" || k == "ip")
        {
            return Err(bad("a serverAuth profile must allow dns or ip names".into()));
        }
        Ok(())
    }
}

/// The complete issuance policy: every profile the signer will issue under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Monotonic version; the signer refuses a push that does not increase it, so a stale
    /// or replayed policy cannot roll back a tightening.
    pub version: u64,
    /// The profiles.
    #[serde(default, rename = "profile")]
    pub profiles: Vec<Profile>,
}

impl Policy {
    /// Checks internal consistency: unique names and sane values per profile. Whether each
    /// profile's issuer exists is checked by the signer, which knows its CAs.
    pub fn validate(&self) -> Result<(), TypesError> {
        let mut seen = BTreeSet::new();
        for p in &self.profiles {
            if !seen.insert(p.name.as_str()) {
                return Err(TypesError::Policy(format!(
                    "profile {} is defined twice",
                    p.name
                )));
            }
            p.validate()?;
        }
        Ok(())
    }

    /// Finds a profile by name.
    pub fn profile(&self, name: &ProfileName) -> Option<&Profile> {
        self.profiles.iter().find(|p| &p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        serde_json::from_str(
            r#"{"name":"tls-server","issuer":"issuing","max_validity_secs":7776000,
                "key_algorithms":["ecdsa-p256"],"key_usage":["digital-signature"],
                "extended_key_usage":["server-auth"],"allowed_name_kinds":["dns"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn validation() {
        let mut policy = Policy {
            version: 1,
            profiles: vec![profile()],
        };
        policy.validate().unwrap();
        policy.profiles.push(profile());
        assert!(policy.validate().unwrap_err().to_string().contains("twice"));
        let mut p = profile();
        p.allowed_name_kinds = vec!["x400".into()];
        assert!(Policy {
            version: 1,
            profiles: vec![p]
        }
        .validate()
        .is_err());
        let unknown = r#"{"name":"a","issuer":"b","max_validity_secs":1,"key_algorithms":[],
            "key_usage":[],"allowed_name_kinds":[],"surprise":1}"#;
        assert!(serde_json::from_str::<Profile>(unknown).is_err());
    }

    #[test]
    fn wildcard_rule() {
        let p = profile();
        let wild = RequestedName::parse_tagged("dns:*.example.com").unwrap();
        assert!(!p.allows_name(&wild));
        assert!(p.allows_name(&RequestedName::parse_tagged("dns:a.example.com").unwrap()));
        assert!(!p.allows_name(&RequestedName::parse_tagged("ip:10.0.0.1").unwrap()));
    }

    #[test]
    fn csr_extensions_default_strict_and_spelled_in_kebab_case() {
        assert_eq!(profile().csr_extensions, CsrExtensions::Strict);
        let ignoring = r#"{"name":"a","issuer":"b","max_validity_secs":1,"key_algorithms":[],
            "key_usage":[],"allowed_name_kinds":[],"csr_extensions":"ignore"}"#;
        let p: Profile = serde_json::from_str(ignoring).unwrap();
        assert_eq!(p.csr_extensions, CsrExtensions::Ignore);
        let wrong = ignoring.replace("\"ignore\"", "\"grant\"");
        assert!(serde_json::from_str::<Profile>(&wrong).is_err());
    }
}
