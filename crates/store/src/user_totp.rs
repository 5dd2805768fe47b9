//! The TOTP second factor's records (issue 19): the signer's sealed secret per user, the
//! enrolment being confirmed, the last time step a code was accepted for, and one-time
//! recovery codes (as SHA-256 hashes).
//!
//! In: blobs the signer sealed (the store never sees a TOTP secret), steps the signer
//! matched, recovery-code hashes. Out: a user's [`TotpRecord`]; whether a step or a recovery
//! code was taken — each decided by one guarded statement, so two logins racing with one
//! code, or one recovery code, succeed once.

use crate::{Store, StoreError};
use sqlx::Row;

/// A user's second factor as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The active secret, sealed by the signer (None until an enrolment is confirmed).
    pub sealed: Option<Vec<u8>>,
    /// The secret being enrolled, sealed (None when no enrolment is under way).
    pub pending: Option<Vec<u8>>,
    /// The last time step (Unix time / 30) a code was accepted for.
    pub last_step: u64,
}

// By hand: the blobs are sealed, but there is no reason to print them.
impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("active", &self.sealed.is_some())
            .field("pending", &self.pending.is_some())
            .field("last_step", &self.last_step)
            .finish()
    }
}

fn step_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn as_i64(step: u64) -> Result<i64, StoreError> {
    i64::try_from(step).map_err(|_| StoreError::Invalid(format!("time step {step} out of range")))
}

impl Store {
    /// The user's second factor, if an enrolment ever started.
    pub async fn totp_of(&self, user_id: i64) -> Result<Option<TotpRecord>, StoreError> {
        let row =
            sqlx::query("SELECT sealed, pending, last_step FROM user_totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| TotpRecord {
            sealed: r.get("sealed"),
            pending: r.get("pending"),
            last_step: step_of(r.get("last_step")),
        }))
    }

    /// Starts (or restarts) an enrolment: `pending` waits for a code from it; the active
    /// secret, if any, keeps working until then.
    pub async fn totp_begin(
        &self,
        user_id: i64,
        pending: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_totp (user_id, pending, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(pending.to_vec())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Confirms the enrolment whose blob is `pending` (a code from it matched `step`): it
    /// becomes the active secret, and `recovery_hashes` replace the recovery codes. False
    /// when the pending blob is no longer that one (another enrolment started meanwhile).
    pub async fn totp_confirm(
        &self,
        user_id: i64,
        pending: &[u8],
        step: u64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE user_totp SET sealed = pending, pending = NULL, last_step = $1, updated_at = $2 \
             WHERE user_id = $3 AND pending = $4",
        )
        .bind(as_i64(step)?)
        .bind(now)
        .bind(user_id)
        .bind(pending.to_vec())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !done {
            return Ok(false);
        }
        sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in recovery_hashes {
            sqlx::query("INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Takes `step` for the user's next login: true when it is later than every step taken
    /// before (one guarded update: two logins with one code, one wins).
    pub async fn totp_take_step(&self, user_id: i64, step: u64) -> Result<bool, StoreError> {
        let step = as_i64(step)?;
        Ok(sqlx::query(
            "UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND sealed IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Uses the recovery code whose hash is `code_hash`: true once, false after (or for a
    /// code the user does not have).
    pub async fn totp_use_recovery_code(
        &self,
        user_id: i64,
        code_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE user_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(code_hash.to_string())
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// How many unused recovery codes the user has left.
    pub async fn totp_recovery_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get("n"))
    }

    /// Removes the user's second factor and recovery codes (an admin's reset, or the user's
    /// own with a current code). True when there was one.
    pub async fn totp_remove(&self, user_id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let removed = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(removed)
    }
}
