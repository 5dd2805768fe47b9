//! Scheduled jobs with leases: each due job is run by exactly one worker at a time, even
//! with several nodes on one PostgreSQL (docs/architecture.md, Scaling past one appliance).
//!
//! In: jobs to run at a time (kind + JSON payload) and workers claiming them. Out: a claimed
//! job with a lease; a worker that dies lets its lease expire and another worker takes the
//! job over. Failures retry until `max_attempts`, then the job is marked failed.

use crate::{Store, StoreError};
use sqlx::Row;

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// What to do, e.g. `crl.refresh`.
    pub kind: String,
    /// Parameters (JSON).
    pub payload: String,
    /// Attempts so far, including this one.
    pub attempts: i64,
    /// The lease ends here; finish (or extend) before.
    pub lease_until: i64,
}

/// A job's final or current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to run.
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished.
    Done,
    /// Gave up after `max_attempts`.
    Failed,
}

impl Store {
    /// Queues a job to run at `run_at`.
    pub async fn enqueue_job(
        &self,
        kind: &str,
        payload: &str,
        run_at: i64,
        max_attempts: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, 0, $4, $5, $5) RETURNING id",
        )
        .bind(kind.to_string())
        .bind(payload.to_string())
        .bind(run_at)
        .bind(max_attempts)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get("id")?)
    }

    /// Claims the oldest due job (or one whose lease ran out) for `worker` until
    /// `now + lease_secs`. `None` when nothing is due or another worker won the race.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>, StoreError> {
        // The outer WHERE re-checks the state under the row lock, so of two workers that
        // picked the same id only one updates it; the other gets no row.
        let r = sqlx::query(
            "UPDATE jobs SET state = 'running', leased_by = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3) \
                         ORDER BY run_at, id LIMIT 1) \
               AND ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3)) \
             RETURNING id, kind, payload, attempts, lease_until",
        )
        .bind(worker.to_string())
        .bind(now + lease_secs)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(Job {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                lease_until: r.try_get("lease_until")?,
            })
        })
        .transpose()
    }

    /// Marks a job done. Only the worker holding the lease may.
    pub async fn complete_job(&self, id: i64, worker: &str, now: i64) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE jobs SET state = 'done', leased_by = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2 AND state = 'running' AND leased_by = $3")
            .bind(now)
            .bind(id)
            .bind(worker.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "job {id} is not leased by {worker}"
            )))
        }
    }

    /// Records a failed attempt: queued again at `retry_at`, or failed for good after
    /// `max_attempts`. Returns the new state.
    pub async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> Result<JobState, StoreError> {
        let r = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
             run_at = $1, last_error = $2, leased_by = NULL, lease_until = NULL, updated_at = $3 \
             WHERE id = $4 AND state = 'running' AND leased_by = $5 RETURNING state",
        )
        .bind(retry_at)
        .bind(error.to_string())
        .bind(now)
        .bind(id)
        .bind(worker.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("job {id} is not leased by {worker}")))?;
        match r.try_get::<String, _>("state")?.as_str() {
            "failed" => Ok(JobState::Failed),
            _ => Ok(JobState::Queued),
        }
    }

    /// Fails a job for good at once, whatever attempts it has left (its evidence does not
    /// hold: another attempt cannot succeed).
    pub async fn refuse_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'failed', last_error = $1, leased_by = NULL, lease_until = NULL, \
             updated_at = $2 WHERE id = $3 AND state = 'running' AND leased_by = $4 RETURNING id",
        )
        .bind(error.to_string())
        .bind(now)
        .bind(id)
        .bind(worker.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("job {id} is not leased by {worker}")))?;
        Ok(())
    }

    /// A job's state.
    pub async fn job_state(&self, id: i64) -> Result<JobState, StoreError> {
        let r = sqlx::query("SELECT state FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))?;
        Ok(match r.try_get::<String, _>("state")?.as_str() {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(StoreError::Backend(format!("unknown job state {other:?}"))),
        })
    }
}
