//! Control's Prometheus metrics at `/metrics`, and the signer's, fetched at scrape time.
//!
//! In: increments from the request path; gauges read from the store at scrape time; the
//! signer's [`SignerMetrics`] (or nothing, when it did not answer in time). Out: the text
//! format (version 0.0.4), rendered by `strongroom_httpd::metrics` like the front's. The
//! signer has no network, so control publishes its `strongroom_signer_*` series; a signer
//! that is down makes `strongroom_signer_up 0`, never a failed scrape.

use std::sync::atomic::{AtomicU64, Ordering};
use strongroom_httpd::metrics::{CounterVec, Exposition, Kind};
use strongroom_wire::{ErrorKind, SignerMetrics};

/// Counters.
#[derive(Debug)]
pub struct Metrics {
    requests: CounterVec,
    /// Certificates issued through the API.
    pub issued: AtomicU64,
    /// Certificates revoked through the API.
    pub revoked: AtomicU64,
    /// Requests refused for missing credentials or permissions.
    pub denied: AtomicU64,
    /// Break-glass logins.
    pub break_glass_logins: AtomicU64,
    /// argon2id password checks run at login.
    pub password_checks: AtomicU64,
    /// Logins refused by the throttle (429: a locked user name or address).
    pub logins_throttled: AtomicU64,
    /// Logins refused for want of a password-check turn (503).
    pub logins_busy: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: CounterVec::new(&["route", "status"]),
            issued: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            break_glass_logins: AtomicU64::new(0),
            password_checks: AtomicU64::new(0),
            logins_throttled: AtomicU64::new(0),
            logins_busy: AtomicU64::new(0),
        }
    }
}

/// The stable label value of a refusal kind.
fn outcome(refused: Option<ErrorKind>) -> &'static str {
    match refused {
        None => "ok",
        Some(ErrorKind::PolicyDenied) => "policy_denied",
        Some(ErrorKind::HsmUnavailable) => "hsm_unavailable",
        Some(ErrorKind::HsmFailed) => "hsm_failed",
        Some(ErrorKind::BadRequest) => "bad_request",
        Some(ErrorKind::NotAllowed) => "not_allowed",
        Some(ErrorKind::Internal) => "internal",
    }
}

/// The signer's series: `strongroom_signer_up`, and the rest when it answered.
fn signer_series(e: &mut Exposition, signer: Option<&SignerMetrics>) {
    e.gauge(
        "strongroom_signer_up",
        "1 when the signer answered control's Metrics request at this scrape.",
        i64::from(signer.is_some()),
    );
    let Some(s) = signer else { return };
    let name = "strongroom_signer_operations_total";
    e.family(
        name,
        Kind::Counter,
        "Signer requests answered since it started, by operation and outcome.",
    );
    for c in &s.operations {
        e.sample(
            name,
            &[
                ("operation", c.operation.as_str()),
                ("outcome", outcome(c.refused)),
            ],
            c.count,
        );
    }
    e.histogram(
        "strongroom_signer_hsm_signature_seconds",
        "Time of each signature made in the HSM (certificates, CRLs, OCSP, checkpoints, TLS handshakes).",
        &[],
        &s.hsm_signatures,
    )
    .histogram(
        "strongroom_signer_journal_sync_seconds",
        "Time of each fdatasync of the signer's journal (one per group commit).",
        &[],
        &s.journal_syncs,
    )
    .gauge(
        "strongroom_signer_hsm_degraded",
        "1 while the signer's HSM is degraded (unreachable or failing its status check).",
        i64::from(s.hsm_degraded),
    )
    .gauge(
        "strongroom_signer_journal_records",
        "Records in the signer's issuance journal.",
        i64::try_from(s.journal_records).unwrap_or(i64::MAX),
    )
    .gauge(
        "strongroom_signer_policy_version",
        "Version of the issuance policy in force in the signer.",
        i64::try_from(s.policy_version).unwrap_or(i64::MAX),
    )
    .gauge(
        "strongroom_signer_uptime_seconds",
        "Seconds since the signer started.",
        i64::try_from(s.uptime_secs).unwrap_or(i64::MAX),
    );
}

impl Metrics {
    /// Counts one answered request by route template and status.
    pub fn request(&self, route: &str, status: u16) {
        self.requests.inc(&[route, &status.to_string()]);
    }

    /// The exposition text; `gauges` are extra (name, help, value) read at scrape time,
    /// `signer` what the signer reported (`None`: it did not answer).
    pub fn render(&self, gauges: &[(&str, &str, i64)], signer: Option<&SignerMetrics>) -> String {
        let mut e = Exposition::new();
        e.counter_vec(
            "strongroom_control_requests_total",
            "API requests by route and status.",
            &self.requests,
        );
        for (name, help, v) in [
            (
                "strongroom_control_certificates_issued_total",
                "Certificates issued through the API.",
                &self.issued,
            ),
            (
                "strongroom_control_certificates_revoked_total",
                "Certificates revoked through the API.",
                &self.revoked,
            ),
            (
                "strongroom_control_denied_total",
                "Requests refused for credentials or permissions.",
                &self.denied,
            ),
            (
                "strongroom_control_break_glass_logins_total",
                "Logins with the break-glass account.",
                &self.break_glass_logins,
            ),
            (
                "strongroom_control_password_checks_total",
                "argon2id password checks run at login.",
                &self.password_checks,
            ),
            (
                "strongroom_control_logins_throttled_total",
                "Logins refused for a locked user name or address (429).",
                &self.logins_throttled,
            ),
            (
                "strongroom_control_logins_busy_total",
                "Logins refused for want of a password-check turn (503).",
                &self.logins_busy,
            ),
        ] {
            e.counter(name, help, v.load(Ordering::Relaxed));
        }
        for (name, help, v) in gauges {
            e.gauge(name, help, *v);
        }
        signer_series(&mut e, signer);
        e.finish()
    }
}
