//! Signed dynamic SCEP challenges: the replay cache and the per-device limit.
//!
//! In: from the front, after it verified a connector's token (crates/front/src/scep/
//! dynamic.rs), the profile it enrols under, the token's `jti` and `device_id`, the time and
//! the profile's per-device limit. Out: a [`DynamicOutcome`] — the use was recorded now, the
//! token was used before, or the device used up its limit in the last 24 hours (nothing
//! recorded then: the token is not burnt).
//!
//! Security: the check and the insert are one atomic step on both backends. On SQLite they
//! run in one write transaction (`BEGIN IMMEDIATE`: one writer at a time). On PostgreSQL the
//! front calls `scep_dynamic_challenge_use` (migrations/postgres/0013), a SECURITY DEFINER
//! function that serialises one device's uses on an advisory lock and lets the primary key
//! (profile, jti) decide between two uses of one jti; the front has no right on the table,
//! so it cannot empty the cache to replay tokens. Each call first purges rows older than
//! [`DYNAMIC_RETENTION_SECS`].
//!
//! Not checked here: the token (signature, times, claims) — the store never sees it, only
//! the two values that name it and its device.

use crate::{Backend, Store, StoreError};
use sqlx::Row;
use strongroom_types::ProfileName;

/// The window of the per-device limit: uses in the 24 hours before `now` count.
pub const DYNAMIC_DEVICE_WINDOW_SECS: i64 = 86_400;

/// How long a use is remembered. A token is accepted at most 24 hours plus clock skew after
/// its `iat`, so a row older than this can no longer stop a replay and is purged; it also
/// outlives [`DYNAMIC_DEVICE_WINDOW_SECS`]. The PostgreSQL function says the same number.
pub const DYNAMIC_RETENTION_SECS: i64 = 3 * 86_400;

/// Bounds the table's CHECKs repeat: a `jti` has 16 to 64 characters, a `device_id` 1 to
/// 128, both printable ASCII without spaces.
const JTI_LEN: std::ops::RangeInclusive<usize> = 16..=64;
const DEVICE_ID_LEN: std::ops::RangeInclusive<usize> = 1..=128;

/// What using a dynamic challenge did. The front answers every refusal with one failInfo
/// and logs [`DynamicOutcome::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicOutcome {
    /// Recorded now: this request may enrol.
    Accepted,
    /// This profile's `jti` was used before (a replay, or the device retrying).
    Replayed,
    /// The device already has `limit` uses in the last 24 hours; nothing was recorded.
    DeviceLimit,
}

impl DynamicOutcome {
    /// A stable name for logs and metrics (also what the PostgreSQL function returns).
    pub fn as_str(self) -> &'static str {
        match self {
            DynamicOutcome::Accepted => "accepted",
            DynamicOutcome::Replayed => "replayed",
            DynamicOutcome::DeviceLimit => "device-limit",
        }
    }

    fn from_stored(s: &str) -> Result<DynamicOutcome, StoreError> {
        match s {
            "accepted" => Ok(DynamicOutcome::Accepted),
            "replayed" => Ok(DynamicOutcome::Replayed),
            "device-limit" => Ok(DynamicOutcome::DeviceLimit),
            other => Err(StoreError::Backend(format!(
                "scep_dynamic_challenge_use answered {other:?}"
            ))),
        }
    }
}

fn check_token_value(
    what: &str,
    value: &str,
    len: std::ops::RangeInclusive<usize>,
) -> Result<(), StoreError> {
    if len.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "a dynamic challenge's {what} has {} to {} printable ASCII characters",
            len.start(),
            len.end()
        )))
    }
}

impl Store {
    /// Records that the token `jti` for `device_id` enrols under `profile` at `now`, if
    /// that `jti` is new for the profile and the device has fewer than `limit` uses in the
    /// [`DYNAMIC_DEVICE_WINDOW_SECS`] before `now`; otherwise says which rule refused and
    /// records nothing. Atomic on both backends: of two concurrent uses of one `jti`,
    /// exactly one is [`DynamicOutcome::Accepted`].
    pub async fn use_dynamic_challenge(
        &self,
        profile: &ProfileName,
        jti: &str,
        device_id: &str,
        now: i64,
        limit: u32,
    ) -> Result<DynamicOutcome, StoreError> {
        check_token_value("jti", jti, JTI_LEN)?;
        check_token_value("device_id", device_id, DEVICE_ID_LEN)?;
        let limit = i32::try_from(limit)
            .ok()
            .filter(|l| *l >= 1)
            .ok_or_else(|| {
                StoreError::Invalid("a per-device limit is between 1 and 2^31 - 1".into())
            })?;
        match self.backend() {
            Backend::Postgres => {
                let row =
                    sqlx::query("SELECT scep_dynamic_challenge_use($1, $2, $3, $4, $5) AS outcome")
                        .bind(profile.as_str().to_string())
                        .bind(jti.to_string())
                        .bind(device_id.to_string())
                        .bind(now)
                        .bind(limit)
                        .fetch_one(self.pool())
                        .await?;
                DynamicOutcome::from_stored(&row.try_get::<String, _>("outcome")?)
            }
            Backend::Sqlite => self.use_here(profile, jti, device_id, now, limit).await,
        }
    }

    /// SQLite: the steps of `scep_dynamic_challenge_use`, in one write transaction.
    async fn use_here(
        &self,
        profile: &ProfileName,
        jti: &str,
        device_id: &str,
        now: i64,
        limit: i32,
    ) -> Result<DynamicOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM scep_dynamic_challenges WHERE used_at < $1")
            .bind(now - DYNAMIC_RETENTION_SECS)
            .execute(&mut *tx)
            .await?;
        let seen = sqlx::query(
            "SELECT 1 AS seen FROM scep_dynamic_challenges WHERE profile = $1 AND jti = $2",
        )
        .bind(profile.as_str().to_string())
        .bind(jti.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = if seen.is_some() {
            DynamicOutcome::Replayed
        } else {
            let recent: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM scep_dynamic_challenges \
                 WHERE profile = $1 AND device_id = $2 AND used_at > $3",
            )
            .bind(profile.as_str().to_string())
            .bind(device_id.to_string())
            .bind(now - DYNAMIC_DEVICE_WINDOW_SECS)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if recent >= i64::from(limit) {
                DynamicOutcome::DeviceLimit
            } else {
                sqlx::query(
                    "INSERT INTO scep_dynamic_challenges (profile, jti, device_id, used_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(profile.as_str().to_string())
                .bind(jti.to_string())
                .bind(device_id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                DynamicOutcome::Accepted
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
