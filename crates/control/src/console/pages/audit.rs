//! The audit log: events newest first, filtered by actor and action, paged by sequence
//! number; the chain's verification status; the export (JSON lines with the signed
//! checkpoints) straight from the API.
//!
//! In: the filters (actor, action, before). Out: the page.

use super::{api_query, query_fields};
use crate::console::html::{self, error_box, esc, time};
use crate::console::{Caller, Console};
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

/// `GET /console/audit`.
pub async fn show(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let fields = query_fields(&raw);
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let mut body = String::from("<h1>Audit log</h1>");
    match console
        .call(&caller, Method::GET, "/api/v1/audit/verify", None, None)
        .await
    {
        Ok(r) if r.body["ok"].as_bool() == Some(true) => body.push_str(&format!(
            "<div class=\"notice\" role=\"status\">The hash chain verifies: {} events, each linked to the one before.</div>",
            r.body["events"]
        )),
        Ok(r) => body.push_str(&error_box(&format!(
            "The hash chain is broken at event {}: {}. Compare with the last exported copy and the signed checkpoints.",
            r.body["first_bad_event"],
            r.body["why"].as_str().unwrap_or("")
        ))),
        Err(e) => body.push_str(&error_box(&e.detail)),
    }
    body.push_str(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/audit\" role=\"search\">\
         <div><label for=\"actor\">Actor</label><input id=\"actor\" name=\"actor\" maxlength=\"255\" value=\"{}\"></div>\
         <div><label for=\"action\">Action (e.g. certificate.revoke)</label><input id=\"action\" name=\"action\" maxlength=\"255\" value=\"{}\"></div>\
         <div><button type=\"submit\">Filter</button></div></form>\
         <p><a href=\"/api/v1/audit/export\" download=\"strongroom-audit.jsonl\">Export the whole log (JSON lines, with signed checkpoints)</a></p>",
        esc(get("actor")),
        esc(get("action"))
    ));
    let uri = format!(
        "/api/v1/audit{}",
        api_query(&fields, &["actor", "action", "before"])
    );
    match console.call(&caller, Method::GET, &uri, None, None).await {
        Err(e) => body.push_str(&error_box(&e.detail)),
        Ok(r) => {
            let items = r.body["items"].as_array().cloned().unwrap_or_default();
            body.push_str("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">Actor</th><th scope=\"col\">Action</th><th scope=\"col\">Target</th><th scope=\"col\">Outcome</th><th scope=\"col\" class=\"hide-narrow\">Detail</th></tr></thead><tbody>");
            for e in &items {
                let ev = &e["event"];
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"hide-narrow\">{}</td></tr>",
                    e["seq"],
                    time(e["at"].as_i64()),
                    esc(ev["actor"].as_str().unwrap_or("")),
                    esc(ev["action"].as_str().unwrap_or("")),
                    esc(ev["target"].as_str().unwrap_or("")),
                    esc(ev["outcome"].as_str().unwrap_or("")),
                    esc(ev["detail"].as_str().unwrap_or("")),
                ));
            }
            body.push_str("</tbody></table></div>");
            if let Some(before) = r.body["next_before"].as_i64() {
                let mut more = fields.clone();
                more.insert("before".into(), before.to_string());
                body.push_str(&format!(
                    "<p class=\"pager\"><a href=\"/console/audit{}\">Older events</a></p>",
                    esc(&api_query(&more, &["actor", "action", "before"]))
                ));
            }
        }
    }
    html::page(StatusCode::OK, "Audit log", Some(&me), &body)
}
