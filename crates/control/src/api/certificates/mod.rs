//! The certificate inventory's routes, one file per purpose: search and one certificate
//! with its extensions in words ([`search`]), download ([`download`]), issue from a CSR and renew, directly or through an
//! approval ([`issuance`]), revoke one or many ([`revocation`]).
//!
//! In: requests that passed the guard, the caller's [`crate::auth::Principal`]. Out: JSON
//! views of inventory records ([`view`]), certificate files, problems. Issuance goes to the
//! signer (which checks the profile again) and what it returns is recorded with source
//! `api`; revocation goes through [`crate::revoke`] (the signer first, whose records the
//! CRLs come from, then the store).

mod download;
mod issuance;
mod revocation;
mod search;

pub use download::download;
pub use issuance::{
    enrolment_profile, execute_issue, issue, renew, validate, Issuance, IssueBody, RenewBody,
};
pub use revocation::{bulk_revoke, revoke, BulkRevokeBody, RevokeBody};
pub use search::{get_one, list, ListQuery};

use crate::problem::Problem;
use serde_json::{json, Value};
use strongroom_store::{CertificateRecord, NewCertificate};

/// The subjectAltNames of an inventory record (the inventory also indexes the bare
/// subject CN for search; it is not a SAN).
fn san_names(n: &NewCertificate) -> Vec<String> {
    n.names
        .iter()
        .filter(|x| Some(*x) != n.subject_cn.as_ref())
        .cloned()
        .collect()
}

/// The JSON view of a certificate.
pub fn view(c: &CertificateRecord) -> Value {
    let n = &c.certificate;
    json!({
        "id": c.id,
        "serial": n.serial.to_string(),
        "issuer": n.issuer.as_str(),
        "profile": n.profile,
        "subject_cn": n.subject_cn,
        "names": san_names(n),
        "not_before": n.not_before,
        "not_after": n.not_after,
        "fingerprint": n.fingerprint,
        "status": if c.revoked { "revoked" } else { "valid" },
        "source": n.source.as_str(),
        "owner": n.owner,
        "team": n.team,
        "tags": n.tags,
        "replaces": n.replaces,
        "created_at": c.created_at,
    })
}

/// The inventory id of a route's `{id}` segment.
fn parse_id(s: &str) -> Result<i64, Problem> {
    s.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        Problem::bad_request(format!("certificate id {s:?} is not a positive integer"))
    })
}
