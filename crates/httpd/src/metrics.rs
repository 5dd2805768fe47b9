//! The Prometheus text exposition format (version 0.0.4), written by hand for control and
//! the front, so both render counters, gauges and histograms the same way.
//!
//! In: metric families (name, help, type) and their samples: plain values, a
//! [`CounterVec`]'s labelled counts, a [`LatencySnapshot`]. Out: the text a scraper reads,
//! which `promtool check metrics` accepts (tests check it). Label values are escaped here;
//! names are the caller's constants.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use strongroom_wire::LatencySnapshot;

/// The Content-Type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets at restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Counters keyed by the values of fixed labels (e.g. protocol and status class).
#[derive(Debug)]
pub struct CounterVec {
    labels: &'static [&'static str],
    counts: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterVec {
    /// Counters with these label names.
    pub const fn new(labels: &'static [&'static str]) -> CounterVec {
        CounterVec {
            labels,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one to the counter for `values` (one value per label, in order).
    pub fn inc(&self, values: &[&str]) {
        let key = values.iter().map(|v| v.to_string()).collect();
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    /// The count for `values` (0 when never counted).
    pub fn get(&self, values: &[&str]) -> u64 {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .unwrap_or(0)
    }
}

/// The exposition text, one family after another.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Seconds from microseconds, as Prometheus wants durations.
fn seconds(micros: u64) -> f64 {
    micros as f64 / 1_000_000.0
}

impl Exposition {
    /// An empty text.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its HELP and TYPE lines. Every sample of it must follow at once.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample of the current family.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) -> &mut Self {
        let _ = writeln!(self.text, "{name}{} {value}", label_set(labels));
        self
    }

    /// A family of one unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, Kind::Counter, help)
            .sample(name, &[], value)
    }

    /// A family of one unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) -> &mut Self {
        self.family(name, Kind::Gauge, help)
            .sample(name, &[], value)
    }

    /// A counter family from a [`CounterVec`] (HELP and TYPE even when nothing was counted).
    pub fn counter_vec(&mut self, name: &str, help: &str, counters: &CounterVec) -> &mut Self {
        self.family(name, Kind::Counter, help);
        let counts = counters
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (values, n) in counts {
            let labels: Vec<(&str, &str)> = counters
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            self.sample(name, &labels, n);
        }
        self
    }

    /// A histogram family of one series, in seconds. A snapshot that is not well formed
    /// (another build's signer) is left out rather than rendered wrong.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        latency: &LatencySnapshot,
    ) -> &mut Self {
        self.family(name, Kind::Histogram, help);
        self.histogram_series(name, labels, latency)
    }

    /// One more series of the histogram family just started (other label values).
    pub fn histogram_series(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        latency: &LatencySnapshot,
    ) -> &mut Self {
        if !latency.is_well_formed() {
            return self;
        }
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (bound, n) in latency.bounds_micros.iter().zip(&latency.buckets) {
            cumulative += n;
            let le = seconds(*bound).to_string();
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative);
        }
        let total = latency.count();
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample(&bucket, &with_le, total);
        self.sample(&format!("{name}_sum"), labels, seconds(latency.sum_micros));
        self.sample(&format!("{name}_count"), labels, total)
    }

    /// The text.
    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_wire::LatencyRecorder;

    #[test]
    fn renders_families_labels_and_histograms() {
        let requests = CounterVec::new(&["protocol", "status"]);
        requests.inc(&["ocsp", "2xx"]);
        requests.inc(&["ocsp", "2xx"]);
        requests.inc(&["acme", "4\"xx"]);
        let latency = LatencyRecorder::new();
        latency.observe(std::time::Duration::from_millis(3));
        let mut e = Exposition::new();
        e.counter_vec("x_requests_total", "Requests.", &requests)
            .gauge("x_up", "Up.", 1)
            .histogram("x_seconds", "Latency.", &[], &latency.snapshot());
        let text = e.finish();
        assert!(text.contains("x_requests_total{protocol=\"ocsp\",status=\"2xx\"} 2\n"));
        assert!(text.contains("x_requests_total{protocol=\"acme\",status=\"4\\\"xx\"} 1\n"));
        assert!(text.contains("# TYPE x_up gauge\nx_up 1\n"));
        assert!(text.contains("x_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("x_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("x_seconds_sum 0.003\nx_seconds_count 1\n"));
    }
}
