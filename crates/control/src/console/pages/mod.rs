//! The console's pages, one file per section: the session ([`session`]: login, logout), the
//! dashboard ([`dashboard`]), the inventory ([`certificates`]: search, one certificate,
//! revoke), issuance from a CSR ([`issue`]), the approvals queue ([`approvals`]), the
//! audit log ([`audit`]), the CA tree ([`cas`]), profiles ([`profiles`]), ACME, SCEP and
//! EST enrolment ([`enrolment`]), users and keys ([`users`]), the system ([`system`]) and
//! enrolling an authenticator ([`second_factor`]).
//!
//! In: the browser's requests, through [`super::Caller`]. Out: pages built with
//! [`super::html`] from what the API answered.

pub mod approvals;
pub mod audit;
pub mod cas;
pub mod certificates;
pub mod dashboard;
pub mod enrolment;
pub mod issue;
pub mod profiles;
pub mod second_factor;
pub mod session;
pub mod system;
pub mod users;

use axum::extract::RawQuery;
use std::collections::HashMap;

/// A page's query string as fields (unknown ones are ignored by each page; what it passes
/// on, the API checks strictly).
pub fn query_fields(RawQuery(q): &RawQuery) -> HashMap<String, String> {
    q.as_deref()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

/// The non-empty `keys` of `fields` as an API query string (`?a=b&c=d`, or empty).
pub fn api_query(fields: &HashMap<String, String>, keys: &[&str]) -> String {
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .filter_map(|k| {
            fields
                .get(*k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| (*k, v))
        })
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    format!(
        "?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}
