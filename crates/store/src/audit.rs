//! The audit log: append-only, hash-chained, in the database.
//!
//! In: events (who did what to what, with which outcome) from control and front. Out:
//! sequence numbers, ranges for export, and a verification that names the first event
//! that was edited, deleted or reordered. Appends are serialised through the single
//! `audit_head` row: `UPDATE … RETURNING` takes its row lock on PostgreSQL and the write
//! lock on SQLite, so concurrent writers (several fronts, control) extend one chain.
//!
//! Stored contract: hash = hex(SHA-256(prev_hash ‖ 0x00 ‖ seq ‖ 0x00 ‖ at ‖ 0x00 ‖ actor ‖
//! 0x00 ‖ action ‖ 0x00 ‖ target ‖ 0x00 ‖ outcome ‖ 0x00 ‖ detail)), numbers in decimal.

use crate::{Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Refused (permission, policy, validation).
    Denied,
    /// Attempted and failed.
    Failed,
}

impl AuditOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "ok" => AuditOutcome::Ok,
            "denied" => AuditOutcome::Denied,
            "failed" => AuditOutcome::Failed,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown audit outcome {other:?}"
                )))
            }
        })
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// Who (user name, `apikey:ID`, `acme:ACCOUNT`, `system`).
    pub actor: String,
    /// What, e.g. `certificate.revoke`.
    pub action: String,
    /// On what, e.g. `certificate:42`.
    pub target: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Log-safe detail (never a secret).
    pub detail: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: i64,
    /// The event.
    pub event: NewAuditEvent,
    /// Hash of the previous event (zeros for the first).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// Where verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first event that does not fit.
    pub seq: i64,
    /// Why.
    pub why: String,
}

/// The hash of one event given its predecessor's hash.
pub fn event_hash(prev_hash: &str, seq: i64, at: i64, e: &NewAuditEvent) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash,
        &seq.to_string(),
        &at.to_string(),
        &e.actor,
        &e.action,
        &e.target,
        e.outcome.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(e.detail.as_bytes());
    hex::encode(h.finalize())
}

/// Checks a run of events (in seq order) starting after `prev_hash` at `prev_seq`.
pub fn verify_events(
    prev_seq: i64,
    prev_hash: &str,
    events: &[AuditEvent],
) -> Result<(), ChainBreak> {
    let mut seq = prev_seq;
    let mut prev = prev_hash.to_string();
    for e in events {
        if e.seq != seq + 1 {
            return Err(ChainBreak {
                seq: e.seq,
                why: format!(
                    "expected event {} (an event is missing or out of order)",
                    seq + 1
                ),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                why: "previous-hash link does not match".into(),
            });
        }
        if event_hash(&prev, e.seq, e.at, &e.event) != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                why: "content does not match its hash (edited)".into(),
            });
        }
        seq = e.seq;
        prev = e.hash.clone();
    }
    Ok(())
}

fn row_to_event(r: &sqlx::any::AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        event: NewAuditEvent {
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            outcome: AuditOutcome::parse(&r.try_get::<String, _>("outcome")?)?,
            detail: r.try_get("detail")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

impl Store {
    /// Appends an event to the chain and returns it.
    pub async fn append_audit(
        &self,
        event: &NewAuditEvent,
        at: i64,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Claim the next sequence number and read the head in one locking statement.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *tx)
                .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let hash = event_hash(&prev_hash, seq, at, event);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, action, target, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(hash.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(AuditEvent {
            seq,
            at,
            event: event.clone(),
            prev_hash,
            hash,
        })
    }

    /// Events with seq in `from..=to`, in order.
    pub async fn audit_events(&self, from: i64, to: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq")
                .bind(from)
                .bind(to)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(row_to_event).collect()
    }

    /// The head: (last seq, last hash).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok((r.try_get("seq")?, r.try_get("hash")?))
    }

    /// Verifies the whole stored chain against the head, in batches.
    pub async fn verify_audit(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
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
            if let Err(b) = verify_events(prev_seq, &prev_hash, &batch) {
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
