//! `GET /api/v1/stats/certificates`: the counts behind the console's dashboard charts.
//!
//! In: how many days of issuance to count (`days`, 1 to 90, default 30). Out: certificates
//! by status, how many valid ones expire within 7, 30 and 90 days, and how many were
//! recorded on each of the last `days` days (UTC days, oldest first).

use crate::app::App;
use crate::input::Params;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The expiry horizons the dashboard charts, in days.
pub const HORIZONS: [u32; 3] = [7, 30, 90];

/// Query of the route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    days: Option<u32>,
}

/// The inventory's counts now.
pub async fn certificates(
    State(app): State<App>,
    Params(q): Params<StatsQuery>,
) -> ApiResult<Json<Value>> {
    let days = q.days.unwrap_or(30);
    if !(1..=90).contains(&days) {
        return Err(Problem::bad_request("days must be between 1 and 90"));
    }
    let now = app.now();
    let s = app.store.certificate_stats(now, &HORIZONS, days).await?;
    Ok(Json(json!({
        "at": now,
        "by_status": {"valid": s.valid, "expired": s.expired, "revoked": s.revoked},
        "expiring_within_days": s.expiring.iter().map(|(d, n)| json!({"days": d, "count": n})).collect::<Vec<_>>(),
        "issued_per_day": s.issued_per_day.iter().map(|(day, n)| json!({"day": day, "count": n})).collect::<Vec<_>>(),
    })))
}
