//! The audit chain's hashing contract, shared by the store (which writes the chain), control
//! (which exports it) and the CLI (which verifies an export offline, without a database).
//!
//! In: events with their hash rule. Out: their chain hashes and the first event that
//! breaks the chain.
//!
//! STORED FORMAT — every hash in every chain depends on these bytes; never change a rule,
//! add a new one. Two rules exist:
//!
//! - **Rule 1** (events written before migration sqlite 10 / postgres 9): hash =
//!   hex(SHA-256(prev_hash ‖ 0x00 ‖ seq ‖ 0x00 ‖ at ‖ 0x00 ‖ actor ‖ 0x00 ‖ action ‖ 0x00 ‖
//!   target ‖ 0x00 ‖ outcome ‖ 0x00 ‖ detail)), numbers in decimal. Ambiguous: actor
//!   `a\0b` with action `c` and actor `a` with action `b\0c` hash the same bytes, so a NUL
//!   can be moved between fields without changing the hash.
//! - **Rule 2** (every event since): hash = hex(SHA-256(str("strongroom-audit-event-v2") ‖
//!   int(v1_through) ‖ str(prev_hash) ‖ int(seq) ‖ int(at) ‖ str(actor) ‖ str(action) ‖
//!   str(target) ‖ str(outcome) ‖ str(detail))), where str(s) is the 8-byte big-endian
//!   length of s in UTF-8 followed by those bytes and int(n) is n as 8 bytes big-endian
//!   two's complement. Each field's extent is fixed by its length, so no two events share
//!   an encoding. PostgreSQL computes the same bytes in `audit_hash_v2`
//!   (migrations/postgres/0009_audit_hash_v2.sql); a store test holds the two equal.
//!
//! Why an event cannot be downgraded to rule 1 (which would give a forger back the freedom
//! to move a NUL under a signed checkpoint):
//!
//! - The chain has one switch point, `v1_through`: its head when the migration ran,
//!   recorded once in `audit_hash_switch` (on PostgreSQL no daemon role may write it).
//!   [`verify_events`] accepts rule 1 only for `seq <= v1_through` and rule 2 only after.
//!   A rule-1 event later in the chain is refused even when its hash is right: only a
//!   writer bypassing the store could have made it.
//! - Every rule-2 hash covers `v1_through`, so a verifier without the database (the CLI)
//!   learns the switch point from the events themselves: an export cannot claim a later
//!   one without changing every rule-2 hash, which the signed checkpoints catch, and all
//!   rule-2 events must name the same one (the store's verifier must also match its row).
//! - Relabelling a rule-2 event as rule 1 needs rule-1 bytes with the same SHA-256, a
//!   preimage. The encodings cannot coincide: rule 1 begins with the previous hash in hex
//!   (required to be 64 lowercase hex digits), rule 2 with a length whose first byte is 0.
//!
//! What remains: events up to the switch point keep rule 1's ambiguity (a checkpoint over
//! them vouches for their bytes, not for where a NUL falls — PostgreSQL text cannot hold a
//! NUL, SQLite's can); and an export holding no rule-2 event cannot tell where the switch
//! was, so only the store's `verify_audit`, which reads the row, refuses a rule-1 event
//! written after the switch there.

use crate::TypesError;
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
    pub fn parse(s: &str) -> Result<Self, TypesError> {
        Ok(match s {
            "ok" => AuditOutcome::Ok,
            "denied" => AuditOutcome::Denied,
            "failed" => AuditOutcome::Failed,
            other => {
                return Err(TypesError::UnknownAuditOutcome {
                    name: other.to_owned(),
                })
            }
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
    /// The rule `hash` follows. Exported as `"hash_rule": {"version": 2, "v1_through": N}`;
    /// absent for rule 1, so exports made before rule 2 existed still read.
    #[serde(default, skip_serializing_if = "HashRule::is_v1")]
    pub hash_rule: HashRule,
}

/// Which encoding an event's hash follows (see the module header). Stored with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "HashRuleJson", into = "HashRuleJson")]
pub enum HashRule {
    /// NUL-separated fields; only for events up to the chain's switch point.
    #[default]
    V1,
    /// Length-prefixed fields; the hash also covers the chain's switch point.
    V2 {
        /// The last event of the chain hashed under rule 1 (0 when there is none).
        v1_through: i64,
    },
}

impl HashRule {
    /// Rule 1?
    pub fn is_v1(&self) -> bool {
        *self == HashRule::V1
    }

    /// The stored version number (the `hash_version` column).
    pub fn version(&self) -> i64 {
        match self {
            HashRule::V1 => 1,
            HashRule::V2 { .. } => 2,
        }
    }
}

/// The JSON form of [`HashRule`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashRuleJson {
    version: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v1_through: Option<i64>,
}

impl TryFrom<HashRuleJson> for HashRule {
    type Error = TypesError;

    fn try_from(j: HashRuleJson) -> Result<Self, TypesError> {
        let refuse = TypesError::HashRule;
        match (j.version, j.v1_through) {
            (1, None) => Ok(HashRule::V1),
            (2, Some(v1_through)) if v1_through >= 0 => Ok(HashRule::V2 { v1_through }),
            (2, _) => Err(refuse(
                "hash rule 2 needs a v1_through of at least 0".into(),
            )),
            (1, Some(_)) => Err(refuse("hash rule 1 has no v1_through".into())),
            (v, _) => Err(refuse(format!("unknown hash rule {v}"))),
        }
    }
}

impl From<HashRule> for HashRuleJson {
    fn from(r: HashRule) -> Self {
        match r {
            HashRule::V1 => HashRuleJson {
                version: 1,
                v1_through: None,
            },
            HashRule::V2 { v1_through } => HashRuleJson {
                version: 2,
                v1_through: Some(v1_through),
            },
        }
    }
}

/// Where verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first event that does not fit.
    pub seq: i64,
    /// Why.
    pub why: String,
}

/// Domain tag at the start of every rule-2 encoding.
const RULE_2_TAG: &str = "strongroom-audit-event-v2";

/// The hash of one event under `rule`, given its predecessor's hash.
pub fn event_hash(rule: HashRule, prev_hash: &str, seq: i64, at: i64, e: &NewAuditEvent) -> String {
    let mut h = Sha256::new();
    match rule {
        HashRule::V1 => {
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
        }
        HashRule::V2 { v1_through } => {
            // Stored format: must match audit_hash_v2 in migrations/postgres/0009.
            let text = |h: &mut Sha256, s: &str| {
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            };
            text(&mut h, RULE_2_TAG);
            h.update(v1_through.to_be_bytes());
            text(&mut h, prev_hash);
            h.update(seq.to_be_bytes());
            h.update(at.to_be_bytes());
            for field in [
                &e.actor,
                &e.action,
                &e.target,
                e.outcome.as_str(),
                &e.detail,
            ] {
                text(&mut h, field);
            }
        }
    }
    hex::encode(h.finalize())
}

fn is_hash_text(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a run of events (in seq order) starting after `prev_hash` at `prev_seq`.
///
/// `v1_through` is the chain's switch point when the caller knows it (the store reads it
/// from its row); with `None` it is taken from the run's rule-2 events, which all cover
/// it in their hashes (an offline export). Rule 1 is accepted only up to the switch point,
/// rule 2 only after it; a run with neither a known switch point nor a rule-2 event is
/// checked under rule 1 alone.
pub fn verify_events(
    prev_seq: i64,
    prev_hash: &str,
    events: &[AuditEvent],
    v1_through: Option<i64>,
) -> Result<(), ChainBreak> {
    let switch = v1_through.or_else(|| {
        events.iter().find_map(|e| match e.hash_rule {
            HashRule::V2 { v1_through } => Some(v1_through),
            HashRule::V1 => None,
        })
    });
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
        if !is_hash_text(&e.prev_hash) {
            return Err(ChainBreak {
                seq: e.seq,
                why: "previous hash is not 64 lowercase hex digits".into(),
            });
        }
        match (e.hash_rule, switch) {
            (HashRule::V1, Some(s)) if e.seq > s => {
                return Err(ChainBreak {
                    seq: e.seq,
                    why: format!(
                        "hashed under rule 1 after the chain switched to rule 2 at event {} (downgraded)",
                        s + 1
                    ),
                })
            }
            (HashRule::V2 { v1_through }, Some(s)) if v1_through != s => {
                return Err(ChainBreak {
                    seq: e.seq,
                    why: format!(
                        "names the hash-rule switch after event {v1_through}, but the chain switched after event {s}"
                    ),
                })
            }
            (HashRule::V2 { v1_through }, _) if e.seq <= v1_through => {
                return Err(ChainBreak {
                    seq: e.seq,
                    why: format!("hashed under rule 2 but at or before the switch point {v1_through}"),
                })
            }
            _ => {}
        }
        if event_hash(e.hash_rule, &prev, e.seq, e.at, &e.event) != e.hash {
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
    pub fn parse(text: &str) -> Result<CheckpointFacts, TypesError> {
        let refuse = |why: &str| TypesError::Checkpoint(why.to_owned());
        let mut lines = text.lines();
        if lines.next() != Some(CHECKPOINT_PREFIX) {
            return Err(refuse("not a Strongroom audit checkpoint statement"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| {
                    TypesError::Checkpoint(format!("checkpoint statement lacks {name}="))
                })
        };
        let facts = CheckpointFacts {
            ca: field("ca")?,
            seq: field("seq")?
                .parse()
                .map_err(|_| refuse("checkpoint seq is not a number"))?,
            head_hash: field("head")?,
            signed_at: field("signed_at")?
                .parse()
                .map_err(|_| refuse("checkpoint signed_at is not a number"))?,
        };
        if facts.statement() != text {
            return Err(refuse("checkpoint statement is not in canonical form"));
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

    fn event(actor: &str, action: &str) -> NewAuditEvent {
        NewAuditEvent {
            actor: actor.into(),
            action: action.into(),
            target: "certificate:42".into(),
            outcome: AuditOutcome::Ok,
            detail: String::new(),
        }
    }

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn moving_a_nul_between_fields_changes_the_hash() {
        let a = event("alice\0certificate.revoke", "x");
        let b = event("alice", "certificate.revoke\0x");
        let rule = HashRule::V2 { v1_through: 0 };
        assert_ne!(
            event_hash(rule, ZERO, 1, 5, &a),
            event_hash(rule, ZERO, 1, 5, &b)
        );
        // An empty field beside a NUL.
        let c = event("", "\0x");
        let d = event("\0", "x");
        assert_ne!(
            event_hash(rule, ZERO, 1, 5, &c),
            event_hash(rule, ZERO, 1, 5, &d)
        );
        assert_eq!(
            event_hash(HashRule::V1, ZERO, 1, 5, &c),
            event_hash(HashRule::V1, ZERO, 1, 5, &d)
        );
        // Rule 1 is the ambiguous one (kept only to verify old chains).
        assert_eq!(
            event_hash(HashRule::V1, ZERO, 1, 5, &a),
            event_hash(HashRule::V1, ZERO, 1, 5, &b)
        );
    }

    #[test]
    fn rule_2_is_the_documented_encoding() {
        // Known answer computed independently (Python: struct.pack('>Q', len) + UTF-8 for
        // text, struct.pack('>q', n) for numbers, hashlib.sha256).
        let mut e = event("alice", "certificate.revoke");
        e.detail = "reason=1 café".into();
        assert_eq!(
            event_hash(HashRule::V2 { v1_through: 3 }, ZERO, 4, -5, &e),
            "ee9e35cd1e9d56b84fa473f908daf7e1e17f88f99a35ecd169f22fc2d6ef9f10"
        );
        // The switch point is covered: another one gives another hash.
        assert_ne!(
            event_hash(HashRule::V2 { v1_through: 2 }, ZERO, 4, -5, &e),
            event_hash(HashRule::V2 { v1_through: 3 }, ZERO, 4, -5, &e)
        );
    }

    /// Events 1..=2 under rule 1 (written before the switch), 3..=4 under rule 2.
    fn upgraded_chain() -> Vec<AuditEvent> {
        let mut prev = ZERO.to_string();
        (1..=4)
            .map(|seq| {
                let rule = if seq <= 2 {
                    HashRule::V1
                } else {
                    HashRule::V2 { v1_through: 2 }
                };
                let e = event(&format!("user{seq}"), "certificate.issue");
                let hash = event_hash(rule, &prev, seq, 100 + seq, &e);
                AuditEvent {
                    seq,
                    at: 100 + seq,
                    event: e,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    hash_rule: rule,
                }
            })
            .collect()
    }

    #[test]
    fn an_upgraded_chain_verifies_with_and_without_its_switch_point() {
        let chain = upgraded_chain();
        assert_eq!(verify_events(0, ZERO, &chain, None), Ok(()));
        assert_eq!(verify_events(0, ZERO, &chain, Some(2)), Ok(()));
        // A store whose row says otherwise: the rule-2 events name another switch point.
        let b = verify_events(0, ZERO, &chain, Some(3)).unwrap_err();
        assert_eq!(b.seq, 3, "{b:?}");
        // An old export (rule 1 only, no hash_rule field) still verifies.
        assert_eq!(verify_events(0, ZERO, &chain[..2], None), Ok(()));
    }

    #[test]
    fn a_rule_2_event_cannot_be_downgraded_to_rule_1() {
        // Relabelled, hash kept.
        let mut chain = upgraded_chain();
        chain[2].hash_rule = HashRule::V1;
        let b = verify_events(0, ZERO, &chain, None).unwrap_err();
        assert_eq!(b.seq, 3, "{b:?}");
        assert!(b.why.contains("downgraded"), "{b:?}");

        // A rule-1 event appended after the switch with a correct rule-1 hash (a writer
        // bypassing the store, keeping the freedom to move a NUL later).
        let mut chain = upgraded_chain();
        let last = chain[3].hash.clone();
        let e = event("mallory\0x", "y");
        chain.push(AuditEvent {
            seq: 5,
            at: 105,
            hash: event_hash(HashRule::V1, &last, 5, 105, &e),
            event: e,
            prev_hash: last,
            hash_rule: HashRule::V1,
        });
        for known in [None, Some(2)] {
            let b = verify_events(0, ZERO, &chain, known).unwrap_err();
            assert_eq!((b.seq, b.why.contains("downgraded")), (5, true), "{b:?}");
        }
        // A rule-2 event placed before its own switch point.
        let mut chain = upgraded_chain();
        chain[1].hash_rule = HashRule::V2 { v1_through: 2 };
        chain[1].hash = event_hash(chain[1].hash_rule, &chain[0].hash, 2, 102, &chain[1].event);
        let b = verify_events(0, ZERO, &chain[..2], None).unwrap_err();
        assert_eq!(b.seq, 2, "{b:?}");
    }

    #[test]
    fn the_previous_hash_must_look_like_one() {
        let chain = upgraded_chain();
        let mut first = chain[0].clone();
        first.prev_hash = "\0".repeat(64);
        first.hash = event_hash(HashRule::V1, &first.prev_hash, 1, 101, &first.event);
        let b = verify_events(0, &first.prev_hash.clone(), &[first], None).unwrap_err();
        assert!(b.why.contains("64 lowercase hex"), "{b:?}");
    }

    #[test]
    fn hash_rule_json_is_strict_and_absent_for_rule_1() {
        let chain = upgraded_chain();
        let v1 = serde_json::to_string(&chain[0]).unwrap();
        assert!(!v1.contains("hash_rule"), "{v1}");
        let v2 = serde_json::to_string(&chain[2]).unwrap();
        assert!(
            v2.contains(r#""hash_rule":{"version":2,"v1_through":2}"#),
            "{v2}"
        );
        assert_eq!(serde_json::from_str::<AuditEvent>(&v2).unwrap(), chain[2]);
        assert_eq!(serde_json::from_str::<AuditEvent>(&v1).unwrap(), chain[0]);
        for bad in [
            r#"{"version":2}"#,
            r#"{"version":1,"v1_through":3}"#,
            r#"{"version":3,"v1_through":3}"#,
            r#"{"version":2,"v1_through":-1}"#,
            r#"{"version":2,"v1_through":1,"x":1}"#,
        ] {
            let text = v2.replace(r#"{"version":2,"v1_through":2}"#, bad);
            assert!(serde_json::from_str::<AuditEvent>(&text).is_err(), "{bad}");
        }
    }
}
