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
    // What the token holds is for those who inspect the system (admins, auditors).
    if me.can("audit:read") {
        match console
            .call(&caller, Method::GET, "/api/v1/system/keys", None, None)
            .await
        {
            Ok(r) => {
                body.push_str("<h2>Keys in the HSM</h2><p>Every key object of the token, by its PKCS#11 URI. A key that is not sensitive, or extractable, is marked: none should be.</p><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">URI</th><th scope=\"col\">Class</th><th scope=\"col\">Type</th><th scope=\"col\">Sensitive</th><th scope=\"col\">Extractable</th></tr></thead><tbody>");
                for k in r.body["items"].as_array().into_iter().flatten() {
                    let flag = |v: &serde_json::Value, good: bool| {
                        if v.as_bool() == Some(good) {
                            if good { "yes" } else { "no" }.to_string()
                        } else {
                            format!(
                                "<span class=\"warn\">{}</span>",
                                if good { "no" } else { "yes" }
                            )
                        }
                    };
                    body.push_str(&format!(
                        "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(k["uri"].as_str().unwrap_or("")),
                        esc(k["class"].as_str().unwrap_or("")),
                        esc(k["key_type"].as_str().unwrap_or("")),
                        flag(&k["sensitive"], true),
                        flag(&k["extractable"], false),
                    ));
                }
                body.push_str("</tbody></table></div>");
                if r.body["truncated"] == true {
                    body.push_str(&error_box("the token holds more keys than are listed here"));
                }
            }
            Err(e) => body.push_str(&error_box(&e.detail)),
        }
    }
    body.push_str("<h2>For tools</h2><ul><li><a href=\"/api/v1/openapi.json\">The API as an OpenAPI document</a></li>");
    if me.can("metrics:read") {
        body.push_str("<li><a href=\"/metrics\">Metrics (Prometheus text)</a></li>");
    }
    body.push_str("</ul>");
    html::page(StatusCode::OK, "System", Some(&me), &body)
}
