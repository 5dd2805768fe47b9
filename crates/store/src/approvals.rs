//! Two-person integrity: approval requests and M-of-N decisions.
//!
//! In: a request (what, by whom, how many approvals it needs, until when) and decisions
//! from approvers. Out: the request's state. The rules live here, next to the data, so no
//! caller can skip them: the requester never approves their own request, nor does a user
//! the requester sponsored (created, or granted roles: `user_sponsors`), each approver
//! decides once and says why, one rejection rejects, a request past its expiry cannot be
//! approved.

use crate::{Store, StoreError};
use sqlx::Row;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalState {
    /// Waiting for decisions.
    Pending,
    /// Enough approvals: the action may run.
    Approved,
    /// Someone rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl ApprovalState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => ApprovalState::Pending,
            "approved" => ApprovalState::Approved,
            "rejected" => ApprovalState::Rejected,
            "expired" => ApprovalState::Expired,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown approval state {other:?}"
                )))
            }
        })
    }
}

/// How independent an approver must be of the requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Independence {
    /// Neither the requester nor anyone the requester sponsored (transitively) made the
    /// approver.
    Ancestry,
    /// As [`Independence::Ancestry`], and no user sponsored both (their sponsor lines,
    /// each including the user, are disjoint): approvals cross sponsor trees, e.g. the
    /// bootstrap admin's and the break-glass officer's.
    SharedSponsors,
}

/// A user and everyone who sponsored them, transitively (UNION stops at cycles).
async fn sponsor_line(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    username: &str,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "WITH RECURSIVE line(name) AS (\
             SELECT CAST($1 AS TEXT) \
             UNION \
             SELECT s.sponsor FROM user_sponsors s JOIN users u ON u.id = s.user_id \
             JOIN line ON u.username = line.name\
         ) SELECT name FROM line",
    )
    .bind(username.to_string())
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| Ok(r.try_get::<String, _>("name")?))
    .collect()
}

/// An approval request with its decisions so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// Id.
    pub id: i64,
    /// What is requested, e.g. `certificate.issue`, `ca.create`.
    pub kind: String,
    /// The action's parameters (JSON), replayed when approved.
    pub payload: String,
    /// Who asked.
    pub requested_by: String,
    /// Approvals needed (M of N).
    pub required: i64,
    /// State.
    pub state: ApprovalState,
    /// Expiry.
    pub expires_at: i64,
    /// Approvers who approved, in order.
    pub approved_by: Vec<String>,
    /// Every decision so far, in order: (approver, `approve` or `reject`, comment).
    pub decisions: Vec<(String, String, String)>,
    /// Creation time.
    pub created_at: i64,
    /// What executing the approved request produced (JSON), once it ran.
    pub result: Option<String>,
}

impl Store {
    /// Files a request needing `required` approvals before `expires_at`.
    pub async fn create_approval(
        &self,
        kind: &str,
        payload: &str,
        requested_by: &str,
        required: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<i64, StoreError> {
        if required < 1 {
            return Err(StoreError::Invalid(
                "an approval needs at least one approver".into(),
            ));
        }
        if expires_at <= now {
            return Err(StoreError::Invalid(
                "an approval request must expire in the future".into(),
            ));
        }
        let r = sqlx::query(
            "INSERT INTO approval_requests (kind, payload, requested_by, required, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(kind.to_string())
        .bind(payload.to_string())
        .bind(requested_by.to_string())
        .bind(required)
        .bind(now)
        .bind(expires_at)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get("id")?)
    }

    /// One request.
    pub async fn approval(&self, id: i64) -> Result<ApprovalRequest, StoreError> {
        let r = sqlx::query("SELECT * FROM approval_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval request {id}")))?;
        self.hydrate_approval(&r).await
    }

    /// Requests, newest first, optionally in one state, with ids below `before`.
    pub async fn approvals(
        &self,
        state: Option<ApprovalState>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = match state {
            Some(s) => sqlx::query("SELECT * FROM approval_requests WHERE state = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
                .bind(s.as_str())
                .bind(before)
                .bind(limit)
                .fetch_all(self.pool())
                .await?,
            None => sqlx::query("SELECT * FROM approval_requests WHERE id < $1 ORDER BY id DESC LIMIT $2")
                .bind(before)
                .bind(limit)
                .fetch_all(self.pool())
                .await?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.hydrate_approval(r).await?);
        }
        Ok(out)
    }

    /// Records what executing an approved request produced. Only once, only when approved.
    pub async fn set_approval_result(&self, id: i64, result: &str) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE approval_requests SET result = $1 WHERE id = $2 AND state = 'approved' AND result IS NULL")
            .bind(result.to_string())
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "approval request {id} is not approved or already executed"
            )))
        }
    }

    async fn hydrate_approval(&self, r: &sqlx::any::AnyRow) -> Result<ApprovalRequest, StoreError> {
        let id: i64 = r.try_get("id")?;
        let decisions = sqlx::query("SELECT approver, decision, comment FROM approval_decisions WHERE request_id = $1 ORDER BY at, approver")
            .bind(id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|d| {
                Ok((
                    d.try_get::<String, _>("approver")?,
                    d.try_get::<String, _>("decision")?,
                    d.try_get::<String, _>("comment")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let approved_by = decisions
            .iter()
            .filter(|(_, d, _)| d == "approve")
            .map(|(a, _, _)| a.clone())
            .collect();
        Ok(ApprovalRequest {
            id,
            kind: r.try_get("kind")?,
            payload: r.try_get("payload")?,
            requested_by: r.try_get("requested_by")?,
            required: r.try_get("required")?,
            state: ApprovalState::parse(&r.try_get::<String, _>("state")?)?,
            expires_at: r.try_get("expires_at")?,
            approved_by,
            decisions,
            created_at: r.try_get("created_at")?,
            result: r.try_get("result")?,
        })
    }

    /// Records one approver's decision and returns the request's new state.
    pub async fn decide_approval(
        &self,
        id: i64,
        approver: &str,
        approve: bool,
        comment: &str,
        independence: Independence,
        now: i64,
    ) -> Result<ApprovalState, StoreError> {
        if comment.trim().is_empty() || comment.len() > 1000 {
            return Err(StoreError::Invalid(
                "a decision needs a comment of 1 to 1000 bytes saying why".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        // A no-op UPDATE first: it locks the row (PostgreSQL) or takes the write lock
        // (SQLite), so two approvers deciding at once are serialised.
        let r = sqlx::query("UPDATE approval_requests SET state = state WHERE id = $1 RETURNING requested_by, required, state, expires_at")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval request {id}")))?;
        let requested_by: String = r.try_get("requested_by")?;
        let required: i64 = r.try_get("required")?;
        let state = ApprovalState::parse(&r.try_get::<String, _>("state")?)?;
        let expires_at: i64 = r.try_get("expires_at")?;
        if state != ApprovalState::Pending {
            return Err(StoreError::Conflict(format!(
                "request {id} is already {}",
                state.as_str()
            )));
        }
        if now >= expires_at {
            sqlx::query("UPDATE approval_requests SET state = 'expired' WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(StoreError::Conflict(format!("request {id} expired")));
        }
        if approver == requested_by {
            return Err(StoreError::Conflict(
                "the requester cannot decide on their own request".into(),
            ));
        }
        // Security: a user the requester created or granted roles — directly or through
        // users they sponsored in turn — is the requester's creature, not a second person.
        // Under shared-sponsor independence (production), two users with any sponsor in
        // common (both made by one admin) are not independent of each other either.
        let approver_line = sponsor_line(&mut tx, approver).await?;
        let requester_line = sponsor_line(&mut tx, &requested_by).await?;
        let tied = match independence {
            Independence::Ancestry => approver_line.contains(&requested_by),
            Independence::SharedSponsors => {
                approver_line.iter().any(|a| requester_line.contains(a))
            }
        };
        if tied {
            return Err(StoreError::Conflict(format!(
                "{approver} is not independent of {requested_by}, the requester: one of them created the other or granted it roles (directly or through users they sponsored){}",
                if independence == Independence::SharedSponsors { ", or the same user sponsored both" } else { "" }
            )));
        }
        sqlx::query("INSERT INTO approval_decisions (request_id, approver, decision, at, comment) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(approver.to_string())
            .bind(if approve { "approve" } else { "reject" })
            .bind(now)
            .bind(comment.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("{approver} already decided on request {id}")),
                other => other,
            })?;
        let approvals: i64 = sqlx::query("SELECT COUNT(*) AS n FROM approval_decisions WHERE request_id = $1 AND decision = 'approve'")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        let next = if !approve {
            ApprovalState::Rejected
        } else if approvals >= required {
            ApprovalState::Approved
        } else {
            ApprovalState::Pending
        };
        sqlx::query("UPDATE approval_requests SET state = $1 WHERE id = $2")
            .bind(next.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Records that `sponsor` created user `user_id` or granted it roles (once per pair).
    pub async fn add_user_sponsor(
        &self,
        user_id: i64,
        sponsor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_sponsors (user_id, sponsor, at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, sponsor) DO NOTHING",
        )
        .bind(user_id)
        .bind(sponsor.to_string())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Who created user `user_id` or granted it roles, by name.
    pub async fn user_sponsors(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT sponsor FROM user_sponsors WHERE user_id = $1 ORDER BY at, sponsor")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(r.try_get::<String, _>("sponsor")?))
            .collect()
    }

    /// Marks every pending request past its expiry as expired; returns how many.
    pub async fn expire_approvals(&self, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("UPDATE approval_requests SET state = 'expired' WHERE state = 'pending' AND expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
