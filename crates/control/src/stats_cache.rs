//! The dashboard's counts, kept as a snapshot: at a million certificates the counts cost
//! about 100 ms on either database (docs/performance.md), too much to pay on every
//! dashboard load, and the same for every viewer.
//!
//! In: the store (through [`App`]), a change made through control ([`StatsCache::changed`]:
//! an issuance, a revocation). Out: the JSON of `GET /api/v1/stats/certificates` for the
//! default 30 days, at most [`FRESH_SECS`] old, refreshed in the background every
//! [`REFRESH_EVERY`] and at once after a change through control (the front's ACME, SCEP
//! and EST issuances show within [`FRESH_SECS`]) — while someone reads them: with no read
//! for [`IDLE_AFTER_SECS`] the background refresh rests. One count runs at a time, other
//! days' included, so a reader asking for odd ranges in a loop gets one count at a time, not
//! one per request in flight.

use crate::app::App;
use crate::problem::ApiResult;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// The counts' horizons, in days.
pub const HORIZONS: [u32; 3] = [7, 30, 90];
/// The days of issuance the snapshot holds (the route's default).
pub const DEFAULT_DAYS: u32 = 30;
/// Oldest snapshot served.
pub const FRESH_SECS: i64 = 10;
/// How often the background refresh runs.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// The background refresh rests when nobody has read the counts for this long.
pub const IDLE_AFTER_SECS: i64 = 120;

/// The latest counts.
#[derive(Debug, Default)]
pub struct StatsCache {
    latest: tokio::sync::RwLock<Option<(i64, Value)>>,
    refreshing: tokio::sync::Mutex<()>,
    stale: AtomicBool,
    last_read: AtomicI64,
}

impl StatsCache {
    /// Control changed the inventory: the next read counts again.
    pub fn changed(&self) {
        self.stale.store(true, Ordering::Release);
    }

    async fn fresh(&self, now: i64) -> Option<Value> {
        if self.stale.load(Ordering::Acquire) {
            return None;
        }
        match &*self.latest.read().await {
            Some((at, v)) if now - at < FRESH_SECS => Some(v.clone()),
            _ => None,
        }
    }

    /// The counts for `days` of issuance: the snapshot when `days` is the default and it is
    /// fresh, else counted now.
    pub async fn get(&self, app: &App, days: u32) -> ApiResult<Value> {
        self.last_read.store(app.now(), Ordering::Relaxed);
        self.counted(app, days).await
    }

    async fn counted(&self, app: &App, days: u32) -> ApiResult<Value> {
        if days != DEFAULT_DAYS {
            let _one_at_a_time = self.refreshing.lock().await;
            return count(app, days).await;
        }
        if let Some(v) = self.fresh(app.now()).await {
            return Ok(v);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(v) = self.fresh(app.now()).await {
            return Ok(v);
        }
        // Cleared before counting: a change during the count marks it stale again.
        self.stale.store(false, Ordering::Release);
        let v = count(app, days).await?;
        *self.latest.write().await = Some((app.now(), v.clone()));
        Ok(v)
    }
}

async fn count(app: &App, days: u32) -> ApiResult<Value> {
    let now = app.now();
    let s = app.store.certificate_stats(now, &HORIZONS, days).await?;
    Ok(json!({
        "at": now,
        "by_status": {"valid": s.valid, "expired": s.expired, "revoked": s.revoked},
        "expiring_within_days": s.expiring.iter().map(|(d, n)| json!({"days": d, "count": n})).collect::<Vec<_>>(),
        "issued_per_day": s.issued_per_day.iter().map(|(day, n)| json!({"day": day, "count": n})).collect::<Vec<_>>(),
    }))
}

/// Keeps the snapshot fresh, so a dashboard load rarely waits for a count.
pub async fn refresh_loop(app: App) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        if app.now() - app.stats.last_read.load(Ordering::Relaxed) > IDLE_AFTER_SECS {
            continue;
        }
        if let Err(p) = app.stats.counted(&app, DEFAULT_DAYS).await {
            tracing::warn!(error = %p.detail, "the dashboard's counts could not be refreshed; retrying");
        }
    }
}
