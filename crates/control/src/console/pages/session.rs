//! Logging in (password and, for an account that has one, the authenticator's code or a
//! recovery code) and out, through the API's own login and logout.
//!
//! In: the login form (username, password, totp, recovery_code), the logout forms (csrf).
//! Out: the session cookie the API set (HttpOnly, `__Host-`, SameSite=Strict) and a redirect,
//! or the login page with what the API said.

use crate::console::caller::form;
use crate::console::html::{self, error_box, esc};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn login_form(status: StatusCode, username: &str, problem: Option<&str>) -> Response {
    let body = format!(
        "<h1>Log in</h1>{}<form class=\"stack\" method=\"post\" action=\"/console/login\">\
         <div><label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required maxlength=\"64\" value=\"{}\"></div>\
         <div><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\
         <div><label for=\"totp\">Code from your authenticator app (if your account has one)</label><input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\"></div>\
         <div><label for=\"recovery_code\">Or a recovery code</label><input id=\"recovery_code\" name=\"recovery_code\" autocomplete=\"off\" maxlength=\"64\"></div>\
         <div><button type=\"submit\">Log in</button></div></form>",
        problem.map(error_box).unwrap_or_default(),
        esc(username)
    );
    html::page(status, "Log in", None, &body)
}

/// `GET /console/login`.
pub async fn login_page() -> Response {
    login_form(StatusCode::OK, "", None)
}

/// `POST /console/login`: the API's login with `cookie: true`; its cookie is passed on.
pub async fn login(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    if let Some(refused) = Console::cross_site_refusal(&caller) {
        return refused;
    }
    let fields = match form(&body) {
        Ok(f) => f,
        Err(bad) => return *bad,
    };
    let field = |k: &str| fields.get(k).map(|v| v.trim()).unwrap_or_default();
    let username = field("username").to_string();
    let mut request = json!({
        "username": username,
        "password": fields.get("password").cloned().unwrap_or_default(),
        "cookie": true,
    });
    if !field("totp").is_empty() {
        request["totp"] = json!(field("totp"));
    }
    if !field("recovery_code").is_empty() {
        request["recovery_code"] = json!(field("recovery_code"));
    }
    match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(request),
        )
        .await
    {
        Ok(reply) => {
            let mut response = html::redirect("/console/");
            for cookie in reply.set_cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(e) => login_form(e.status, &username, Some(&e.detail)),
    }
}

async fn end(console: Console, caller: Caller, body: Bytes, route: &str) -> Response {
    if let Some(refused) = Console::cross_site_refusal(&caller) {
        return refused;
    }
    let fields = match form(&body) {
        Ok(f) => f,
        Err(bad) => return *bad,
    };
    let csrf = fields.get("csrf").map(String::as_str);
    match console.call(&caller, Method::POST, route, csrf, None).await {
        Ok(reply) => {
            let mut response = html::redirect("/console/login");
            for cookie in reply.set_cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => html::redirect("/console/login"),
        Err(e) => html::failure(e.status, &e.detail).into_response(),
    }
}

/// `POST /console/logout`: ends this session.
pub async fn logout(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    end(console, caller, body, "/api/v1/auth/logout").await
}

/// `POST /console/logout-everywhere`: ends every login session of the user.
pub async fn logout_everywhere(
    State(console): State<Console>,
    caller: Caller,
    body: Bytes,
) -> Response {
    end(console, caller, body, "/api/v1/auth/logout-everywhere").await
}
