//! What the signer reports about itself (`Request::Metrics`), and the latency histogram
//! that the signer and the front both record into.
//!
//! In: counts and durations from the signer's dispatch, HSM calls and journal syncs, or the
//! front's ACME validations. Out: a [`SignerMetrics`] snapshot carried over the socket, and
//! [`LatencySnapshot`]s that `strongroom_httpd::metrics` renders as Prometheus text. Counts
//! only: nothing here names a key, a serial or a peer.
//!
//! Stored contract: the snapshot types are encoded by position like every message.

use crate::message::{ErrorKind, Operation};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in microseconds: 100 µs to 10 s. An HSM signature
/// takes from about 1 ms (SoftHSM) to hundreds (a network HSM under load); an fsync from
/// tens of microseconds to seconds on a sick disk; an ACME validation up to its timeout.
pub const LATENCY_BOUNDS_MICROS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// Most entries a [`SignerMetrics`] may carry in `operations` or a histogram in `buckets`
/// (a decoder's sanity bound; the signer sends at most operations × outcomes).
pub const MAX_METRIC_ENTRIES: usize = 256;

/// The signer's counters, read at once (answer to `Request::Metrics`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerMetrics {
    /// Requests answered since start, by operation and outcome (only pairs that occurred).
    pub operations: Vec<OperationCount>,
    /// Latency of signatures made in the HSM (certificates, CRLs, OCSP, checkpoints, TLS
    /// handshakes).
    pub hsm_signatures: LatencySnapshot,
    /// Latency of the journal's fdatasync calls (one per group commit).
    pub journal_syncs: LatencySnapshot,
    /// Whether the HSM is degraded now (why is in `Health`, not here).
    pub hsm_degraded: bool,
    /// Records in the issuance journal.
    pub journal_records: u64,
    /// Policy version in force.
    pub policy_version: u64,
    /// Seconds since the signer started.
    pub uptime_secs: u64,
}

/// How many requests for one operation ended one way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCount {
    /// The operation.
    pub operation: Operation,
    /// `None`: answered; otherwise the error kind it was refused with.
    pub refused: Option<ErrorKind>,
    /// How many.
    pub count: u64,
}

/// A latency histogram at one moment: per-bucket (not cumulative) counts over
/// `bounds_micros`, the last bucket counting what exceeded every bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySnapshot {
    /// Bucket upper bounds, microseconds, ascending.
    pub bounds_micros: Vec<u64>,
    /// Observations per bucket: `bounds_micros.len() + 1` entries (the last is +Inf).
    pub buckets: Vec<u64>,
    /// Sum of all observations, microseconds.
    pub sum_micros: u64,
}

impl LatencySnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Whether the shape is one a renderer can trust (bounds ascending, one bucket more).
    pub fn is_well_formed(&self) -> bool {
        self.buckets.len() == self.bounds_micros.len() + 1
            && self.bounds_micros.windows(2).all(|w| w[0] < w[1])
            && self.buckets.len() <= MAX_METRIC_ENTRIES
    }
}

/// A latency histogram recorded from many threads without a lock.
#[derive(Debug)]
pub struct LatencyRecorder {
    buckets: [AtomicU64; LATENCY_BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

impl LatencyRecorder {
    /// A recorder with [`LATENCY_BOUNDS_MICROS`].
    pub const fn new() -> LatencyRecorder {
        #[allow(clippy::declare_interior_mutable_const)] // a template, copied per bucket
        const ZERO: AtomicU64 = AtomicU64::new(0);
        LatencyRecorder {
            buckets: [ZERO; LATENCY_BOUNDS_MICROS.len() + 1],
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let at = LATENCY_BOUNDS_MICROS
            .iter()
            .position(|b| micros <= *b)
            .unwrap_or(LATENCY_BOUNDS_MICROS.len());
        self.buckets[at].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            bounds_micros: LATENCY_BOUNDS_MICROS.to_vec(),
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let r = LatencyRecorder::new();
        r.observe(Duration::from_micros(100)); // on the bound: that bucket
        r.observe(Duration::from_micros(101));
        r.observe(Duration::from_secs(60)); // past every bound: +Inf
        let s = r.snapshot();
        assert!(s.is_well_formed());
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[LATENCY_BOUNDS_MICROS.len()], 1);
        assert_eq!(s.count(), 3);
        assert_eq!(s.sum_micros, 100 + 101 + 60_000_000);
    }
}
