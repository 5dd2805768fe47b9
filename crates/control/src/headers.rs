//! The security headers on every response control sends — API answers, problems, the
//! fallback 404 and, later, the console's pages (issue 19).
//!
//! In: a response. Out: the same response with the headers below, replacing any a handler
//! set. A JSON API gains little from a CSP, but the console will be served from this origin:
//! one policy for all of it means no page can be forgotten.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::Response;

/// `default-src 'self'` with no inline script or style, no plugins, no framing, no
/// `<base>` rewriting, forms posting to this origin only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers and their values.
const HEADERS: &[(HeaderName, &str)] = &[
    (header::CONTENT_SECURITY_POLICY, CSP),
    // Two years; control is HTTPS only, its subdomains are the operator's business.
    (header::STRICT_TRANSPORT_SECURITY, "max-age=63072000"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    // Answers carry tokens, keys shown once and inventory data: never cached.
    (header::CACHE_CONTROL, "no-store"),
];

/// `Permissions-Policy`: no powerful feature for any page of this origin.
const PERMISSIONS: &str =
    "camera=(), microphone=(), geolocation=(), usb=(), payment=(), clipboard-read=()";

/// Adds the security headers to `response`.
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}
