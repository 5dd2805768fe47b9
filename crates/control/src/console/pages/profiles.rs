//! Profiles: each with what it issues (issuer, validity, algorithms, names, approvals), its
//! full text, and — for `profile:manage` — an editor whose text goes to
//! `PUT /api/v1/profiles/{name}` as it is: the API validates it (and files an approval in
//! production mode, which the approvals page shows as a diff).
//!
//! In: the edit form (csrf, text: `{"profile": …, "approvals_required": N, "enrollers": […]}`).
//! Out: the list, the editor with the API's refusal, or the saved or filed change.

use super::query_fields;
use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// The editable text of a profile view: what `PUT` takes.
pub fn editable(view: &Value) -> String {
    serde_json::to_string_pretty(&json!({
        "profile": view["profile"],
        "approvals_required": view["approvals_required"],
        "enrollers": view["enrollers"],
    }))
    .unwrap_or_default()
}

fn list_of(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    editing: Option<(String, String)>,
    message: Option<(StatusCode, String)>,
) -> Response {
    let (code, mut body) = html::outcome(&message);
    body.insert_str(0, "<h1>Profiles</h1>");
    let items = match console
        .call(caller, Method::GET, "/api/v1/profiles", None, None)
        .await
    {
        Ok(r) => r.body["items"].as_array().cloned().unwrap_or_default(),
        Err(e) => {
            body.push_str(&error_box(&e.detail));
            Vec::new()
        }
    };
    for v in &items {
        let p = &v["profile"];
        let name = p["name"].as_str().unwrap_or("");
        body.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"profile-{n}\"><h2 id=\"profile-{n}\">{n}</h2><p>{}</p>\
             <dl class=\"facts\"><dt>Issuer</dt><dd>{}</dd><dt>Longest validity</dt><dd>{} days</dd><dt>Key algorithms</dt><dd>{}</dd>\
             <dt>Names</dt><dd>{} (at most {}{})</dd><dt>Extended key usage</dt><dd>{}</dd><dt>Approvals</dt><dd>{}</dd><dt>Enrollers</dt><dd>{}</dd><dt>Version</dt><dd>{}</dd></dl>",
            esc(p["description"].as_str().unwrap_or("")),
            esc(p["issuer"].as_str().unwrap_or("")),
            p["max_validity_secs"].as_u64().unwrap_or(0) / 86_400,
            esc(&list_of(&p["key_algorithms"])),
            esc(&list_of(&p["allowed_name_kinds"])),
            p["max_names"],
            if p["allow_wildcards"] == true { ", wildcards allowed" } else { "" },
            esc(&list_of(&p["extended_key_usage"])),
            v["approvals_required"],
            esc(&list_of(&v["enrollers"])),
            v["version"],
            n = esc(name),
        ));
        let text = match &editing {
            Some((n, t)) if n == name => t.clone(),
            _ => editable(v),
        };
        if me.can("profile:manage") {
            body.push_str(&format!(
                "<details{}><summary>Edit {n}</summary><form class=\"stack\" method=\"post\" action=\"/console/profiles/{n}\">{}\
                 <div><label for=\"text-{n}\">The profile as JSON (checked by the API; a change needs approval in production mode)</label>\
                 <textarea id=\"text-{n}\" name=\"text\" spellcheck=\"false\">{}</textarea></div><div><button type=\"submit\">Save</button></div></form></details>",
                if editing.as_ref().is_some_and(|(n, _)| n == name) { " open" } else { "" },
                csrf_field(me),
                esc(&text),
                n = esc(name),
            ));
        } else {
            body.push_str(&format!(
                "<details><summary>Full text</summary><pre>{}</pre></details>",
                esc(&text)
            ));
        }
        body.push_str("</section>");
    }
    html::page(code, "Profiles", Some(me), &body)
}

/// `GET /console/profiles`.
pub async fn show(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let message = query_fields(&raw).get("saved").map(|n| {
        (
            StatusCode::OK,
            format!("Profile {n} saved and pushed to the signer."),
        )
    });
    render(&console, &caller, &me, None, message).await
}

/// `POST /console/profiles/{name}`.
pub async fn save(
    State(console): State<Console>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (me, f) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let text = f.get("text").cloned().unwrap_or_default();
    let parsed: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("the text is not JSON: {e}; fix it and save again");
            return render(
                &console,
                &caller,
                &me,
                Some((name, text)),
                Some((StatusCode::BAD_REQUEST, why)),
            )
            .await;
        }
    };
    let path = format!("/api/v1/profiles/{}", html::query_value(&name));
    match console
        .call(
            &caller,
            Method::PUT,
            &path,
            f.get("csrf").map(String::as_str),
            Some(parsed),
        )
        .await
    {
        Ok(r) => html::after_change(
            &r,
            &format!("/console/profiles?saved={}", html::query_value(&name)),
        ),
        Err(e) => {
            render(
                &console,
                &caller,
                &me,
                Some((name, text)),
                Some((e.status, e.detail)),
            )
            .await
        }
    }
}
