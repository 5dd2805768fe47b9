//! Enrolment: ACME accounts and external account binding keys, SCEP challenges and EST
//! users — each section for whoever may read it; making an EAB key (`acme:manage`) or a SCEP
//! challenge (`certificate:issue`), whose secret the page shows once.
//!
//! In: the EAB form (csrf, profile), the SCEP form (csrf, profile). Out: the page, with the
//! new secret once, or the API's refusal.

use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc, time};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

fn table(head: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "<p>None.</p>".into();
    }
    let mut s = String::from("<div class=\"table-wrap\"><table><thead><tr>");
    for h in head {
        s.push_str(&format!("<th scope=\"col\">{h}</th>"));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for cell in r {
            s.push_str(&format!("<td>{cell}</td>"));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => esc(s),
        Value::Null => "—".into(),
        Value::Array(a) => esc(&a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")),
        other => esc(&other.to_string()),
    }
}

async fn items(console: &Console, caller: &Caller, uri: &str, body: &mut String) -> Vec<Value> {
    match console.call(caller, Method::GET, uri, None, None).await {
        Ok(r) => r.body["items"].as_array().cloned().unwrap_or_default(),
        Err(e) => {
            body.push_str(&error_box(&e.detail));
            Vec::new()
        }
    }
}

fn profile_form(me: &Me, action: &str, label: &str, profiles: &[String]) -> String {
    let options: String = profiles
        .iter()
        .map(|p| format!("<option value=\"{0}\">{0}</option>", esc(p)))
        .collect();
    let id = action.rsplit('/').next().unwrap_or("new");
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{action}\">{}<div><label for=\"profile-{id}\">Profile</label><select id=\"profile-{id}\" name=\"profile\">{options}</select></div><div><button type=\"submit\">{label}</button></div></form>",
        csrf_field(me)
    )
}

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    top: String,
    status: StatusCode,
) -> Response {
    let mut body = format!("<h1>Enrolment</h1>{top}");
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
    if me.can("acme:read") {
        body.push_str("<h2>ACME accounts</h2>");
        let accounts = items(console, caller, "/api/v1/acme/accounts?limit=50", &mut body).await;
        body.push_str(&table(
            &["Id", "Status", "Contact", "EAB key", "Created"],
            accounts
                .iter()
                .map(|a| {
                    vec![
                        text(&a["id"]),
                        text(&a["status"]),
                        text(&a["contact"]),
                        text(&a["eab_kid"]),
                        time(a["created_at"].as_i64()),
                    ]
                })
                .collect(),
        ));
        body.push_str("<h2>External account binding keys</h2>");
        let keys = items(console, caller, "/api/v1/acme/eab-keys", &mut body).await;
        body.push_str(&table(
            &["Key id", "Profile", "Bound to account", "Made by", "Made"],
            keys.iter()
                .map(|k| {
                    vec![
                        format!("<span class=\"mono\">{}</span>", text(&k["kid"])),
                        text(&k["profile"]),
                        text(&k["account_id"]),
                        text(&k["created_by"]),
                        time(k["created_at"].as_i64()),
                    ]
                })
                .collect(),
        ));
        if me.can("acme:manage") {
            body.push_str(&profile_form(
                me,
                "/console/enrolment/eab",
                "Make an EAB key",
                &profiles,
            ));
        }
    }
    if me.can("certificate:issue") {
        body.push_str("<h2>SCEP challenges</h2>");
        let challenges = items(console, caller, "/api/v1/scep/challenges", &mut body).await;
        body.push_str(&table(
            &["Id", "Profile", "State", "Made by", "Expires"],
            challenges
                .iter()
                .map(|c| {
                    vec![
                        text(&c["id"]),
                        text(&c["profile"]),
                        text(&c["state"]),
                        text(&c["created_by"]),
                        time(c["expires_at"].as_i64()),
                    ]
                })
                .collect(),
        ));
        body.push_str(&profile_form(
            me,
            "/console/enrolment/scep",
            "Make a SCEP challenge",
            &profiles,
        ));
        body.push_str("<h2>EST users</h2>");
        let users = items(console, caller, "/api/v1/est/users", &mut body).await;
        body.push_str(&table(
            &["Label", "User", "Failures", "Locked", "Made by"],
            users
                .iter()
                .map(|u| {
                    vec![
                        text(&u["label"]),
                        text(&u["username"]),
                        text(&u["failures"]),
                        if u["locked"] == true {
                            "<span class=\"warn\">locked</span>".into()
                        } else {
                            "no".into()
                        },
                        text(&u["created_by"]),
                    ]
                })
                .collect(),
        ));
    }
    html::page(status, "Enrolment", Some(me), &body)
}

/// `GET /console/enrolment`.
pub async fn show(State(console): State<Console>, caller: Caller) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    render(&console, &caller, &me, String::new(), StatusCode::OK).await
}

/// `POST /console/enrolment/{eab|scep}`: a new secret, shown once on the page.
pub async fn create(
    State(console): State<Console>,
    caller: Caller,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    let (me, f) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let route = match kind.as_str() {
        "eab" => "/api/v1/acme/eab-keys",
        "scep" => "/api/v1/scep/challenges",
        _ => return html::failure(StatusCode::NOT_FOUND, "no such kind of enrolment secret"),
    };
    let request = json!({"profile": f.get("profile").cloned().unwrap_or_default()});
    let (top, status) = match console.call(&caller, Method::POST, route, f.get("csrf").map(String::as_str), Some(request)).await {
        Ok(r) if kind == "eab" => (
            format!(
                "<div class=\"notice\" role=\"status\">EAB key made for profile {}: give the ACME client the key id and the HMAC key; the HMAC key is not shown again.<dl class=\"facts\"><dt>Key id</dt><dd class=\"mono\" id=\"eab-kid\">{}</dd><dt>HMAC key</dt><dd class=\"mono\" id=\"eab-hmac\">{}</dd></dl></div>",
                text(&r.body["profile"]), text(&r.body["kid"]), text(&r.body["hmac_key"])
            ),
            StatusCode::OK,
        ),
        Ok(r) => (
            format!(
                "<div class=\"notice\" role=\"status\">SCEP challenge made: the device sends it as its challengePassword, once; it is not shown again.<dl class=\"facts\"><dt>Challenge</dt><dd class=\"mono\" id=\"scep-challenge\">{}</dd><dt>Expires</dt><dd>{}</dd></dl></div>",
                text(&r.body["challenge"]), time(r.body["expires_at"].as_i64())
            ),
            StatusCode::OK,
        ),
        Err(e) => (error_box(&e.detail), e.status),
    };
    render(&console, &caller, &me, top, status).await
}
