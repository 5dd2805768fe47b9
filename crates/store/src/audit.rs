//! The audit log: append-only, hash-chained, in the database.
//!
//! In: events (who did what to what, with which outcome) from control and front. Out:
//! sequence numbers, ranges for export, and a verification that names the first event
//! that was edited, deleted, reordered or downgraded to the old hash rule. Appends are
//! serialised through the single `audit_head` row: `UPDATE … RETURNING` takes its row lock
//! on PostgreSQL and the write lock on SQLite, so concurrent writers (several fronts,
//! control) extend one chain.
//!
//! One way to append per backend. PostgreSQL: the `audit_append` function
//! (migrations/postgres/0009), SECURITY DEFINER, which takes the seq, the link and computes
//! the hash itself; the daemons' roles may execute it but not insert events or move the
//! head, so a compromised front cannot write a row of its choosing. The store recomputes
//! the function's hash in Rust and refuses the append (the caller's transaction rolls back)
//! if the two ever disagree. SQLite has no roles: the same steps run here, in the caller's
//! transaction; anyone who can write the file can write any row (signed checkpoints catch
//! a rewrite, not a missing separation).
//!
//! Stored contract: the hash rules and the switch point between them are in
//! [`strongroom_types::audit`] (rule 2 since migration sqlite 10 / postgres 9, earlier
//! events keep rule 1); the switch point is the one row of `audit_hash_switch`.

use crate::{Store, StoreError};
use sqlx::Row;
pub use strongroom_types::audit::{
    event_hash, verify_events, AuditEvent, AuditOutcome, ChainBreak, HashRule, NewAuditEvent,
};

/// The columns every event read selects: the event and the chain's switch point (the
/// rule-2 hash covers it).
const EVENT_COLUMNS: &str = "SELECT e.seq, e.at, e.actor, e.action, e.target, e.outcome, \
     e.detail, e.prev_hash, e.hash, e.hash_version, s.v1_through \
     FROM audit_events e LEFT JOIN audit_hash_switch s ON s.id = 1";

fn row_to_event(r: &sqlx::any::AnyRow) -> Result<AuditEvent, StoreError> {
    let seq: i64 = r.try_get("seq")?;
    let hash_rule = match (
        r.try_get::<i64, _>("hash_version")?,
        r.try_get::<Option<i64>, _>("v1_through")?,
    ) {
        (1, _) => HashRule::V1,
        (2, Some(v1_through)) => HashRule::V2 { v1_through },
        (2, None) => {
            return Err(StoreError::Backend(
                "the audit hash switch point is missing".into(),
            ))
        }
        (v, _) => {
            return Err(StoreError::Backend(format!(
                "audit event {seq} names unknown hash rule {v}"
            )))
        }
    };
    Ok(AuditEvent {
        seq,
        at: r.try_get("at")?,
        event: NewAuditEvent {
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            outcome: AuditOutcome::parse(&r.try_get::<String, _>("outcome")?)
                .map_err(|e| StoreError::Backend(e.to_string()))?,
            detail: r.try_get("detail")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        hash_rule,
    })
}

/// Appends an event inside the caller's transaction (the chain moves with whatever else
/// that transaction commits, or not at all).
pub(crate) async fn append_audit_on(
    conn: &mut sqlx::AnyConnection,
    event: &NewAuditEvent,
    at: i64,
) -> Result<AuditEvent, StoreError> {
    let appended = if conn.backend_name() == "PostgreSQL" {
        append_through_function(conn, event, at).await?
    } else {
        append_in_rust(conn, event, at).await?
    };
    // Security: the hash the database computed must be the one every verifier computes;
    // otherwise the chain would stop verifying here, so nothing is appended.
    if event_hash(
        appended.hash_rule,
        &appended.prev_hash,
        appended.seq,
        at,
        event,
    ) != appended.hash
    {
        return Err(StoreError::Backend(format!(
            "audit event {}: the database's hash differs from the rule-2 hash; not appended",
            appended.seq
        )));
    }
    Ok(appended)
}

/// PostgreSQL: `audit_append` claims the seq, links and hashes (migrations/postgres/0009).
async fn append_through_function(
    conn: &mut sqlx::AnyConnection,
    event: &NewAuditEvent,
    at: i64,
) -> Result<AuditEvent, StoreError> {
    let r = sqlx::query(
        "SELECT appended_seq, appended_prev_hash, appended_hash, appended_v1_through \
         FROM audit_append($1, $2, $3, $4, $5, $6)",
    )
    .bind(at)
    .bind(event.actor.clone())
    .bind(event.action.clone())
    .bind(event.target.clone())
    .bind(event.outcome.as_str())
    .bind(event.detail.clone())
    .fetch_one(&mut *conn)
    .await?;
    Ok(AuditEvent {
        seq: r.try_get("appended_seq")?,
        at,
        event: event.clone(),
        prev_hash: r.try_get("appended_prev_hash")?,
        hash: r.try_get("appended_hash")?,
        hash_rule: HashRule::V2 {
            v1_through: r.try_get("appended_v1_through")?,
        },
    })
}

/// SQLite: the same steps as `audit_append`, in the caller's transaction.
async fn append_in_rust(
    conn: &mut sqlx::AnyConnection,
    event: &NewAuditEvent,
    at: i64,
) -> Result<AuditEvent, StoreError> {
    // Claim the next sequence number and read the head in one locking statement.
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let v1_through: i64 = sqlx::query("SELECT v1_through FROM audit_hash_switch WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?
        .try_get("v1_through")?;
    let hash_rule = HashRule::V2 { v1_through };
    let hash = event_hash(hash_rule, &prev_hash, seq, at, event);
    sqlx::query(
        "INSERT INTO audit_events \
         (seq, at, actor, action, target, outcome, detail, prev_hash, hash, hash_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(at)
    .bind(event.actor.clone())
    .bind(event.action.clone())
    .bind(event.target.clone())
    .bind(event.outcome.as_str())
    .bind(event.detail.clone())
    .bind(prev_hash.clone())
    .bind(hash.clone())
    .bind(hash_rule.version())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(hash.clone())
        .execute(&mut *conn)
        .await?;
    Ok(AuditEvent {
        seq,
        at,
        event: event.clone(),
        prev_hash,
        hash,
        hash_rule,
    })
}

impl Store {
    /// Appends an event to the chain and returns it.
    pub async fn append_audit(
        &self,
        event: &NewAuditEvent,
        at: i64,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin_write().await?;
        let appended = append_audit_on(&mut tx, event, at).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// Events with seq in `from..=to`, in order.
    pub async fn audit_events(&self, from: i64, to: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{EVENT_COLUMNS} WHERE e.seq >= $1 AND e.seq <= $2 ORDER BY e.seq"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    /// Events matching an actor and/or action prefix, newest first, with seq below
    /// `before`, at most `limit` (1..=1000).
    pub async fn audit_query(
        &self,
        actor: Option<&str>,
        action_prefix: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        if limit == 0 || limit > 1000 {
            return Err(StoreError::Invalid(
                "limit must be between 1 and 1000".into(),
            ));
        }
        // LIKE with an escaped prefix: the caller's text is data, never pattern syntax.
        let pattern = action_prefix.map(|p| {
            let escaped: String = p
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("{escaped}%")
        });
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{EVENT_COLUMNS} WHERE e.seq < $1 \
             AND ($2 IS NULL OR e.actor = $2) \
             AND ($3 IS NULL OR e.action LIKE $3 ESCAPE '\\') \
             ORDER BY e.seq DESC LIMIT $4"
        )))
        .bind(before.unwrap_or(i64::MAX))
        .bind(actor.map(str::to_string))
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    /// Records a signed checkpoint (`signed` is the exported JSON form). The head hash
    /// must be the stored event's, so a checkpoint never vouches for a chain we lack.
    pub async fn insert_checkpoint(
        &self,
        seq: i64,
        head_hash: &str,
        signed: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let stored = self.audit_events(seq, seq).await?;
        match stored.first() {
            Some(e) if e.hash == head_hash => {}
            _ => {
                return Err(StoreError::Conflict(format!(
                    "checkpoint for event {seq} does not match the stored chain"
                )))
            }
        }
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, head_hash, at, signed) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(head_hash.to_string())
        .bind(at)
        .bind(signed.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Checkpoints covering events `from..=to`, as (seq, signed JSON), in order.
    pub async fn checkpoints(&self, from: i64, to: i64) -> Result<Vec<(i64, String)>, StoreError> {
        sqlx::query(
            "SELECT seq, signed FROM audit_checkpoints WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("seq")?, r.try_get("signed")?)))
        .collect()
    }

    /// The newest checkpoint's seq (0 when there is none).
    pub async fn last_checkpoint_seq(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_checkpoints")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("seq")?)
    }

    /// The head: (last seq, last hash).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok((r.try_get("seq")?, r.try_get("hash")?))
    }

    /// The chain's hash-rule switch point: the last event hashed under rule 1, fixed when
    /// the migration to rule 2 ran.
    pub async fn audit_hash_switch(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT v1_through FROM audit_hash_switch WHERE id = 1")
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Backend("the audit hash switch point is missing".into()))?;
        Ok(r.try_get("v1_through")?)
    }

    /// Verifies the whole stored chain against the head, in batches, with rule 1 accepted
    /// only up to the recorded switch point.
    pub async fn verify_audit(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let v1_through = self.audit_hash_switch().await?;
        let (head_seq, head_hash) = self.audit_head().await?;
        let mut prev_seq = 0;
        let mut prev_hash = "0".repeat(64);
        while prev_seq < head_seq {
            let batch = self.audit_events(prev_seq + 1, prev_seq + 1000).await?;
            if batch.is_empty() {
                return Ok(Err(ChainBreak {
                    seq: prev_seq + 1,
                    why: "event missing before the head".into(),
                }));
            }
            if let Err(b) = verify_events(prev_seq, &prev_hash, &batch, Some(v1_through)) {
                return Ok(Err(b));
            }
            if let Some(last) = batch.last() {
                prev_seq = last.seq;
                prev_hash = last.hash.clone();
            }
        }
        if prev_hash != head_hash {
            return Ok(Err(ChainBreak {
                seq: head_seq,
                why: "the head does not match the last event".into(),
            }));
        }
        Ok(Ok(head_seq))
    }
}
