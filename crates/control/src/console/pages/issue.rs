//! Issuing a certificate from a CSR: the profile, the CSR (PEM), optional names, owner and
//! tags, sent to `POST /api/v1/certificates` as they are; the API and the signer check them.
//!
//! In: the issue form (csrf, profile, csr, names, owner, tags). Out: the new certificate's
//! page, the approvals queue when the profile needs approval, or the form again with what
//! to fix.

use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Splits a list typed by a person: commas, spaces or new lines.
fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    fields: &HashMap<String, String>,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    // The profiles the caller may read; an enroller without profile:read types the name.
    let profiles: Vec<String> = match console
        .call(caller, Method::GET, "/api/v1/profiles", None, None)
        .await
    {
        Ok(r) => r.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["profile"]["name"].as_str().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    };
    let profile_input = if profiles.is_empty() {
        format!(
            "<input id=\"profile\" name=\"profile\" required maxlength=\"64\" value=\"{}\">",
            esc(get("profile"))
        )
    } else {
        let mut s = String::from("<select id=\"profile\" name=\"profile\" required>");
        for p in &profiles {
            let sel = if p == get("profile") { " selected" } else { "" };
            s.push_str(&format!(
                "<option value=\"{}\"{sel}>{}</option>",
                esc(p),
                esc(p)
            ));
        }
        s.push_str("</select>");
        s
    };
    let (status, problem_box) = match problem {
        Some((code, detail)) => (code, error_box(&detail)),
        None => (StatusCode::OK, String::new()),
    };
    let body = format!(
        "<h1>Issue a certificate</h1>{problem_box}<form class=\"stack\" method=\"post\" action=\"/console/issue\">{}\
         <div><label for=\"profile\">Profile</label>{profile_input}</div>\
         <div><label for=\"csr\">Certificate signing request (PEM, from <code>openssl req -new</code>)</label><textarea id=\"csr\" name=\"csr\" required spellcheck=\"false\">{}</textarea></div>\
         <div><label for=\"names\">Names (optional: dns:…, ip:…, email:…; empty takes the CSR's)</label><input id=\"names\" name=\"names\" value=\"{}\"></div>\
         <div><label for=\"owner\">Owner (optional; you when empty)</label><input id=\"owner\" name=\"owner\" maxlength=\"255\" value=\"{}\"></div>\
         <div><label for=\"tags\">Tags (optional, separated by commas)</label><input id=\"tags\" name=\"tags\" value=\"{}\"></div>\
         <div><button type=\"submit\">Issue</button></div></form>",
        csrf_field(me),
        esc(get("csr")),
        esc(get("names")),
        esc(get("owner")),
        esc(get("tags")),
    );
    html::page(status, "Issue", Some(me), &body)
}

/// `GET /console/issue`.
pub async fn form_page(State(console): State<Console>, caller: Caller) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    render(&console, &caller, &me, &HashMap::new(), None).await
}

/// `POST /console/issue`.
pub async fn submit(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    let (me, fields) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let mut request = json!({
        "profile": fields.get("profile").map(|s| s.trim()).unwrap_or_default(),
        "csr": fields.get("csr").cloned().unwrap_or_default(),
        "names": list(fields.get("names")),
        "tags": list(fields.get("tags")),
    });
    if let Some(owner) = fields
        .get("owner")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        request["owner"] = Value::from(owner);
    }
    match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/certificates",
            fields.get("csrf").map(String::as_str),
            Some(request),
        )
        .await
    {
        Ok(r) => html::after_change(
            &r,
            &format!(
                "/console/certificates/{}?done=issued",
                r.body["id"].as_i64().unwrap_or(0)
            ),
        ),
        Err(e) => render(&console, &caller, &me, &fields, Some((e.status, e.detail))).await,
    }
}
