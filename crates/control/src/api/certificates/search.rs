//! Searching the inventory, and one certificate with its revocation.
//!
//! In: the filters of `GET /certificates` (status, expiry, issuer, profile, name, tag,
//! owner, a page size and a cursor) or a certificate id. Out: a page of [`super::view`]s
//! and the cursor that continues the walk, or one view.

use super::{parse_id, view};
use crate::app::App;
use crate::input::{Params, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::CertificateFilter;
use strongroom_types::CaId;

/// Query of `GET /certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    expiring_before: Option<i64>,
    expiring_within_days: Option<u32>,
    issuer: Option<String>,
    profile: Option<String>,
    name: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
    serial: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn text_filter(field: &str, v: &Option<String>) -> Result<Option<String>, Problem> {
    match v {
        Some(s) if s.is_empty() || s.len() > 255 => Err(Problem::bad_request(format!(
            "{field} must be 1 to 255 characters"
        ))),
        other => Ok(other.clone()),
    }
}

/// Searches the inventory; `next` continues the walk.
pub async fn list(State(app): State<App>, Params(q): Params<ListQuery>) -> ApiResult<Json<Value>> {
    let now = app.now();
    let revoked = match q.status.as_deref() {
        None => None,
        Some("valid") => Some(false),
        Some("revoked") => Some(true),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "status {other:?} is not valid or revoked"
            )))
        }
    };
    let expiring_before = match (q.expiring_before, q.expiring_within_days) {
        (Some(_), Some(_)) => {
            return Err(Problem::bad_request(
                "use expiring_before or expiring_within_days, not both",
            ))
        }
        (Some(t), None) => Some(t),
        (None, Some(d)) if d <= 36_500 => Some(now + i64::from(d) * 86_400),
        (None, Some(_)) => {
            return Err(Problem::bad_request(
                "expiring_within_days is at most 36500",
            ))
        }
        (None, None) => None,
    };
    let issuer = match text_filter("issuer", &q.issuer)? {
        Some(s) => Some(
            s.parse::<CaId>()
                .map_err(|e| Problem::bad_request(format!("issuer: {e}")))?,
        ),
        None => None,
    };
    let filter =
        CertificateFilter {
            revoked,
            expiring_before,
            valid_at: expiring_before.map(|_| now),
            issuer,
            profile: text_filter("profile", &q.profile)?,
            name: text_filter("name", &q.name)?,
            tag: text_filter("tag", &q.tag)?,
            owner: text_filter("owner", &q.owner)?,
            serial: match text_filter("serial", &q.serial)? {
                Some(s) => Some(s.trim().parse().map_err(|e| {
                    Problem::bad_request(format!("serial: {e} (hex, colons allowed)"))
                })?),
                None => None,
            },
        };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 1000"));
    }
    let scope = format!("{filter:?}");
    let after = match &q.cursor {
        Some(c) => Some(app.cursors.open(c, &scope)?),
        None => None,
    };
    let page = app.store.certificates(&filter, after, limit).await?;
    Ok(Json(json!({
        "items": page.items.iter().map(view).collect::<Vec<_>>(),
        "next": page.next_after.map(|id| app.cursors.issue(id, &scope)),
    })))
}

/// One certificate, with its revocation when revoked and, in `x509`, what it says in words
/// (subject, issuer, key, every extension).
pub async fn get_one(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    let c = app.store.certificate(parse_id(&id)?).await?;
    let mut v = view(&c);
    v["x509"] = match strongroom_x509::CertificateDetails::from_der(&c.certificate.der) {
        Ok(d) => json!({
            "subject": d.subject,
            "issuer": d.issuer,
            "key_algorithm": d.key_algorithm,
            "signature_algorithm": d.signature_algorithm,
            "extensions": d.extensions.iter().map(|e| json!({
                "name": e.name, "oid": e.oid, "critical": e.critical, "value": e.value,
            })).collect::<Vec<_>>(),
        }),
        // An imported certificate the strict parser refuses is still shown by its record.
        Err(e) => json!({"error": e.to_string()}),
    };
    if c.revoked {
        if let Some(r) = app.store.revocation(c.id).await? {
            v["revocation"] = json!({
                "reason": r.reason.as_str(),
                "revoked_at": r.revoked_at,
                "invalidity_date": r.invalidity_date,
                "revoked_by": r.revoked_by,
            });
        }
    }
    Ok(Json(v))
}
