//! The audit chain's hashing contract, shared by the store (which writes the chain), control
//! (which exports it) and the CLI (which verifies an export offline, without a database).
//!
//! In: events. Out: their chain hashes and the first event that breaks the chain.
//!
//! Stored contract: hash = hex(SHA-256(prev_hash ‖ 0x00 ‖ seq ‖ 0x00 ‖ at ‖ 0x00 ‖ actor ‖
//! 0x00 ‖ action ‖ 0x00 ‖ target ‖ 0x00 ‖ outcome ‖ 0x00 ‖ detail)), numbers in decimal.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Refused (permission, policy, validation).
    Denied,
    /// Attempted and failed.
    Failed,
}

impl AuditOutcome {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "ok" => AuditOutcome::Ok,
            "denied" => AuditOutcome::Denied,
            "failed" => AuditOutcome::Failed,
            other => return Err(format!("unknown audit outcome {other:?}")),
        })
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// First line of every signed checkpoint statement (domain separation: these bytes can be
/// nothing but a Strongroom audit checkpoint).
pub const CHECKPOINT_PREFIX: &str = "strongroom-audit-checkpoint-v1";

/// The first DNS label of the audit key certificate's only name. The signer refuses to put
/// a name starting with this label into any other certificate, so a certificate that
/// carries it can only be the signer's own audit certificate.
pub const AUDIT_NAME_LABEL: &str = "strongroom-audit-checkpoint";

/// What a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFacts {
    /// The CA that certifies the audit key.
    pub ca: String,
    /// Sequence number of the chain head it covers.
    pub seq: u64,
    /// Hash of that event.
    pub head_hash: String,
    /// When the signer signed it (Unix seconds).
    pub signed_at: i64,
}

impl CheckpointFacts {
    /// The exact text that is signed.
    pub fn statement(&self) -> String {
        format!(
            "{CHECKPOINT_PREFIX}\nca={}\nseq={}\nhead={}\nsigned_at={}\n",
            self.ca, self.seq, self.head_hash, self.signed_at
        )
    }

    /// Parses a statement; it must re-encode to exactly the same text.
    pub fn parse(text: &str) -> Result<CheckpointFacts, String> {
        let mut lines = text.lines();
        if lines.next() != Some(CHECKPOINT_PREFIX) {
            return Err("not a Strongroom audit checkpoint statement".into());
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| format!("checkpoint statement lacks {name}="))
        };
        let facts = CheckpointFacts {
            ca: field("ca")?,
            seq: field("seq")?
                .parse()
                .map_err(|_| "checkpoint seq is not a number")?,
            head_hash: field("head")?,
            signed_at: field("signed_at")?
                .parse()
                .map_err(|_| "checkpoint signed_at is not a number")?,
        };
        if facts.statement() != text {
            return Err("checkpoint statement is not in canonical form".into());
        }
        Ok(facts)
    }
}

/// A signed checkpoint as exported: statement, DER signature and the audit certificate
/// with its chain (hex DER), one JSON line `{"checkpoint": …}` in an audit export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCheckpoint {
    /// The signed text.
    pub statement: String,
    /// ECDSA P-256 SHA-256 signature, DER, hex.
    pub signature: String,
    /// Audit certificate, DER, hex.
    pub certificate: String,
    /// Its chain (issuing CA first, root last), DER, hex.
    pub chain: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_statement_round_trips_and_is_strict() {
        let f = CheckpointFacts {
            ca: "issuing".into(),
            seq: 42,
            head_hash: "ab".repeat(32),
            signed_at: 1_800_000_000,
        };
        assert_eq!(CheckpointFacts::parse(&f.statement()).unwrap(), f);
        assert!(CheckpointFacts::parse(&f.statement().replace("seq=42", "seq=042")).is_err());
        assert!(CheckpointFacts::parse(&format!("{}x", f.statement())).is_err());
        assert!(CheckpointFacts::parse("hello").is_err());
    }
}
