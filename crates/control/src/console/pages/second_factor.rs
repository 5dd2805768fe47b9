//! Enrolling an authenticator from the console: where a user without a second factor is
//! sent after a password login (every other page redirects here until they enrol), and
//! where anyone can see whether they have one.
//!
//! In: the session; the begin form (csrf); the confirm form (csrf, code). Out: the secret as
//! a QR code drawn on the server and as text (once; the page is never cached), then the ten
//! recovery codes (once). The API does the work: `POST /api/v1/auth/totp` and
//! `POST /api/v1/auth/totp/confirm`.

use crate::console::caller::{form, Me};
use crate::console::html::{self, csrf_field, error_box, esc};
use crate::console::{qr, Caller, Console};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

fn explain(me: &Me, problem: Option<(StatusCode, String)>) -> Response {
    let (status, problem) = match problem {
        Some((s, d)) => (s, error_box(&d)),
        None => (StatusCode::OK, String::new()),
    };
    let body = if me.second_factor_missing {
        format!(
            "<h1>Set up your authenticator</h1>{problem}<p>Every login needs a code from an authenticator app \
             (any RFC 6238 app: FreeOTP, Aegis, Google Authenticator, a hardware token that reads QR codes). \
             Until you set one up, your session can do nothing else.</p>\
             <form method=\"post\" action=\"/console/second-factor\">{}<button type=\"submit\">Show my new secret</button></form>",
            csrf_field(me)
        )
    } else {
        format!("<h1>Your authenticator</h1>{problem}<p>Your account has a second factor: every login asks for its code. \
                 To replace a lost one, an administrator resets it (strongroom totp reset).</p><p><a href=\"/console/\">Back to the dashboard</a></p>")
    };
    html::page(status, "Authenticator", Some(me), &body)
}

/// `GET /console/second-factor`.
pub async fn show(State(console): State<Console>, caller: Caller) -> Response {
    match console.me_enrolling(&caller).await {
        Ok(me) => explain(&me, None),
        Err(go) => go,
    }
}

/// `POST /console/second-factor`: a new secret, shown once with its QR code.
pub async fn begin(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    if let Some(refused) = Console::cross_site_refusal(&caller) {
        return refused;
    }
    let me = match console.me_enrolling(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let fields = match form(&body) {
        Ok(f) => f,
        Err(bad) => return *bad,
    };
    let reply = match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/auth/totp",
            fields.get("csrf").map(String::as_str),
            Some(json!({})),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return explain(&me, Some((e.status, e.detail))),
    };
    let uri = reply.body["otpauth_uri"].as_str().unwrap_or_default();
    let secret = reply.body["secret"].as_str().unwrap_or_default();
    let Some(code) = qr::svg(uri, "QR code of your new authenticator secret") else {
        return explain(
            &me,
            Some((StatusCode::INTERNAL_SERVER_ERROR, "the secret could not be drawn as a QR code; type it instead (strongroom totp enrol shows it)".into())),
        );
    };
    let body = format!(
        "<h1>Scan this into your authenticator</h1>{code}\
         <p>Or type the secret: <span class=\"mono\" id=\"secret\">{}</span></p>\
         <p>This page is shown once; reload it and you start again with a new secret.</p>\
         <form class=\"stack\" method=\"post\" action=\"/console/second-factor/confirm\">{}\
         <div><label for=\"code\">The 6-digit code your authenticator now shows</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required maxlength=\"8\"></div>\
         <div><button type=\"submit\">Confirm</button></div></form>",
        esc(secret),
        csrf_field(&me)
    );
    html::page(StatusCode::OK, "Authenticator", Some(&me), &body)
}

/// `POST /console/second-factor/confirm`: the code proves the app holds the secret; the
/// recovery codes, once.
pub async fn confirm(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    if let Some(refused) = Console::cross_site_refusal(&caller) {
        return refused;
    }
    let me = match console.me_enrolling(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let fields = match form(&body) {
        Ok(f) => f,
        Err(bad) => return *bad,
    };
    let code = fields.get("code").map(|c| c.trim()).unwrap_or_default();
    match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/auth/totp/confirm",
            fields.get("csrf").map(String::as_str),
            Some(json!({ "code": code })),
        )
        .await
    {
        Ok(reply) => {
            let codes: String = reply.body["recovery_codes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .map(|c| format!("<li>{}</li>", esc(c)))
                .collect();
            let body = format!(
                "<h1>Your authenticator is set up</h1><div class=\"notice\" role=\"status\">From now on every login asks for its code.</div>\
                 <h2>Recovery codes</h2><p>Each one logs in once instead of a code, if you lose the authenticator. \
                 Keep them apart from your password; they are not shown again.</p><ol class=\"codes\">{codes}</ol>\
                 <p><a href=\"/console/\">Continue to the dashboard</a></p>"
            );
            let mut me = me;
            me.second_factor_missing = false;
            html::page(StatusCode::OK, "Authenticator", Some(&me), &body)
        }
        Err(e) => explain(&me, Some((e.status, e.detail))),
    }
}
