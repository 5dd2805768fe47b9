//! The dashboard: certificates by status, expiries within 7/30/90 days, issuance per day
//! (from `GET /api/v1/stats/certificates`), the pending approvals, and the health of the
//! signer and its HSM (`GET /api/v1/ready`).
//!
//! In: the session. Out: the page; a section the role may not read is left out.

use crate::console::charts::{self, Bar};
use crate::console::html::{self, error_box, esc};
use crate::console::{Caller, Console};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use strongroom_types::time::civil_from_days;

/// `GET /console/`.
pub async fn show(State(console): State<Console>, caller: Caller) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let mut body = String::from("<h1>Dashboard</h1><div class=\"cards\">");
    if me.can("certificate:read") {
        match console
            .call(
                &caller,
                Method::GET,
                "/api/v1/stats/certificates",
                None,
                None,
            )
            .await
        {
            Ok(r) => {
                let s = &r.body;
                let count = |v: &serde_json::Value| v.as_i64().unwrap_or(0);
                let status = [
                    ("Valid", "valid", "bar-valid"),
                    ("Expired", "expired", "bar-expired"),
                    ("Revoked", "revoked", "bar-revoked"),
                ]
                .map(|(label, key, class)| Bar {
                    label: label.into(),
                    value: count(&s["by_status"][key]),
                    class,
                });
                let expiring: Vec<Bar> = s["expiring_within_days"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| Bar {
                        label: format!("{} days", count(&e["days"])),
                        value: count(&e["count"]),
                        class: "bar-expiring",
                    })
                    .collect();
                let issued: Vec<Bar> = s["issued_per_day"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        let (_, m, day) = civil_from_days(count(&d["day"]).div_euclid(86_400));
                        Bar {
                            label: format!("{m:02}-{day:02}"),
                            value: count(&d["count"]),
                            class: "bar-issued",
                        }
                    })
                    .collect();
                body.push_str(&format!(
                    "<section class=\"card\"><h2>Certificates by status</h2>{}<p><a href=\"/console/certificates?status=revoked\">Revoked certificates</a></p></section>\
                     <section class=\"card\"><h2>Expiring</h2>{}<p><a href=\"/console/certificates?expiring_within_days=30\">Expiring within 30 days</a></p></section>\
                     <section class=\"card\"><h2>Issued per day (last {} days, UTC)</h2>{}</section>",
                    charts::horizontal("Certificates by status", &status),
                    charts::horizontal("Valid certificates expiring within 7, 30 and 90 days", &expiring),
                    issued.len(),
                    charts::columns("Certificates issued per day", &issued),
                ));
            }
            Err(e) => body.push_str(&error_box(&e.detail)),
        }
    }
    if me.can("approval:read") {
        let pending = console
            .call(
                &caller,
                Method::GET,
                "/api/v1/approvals?state=pending&limit=1000",
                None,
                None,
            )
            .await
            .map(|r| r.body["items"].as_array().map_or(0, Vec::len));
        body.push_str(&match pending {
            Ok(n) => format!(
                "<section class=\"card\"><h2>Approvals</h2><p>{n} waiting for a decision.</p><p><a href=\"/console/approvals\">Open the queue</a></p></section>"
            ),
            Err(e) => format!("<section class=\"card\"><h2>Approvals</h2>{}</section>", error_box(&e.detail)),
        });
    }
    let health = match console
        .call(&caller, Method::GET, "/api/v1/ready", None, None)
        .await
    {
        Ok(r) => format!(
            "<dl class=\"facts\"><dt>Control</dt><dd class=\"status-valid\">answering</dd><dt>Signer and HSM</dt><dd class=\"status-valid\">{}</dd><dt>Policy version</dt><dd>{}</dd><dt>CAs in the signer</dt><dd>{}</dd></dl>",
            esc(r.body["status"].as_str().unwrap_or("ready")),
            r.body["policy_version"],
            r.body["cas"]
        ),
        Err(e) => format!(
            "<dl class=\"facts\"><dt>Control</dt><dd class=\"status-valid\">answering</dd><dt>Signer and HSM</dt><dd class=\"status-revoked\">not ready</dd></dl>{}",
            error_box(&e.detail)
        ),
    };
    body.push_str(&format!(
        "<section class=\"card\"><h2>Health</h2>{health}</section></div>"
    ));
    body.push_str(&format!(
        "<h2>Your sessions</h2><form method=\"post\" action=\"/console/logout-everywhere\">{}<button type=\"submit\" class=\"secondary\">Log out everywhere</button></form>",
        html::csrf_field(&me)
    ));
    html::page(StatusCode::OK, "Dashboard", Some(&me), &body)
}
