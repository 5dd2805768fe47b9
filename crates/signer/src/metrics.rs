//! The signer's own counters, for `Request::Metrics` (the signer has no network: control
//! asks over the socket and publishes them at its `/metrics`).
//!
//! In: each answered request's operation and outcome (from [`crate::dispatch`]), the time
//! each HSM signature took (every call site goes through [`timed_hsm_signature`]). Out: a
//! [`SignerMetrics`] snapshot. Counts and durations only: no key, serial, name or peer.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use strongroom_wire::{
    ErrorKind, LatencyRecorder, LatencySnapshot, Operation, OperationCount, SignerMetrics,
};

/// Latency of every signature made in the HSM by this process. A process-wide recorder:
/// signatures are made in several modules that share only the HSM handle, and the signer
/// is one process with one token.
static HSM_SIGNATURES: LatencyRecorder = LatencyRecorder::new();

/// Runs one HSM signature and records how long it took (failures included: a slow
/// failing token is what an operator must see).
pub fn timed_hsm_signature<T>(sign: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = sign();
    HSM_SIGNATURES.observe(started.elapsed());
    out
}

/// Requests answered, by operation and outcome, since start.
#[derive(Debug)]
pub struct OperationCounters {
    // At most 13 operations × 7 outcomes: a list is enough, and ErrorKind is not Ord.
    counts: Mutex<Vec<OperationCount>>,
    started: Instant,
}

impl Default for OperationCounters {
    fn default() -> Self {
        OperationCounters {
            counts: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }
}

impl OperationCounters {
    /// Counts one answer: `refused` is `None` when the operation succeeded.
    pub fn count(&self, operation: Operation, refused: Option<ErrorKind>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts
            .iter_mut()
            .find(|c| c.operation == operation && c.refused == refused)
        {
            Some(c) => c.count += 1,
            None => counts.push(OperationCount {
                operation,
                refused,
                count: 1,
            }),
        }
    }

    /// The snapshot, with the figures only the caller knows (journal, HSM, policy).
    pub fn snapshot(
        &self,
        journal_syncs: LatencySnapshot,
        hsm_degraded: bool,
        journal_records: u64,
        policy_version: u64,
    ) -> SignerMetrics {
        SignerMetrics {
            operations: self
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            hsm_signatures: HSM_SIGNATURES.snapshot(),
            journal_syncs,
            hsm_degraded,
            journal_records,
            policy_version,
            uptime_secs: self.uptime().as_secs(),
        }
    }

    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_apart() {
        let c = OperationCounters::default();
        c.count(Operation::IssueCertificate, None);
        c.count(Operation::IssueCertificate, None);
        c.count(Operation::IssueCertificate, Some(ErrorKind::PolicyDenied));
        let s = c.snapshot(LatencySnapshot::default(), false, 0, 0);
        assert_eq!(s.operations.len(), 2);
        assert_eq!(s.operations[0].count, 2);
        assert_eq!(s.operations[1].refused, Some(ErrorKind::PolicyDenied));
    }
}
