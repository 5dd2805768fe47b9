//! `/crl/{ca}.crl`: the newest CRL of a CA, DER, with caching headers from its validity.
//!
//! In: a CA id in the path (hostile: parsed as a CA id). Out: `application/pkix-crl` with
//! ETag (the CRL number), Last-Modified (thisUpdate) and Cache-Control up to nextUpdate;
//! 304 for a matching If-None-Match; 404 for a CA without a CRL.

use crate::app::{now, App};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use strongroom_types::CaId;

fn http_date(t: i64) -> String {
    // RFC 9110 IMF-fixdate, computed without a date library.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {d:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        names[(month - 1) as usize]
    )
}

/// GET /crl/{file}.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(ca) = file
        .strip_suffix(".crl")
        .and_then(|id| id.parse::<CaId>().ok())
    else {
        return (StatusCode::NOT_FOUND, "no such CRL\n").into_response();
    };
    let Some(crl) = app.crl(&ca).await else {
        return (StatusCode::NOT_FOUND, "no CRL for this CA yet\n").into_response();
    };
    let etag = format!("\"crl-{}-{}\"", ca, crl.number);
    let max_age = (crl.next_update - now()).max(0);
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
