//! Plain-text HTTP answers shared by the device protocols (SCEP, EST): a refusal with its
//! reason, a 503 with `Retry-After`, and the answer to a failed signer call.
//!
//! In: a status and a text, or the signer client's error. Out: a `text/plain` response. A
//! signer or HSM that is away is the client's cue to retry (503); anything else is 500.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use strongroom_signer_client::CallError;

/// `status` with `text` (and a final newline) as `text/plain`.
pub(crate) fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let mut text = text.into();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

/// 503 with Retry-After: the client may try again.
pub(crate) fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::RETRY_AFTER, "10"),
        ],
        format!("{why}; retry later\n"),
    )
        .into_response()
}

/// A failed signer call, logged under `protocol` (`SCEP`, `EST`).
pub(crate) fn signer_trouble(protocol: &str, e: CallError) -> Response {
    tracing::warn!(error = %e, "{protocol}: signer call failed");
    match e {
        CallError::Unavailable(_)
        | CallError::Refused {
            kind: strongroom_wire::ErrorKind::HsmUnavailable,
            ..
        } => unavailable("the signer is unavailable"),
        other => plain(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}
