//! `GET /api/v1/stats/certificates`: the counts behind the console's dashboard charts.
//!
//! In: how many days of issuance to count (`days`, 1 to 90, default 30). Out: certificates
//! by status, how many valid ones expire within 7, 30 and 90 days, and how many were
//! recorded on each of the last `days` days (UTC days, oldest first), with `at`, the time
//! they were counted (the default is a snapshot at most seconds old: [`crate::stats_cache`]).

use crate::app::App;
use crate::input::Params;
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

/// Query of the route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    days: Option<u32>,
}

/// The inventory's counts.
pub async fn certificates(
    State(app): State<App>,
    Params(q): Params<StatsQuery>,
) -> ApiResult<Json<Value>> {
    let days = q.days.unwrap_or(crate::stats_cache::DEFAULT_DAYS);
    if !(1..=90).contains(&days) {
        return Err(Problem::bad_request("days must be between 1 and 90"));
    }
    Ok(Json(app.stats.get(&app, days).await?))
}
