//! `/ca/{ca}.der`: a CA's certificate, where every certificate's AIA caIssuers URL points
//! (RFC 5280 §4.2.2.1), so a relying party holding only a leaf and the root can fetch the
//! intermediate.
//!
//! In: a CA id in the path (hostile: parsed strictly). Out: the certificate as DER
//! (`application/pkix-cert`) with an ETag (its SHA-256) and a day of Cache-Control; 304 for
//! a matching If-None-Match; 404 for anything that is not a CA this front answers for. A
//! CA made live since the front last read the list is found at once (the list is re-read
//! on a miss, at most once a second).

use crate::app::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use strongroom_types::CaId;

/// How long caches may keep a CA certificate: it does not change under its id.
const MAX_AGE: &str = "public, max-age=86400";

/// GET /ca/{file}: `issuing.der`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = file
        .strip_suffix(".der")
        .and_then(|s| s.parse::<CaId>().ok())
    else {
        return not_found();
    };
    let mut cas = app.cas().await;
    if !cas.iter().any(|c| c.id == id) {
        cas = app.cas_after_miss().await;
    }
    let Some(ca) = cas.iter().find(|c| c.id == id) else {
        return not_found();
    };
    let etag = format!(
        "\"{}\"",
        strongroom_x509::fingerprint(&ca.cert.der)
            .replace(':', "")
            .to_ascii_lowercase()
    );
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-cert"),
    );
    (StatusCode::OK, h, ca.cert.der.clone()).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such CA certificate\n").into_response()
}
