//! HTML for the console: escaping, the page layout with its navigation, redirects, the
//! error page and the stylesheet.
//!
//! In: page titles and bodies (already escaped by their builders with [`esc`]), the
//! signed-in user. Out: complete responses. Every value that did not come from this file
//! goes through [`esc`]; there is no `<script>` and no `style` attribute anywhere, so the
//! CSP (`default-src 'self'`, no 'unsafe-inline') holds for every page.

use super::caller::{Me, Reply};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use strongroom_types::time::rfc3339;

/// The stylesheet, served from this origin.
const CSS: &str = include_str!("console.css");

/// Escapes text for an HTML element or a quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a value for a URL query (then for HTML, by the caller's `esc` if in an attribute).
pub fn query_value(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|q| q.trim_start_matches("v=").to_string())
        .unwrap_or_default()
}

/// A Unix time as RFC 3339 UTC, or a dash.
pub fn time(secs: Option<i64>) -> String {
    secs.map(rfc3339).unwrap_or_else(|| "—".into())
}

/// 303 to `to` (after a form, and to the login page).
pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// A page that says what went wrong and what to do next.
pub fn failure(status: StatusCode, detail: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>{}<p><a href=\"/console/\">Back to the dashboard</a></p>",
        esc(status.canonical_reason().unwrap_or("Error")),
        error_box(detail)
    );
    page(status, "Error", None, &body)
}

/// The box that carries an API problem's detail on a page.
pub fn error_box(detail: &str) -> String {
    format!(
        "<div class=\"error\" role=\"alert\"><strong>Not done.</strong> {}</div>",
        esc(detail)
    )
}

/// The box that confirms a form's effect.
pub fn notice_box(text: &str) -> String {
    format!("<div class=\"notice\" role=\"status\">{}</div>", esc(text))
}

/// The status and opening box of a page that reports what a form did: a notice for a
/// success, the API's problem otherwise, nothing without a message.
pub fn outcome(message: &Option<(StatusCode, String)>) -> (StatusCode, String) {
    match message {
        Some((code, text)) if code.is_success() => (StatusCode::OK, notice_box(text)),
        Some((code, text)) => (*code, error_box(text)),
        None => (StatusCode::OK, String::new()),
    }
}

/// Where a form the API accepted leads: the approvals queue when it filed a request (202),
/// else `done`.
pub fn after_change(reply: &Reply, done: &str) -> Response {
    if reply.status == StatusCode::ACCEPTED {
        return redirect(&format!(
            "/console/approvals?filed={}",
            reply.body["approval"].as_i64().unwrap_or(0)
        ));
    }
    redirect(done)
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(me: &Me) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&me.csrf)
    )
}

/// The sections of the navigation, each shown to whoever holds its permission.
const NAV: &[(&str, &str, &str)] = &[
    ("/console/", "Dashboard", "authenticated"),
    ("/console/certificates", "Certificates", "certificate:read"),
    ("/console/issue", "Issue", "certificate:issue"),
    ("/console/approvals", "Approvals", "approval:read"),
    ("/console/audit", "Audit log", "audit:read"),
    ("/console/cas", "CAs", "ca:read"),
    ("/console/profiles", "Profiles", "profile:read"),
    ("/console/enrolment", "Enrolment", "authenticated"),
    ("/console/users", "Users and keys", "authenticated"),
    ("/console/system", "System", "authenticated"),
];

/// A whole page: `body` is already-escaped HTML.
pub fn page(status: StatusCode, title: &str, me: Option<&Me>, body: &str) -> Response {
    let mut nav = String::new();
    if let Some(me) = me {
        nav.push_str("<nav aria-label=\"Sections\"><ul>");
        // Until the user enrols a second factor every other page sends them back.
        for (href, label, permission) in NAV.iter().filter(|_| !me.second_factor_missing) {
            if *permission == "authenticated" || me.can(permission) {
                nav.push_str(&format!("<li><a href=\"{href}\">{label}</a></li>"));
            }
        }
        nav.push_str("</ul>");
        nav.push_str(&format!(
            "<form method=\"post\" action=\"/console/logout\" class=\"logout\">{}<span class=\"who\">{} ({})</span> <button type=\"submit\">Log out</button></form></nav>",
            csrf_field(me),
            esc(&me.username),
            esc(&me.roles.join(", "))
        ));
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Strongroom</title><link rel=\"stylesheet\" href=\"/console/static/console.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><span class=\"brand\">Strongroom</span>{nav}</header>\
         <main id=\"main\">{body}</main></body></html>",
        esc(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// `GET /console/static/console.css`.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}
