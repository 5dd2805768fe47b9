//! Request payloads (RFC 8555 §7.3–§7.6 and RFC 9773 `replaces`, draft-aaron-acme-profiles
//! `profile`).
//!
//! In: the decoded JWS payload. Out: typed values. Members this server does not use are
//! ignored (RFC 8555 resources are extensible and clients add fields), but every member it
//! does use is type-checked and bounded.

use crate::Identifier;
use serde::Deserialize;
use serde_json::Value;

/// newAccount.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    /// `mailto:` URLs.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// Agreement to the terms of service.
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
    /// Only look the account up.
    #[serde(default)]
    pub only_return_existing: Option<bool>,
    /// EAB JWS.
    #[serde(default)]
    pub external_account_binding: Option<Value>,
}

/// Account update or deactivation.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    /// New contacts.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// `deactivated` to deactivate.
    #[serde(default)]
    pub status: Option<String>,
}

/// newOrder.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    /// Identifiers.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore (not supported: the profile sets validity).
    #[serde(default)]
    pub not_before: Option<String>,
    /// Requested notAfter (not supported).
    #[serde(default)]
    pub not_after: Option<String>,
    /// ARI: the certID this order replaces.
    #[serde(default)]
    pub replaces: Option<String>,
    /// The profile to issue under.
    #[serde(default)]
    pub profile: Option<String>,
}

/// finalize.
#[derive(Debug, Deserialize)]
pub struct Finalize {
    /// base64url DER CSR.
    pub csr: String,
}

/// CRLReason codes a subscriber may give when revoking (RFC 8555 §7.6 with the CA/B
/// Forum's subscriber set): unspecified, keyCompromise, affiliationChanged, superseded,
/// cessationOfOperation, privilegeWithdrawn. Never certificateHold or cACompromise. The
/// front checks it before queueing and control again before revoking.
pub const SUBSCRIBER_REASONS: [u8; 6] = [0, 1, 3, 4, 5, 9];

/// revokeCert.
#[derive(Debug, Deserialize)]
pub struct Revoke {
    /// base64url DER certificate.
    pub certificate: String,
    /// CRLReason code.
    #[serde(default)]
    pub reason: Option<u8>,
}

/// Authorization deactivation.
#[derive(Debug, Deserialize)]
pub struct AuthorizationUpdate {
    /// Must be `deactivated`.
    pub status: String,
}

/// The inner payload of a key change (§7.3.5).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    /// The account URL.
    pub account: String,
    /// The current key.
    pub old_key: Value,
}

/// Checks contacts: at most 10 `mailto:` URLs with one plain address each.
pub fn check_contacts(contact: &[String]) -> Result<(), crate::Problem> {
    use crate::problem::{Problem, ProblemType};
    if contact.len() > 10 {
        return Err(Problem::new(
            ProblemType::InvalidContact,
            "at most 10 contacts",
        ));
    }
    for c in contact {
        let Some(addr) = c.strip_prefix("mailto:") else {
            return Err(Problem::new(
                ProblemType::UnsupportedContact,
                format!(
                    "only mailto: contacts are supported, not {:?}",
                    c.chars().take(64).collect::<String>()
                ),
            ));
        };
        let ok = addr.len() <= 254
            && !addr.contains(['?', ',', '%', ' ', '<', '>'])
            && strongroom_types::RequestedName::parse("email", addr).is_ok();
        if !ok {
            return Err(Problem::new(
                ProblemType::InvalidContact,
                format!(
                    "{:?} is not a single plain e-mail address",
                    c.chars().take(64).collect::<String>()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts() {
        assert!(check_contacts(&["mailto:a@lab.test".into()]).is_ok());
        for bad in [
            "tel:+1",
            "mailto:a@b.c?subject=x",
            "mailto:a@lab.test,b@lab.test",
            "mailto:",
            "mailto:a@*.x",
        ] {
            assert!(check_contacts(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_contacts(&vec!["mailto:a@lab.test".to_string(); 11]).is_err());
    }
}
