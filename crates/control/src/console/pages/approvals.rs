//! The approvals queue: each request with its payload, its decisions so far and its M-of-N
//! progress; approve or reject with a comment. The API refuses the requester (and anyone
//! they sponsored); the page says so instead of offering a button that would fail.
//!
//! In: a state filter, the decision form (csrf, comment). Out: the queue, with the effect
//! of the form or the API's refusal.

use super::query_fields;
use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc, time};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

const STATES: &[&str] = &["pending", "approved", "rejected", "expired"];

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    state: &str,
    message: Option<(StatusCode, String)>,
) -> Response {
    let state = if STATES.contains(&state) {
        state
    } else {
        "pending"
    };
    let (code, mut body) = html::outcome(&message);
    body.insert_str(0, "<h1>Approvals</h1>");
    body.push_str("<p>Show: ");
    body.push_str(
        &STATES
            .iter()
            .map(|s| {
                if *s == state {
                    format!("<strong>{s}</strong>")
                } else {
                    format!("<a href=\"/console/approvals?state={s}\">{s}</a>")
                }
            })
            .collect::<Vec<_>>()
            .join(" · "),
    );
    body.push_str("</p>");
    let uri = format!("/api/v1/approvals?state={state}&limit=100");
    let items = match console.call(caller, Method::GET, &uri, None, None).await {
        Ok(r) => r.body["items"].as_array().cloned().unwrap_or_default(),
        Err(e) => {
            body.push_str(&error_box(&e.detail));
            Vec::new()
        }
    };
    if items.is_empty() {
        body.push_str(&format!("<p>No {state} request.</p>"));
    }
    for r in &items {
        let id = r["id"].as_i64().unwrap_or(0);
        let approvals = r["approved_by"].as_array().map_or(0, Vec::len);
        let required = r["required"].as_i64().unwrap_or(0);
        let requester = r["requested_by"].as_str().unwrap_or("");
        let payload = serde_json::to_string_pretty(&r["payload"]).unwrap_or_default();
        body.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"approval-{id}\"><h2 id=\"approval-{id}\">Request {id}: {}</h2>\
             <dl class=\"facts\"><dt>Requested by</dt><dd>{}</dd><dt>Filed</dt><dd>{}</dd><dt>Expires</dt><dd>{}</dd>\
             <dt>State</dt><dd>{}</dd><dt>Approvals</dt><dd>{approvals} of {required}</dd></dl>\
             <details><summary>What was asked</summary><pre class=\"mono\">{}</pre></details>",
            esc(r["kind"].as_str().unwrap_or("")),
            esc(requester),
            time(r["created_at"].as_i64()),
            time(r["expires_at"].as_i64()),
            esc(r["state"].as_str().unwrap_or("")),
            esc(&payload),
        ));
        if r["kind"] == "profile.put" {
            body.push_str(&profile_change(console, caller, &r["payload"]).await);
        }
        let decisions = r["decisions"].as_array().cloned().unwrap_or_default();
        if !decisions.is_empty() {
            body.push_str("<ul>");
            for d in &decisions {
                body.push_str(&format!(
                    "<li>{} {}: {}</li>",
                    esc(d["by"].as_str().unwrap_or("")),
                    esc(d["decision"].as_str().unwrap_or("")),
                    esc(d["comment"].as_str().unwrap_or(""))
                ));
            }
            body.push_str("</ul>");
        }
        if r["state"].as_str() == Some("pending") {
            if requester == me.username {
                body.push_str("<p>You filed this request: another approver decides it.</p>");
            } else if me.can("approval:decide") {
                body.push_str(&format!(
                    "<form class=\"inline\" method=\"post\" action=\"/console/approvals/{id}/approve\">{}\
                     <div><label for=\"comment-{id}\">Comment (required)</label><input id=\"comment-{id}\" name=\"comment\" required maxlength=\"1000\"></div>\
                     <div><button type=\"submit\">Approve</button> \
                     <button type=\"submit\" class=\"danger\" formaction=\"/console/approvals/{id}/reject\">Reject</button></div></form>",
                    csrf_field(me)
                ));
            }
        }
        body.push_str("</section>");
    }
    html::page(code, "Approvals", Some(me), &body)
}

/// What a pending profile change would change, line by line, against the profile now.
async fn profile_change(console: &Console, caller: &Caller, payload: &serde_json::Value) -> String {
    let name = payload["profile"]["name"].as_str().unwrap_or("");
    let path = format!("/api/v1/profiles/{}", html::query_value(name));
    let now = match console.call(caller, Method::GET, &path, None, None).await {
        Ok(r) => super::profiles::editable(&r.body),
        Err(_) => String::new(),
    };
    let proposed = super::profiles::editable(payload);
    format!(
        "<details open><summary>The change to profile {}</summary>{}</details>",
        esc(name),
        crate::console::diff::lines(&now, &proposed)
    )
}

/// `GET /console/approvals`.
pub async fn list(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let fields = query_fields(&raw);
    let message = fields
        .get("filed")
        .map(|id| {
            (
                StatusCode::OK,
                format!("Filed for approval as request {id}: another user must approve it."),
            )
        })
        .or_else(|| {
            fields.get("decided").map(|id| {
                (
                    StatusCode::OK,
                    format!("Your decision on request {id} is recorded."),
                )
            })
        });
    let state = fields.get("state").map(String::as_str).unwrap_or("pending");
    render(&console, &caller, &me, state, message).await
}

/// `POST /console/approvals/{id}/{approve|reject}`.
pub async fn decide(
    State(console): State<Console>,
    caller: Caller,
    Path((id, decision)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (me, fields) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let (Ok(n), "approve" | "reject") = (id.parse::<i64>(), decision.as_str()) else {
        return html::failure(StatusCode::NOT_FOUND, "no such approval or decision");
    };
    match console
        .call(
            &caller,
            Method::POST,
            &format!("/api/v1/approvals/{n}/{decision}"),
            fields.get("csrf").map(String::as_str),
            Some(json!({"comment": fields.get("comment").cloned().unwrap_or_default()})),
        )
        .await
    {
        Ok(_) => html::redirect(&format!("/console/approvals?decided={n}")),
        Err(e) => {
            render(
                &console,
                &caller,
                &me,
                "pending",
                Some((e.status, e.detail)),
            )
            .await
        }
    }
}
