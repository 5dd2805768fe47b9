//! Users and their roles, the API keys (your own; everyone's with `user:read`), the role
//! table; creating a user for whoever holds `user:manage` (a privileged role files an
//! approval in production mode).
//!
//! In: the create form (csrf, username, password, role-NAME checkboxes). Out: the page, the
//! effect of the form, or the API's refusal.

use super::query_fields;
use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc, time};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

const ROLES: &[&str] = &["admin", "ca-operator", "approver", "auditor", "enroller"];

fn strings(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn render(
    console: &Console,
    caller: &Caller,
    me: &Me,
    message: Option<(StatusCode, String)>,
) -> Response {
    let (code, mut body) = html::outcome(&message);
    body.insert_str(0, "<h1>Users and keys</h1>");
    if me.can("user:read") {
        match console
            .call(caller, Method::GET, "/api/v1/users", None, None)
            .await
        {
            Ok(r) => {
                body.push_str("<h2>Users</h2><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">User</th><th scope=\"col\">Roles</th><th scope=\"col\">State</th></tr></thead><tbody>");
                for u in r.body["items"].as_array().into_iter().flatten() {
                    let state = match (u["disabled"] == true, u["break_glass"] == true) {
                        (true, _) => "disabled",
                        (false, true) if !u["unsealed_at"].is_null() => "break-glass, UNSEALED",
                        (false, true) => "break-glass, sealed",
                        _ => "active",
                    };
                    body.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(u["username"].as_str().unwrap_or("")),
                        esc(&strings(&u["roles"])),
                        state
                    ));
                }
                body.push_str("</tbody></table></div>");
            }
            Err(e) => body.push_str(&error_box(&e.detail)),
        }
    }
    let keys = if me.can("user:read") {
        "/api/v1/apikeys?all=true"
    } else {
        "/api/v1/apikeys"
    };
    match console.call(caller, Method::GET, keys, None, None).await {
        Ok(r) => {
            body.push_str("<h2>API keys and sessions</h2><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Label</th><th scope=\"col\">Roles</th><th scope=\"col\">Expires</th><th scope=\"col\" class=\"hide-narrow\">Revoked</th></tr></thead><tbody>");
            for k in r.body["items"].as_array().into_iter().flatten() {
                body.push_str(&format!(
                    "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"hide-narrow\">{}</td></tr>",
                    esc(k["key_id"].as_str().unwrap_or("")),
                    esc(k["label"].as_str().unwrap_or("")),
                    esc(&strings(&k["roles"])),
                    time(k["expires_at"].as_i64()),
                    time(k["revoked_at"].as_i64()),
                ));
            }
            body.push_str("</tbody></table></div>");
        }
        Err(e) => body.push_str(&error_box(&e.detail)),
    }
    if let Ok(r) = console
        .call(caller, Method::GET, "/api/v1/auth/roles", None, None)
        .await
    {
        body.push_str("<h2>Roles</h2><dl class=\"facts\">");
        for role in r.body["roles"].as_array().into_iter().flatten() {
            body.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                esc(role["name"].as_str().unwrap_or("")),
                esc(&strings(&role["permissions"]))
            ));
        }
        body.push_str("</dl>");
    }
    if me.can("user:manage") {
        let boxes: String = ROLES
            .iter()
            .map(|r| format!("<input type=\"checkbox\" id=\"role-{r}\" name=\"role-{r}\" value=\"on\"><label for=\"role-{r}\">{r}</label>"))
            .collect();
        body.push_str(&format!(
            "<h2>Create a user</h2><form class=\"stack\" method=\"post\" action=\"/console/users\">{}\
             <div><label for=\"new-username\">User name (a-z, 0-9, . _ -)</label><input id=\"new-username\" name=\"username\" required maxlength=\"64\" autocomplete=\"off\"></div>\
             <div><label for=\"new-password\">Initial password (at least 12 characters)</label><input id=\"new-password\" name=\"password\" type=\"password\" required autocomplete=\"new-password\"></div>\
             <fieldset><legend>Roles</legend>{boxes}</fieldset><div><button type=\"submit\">Create</button></div></form>",
            csrf_field(me)
        ));
    }
    html::page(code, "Users", Some(me), &body)
}

/// `GET /console/users`.
pub async fn show(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let message = query_fields(&raw).get("created").map(|n| {
        (
            StatusCode::OK,
            format!("User {n} created: they set up their authenticator at their first login."),
        )
    });
    render(&console, &caller, &me, message).await
}

/// `POST /console/users`.
pub async fn create(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    let (me, f) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let roles: Vec<&str> = ROLES
        .iter()
        .copied()
        .filter(|r| f.contains_key(&format!("role-{r}")))
        .collect();
    let username = f
        .get("username")
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let request = json!({
        "username": username,
        "password": f.get("password").cloned().unwrap_or_default(),
        "roles": roles,
    });
    match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/users",
            f.get("csrf").map(String::as_str),
            Some(request),
        )
        .await
    {
        Ok(r) => html::after_change(
            &r,
            &format!("/console/users?created={}", html::query_value(&username)),
        ),
        Err(e) => render(&console, &caller, &me, Some((e.status, e.detail))).await,
    }
}
