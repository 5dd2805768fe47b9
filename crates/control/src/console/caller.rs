//! How a console page reaches the API: the browser's session, passed on unchanged.
//!
//! In: the browser's request parts (its session cookie, its address, `Origin` and
//! `Sec-Fetch-Site`), a form body. Out: [`Caller`], the answer of an in-process API call
//! ([`Reply`] or [`ApiError`]), the signed-in user ([`Me`]) or the redirect to the login page.
//!
//! Security: the CSRF token a form carried is what goes to the API, never one the console
//! derives itself — deriving it here would make every console form a CSRF bypass. A POST
//! whose `Origin` names another site, or that the browser marks as cross-site, is refused
//! before anything else (login CSRF included, where there is no session yet).

use super::html;
use super::Console;
use crate::auth::{csrf_token, session_cookie, CSRF_HEADER, SESSION_COOKIE};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use tower::ServiceExt;

/// The largest API answer a page renders (a page of 100 certificates is far smaller).
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// The browser behind a console request.
#[derive(Debug, Clone)]
pub struct Caller {
    cookie: Option<String>,
    peer: Option<ConnectInfo<SocketAddr>>,
    cross_site: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            cookie: session_cookie(&parts.headers),
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            cross_site: cross_site(&parts.headers),
        })
    }
}

/// Whether the browser says this request came from another site: `Sec-Fetch-Site` other
/// than same-origin or none (typed by the user), or an `Origin` whose host is not ours.
/// Under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for the console's
/// own forms: then `Sec-Fetch-Site` alone decides, and without it the form is refused.
fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let site = text("sec-fetch-site");
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return true;
    }
    match (text("origin"), text("host")) {
        (Some("null"), _) => site.is_none(),
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .is_none_or(|rest| !rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// A successful API answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status (200, 201, 202, 204).
    pub status: StatusCode,
    /// Its JSON body (`Null` when empty or not JSON).
    pub body: Value,
    /// Its body as text (a PEM download).
    pub text: String,
    /// The cookies it sets (login, logout).
    pub set_cookie: Vec<HeaderValue>,
}

/// A refused or failed API call: the problem's status and its `detail`, which says what
/// to do next.
#[derive(Debug)]
pub struct ApiError {
    /// The problem's status.
    pub status: StatusCode,
    /// The problem's detail.
    pub detail: String,
}

/// The signed-in user, as the API sees them.
#[derive(Debug)]
pub struct Me {
    /// Login name.
    pub username: String,
    /// Roles in force.
    pub roles: Vec<String>,
    permissions: Vec<String>,
    /// The session's CSRF token, for the forms of the page being rendered.
    pub csrf: String,
    /// The user has no second factor yet and must enrol one before anything else.
    pub second_factor_missing: bool,
}

impl Me {
    /// Whether the API would allow `permission` (shown or hidden; the API decides again).
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

impl Console {
    /// Calls the API in-process as `caller`: `csrf` is the token the browser's form carried
    /// (forms only), `body` the JSON of a state-changing call.
    pub async fn call(
        &self,
        caller: &Caller,
        method: Method,
        uri: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, ApiError> {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(cookie) = &caller.cookie {
            req = req.header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"));
        }
        if let Some(token) = csrf {
            req = req.header(CSRF_HEADER, token);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).map_err(|e| ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: format!("cannot form the request: {e}"),
        })?;
        if let Some(peer) = caller.peer {
            req.extensions_mut().insert(peer);
        }
        let answer = match self.api.clone().oneshot(req).await {
            Ok(a) => a,
            Err(never) => match never {},
        };
        let status = answer.status();
        let set_cookie = answer
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        let bytes = axum::body::to_bytes(answer.into_body(), MAX_ANSWER)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(Reply {
                status,
                body,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                set_cookie,
            })
        } else {
            let detail = body["detail"]
                .as_str()
                .unwrap_or("the API refused without saying why")
                .to_string();
            Err(ApiError { status, detail })
        }
    }

    /// The signed-in user, or the login page's redirect when there is no live session, or
    /// the enrolment page's while the user has no second factor.
    pub async fn me(&self, caller: &Caller) -> Result<Me, Response> {
        let me = self.me_enrolling(caller).await?;
        if me.second_factor_missing {
            return Err(html::redirect("/console/second-factor"));
        }
        Ok(me)
    }

    /// The signed-in user, second factor or not (the enrolment pages).
    pub async fn me_enrolling(&self, caller: &Caller) -> Result<Me, Response> {
        let Some(cookie) = &caller.cookie else {
            return Err(html::redirect("/console/login"));
        };
        let reply = self
            .call(caller, Method::GET, "/api/v1/auth/whoami", None, None)
            .await
            .map_err(|e| {
                if e.status == StatusCode::UNAUTHORIZED {
                    html::redirect("/console/login")
                } else {
                    html::failure(e.status, &e.detail)
                }
            })?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let secret = cookie.rsplit('_').next().unwrap_or_default();
        Ok(Me {
            username: reply.body["username"].as_str().unwrap_or("").to_string(),
            roles: strings(&reply.body["roles"]),
            permissions: strings(&reply.body["permissions"]),
            csrf: csrf_token(secret),
            second_factor_missing: reply.body["second_factor_missing"] == true,
        })
    }

    /// A state-changing form of a signed-in user: refused when sent from another site, the
    /// login page's redirect without a session; else the user and the form's fields.
    pub async fn open_form(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<(Me, HashMap<String, String>), Response> {
        if let Some(refused) = Console::cross_site_refusal(caller) {
            return Err(refused);
        }
        let me = self.me(caller).await?;
        let fields = form(body).map_err(|bad| *bad)?;
        Ok((me, fields))
    }

    /// The refusal of a cross-site POST, before it reaches anything; `None` for a form of
    /// this site.
    pub fn cross_site_refusal(caller: &Caller) -> Option<Response> {
        if caller.cross_site {
            return Some(html::failure(
                StatusCode::FORBIDDEN,
                "this form was sent from another site; open the console at its own address and send it from there",
            ));
        }
        None
    }
}

/// A URL-encoded form's fields (the last value of a repeated name wins), or the page that
/// says it could not be read.
pub fn form(body: &[u8]) -> Result<HashMap<String, String>, Box<Response>> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|_| {
            Box::new(html::failure(
                StatusCode::BAD_REQUEST,
                "the form could not be read; reload the page and send it again",
            ))
        })
}
