//! Counts over the inventory for the console's dashboard and `GET /api/v1/stats/certificates`:
//! certificates by status, how many expire within each horizon, and how many were recorded
//! on each of the last days.
//!
//! In: the time now, the horizons in days, how many days of issuance. Out: one
//! [`CertificateStats`]. Every count is a range over an index — `(status, not_after)` for
//! status and expiry, `(created_at)` for issuance — so no certificate row is read and the
//! cost grows with the index range, not with what the rows hold.

use crate::{Store, StoreError};
use sqlx::Row;

/// Most horizons or days one call may ask for (the API's bounds are tighter).
const MAX_BUCKETS: usize = 400;

/// Counts over the inventory at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateStats {
    /// Not revoked and not yet expired.
    pub valid: i64,
    /// Not revoked, past their notAfter.
    pub expired: i64,
    /// Revoked.
    pub revoked: i64,
    /// For each horizon asked (days), the valid certificates whose notAfter falls within it.
    pub expiring: Vec<(u32, i64)>,
    /// For each of the last days (oldest first, the day's start in Unix seconds, UTC), the
    /// certificates recorded that day; days with none are listed with 0.
    pub issued_per_day: Vec<(i64, i64)>,
}

impl Store {
    /// Counts at `now`: by status, expiring within each of `horizons` days, recorded on each
    /// of the last `days` days (today included).
    pub async fn certificate_stats(
        &self,
        now: i64,
        horizons: &[u32],
        days: u32,
    ) -> Result<CertificateStats, StoreError> {
        if horizons.len() > MAX_BUCKETS || days as usize > MAX_BUCKETS || days == 0 {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_BUCKETS} horizons and 1 to {MAX_BUCKETS} days"
            )));
        }
        let revoked = self
            .count(
                "SELECT COUNT(*) AS n FROM certificates WHERE status = 'revoked'",
                &[],
            )
            .await?;
        let expired = self
            .count(
                "SELECT COUNT(*) AS n FROM certificates WHERE status = 'valid' AND not_after <= $1",
                &[now],
            )
            .await?;
        let valid = self
            .count(
                "SELECT COUNT(*) AS n FROM certificates WHERE status = 'valid' AND not_after > $1",
                &[now],
            )
            .await?;
        let mut expiring = Vec::with_capacity(horizons.len());
        for &h in horizons {
            let until = now.saturating_add(i64::from(h) * 86_400);
            let n = self
                .count(
                    "SELECT COUNT(*) AS n FROM certificates WHERE status = 'valid' AND not_after > $1 AND not_after <= $2",
                    &[now, until],
                )
                .await?;
            expiring.push((h, n));
        }
        let today = now.div_euclid(86_400) * 86_400;
        let first = today - i64::from(days - 1) * 86_400;
        let rows = sqlx::query(
            "SELECT created_at / 86400 AS day, COUNT(*) AS n FROM certificates WHERE created_at >= $1 GROUP BY created_at / 86400",
        )
        .bind(first)
        .fetch_all(self.pool())
        .await?;
        let mut issued_per_day: Vec<(i64, i64)> = (0..i64::from(days))
            .map(|d| (first + d * 86_400, 0))
            .collect();
        for row in rows {
            let day: i64 = row.try_get("day")?;
            let n: i64 = row.try_get("n")?;
            let index = (day * 86_400 - first) / 86_400;
            // A certificate recorded after `now` (a clock step) has no bar; it is not lost
            // from the status counts.
            if let Some(slot) = usize::try_from(index)
                .ok()
                .and_then(|i| issued_per_day.get_mut(i))
            {
                slot.1 += n;
            }
        }
        Ok(CertificateStats {
            valid,
            expired,
            revoked,
            expiring,
            issued_per_day,
        })
    }

    async fn count(&self, sql: &'static str, binds: &[i64]) -> Result<i64, StoreError> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.fetch_one(self.pool()).await?.try_get::<i64, _>("n")?)
    }
}
