//! `strongroom audit verify FILE`: checks an audit export offline, with no database and no
//! server. The export is JSON lines of events; the chain must link from its first event to
//! its last, and an export that starts at event 1 must start from the all-zero hash. The
//! first deleted, reordered or edited event is named by its sequence number.

use crate::client::Failure;
use std::path::Path;
use strongroom_types::audit::{verify_events, AuditEvent};

/// Verifies `file`; exit code 0 when intact, 8 when broken.
pub fn run(file: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::local(format!("{}: {e}", file.display())))?;
    let mut events = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let e: AuditEvent = serde_json::from_str(line).map_err(|e| Failure {
            code: 8,
            message: format!("{} line {}: not an audit event: {e}", file.display(), n + 1),
        })?;
        events.push(e);
    }
    let Some(first) = events.first() else {
        return Err(Failure {
            code: 8,
            message: format!("{} holds no events", file.display()),
        });
    };
    if first.seq == 1 && first.prev_hash != "0".repeat(64) {
        return Err(Failure {
            code: 8,
            message: "event 1 does not start from the zero hash (edited)".into(),
        });
    }
    let start_hash = first.prev_hash.clone();
    match verify_events(first.seq - 1, &start_hash, &events) {
        Ok(()) => {
            let last = events
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or_default();
            println!(
                "ok: events {}..={} link up; head {} {}",
                first.seq, last.0, last.0, last.1
            );
            Ok(())
        }
        Err(b) => Err(Failure {
            code: 8,
            message: format!("event {}: {}", b.seq, b.why),
        }),
    }
}
