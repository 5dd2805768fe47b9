//! The CA hierarchy as a tree, each CA with its state, validity, newest full CRL (number,
//! next update, overdue in red) and OCSP responder certificate's expiry; creating an intermediate (its key made in the HSM by the
//! signer) and retiring a CA, for whoever holds `ca:manage`.
//!
//! In: the create form (csrf, id, parent, subject, algorithm, validity_days, path_length),
//! the retire form (csrf). Out: the tree, the effect of a form or the API's refusal.

use super::query_fields;
use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc, time};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

const ALGORITHMS: &[&str] = &[
    "ecdsa-p384",
    "ecdsa-p256",
    "rsa3072",
    "rsa4096",
    "rsa2048",
    "ed25519",
];

fn branch(ca: &Value, me: &Me, now: i64, out: &mut String, ids: &mut Vec<String>) {
    let id = ca["id"].as_str().unwrap_or("");
    ids.push(id.to_string());
    let state = ca["state"].as_str().unwrap_or("");
    let crl = match ca.get("crl").filter(|c| c.is_object()) {
        Some(c) => {
            let next = c["next_update"].as_i64();
            let overdue = next.is_some_and(|t| t < now);
            format!(
                "CRL number {}, next update {}{}",
                c["number"],
                time(next),
                if overdue {
                    " <span class=\"warn\">(overdue)</span>"
                } else {
                    ""
                }
            )
        }
        None => "no full CRL yet (or sharded)".into(),
    };
    let responder = match ca["ocsp_responder_not_after"].as_i64() {
        Some(t) if t <= now => format!("OCSP responder certificate <span class=\"warn\">expired {}</span>", time(Some(t))),
        // Renewed 7 days before the end: less than that left means renewal is failing.
        Some(t) if t - now < 7 * 86_400 => format!("OCSP responder certificate valid until {} <span class=\"warn\">(renewal overdue)</span>", time(Some(t))),
        Some(t) => format!("OCSP responder certificate valid until {}", time(Some(t))),
        None => "no OCSP responder certificate yet (made at the first OCSP response)".into(),
    };
    out.push_str(&format!(
        "<li><strong>{}</strong> <span class=\"status-{}\">{}</span><br>{}<br>valid {} to {}<br>{crl}<br>{responder}",
        esc(id),
        if state == "active" { "valid" } else { "revoked" },
        esc(state),
        esc(ca["subject"].as_str().unwrap_or("")),
        time(ca["not_before"].as_i64()),
        time(ca["not_after"].as_i64()),
    ));
    if me.can("ca:manage") && state == "active" && !ca["parent"].is_null() {
        out.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"/console/cas/{}/retire\">{}<button type=\"submit\" class=\"danger\">Retire {}</button></form>",
            esc(id),
            csrf_field(me),
            esc(id)
        ));
    }
    let children = ca["children"].as_array().cloned().unwrap_or_default();
    if !children.is_empty() {
        out.push_str("<ul>");
        for c in &children {
            branch(c, me, now, out, ids);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    message: Option<(StatusCode, String)>,
) -> Response {
    let (code, mut body) = html::outcome(&message);
    body.insert_str(0, "<h1>Certificate authorities</h1>");
    let mut ids = Vec::new();
    match console
        .call(caller, Method::GET, "/api/v1/cas/tree", None, None)
        .await
    {
        Ok(r) => {
            body.push_str("<ul class=\"tree\">");
            for root in r.body["roots"].as_array().into_iter().flatten() {
                branch(root, me, console.now(), &mut body, &mut ids);
            }
            body.push_str("</ul>");
        }
        Err(e) => body.push_str(&error_box(&e.detail)),
    }
    if me.can("ca:manage") {
        let parents: String = ids
            .iter()
            .map(|i| format!("<option value=\"{0}\">{0}</option>", esc(i)))
            .collect();
        let algorithms: String = ALGORITHMS
            .iter()
            .map(|a| format!("<option value=\"{a}\">{a}</option>"))
            .collect();
        body.push_str(&format!(
            "<h2>Create an intermediate</h2><p>Its key is made in the HSM by the signer; in production mode this files an approval request.</p>\
             <form class=\"stack\" method=\"post\" action=\"/console/cas\">{}\
             <div><label for=\"id\">Id (a-z, 0-9, -)</label><input id=\"id\" name=\"id\" required maxlength=\"64\"></div>\
             <div><label for=\"parent\">Issued by</label><select id=\"parent\" name=\"parent\">{parents}</select></div>\
             <div><label for=\"subject\">Subject (RFC 4514, e.g. CN=Issuing CA 2,O=Example)</label><input id=\"subject\" name=\"subject\" required maxlength=\"512\"></div>\
             <div><label for=\"algorithm\">Key algorithm</label><select id=\"algorithm\" name=\"algorithm\">{algorithms}</select></div>\
             <div><label for=\"validity_days\">Validity (days)</label><input id=\"validity_days\" name=\"validity_days\" inputmode=\"numeric\" required value=\"1825\"></div>\
             <div><label for=\"path_length\">Path length (optional)</label><input id=\"path_length\" name=\"path_length\" inputmode=\"numeric\"></div>\
             <div><button type=\"submit\">Create</button></div></form>",
            csrf_field(me)
        ));
    }
    html::page(code, "CAs", Some(me), &body)
}

/// `GET /console/cas`.
pub async fn show(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let message = match query_fields(&raw).get("done").map(String::as_str) {
        Some("created") => Some((
            StatusCode::OK,
            "Created: its key is in the HSM.".to_string(),
        )),
        Some("retired") => Some((
            StatusCode::OK,
            "Retired: it issues nothing more; its CRLs go on.".to_string(),
        )),
        _ => None,
    };
    render(&console, &caller, &me, message).await
}

/// `POST /console/cas`.
pub async fn create(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    let (me, f) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let get = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or_default();
    let number = |k: &str| -> Result<Option<u64>, String> {
        match get(k) {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{k} must be a whole number, not {v:?}")),
        }
    };
    let (validity, path_length) = match (number("validity_days"), number("path_length")) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(e), _) | (_, Err(e)) => {
            return render(&console, &caller, &me, Some((StatusCode::BAD_REQUEST, e))).await
        }
    };
    let mut request = json!({
        "id": get("id"), "parent": get("parent"), "subject": get("subject"),
        "algorithm": get("algorithm"), "validity_days": validity.unwrap_or(0),
    });
    if let Some(p) = path_length {
        request["path_length"] = json!(p);
    }
    match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/cas",
            f.get("csrf").map(String::as_str),
            Some(request),
        )
        .await
    {
        Ok(r) => html::after_change(&r, "/console/cas?done=created"),
        Err(e) => render(&console, &caller, &me, Some((e.status, e.detail))).await,
    }
}

/// `POST /console/cas/{id}/retire`.
pub async fn retire(
    State(console): State<Console>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (me, f) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let path = format!("/api/v1/cas/{}/retire", html::query_value(&id));
    match console
        .call(
            &caller,
            Method::POST,
            &path,
            f.get("csrf").map(String::as_str),
            None,
        )
        .await
    {
        Ok(r) => html::after_change(&r, "/console/cas?done=retired"),
        Err(e) => render(&console, &caller, &me, Some((e.status, e.detail))).await,
    }
}
