//! `strongroom audit verify FILE [--root ROOT.pem]`: checks an audit export offline, with
//! no database and no server.
//!
//! In: JSON lines of events and `{"checkpoint": …}` lines, and the root certificate the
//! verifier trusts. Out: a report, or the first problem with the event it concerns, exit
//! code 8. The events must link from the first to the last (an export that starts at
//! event 1 starts from the all-zero hash). Each checkpoint must be signed by a Strongroom
//! audit certificate that chains to the root, and must name the hash of the event it
//! covers: events deleted, reordered or edited up to the newest checkpoint are caught even
//! when the whole chain was recomputed, and so is a chain cut short before a checkpoint.
//! Hash rules as in [`strongroom_types::audit`]: rule 1 only up to the switch point that the
//! export's rule-2 events name (and cover in their hashes), rule 2 after it.

use crate::client::Failure;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use strongroom_types::audit::{verify_events, AuditEvent, CheckpointFacts, ExportedCheckpoint};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    checkpoint: ExportedCheckpoint,
}

fn broken(message: impl Into<String>) -> Failure {
    Failure {
        code: 8,
        message: message.into(),
    }
}

fn read_root(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
    crate::pem::der_from_file(&bytes, "CERTIFICATE")
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))
}

/// Verifies `file`; exit code 0 when intact, 8 when not.
pub fn run(file: &Path, root: Option<&Path>) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::local(format!("{}: {e}", file.display())))?;
    let mut events = Vec::new();
    let mut checkpoints = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        if line.starts_with("{\"checkpoint\"") {
            let c: CheckpointLine = serde_json::from_str(line).map_err(|e| {
                broken(format!(
                    "{} line {}: not a checkpoint: {e}",
                    file.display(),
                    n + 1
                ))
            })?;
            checkpoints.push(c.checkpoint);
        } else {
            let e: AuditEvent = serde_json::from_str(line).map_err(|e| {
                broken(format!(
                    "{} line {}: not an audit event: {e}",
                    file.display(),
                    n + 1
                ))
            })?;
            events.push(e);
        }
    }
    let Some(first) = events.first() else {
        return Err(broken(format!("{} holds no events", file.display())));
    };
    if first.seq == 1 && first.prev_hash != "0".repeat(64) {
        return Err(broken(
            "event 1: does not start from the zero hash (edited)",
        ));
    }
    // The hash-rule switch point comes from the events: every rule-2 hash covers it.
    verify_events(first.seq - 1, &first.prev_hash, &events, None)
        .map_err(|b| broken(format!("event {}: {}", b.seq, b.why)))?;
    let (first_seq, last_seq) = (first.seq, events.last().map_or(first.seq, |e| e.seq));
    let hashes: BTreeMap<i64, &str> = events.iter().map(|e| (e.seq, e.hash.as_str())).collect();
    println!("ok: events {first_seq}..={last_seq} link up");

    let Some(root) = root else {
        if !checkpoints.is_empty() {
            println!(
                "note: {} signed checkpoints not checked; pass --root ROOT.pem to check them",
                checkpoints.len()
            );
        }
        return Ok(());
    };
    let root_der = read_root(root)?;
    let mut newest = 0;
    for c in &checkpoints {
        let facts =
            CheckpointFacts::parse(&c.statement).map_err(|e| broken(format!("checkpoint: {e}")))?;
        let seq = i64::try_from(facts.seq).map_err(|_| broken("checkpoint seq out of range"))?;
        let hex = |s: &str| {
            hex::decode(s).map_err(|_| broken(format!("checkpoint for event {seq}: bad hex")))
        };
        let cert = hex(&c.certificate)?;
        let chain = c
            .chain
            .iter()
            .map(|s| hex(s))
            .collect::<Result<Vec<_>, _>>()?;
        strongroom_x509::verify_chain(&cert, &chain, &root_der, facts.signed_at)
            .map_err(|e| broken(format!("checkpoint for event {seq}: {e}")))?;
        strongroom_x509::verify_checkpoint(&cert, c.statement.as_bytes(), &hex(&c.signature)?)
            .map_err(|e| broken(format!("checkpoint for event {seq}: {e}")))?;
        if seq > last_seq {
            return Err(broken(format!(
                "event {}: missing: a signed checkpoint covers event {seq} but the export ends at {last_seq}",
                last_seq + 1
            )));
        }
        if seq >= first_seq {
            match hashes.get(&seq) {
                Some(h) if *h == facts.head_hash => {}
                _ => {
                    return Err(broken(format!(
                    "event {seq}: does not match the signed checkpoint (the chain was rewritten)"
                )))
                }
            }
        }
        newest = newest.max(seq);
    }
    if checkpoints.is_empty() {
        println!("warning: no signed checkpoint in the export; the chain alone cannot show that it was not recomputed");
    } else {
        println!(
            "ok: {} signed checkpoints verified against {}; the newest covers event {newest}",
            checkpoints.len(),
            root.display()
        );
        if newest < last_seq {
            println!(
                "note: events {}..={last_seq} are after the newest checkpoint",
                newest + 1
            );
        }
    }
    Ok(())
}
