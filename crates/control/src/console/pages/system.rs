//! The system: this build's version, the signer and its HSM (ready or degraded, and why),
//! the policy version in force, and where the metrics and the API document are.
//!
//! In: the session. Out: the page.

use crate::console::html::{self, error_box, esc};
use crate::console::{Caller, Console};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;

/// `GET /console/system`.
pub async fn show(State(console): State<Console>, caller: Caller) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let mut body = String::from("<h1>System</h1><dl class=\"facts\">");
    if let Ok(v) = console
        .call(&caller, Method::GET, "/api/v1/version", None, None)
        .await
    {
        body.push_str(&format!(
            "<dt>Control</dt><dd>{} {} (API {})</dd>",
            esc(v.body["name"].as_str().unwrap_or("")),
            esc(v.body["version"].as_str().unwrap_or("")),
            esc(v.body["api"].as_str().unwrap_or(""))
        ));
    }
    let ready = console
        .call(&caller, Method::GET, "/api/v1/ready", None, None)
        .await;
    match &ready {
        Ok(r) => body.push_str(&format!(
            "<dt>Signer and HSM</dt><dd class=\"status-valid\">ready</dd><dt>Policy version in the signer</dt><dd>{}</dd><dt>CAs the signer holds keys for</dt><dd>{}</dd></dl>",
            r.body["policy_version"], r.body["cas"]
        )),
        Err(_) => body.push_str("<dt>Signer and HSM</dt><dd class=\"status-revoked\">not ready</dd></dl>"),
    }
    if let Err(e) = ready {
        body.push_str(&error_box(&e.detail));
    }
    body.push_str("<h2>For tools</h2><ul><li><a href=\"/api/v1/openapi.json\">The API as an OpenAPI document</a></li>");
    if me.can("metrics:read") {
        body.push_str("<li><a href=\"/metrics\">Metrics (Prometheus text)</a></li>");
    }
    body.push_str("</ul>");
    html::page(StatusCode::OK, "System", Some(&me), &body)
}
