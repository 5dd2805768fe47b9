//! `/crl/{ca}.crl`, `/crl/{ca}-delta.crl`, `/crl/{ca}/{shard}.crl` and
//! `/crl/{ca}/{shard}-delta.crl`: the newest CRL of that scope, DER, with caching headers
//! from its validity.
//!
//! In: a CA id and scope in the path (hostile: parsed strictly). Out: `application/pkix-crl` with
//! ETag (the CRL number), Last-Modified (thisUpdate) and Cache-Control up to nextUpdate;
//! 304 for a matching If-None-Match; 404 for a CA without a CRL.

use crate::app::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use strongroom_types::time::civil_from_days;
use strongroom_types::CaId;

fn http_date(t: i64) -> String {
    // RFC 9110 IMF-fixdate, computed without a date library.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let (year, month, d) = civil_from_days(days);
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {d:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        names[(month - 1) as usize]
    )
}

/// GET /crl/{file}: `issuing.crl` (the whole CA) or `issuing-delta.crl`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(stem) = file.strip_suffix(".crl") else {
        return not_found();
    };
    let (id, scope) = match stem.strip_suffix("-delta") {
        Some(id) => (id, "delta".to_string()),
        None => (stem, "full".to_string()),
    };
    serve(&app, id, &scope, &headers).await
}

/// GET /crl/{ca}/{file}: a shard (`3.crl`) or its delta (`3-delta.crl`).
pub async fn get_shard(
    State(app): State<Arc<App>>,
    Path((ca, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(stem) = file.strip_suffix(".crl") else {
        return not_found();
    };
    let (shard, delta) = match stem.strip_suffix("-delta") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    let Ok(k) = shard.parse::<u32>() else {
        return not_found();
    };
    if k == 0 || k > strongroom_types::crl_scope::MAX_SHARDS || shard.starts_with('0') {
        return not_found();
    }
    serve(
        &app,
        &ca,
        &strongroom_types::crl_scope::scope_name(Some(k), delta),
        &headers,
    )
    .await
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such CRL\n").into_response()
}

async fn serve(app: &App, id: &str, scope: &str, headers: &HeaderMap) -> Response {
    let Ok(ca) = id.parse::<CaId>() else {
        return not_found();
    };
    let Some(crl) = app.crl(&ca, scope).await else {
        return (StatusCode::NOT_FOUND, "no CRL for this CA and scope yet\n").into_response();
    };
    let etag = format!("\"crl-{ca}-{scope}-{}\"", crl.number);
    let max_age = (crl.next_update - app.now()).max(0);
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, crl.der.to_vec()).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    for (name, value) in [
        (header::ETAG, etag),
        (header::LAST_MODIFIED, http_date(crl.this_update)),
        (
            header::CACHE_CONTROL,
            format!("max-age={max_age}, public, no-transform, must-revalidate"),
        ),
        (header::EXPIRES, http_date(crl.next_update)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(super::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            super::http_date(1_795_900_000),
            "Sat, 28 Nov 2026 21:06:40 GMT"
        );
        assert_eq!(
            super::http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }
}
