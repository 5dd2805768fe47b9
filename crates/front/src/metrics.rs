//! The front's Prometheus metrics, served on a listener of their own (`[metrics] listen`),
//! never on the public OCSP, CRL and ACME ports.
//!
//! In: every request and its response (through [`counted`]), OCSP cache lookups, ACME
//! validation times, and the store's order counts read at scrape time. Out: the text
//! format at `GET /metrics` on the metrics listener, rendered by
//! `strongroom_httpd::metrics` like control's.
//!
//! Security: the listener is off unless configured, and a non-loopback address needs
//! `allow_non_loopback = true`: request rates, order counts and validation times are
//! operational data a stranger should not read. It has no authentication; whoever can
//! reach the address can read it (docs/security.md).

use crate::app::App;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use strongroom_httpd::metrics::{CounterVec, Exposition, Kind};
use strongroom_wire::LatencyRecorder;

/// `[metrics]` in the front's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served (`127.0.0.1:9101`).
    pub listen: SocketAddr,
    /// Allow an address other than loopback (a management network the operator trusts).
    #[serde(default)]
    pub allow_non_loopback: bool,
}

impl MetricsConfig {
    /// Refuses a non-loopback address unless allowed explicitly.
    pub fn validate(&self) -> Result<(), String> {
        if !self.listen.ip().is_loopback() && !self.allow_non_loopback {
            return Err(format!(
                "metrics.listen = {} is not a loopback address: metrics are operational data; set allow_non_loopback = true only on a network you trust",
                self.listen
            ));
        }
        Ok(())
    }
}

/// How a response ended when its status class says too little: an OCSP responseStatus
/// (OCSP answers errors with HTTP 200). Set as a response extension by the handler.
#[derive(Debug, Clone, Copy)]
pub struct Outcome(pub &'static str);

/// The front's counters.
#[derive(Debug)]
pub struct FrontMetrics {
    /// Requests by protocol and outcome.
    requests: CounterVec,
    /// OCSP answers from memory or the store (`hit`) or signed on demand (`miss`).
    pub ocsp_cache: CounterVec,
    /// Time of each ACME challenge validation (success or failure).
    pub validations: LatencyRecorder,
    /// SCEP requests refused, by failInfo.
    scep_refusals: CounterVec,
    /// SCEP envelopes protected by a legacy cipher (DES, 3DES), by cipher.
    scep_legacy: CounterVec,
    /// EST requests refused, by reason.
    est_refusals: CounterVec,
}

impl FrontMetrics {
    /// Counts a SCEP refusal.
    pub fn scep_refused(&self, info: strongroom_types::scep::ScepFailInfo) {
        self.scep_refusals.inc(&[info.as_str()]);
    }

    /// Counts a SCEP envelope under a legacy cipher.
    pub fn scep_legacy_cipher(&self, cipher: strongroom_types::scep::ContentCipher) {
        self.scep_legacy.inc(&[cipher.as_str()]);
    }

    /// Counts an EST refusal (`reason` is one of a fixed set of names).
    pub fn est_refused(&self, reason: &'static str) {
        self.est_refusals.inc(&[reason]);
    }
}

impl Default for FrontMetrics {
    fn default() -> Self {
        FrontMetrics {
            requests: CounterVec::new(&["protocol", "outcome"]),
            ocsp_cache: CounterVec::new(&["result"]),
            validations: LatencyRecorder::new(),
            scep_refusals: CounterVec::new(&["fail_info"]),
            scep_legacy: CounterVec::new(&["cipher"]),
            est_refusals: CounterVec::new(&["reason"]),
        }
    }
}

/// The protocol a path belongs to (a fixed set: a label never carries the path).
fn protocol(path: &str) -> &'static str {
    if path.starts_with("/acme/") {
        "acme"
    } else if path == "/ocsp" || path.starts_with("/ocsp/") {
        "ocsp"
    } else if path.starts_with("/crl/") {
        "crl"
    } else if path == "/scep" || path.starts_with("/scep/") {
        "scep"
    } else if path.starts_with("/.well-known/est/") {
        "est"
    } else if path.starts_with("/ca/") {
        "ca"
    } else if path == "/health" {
        "health"
    } else {
        "other"
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The ACME problem types, as label values (RFC 8555 §6.7 and RFC 8738/9773 additions).
const PROBLEM_TYPES: [&str; 26] = [
    "accountDoesNotExist",
    "alreadyRevoked",
    "alreadyReplaced",
    "badCSR",
    "badNonce",
    "badPublicKey",
    "badRevocationReason",
    "badSignatureAlgorithm",
    "caa",
    "compound",
    "connection",
    "dns",
    "externalAccountRequired",
    "incorrectResponse",
    "invalidContact",
    "invalidProfile",
    "malformed",
    "orderNotReady",
    "rateLimited",
    "rejectedIdentifier",
    "serverInternal",
    "tls",
    "unauthorized",
    "unsupportedContact",
    "unsupportedIdentifier",
    "userActionRequired",
];

/// Most bytes of a problem document read back to find its type.
const PROBLEM_MAX: usize = 64 * 1024;

/// The problem type of an ACME problem document, among the known ones.
fn problem_type(body: &[u8]) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let t = v.get("type")?.as_str()?;
    let short = t.strip_prefix("urn:ietf:params:acme:error:")?;
    PROBLEM_TYPES.iter().copied().find(|p| *p == short)
}

/// Middleware: counts each request by protocol and outcome — the handler's [`Outcome`],
/// else an ACME problem document's type, else the status class.
pub async fn count_request(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let protocol = protocol(request.uri().path());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Some(Outcome(o)) = response.extensions().get::<Outcome>().copied() {
        app.metrics.requests.inc(&[protocol, o]);
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem {
        app.metrics.requests.inc(&[protocol, status_class(status)]);
        return response;
    }
    // A problem document is small; read it to count its type, then send it on.
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, PROBLEM_MAX).await {
        Ok(bytes) => {
            let outcome = problem_type(&bytes).unwrap_or(status_class(status));
            app.metrics.requests.inc(&[protocol, outcome]);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => {
            app.metrics.requests.inc(&[protocol, status_class(status)]);
            Response::from_parts(parts, Body::empty())
        }
    }
}

/// `routes` with every request counted.
pub fn counted(app: Arc<App>, routes: Router) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(app, count_request))
}

/// GET /metrics on the metrics listener.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let m = &app.metrics;
    let mut e = Exposition::new();
    e.counter_vec(
        "strongroom_front_requests_total",
        "Requests by protocol (acme, scep, est, ocsp, crl, ca, health, other) and outcome (an ACME problem type, an OCSP responseStatus, else the HTTP status class).",
        &m.requests,
    )
    .counter_vec(
        "strongroom_front_ocsp_cache_total",
        "OCSP answers already signed (hit: from memory or the store) or signed on demand (miss).",
        &m.ocsp_cache,
    )
    .counter_vec(
        "strongroom_front_scep_refusals_total",
        "SCEP requests refused, by failInfo (badAlg, badMessageCheck, badRequest, badTime, badCertId).",
        &m.scep_refusals,
    )
    .counter_vec(
        "strongroom_front_scep_legacy_cipher_total",
        "SCEP envelopes a device protected with a legacy cipher (des-cbc, des-ede3-cbc), by cipher.",
        &m.scep_legacy,
    )
    .counter_vec(
        "strongroom_front_est_refusals_total",
        "EST requests refused, by reason (authentication, locked, address-limited, busy, policy, bad-request, channel-binding, reenroll).",
        &m.est_refusals,
    )
    .histogram(
        "strongroom_front_acme_validation_seconds",
        "Time of each ACME challenge validation, success or failure.",
        &[],
        &m.validations.snapshot(),
    );
    let orders = app.store.acme_orders_by_status().await;
    e.gauge(
        "strongroom_front_store_up",
        "1 when the store answered at this scrape.",
        i64::from(orders.is_ok()),
    );
    let name = "strongroom_front_acme_orders";
    e.family(name, Kind::Gauge, "ACME orders in the store by status.");
    match orders {
        Ok(rows) => {
            for (status, n) in rows {
                e.sample(name, &[("status", status.as_str())], n);
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: cannot count ACME orders"),
    }
    (
        [(
            header::CONTENT_TYPE,
            strongroom_httpd::metrics::CONTENT_TYPE,
        )],
        e.finish(),
    )
        .into_response()
}

/// Binds the metrics listener (when configured) and serves it in the background.
pub async fn serve(app: Arc<App>) -> Result<(), String> {
    let Some(cfg) = app.config.metrics.clone() else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {} for metrics: {e}", cfg.listen))?;
    tracing::info!(listen = %cfg.listen, "metrics served at /metrics");
    let routes = Router::new()
        .route("/metrics", get(metrics))
        .with_state(app);
    tokio::spawn(strongroom_httpd::serve_plain(
        listener,
        routes,
        std::future::pending(),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(protocol("/acme/new-nonce"), "acme");
        assert_eq!(protocol("/ocsp/MFQw"), "ocsp");
        assert_eq!(protocol("/ocspX"), "other");
        assert_eq!(protocol("/ca/issuing.der"), "ca");
        let doc = br#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"x"}"#;
        assert_eq!(problem_type(doc), Some("badNonce"));
        // A type nobody defined never becomes a label value.
        let odd = br#"{"type":"urn:ietf:params:acme:error:whatever","detail":"x"}"#;
        assert_eq!(problem_type(odd), None);
    }

    #[test]
    fn a_public_metrics_address_must_be_asked_for() {
        let cfg = |listen: &str, allow_non_loopback| MetricsConfig {
            listen: listen.parse().unwrap(),
            allow_non_loopback,
        };
        assert!(cfg("127.0.0.1:9101", false).validate().is_ok());
        assert!(cfg("[::1]:9101", false).validate().is_ok());
        assert!(cfg("0.0.0.0:9101", false).validate().is_err());
        assert!(cfg("192.0.2.7:9101", false).validate().is_err());
        assert!(cfg("192.0.2.7:9101", true).validate().is_ok());
    }
}
