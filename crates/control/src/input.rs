//! Strict request parsing: JSON bodies, query strings and path segments.
//!
//! In: raw request parts from the network (hostile). Out: typed values, or a 4xx problem
//! naming the field and what is wrong. Bodies must be `application/json`, at most
//! [`MAX_BODY`] bytes, and may not carry unknown fields (every request type denies them).

use crate::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Largest accepted body (bulk revocation of 1,000 ids and a CSR fit easily).
pub const MAX_BODY: usize = 256 * 1024;

/// A JSON body parsed strictly.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Problem> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(Problem::unsupported_media(
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| Problem::too_large(format!("the body is larger than {MAX_BODY} bytes")))?;
        // An object and nothing else: serde would take `[]` or `[x, y]` for a struct whose
        // fields are all optional (its fields in order), which no client means.
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")))?;
        if !value.is_object() {
            return Err(Problem::bad_request(
                "the body must be a JSON object ({...})",
            ));
        }
        let value = T::deserialize(value)
            .map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")))?;
        Ok(Body(value))
    }
}

/// A query string parsed strictly (request types deny unknown parameters).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v))
            .map_err(|e| Problem::bad_request(format!("invalid query string: {}", e.body_text())))
    }
}

/// Path segments parsed strictly.
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Segments(v))
            .map_err(|e| Problem::bad_request(format!("invalid path: {}", e.body_text())))
    }
}
