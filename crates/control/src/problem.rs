//! Errors as RFC 9457 problem documents.
//!
//! In: whatever went wrong in a handler (bad input, missing permission, store or signer
//! failure). Out: an `application/problem+json` response whose `detail` says what to fix.
//! Internal causes (SQL, socket paths) are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use strongroom_store::StoreError;
use strongroom_wire::{CallError, ErrorKind};

/// A problem to send back.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Short stable slug, appended to the type URI (`urn:strongroom:problem:<kind>`).
    pub kind: &'static str,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// Seconds after which a retry may succeed (429 and 503), sent as `Retry-After`.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            kind,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    /// 401: no or invalid credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    /// 409: the state does not allow it (already revoked, already decided).
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", detail)
    }
    /// 413.
    pub fn too_large(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail)
    }
    /// 415.
    pub fn unsupported_media(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            detail,
        )
    }
    /// 422: well-formed but refused by issuance policy.
    pub fn policy(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "policy-denied", detail)
    }
    /// 429: too many attempts (a locked login); retry after `retry_after` seconds.
    pub fn too_many_requests(detail: impl Into<String>, retry_after: u32) -> Problem {
        let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", detail);
        p.retry_after = Some(retry_after);
        p
    }
    /// 503: try again later.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        p.retry_after = Some(5);
        p
    }
    /// 500: a fault on our side (the cause is logged, not sent).
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        tracing::error!(%cause, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the control log has the cause",
        )
    }
    /// 502: the signer failed.
    pub fn signer_failed(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_GATEWAY, "signer-failed", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("error");
        let body = Body {
            type_: format!("urn:strongroom:problem:{}", self.kind),
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = (self.status, json).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound(s) => Problem::not_found(format!("{s} does not exist")),
            StoreError::Conflict(s) => Problem::conflict(s),
            StoreError::Invalid(s) => Problem::bad_request(s),
            StoreError::Backend(s) => Problem::internal(format!("store: {s}")),
        }
    }
}

impl From<CallError> for Problem {
    fn from(e: CallError) -> Problem {
        match e {
            CallError::Unavailable(why) => Problem::unavailable(format!(
                "the signer is not answering ({why}); check strongroom-signer"
            )),
            CallError::Refused { kind, detail } => match kind {
                ErrorKind::PolicyDenied => Problem::policy(detail),
                ErrorKind::BadRequest => Problem::bad_request(detail),
                ErrorKind::HsmUnavailable => {
                    Problem::unavailable(format!("the HSM is unavailable: {detail}"))
                }
                ErrorKind::NotAllowed => Problem::signer_failed(format!(
                    "the signer does not allow control this operation: {detail}"
                )),
                ErrorKind::HsmFailed | ErrorKind::Internal => {
                    Problem::signer_failed(format!("the signer failed: {detail}"))
                }
            },
            CallError::Unexpected(why) => Problem::internal(why),
        }
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, Problem>;
