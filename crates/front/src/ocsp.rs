//! `/ocsp`: POST (`application/ocsp-request`) and the GET form of RFC 6960 A.1
//! (`/ocsp/{base64 of the DER request}`, percent-encoded as clients send it).
//!
//! In: a request from anyone, parsed strictly. Out: always HTTP 200 with an
//! `application/ocsp-response` body, as RFC 6960 wants: the stored response for one SHA-1
//! CertID (the common case: no HSM, no database write), a response the signer signs now for
//! a cache miss, a SHA-256 CertID, several certificates or — when `nonce_on_demand` is on —
//! a nonce; `malformedRequest` for what does not parse, `unauthorized` for a CA we do not
//! serve or a serial it never issued (no signer call, no write: strangers cannot make the
//! CA sign), `tryLater` when the signer is needed and unreachable or already has
//! [`crate::app::OCSP_SIGNING_AT_ONCE`] calls from this front in flight. GET answers carry
//! Cache-Control up to nextUpdate so caches and CDNs can serve them. A repeat of a request
//! already answered from memory (same bytes, no nonce) is answered before it is parsed.

use crate::app::App;
use crate::metrics::Outcome;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::sync::Arc;
use strongroom_wire::CallError;
use strongroom_x509::ocsp::{
    error_response, parse_ocsp_request, ResponseStatus, ID_SHA1, ID_SHA256,
};

/// Largest accepted request (a request for 32 certificates is about 3 KiB).
pub const MAX_REQUEST: usize = 16 * 1024;

fn ocsp_body(der: impl Into<Bytes>, max_age: Option<i64>) -> Response {
    let der: Bytes = der.into();
    let mut resp = (StatusCode::OK, der).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ocsp-response"),
    );
    match max_age {
        Some(secs) if secs > 0 => {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "max-age={secs}, public, no-transform, must-revalidate"
            )) {
                h.insert(header::CACHE_CONTROL, v);
            }
        }
        _ => {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
    }
    resp
}

fn failure(status: ResponseStatus) -> Response {
    let mut resp = ocsp_body(error_response(status), None);
    // OCSP refuses with HTTP 200: the metrics count the responseStatus instead.
    let outcome = match status {
        ResponseStatus::Successful => "successful",
        ResponseStatus::MalformedRequest => "malformedRequest",
        ResponseStatus::InternalError => "internalError",
        ResponseStatus::TryLater => "tryLater",
        ResponseStatus::SigRequired => "sigRequired",
        ResponseStatus::Unauthorized => "unauthorized",
    };
    resp.extensions_mut().insert(Outcome(outcome));
    resp
}

/// A signed answer, counted as `successful` by the metrics.
fn answered(der: impl Into<Bytes>, max_age: Option<i64>) -> Response {
    let mut resp = ocsp_body(der, max_age);
    resp.extensions_mut().insert(Outcome("successful"));
    resp
}

/// POST /ocsp.
pub async fn post(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.eq_ignore_ascii_case("application/ocsp-request") {
        return failure(ResponseStatus::MalformedRequest);
    }
    // Read at most MAX_REQUEST bytes: a longer body is refused as it arrives, never
    // buffered (axum's own limit for a `Bytes` body is 2 MiB, per connection).
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return failure(ResponseStatus::MalformedRequest);
    };
    answer(&app, &body, false).await
}

/// GET /ocsp/{base64}.
pub async fn get(State(app): State<Arc<App>>, Path(encoded): Path<String>) -> Response {
    if encoded.len() > MAX_REQUEST * 2 {
        return failure(ResponseStatus::MalformedRequest);
    }
    // Path extraction already percent-decoded; tolerate the URL-safe alphabet and
    // missing padding some clients produce.
    let cleaned: String = encoded
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_end_matches('=');
    let der = match base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed) {
        Ok(d) => d,
        Err(_) => return failure(ResponseStatus::MalformedRequest),
    };
    answer(&app, &der, true).await
}

/// Whether every certificate asked about was issued under a profile with `ocsp_nonce`
/// (asked only for requests that carry a nonce; no database read while no profile sets it).
async fn profile_wants_nonce(
    app: &App,
    ca: &strongroom_types::CaId,
    serials: &[strongroom_types::Serial],
) -> bool {
    let wanted = app.nonce_profiles().await;
    if wanted.is_empty() {
        return false;
    }
    for serial in serials {
        match app.store.certificate_by_serial(ca, serial).await {
            Ok(cert)
                if cert
                    .certificate
                    .profile
                    .as_ref()
                    .is_some_and(|p| wanted.contains(p)) => {}
            _ => return false,
        }
    }
    true
}

async fn answer(app: &App, der: &[u8], cacheable: bool) -> Response {
    let now = app.now();
    if let Some(c) = app.answered_before(der, now) {
        app.metrics.ocsp_cache.inc(&["hit"]);
        return answered(c.der, cacheable.then_some(c.next_update - now));
    }
    let request = match parse_ocsp_request(der) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "malformed OCSP request");
            return failure(ResponseStatus::MalformedRequest);
        }
    };
    let cas = app.cas().await;
    let first = &request.cert_ids[0];
    let Some(ca) = cas.iter().find(|c| first.matches(&c.hashes)) else {
        return failure(ResponseStatus::Unauthorized);
    };
    let alg = first.hash_algorithm.oid;
    if alg != ID_SHA1 && alg != ID_SHA256 {
        return failure(ResponseStatus::MalformedRequest);
    }
    let mut serials = Vec::with_capacity(request.cert_ids.len());
    for id in &request.cert_ids {
        if id.hash_algorithm.oid != alg || !id.matches(&ca.hashes) {
            // One response is signed by one responder for one CA and one hash.
            return failure(ResponseStatus::Unauthorized);
        }
        match id.serial() {
            Some(s) => serials.push(s),
            None => return failure(ResponseStatus::MalformedRequest),
        }
    }
    let wants_nonce = request.nonce.is_some()
        && (app.config.ocsp.nonce_on_demand || profile_wants_nonce(app, &ca.id, &serials).await);
    // The common case: one certificate, SHA-1, no nonce to echo.
    if serials.len() == 1 && alg == ID_SHA1 && !wants_nonce {
        if let Some(c) = app.cached_ocsp(&ca.id, &serials[0], now).await {
            if request.nonce.is_none() {
                app.remember_answer(der, c.clone());
            }
            app.metrics.ocsp_cache.inc(&["hit"]);
            return answered(c.der, cacheable.then_some(c.next_update - now));
        }
    }
    // Security: only serials this CA issued get a signed answer. A stranger's random
    // serial costs a store lookup, never an HSM signature, a journal record or a row.
    for serial in &serials {
        match app.issued(ca, &cas, serial).await {
            Ok(true) => {}
            Ok(false) => return failure(ResponseStatus::Unauthorized),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether a serial was issued; answering tryLater");
                return failure(ResponseStatus::TryLater);
            }
        }
    }
    let single = serials.len() == 1 && !wants_nonce;
    let nonce = if wants_nonce {
        request
            .nonce
            .clone()
            .filter(|n| !n.is_empty() && n.len() <= 32)
    } else {
        None
    };
    app.metrics.ocsp_cache.inc(&["miss"]);
    match app
        .sign(&ca.id, serials, alg == ID_SHA256, !single, nonce.clone())
        .await
    {
        Ok(signed) => match signed.into_iter().next() {
            Some(s) => {
                let max_age = (cacheable && nonce.is_none()).then_some(s.next_update - now);
                answered(s.der, max_age)
            }
            None => failure(ResponseStatus::InternalError),
        },
        Err(e) if e.is_temporary() => {
            tracing::warn!(error = %e, "signer unavailable; answering tryLater");
            failure(ResponseStatus::TryLater)
        }
        Err(e @ CallError::Refused { .. }) => {
            tracing::warn!(error = %e, "signer refused an OCSP request");
            failure(ResponseStatus::MalformedRequest)
        }
        Err(e) => {
            tracing::error!(error = %e, "unexpected answer from the signer to an OCSP request");
            failure(ResponseStatus::InternalError)
        }
    }
}
