//! ACME resources as JSON (RFC 8555 §7.1): accounts, orders, authorizations, challenges.
//!
//! In: store records. Out: the JSON clients read, with absolute URLs under `base_url`.

use super::http::rfc3339;
use super::Acme;
use serde_json::{json, Value};
use strongroom_acme::identifier::AcmeName;
use strongroom_store::{AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeOrder};

/// An account; with `externalAccountBinding` (the JWS its newAccount carried, RFC 8555
/// §7.1.2) when it was made with one.
pub fn account(acme: &Acme, a: &AcmeAccount) -> Value {
    let mut v = json!({
        "status": a.status,
        "contact": a.contact,
        "orders": acme.url(&format!("/acme/account/{}/orders", a.id)),
        "createdAt": rfc3339(a.created_at),
    });
    if let Some(eab) = a
        .eab_jws
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        v["externalAccountBinding"] = eab;
    }
    v
}

fn stored_problem(text: &Option<String>) -> Option<Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

/// The identifier an authorization row stands for, as the order shows it.
pub fn order_identifier(z: &AcmeAuthorization) -> Value {
    let value = if z.wildcard {
        format!("*.{}", z.identifier_value)
    } else {
        z.identifier_value.clone()
    };
    json!({"type": z.identifier_type, "value": value})
}

/// The checked name an authorization row stands for.
pub fn name_of(z: &AcmeAuthorization) -> Result<AcmeName, strongroom_acme::Problem> {
    AcmeName::from_stored(&z.identifier_type, &z.identifier_value, z.wildcard)
}

/// An order (with its authorizations loaded by the caller for the identifiers).
pub fn order(acme: &Acme, o: &AcmeOrder, authzs: &[AcmeAuthorization]) -> Value {
    let mut v = json!({
        "status": o.status,
        "expires": rfc3339(o.expires_at),
        "identifiers": authzs.iter().map(order_identifier).collect::<Vec<_>>(),
        "authorizations": o.authorizations.iter().map(|id| acme.url(&format!("/acme/authz/{id}"))).collect::<Vec<_>>(),
        "finalize": acme.url(&format!("/acme/order/{}/finalize", o.id)),
        "profile": o.profile,
    });
    if let Some(c) = o.certificate_id {
        v["certificate"] = json!(acme.url(&format!("/acme/cert/{c}")));
    }
    if let Some(e) = stored_problem(&o.error) {
        v["error"] = e;
    }
    v
}

/// A challenge.
pub fn challenge(acme: &Acme, c: &AcmeChallenge) -> Value {
    let mut v = json!({
        "type": c.kind,
        "url": acme.url(&format!("/acme/challenge/{}", c.id)),
        "status": c.status,
        "token": c.token,
    });
    if let Some(t) = c.validated_at {
        v["validated"] = json!(rfc3339(t));
    }
    if let Some(e) = stored_problem(&c.error) {
        v["error"] = e;
    }
    v
}

/// An authorization with its challenges.
pub fn authorization(acme: &Acme, z: &AcmeAuthorization) -> Value {
    let mut v = json!({
        "identifier": {"type": z.identifier_type, "value": z.identifier_value},
        "status": z.status,
        "expires": rfc3339(z.expires_at),
        "challenges": z.challenges.iter().map(|c| challenge(acme, c)).collect::<Vec<_>>(),
    });
    if z.wildcard {
        v["wildcard"] = json!(true);
    }
    v
}
