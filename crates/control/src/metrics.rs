//! Prometheus counters, rendered in the text exposition format at `/metrics`.
//!
//! In: increments from the request path. Out: the text format (version 0.0.4).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
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

impl Metrics {
    /// Counts one answered request by route template and status.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), status)).or_insert(0) += 1;
        }
    }

    /// The exposition text; `gauges` are extra (name, help, value) read at scrape time.
    pub fn render(&self, gauges: &[(&str, &str, i64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP strongroom_control_requests_total API requests by route and status.\n",
        );
        out.push_str("# TYPE strongroom_control_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                out.push_str(&format!(
                    "strongroom_control_requests_total{{route=\"{}\",status=\"{status}\"}} {n}\n",
                    route.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        }
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
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        for (name, help, v) in gauges {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        }
        out
    }
}
