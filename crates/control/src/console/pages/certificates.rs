//! The inventory: search (name, owner, tag, profile, issuer, status, expiry), one
//! certificate with its downloads and revocation, and revoking it with a reason.
//!
//! In: search fields (passed to `GET /api/v1/certificates`, which checks them), a
//! certificate id, the revoke form (csrf, reason). Out: pages; the revoke form's effect is
//! the API's revoke, its refusal shown on the certificate's page.

use super::{api_query, query_fields};
use crate::console::caller::Me;
use crate::console::html::{self, csrf_field, error_box, esc, query_value, time};
use crate::console::{Caller, Console};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// The search fields the API takes, in the form's order.
const FILTERS: &[&str] = &[
    "name",
    "serial",
    "owner",
    "tag",
    "profile",
    "issuer",
    "status",
    "expiring_within_days",
    "cursor",
];

/// Reasons an operator may start a revocation with (removeFromCRL only ends a hold).
const REASONS: &[(&str, &str)] = &[
    ("unspecified", "Unspecified"),
    ("keyCompromise", "Key compromise"),
    ("affiliationChanged", "Affiliation changed"),
    ("superseded", "Superseded"),
    ("cessationOfOperation", "Cessation of operation"),
    ("certificateHold", "Certificate hold"),
    ("privilegeWithdrawn", "Privilege withdrawn"),
    ("cACompromise", "CA compromise"),
    ("aACompromise", "AA compromise"),
];

fn text_field(id: &str, label: &str, value: &str) -> String {
    format!(
        "<div><label for=\"{id}\">{label}</label><input id=\"{id}\" name=\"{id}\" maxlength=\"255\" value=\"{}\"></div>",
        esc(value)
    )
}

fn select(id: &str, label: &str, options: &[(&str, &str)], chosen: &str) -> String {
    let mut s =
        format!("<div><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\">");
    for (value, text) in options {
        let sel = if *value == chosen { " selected" } else { "" };
        s.push_str(&format!("<option value=\"{value}\"{sel}>{text}</option>"));
    }
    s.push_str("</select></div>");
    s
}

/// A certificate's status, with expiry taken into account.
fn status_of(c: &Value, now: i64) -> &'static str {
    match c["status"].as_str() {
        Some("revoked") => "revoked",
        _ if c["not_after"].as_i64().is_some_and(|t| t <= now) => "expired",
        _ => "valid",
    }
}

fn names_of(c: &Value) -> String {
    let mut names: Vec<String> = Vec::new();
    if let Some(cn) = c["subject_cn"].as_str() {
        names.push(format!("CN={cn}"));
    }
    for n in c["names"].as_array().into_iter().flatten() {
        if let Some(n) = n.as_str() {
            names.push(n.to_string());
        }
    }
    names.join(", ")
}

/// `GET /console/certificates`.
pub async fn search(State(console): State<Console>, caller: Caller, raw: RawQuery) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let fields = query_fields(&raw);
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let mut body = String::from("<h1>Certificates</h1>");
    body.push_str(
        "<form class=\"filters\" method=\"get\" action=\"/console/certificates\" role=\"search\">",
    );
    body.push_str(&text_field(
        "name",
        "Name (DNS, IP, e-mail, CN)",
        get("name"),
    ));
    body.push_str(&text_field("serial", "Serial (hex)", get("serial")));
    body.push_str(&text_field("owner", "Owner", get("owner")));
    body.push_str(&text_field("tag", "Tag", get("tag")));
    body.push_str(&text_field("profile", "Profile", get("profile")));
    body.push_str(&text_field("issuer", "Issuing CA", get("issuer")));
    body.push_str(&select(
        "status",
        "Status",
        &[
            ("", "Any"),
            ("valid", "Not revoked"),
            ("revoked", "Revoked"),
        ],
        get("status"),
    ));
    body.push_str(&select(
        "expiring_within_days",
        "Expiring within",
        &[
            ("", "Any time"),
            ("7", "7 days"),
            ("30", "30 days"),
            ("90", "90 days"),
        ],
        get("expiring_within_days"),
    ));
    body.push_str("<div><button type=\"submit\">Search</button></div></form>");
    let uri = format!("/api/v1/certificates{}", api_query(&fields, FILTERS));
    match console.call(&caller, Method::GET, &uri, None, None).await {
        Err(e) => body.push_str(&error_box(&e.detail)),
        Ok(reply) => {
            let items = reply.body["items"].as_array().cloned().unwrap_or_default();
            let now = console.now();
            if items.is_empty() {
                body.push_str("<p>No certificate matches. Widen the search: fewer fields, or part of a name.</p>");
            } else {
                body.push_str("<div class=\"table-wrap\"><table><caption class=\"skip\">Matching certificates</caption><thead><tr><th scope=\"col\">Names</th><th scope=\"col\">Status</th><th scope=\"col\">Expires</th><th scope=\"col\" class=\"hide-narrow\">Profile</th><th scope=\"col\" class=\"hide-narrow\">Owner</th><th scope=\"col\" class=\"hide-narrow\">Serial</th></tr></thead><tbody>");
                for c in &items {
                    let id = c["id"].as_i64().unwrap_or(0);
                    let status = status_of(c, now);
                    body.push_str(&format!(
                        "<tr><td><a href=\"/console/certificates/{id}\">{}</a></td><td class=\"status-{status}\">{status}</td><td>{}</td><td class=\"hide-narrow\">{}</td><td class=\"hide-narrow\">{}</td><td class=\"mono hide-narrow\">{}</td></tr>",
                        esc(&names_of(c)),
                        time(c["not_after"].as_i64()),
                        esc(c["profile"].as_str().unwrap_or("—")),
                        esc(c["owner"].as_str().unwrap_or("—")),
                        esc(c["serial"].as_str().unwrap_or("")),
                    ));
                }
                body.push_str("</tbody></table></div>");
                let valid: Vec<i64> = items
                    .iter()
                    .filter(|c| c["status"] == "valid")
                    .filter_map(|c| c["id"].as_i64())
                    .collect();
                if me.can("certificate:revoke") && !valid.is_empty() {
                    let hidden: String = valid
                        .iter()
                        .map(|id| format!("<input type=\"hidden\" name=\"id\" value=\"{id}\">"))
                        .collect();
                    body.push_str(&format!(
                        "<details><summary>Revoke the {n} unrevoked certificates listed above</summary>\
                         <form class=\"inline\" method=\"post\" action=\"/console/certificates/revoke\">{}{hidden}{}\
                         <div><input type=\"checkbox\" id=\"confirm\" name=\"confirm\" value=\"yes\" required> <label for=\"confirm\">I checked this list: revoke all {n}</label></div>\
                         <div><button type=\"submit\" class=\"danger\">Revoke {n} certificates</button></div></form></details>",
                        csrf_field(&me),
                        select("bulk-reason", "Reason", REASONS, "unspecified").replace("name=\"bulk-reason\"", "name=\"reason\""),
                        n = valid.len(),
                    ));
                }
            }
            if let Some(next) = reply.body["next"].as_str() {
                let mut more = fields.clone();
                more.insert("cursor".into(), next.into());
                body.push_str(&format!(
                    "<p class=\"pager\"><a href=\"/console/certificates{}\">Next page</a></p>",
                    esc(&api_query(&more, FILTERS))
                ));
            }
        }
    }
    if me.can("certificate:issue") {
        body.push_str("<p><a href=\"/console/issue\">Issue a certificate from a CSR</a></p>");
    }
    html::page(StatusCode::OK, "Certificates", Some(&me), &body)
}

async fn render_detail(
    console: &Console,
    caller: &Caller,
    me: &Me,
    id: &str,
    message: Option<(StatusCode, String)>,
) -> Response {
    let id = match id.parse::<i64>() {
        Ok(i) if i > 0 => i,
        _ => {
            return html::failure(
                StatusCode::NOT_FOUND,
                "no such certificate; search for it on the Certificates page",
            )
        }
    };
    let c = match console
        .call(
            caller,
            Method::GET,
            &format!("/api/v1/certificates/{id}"),
            None,
            None,
        )
        .await
    {
        Ok(r) => r.body,
        Err(e) => return html::failure(e.status, &e.detail),
    };
    let status = status_of(&c, console.now());
    let (code, mut body) = html::outcome(&message);
    let field = |k: &str| esc(c[k].as_str().unwrap_or("—"));
    let tags = c["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| {
            format!(
                "<a href=\"/console/certificates?tag={}\">{}</a>",
                esc(&query_value(t)),
                esc(t)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    body.insert_str(0, &format!("<h1>Certificate {id}</h1>"));
    body.push_str(&format!(
        "<dl class=\"facts\"><dt>Status</dt><dd class=\"status-{status}\">{status}</dd>\
         <dt>Subject CN</dt><dd>{}</dd><dt>Names</dt><dd>{}</dd>\
         <dt>Serial</dt><dd class=\"mono\">{}</dd><dt>Issuer</dt><dd>{}</dd><dt>Profile</dt><dd>{}</dd>\
         <dt>Valid from</dt><dd>{}</dd><dt>Valid until</dt><dd>{}</dd>\
         <dt>SHA-256 fingerprint</dt><dd class=\"mono\">{}</dd><dt>Issued through</dt><dd>{}</dd>\
         <dt>Owner</dt><dd>{}</dd><dt>Team</dt><dd>{}</dd><dt>Tags</dt><dd>{}</dd><dt>Recorded</dt><dd>{}</dd>",
        field("subject_cn"),
        esc(&c["names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
        field("serial"),
        field("issuer"),
        field("profile"),
        time(c["not_before"].as_i64()),
        time(c["not_after"].as_i64()),
        field("fingerprint"),
        field("source"),
        field("owner"),
        field("team"),
        if tags.is_empty() { "—".into() } else { tags },
        time(c["created_at"].as_i64()),
    ));
    if let Some(replaces) = c["replaces"].as_i64() {
        body.push_str(&format!(
            "<dt>Renews</dt><dd><a href=\"/console/certificates/{replaces}\">certificate {replaces}</a></dd>"
        ));
    }
    if let Some(r) = c.get("revocation").filter(|r| r.is_object()) {
        body.push_str(&format!(
            "<dt>Revoked</dt><dd>{} by {} (reason {})</dd>",
            time(r["revoked_at"].as_i64()),
            esc(r["revoked_by"].as_str().unwrap_or("—")),
            esc(r["reason"].as_str().unwrap_or("—"))
        ));
    }
    body.push_str("</dl>");
    let x = &c["x509"];
    if x["extensions"].is_array() {
        body.push_str(&format!(
            "<h2>What it says</h2><dl class=\"facts\"><dt>Subject</dt><dd>{}</dd><dt>Issuer</dt><dd>{}</dd><dt>Key</dt><dd>{}</dd><dt>Signature</dt><dd>{}</dd></dl>\
             <div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Extension</th><th scope=\"col\">Critical</th><th scope=\"col\">Value</th></tr></thead><tbody>",
            esc(x["subject"].as_str().unwrap_or("")),
            esc(x["issuer"].as_str().unwrap_or("")),
            esc(x["key_algorithm"].as_str().unwrap_or("")),
            esc(x["signature_algorithm"].as_str().unwrap_or("")),
        ));
        for e in x["extensions"].as_array().into_iter().flatten() {
            body.push_str(&format!(
                "<tr><td>{} <span class=\"mono hide-narrow\">({})</span></td><td>{}</td><td class=\"mono\">{}</td></tr>",
                esc(e["name"].as_str().unwrap_or("")),
                esc(e["oid"].as_str().unwrap_or("")),
                if e["critical"] == true { "yes" } else { "no" },
                esc(e["value"].as_str().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table></div>");
    } else if let Some(why) = x["error"].as_str() {
        body.push_str(&error_box(&format!(
            "the certificate could not be read: {why}"
        )));
    }
    if let Ok(chain) = console
        .call(
            caller,
            Method::GET,
            &format!("/api/v1/certificates/{id}/download?format=chain"),
            None,
            None,
        )
        .await
    {
        body.push_str(&format!(
            "<details><summary>The certificate and its chain (PEM)</summary><pre>{}</pre></details>",
            esc(&chain.text)
        ));
    }
    body.push_str(&format!(
        "<h2>Download</h2><ul><li><a href=\"/api/v1/certificates/{id}/download?format=pem\">PEM</a></li><li><a href=\"/api/v1/certificates/{id}/download?format=der\">DER</a></li><li><a href=\"/api/v1/certificates/{id}/download?format=chain\">PEM with the issuing chain</a></li></ul>"
    ));
    if me.can("certificate:issue") && c["status"].as_str() == Some("valid") {
        body.push_str(&format!(
            "<h2>Renew</h2><p>Same profile, names, owner and tags; a new key's CSR. The new certificate records that it renews this one.</p>\
             <form class=\"stack\" method=\"post\" action=\"/console/certificates/{id}/renew\">{}\
             <div><label for=\"renew-csr\">The new key's CSR (PEM)</label><textarea id=\"renew-csr\" name=\"csr\" required spellcheck=\"false\"></textarea></div>\
             <div><button type=\"submit\">Renew certificate {id}</button></div></form>",
            csrf_field(me)
        ));
    }
    if me.can("certificate:revoke") && c["status"].as_str() == Some("valid") {
        body.push_str(&format!(
            "<h2>Revoke</h2><form class=\"inline\" method=\"post\" action=\"/console/certificates/{id}/revoke\">{}{}<div><button type=\"submit\" class=\"danger\">Revoke certificate {id}</button></div></form>",
            csrf_field(me),
            select("reason", "Reason", REASONS, "unspecified"),
        ));
    }
    html::page(code, &format!("Certificate {id}"), Some(me), &body)
}

/// `GET /console/certificates/{id}`.
pub async fn detail(
    State(console): State<Console>,
    caller: Caller,
    Path(id): Path<String>,
    raw: RawQuery,
) -> Response {
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    let message = match query_fields(&raw).get("done").map(String::as_str) {
        Some("revoked") => Some((
            StatusCode::OK,
            "Revoked. The next CRL and OCSP answers say so.".to_string(),
        )),
        Some("issued") => Some((StatusCode::OK, "Issued.".to_string())),
        _ => None,
    };
    render_detail(&console, &caller, &me, &id, message).await
}

/// `POST /console/certificates/{id}/renew`: the API's renew with the form's CSR.
pub async fn renew(
    State(console): State<Console>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (me, fields) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let Ok(n) = id.parse::<i64>() else {
        return html::failure(StatusCode::NOT_FOUND, "no such certificate");
    };
    match console
        .call(
            &caller,
            Method::POST,
            &format!("/api/v1/certificates/{n}/renew"),
            fields.get("csrf").map(String::as_str),
            Some(serde_json::json!({ "csr": fields.get("csr").cloned().unwrap_or_default() })),
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
        Err(e) => render_detail(&console, &caller, &me, &id, Some((e.status, e.detail))).await,
    }
}

/// `POST /console/certificates/revoke`: the API's bulk revoke of the ids the search page
/// listed (at most a page), each id's outcome shown.
pub async fn bulk_revoke(State(console): State<Console>, caller: Caller, body: Bytes) -> Response {
    if let Some(refused) = Console::cross_site_refusal(&caller) {
        return refused;
    }
    let me = match console.me(&caller).await {
        Ok(me) => me,
        Err(go) => return go,
    };
    // The ids come as repeated `id` fields: read them in order, not as a map.
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(_) => {
            return html::failure(
                StatusCode::BAD_REQUEST,
                "the form could not be read; search again and send it again",
            )
        }
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("confirm").as_deref() != Some("yes") {
        return html::failure(
            StatusCode::BAD_REQUEST,
            "tick the box that says you checked the list, then send the form again",
        );
    }
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(n, _)| n == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let request = serde_json::json!({"ids": ids, "reason": get("reason").unwrap_or_default()});
    let reply = match console
        .call(
            &caller,
            Method::POST,
            "/api/v1/certificates/revoke",
            get("csrf").as_deref(),
            Some(request),
        )
        .await
    {
        Ok(r) => r.body,
        Err(e) => return html::failure(e.status, &e.detail),
    };
    let mut body = format!(
        "<h1>Bulk revocation</h1><div class=\"notice\" role=\"status\">{} revoked, {} not.</div><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Certificate</th><th scope=\"col\">Outcome</th></tr></thead><tbody>",
        reply["revoked"], reply["failed"]
    );
    for r in reply["results"].as_array().into_iter().flatten() {
        let id = r["id"].as_i64().unwrap_or(0);
        body.push_str(&format!(
            "<tr><td><a href=\"/console/certificates/{id}\">{id}</a></td><td>{}{}</td></tr>",
            esc(r["outcome"].as_str().unwrap_or("")),
            r["detail"]
                .as_str()
                .map(|d| format!(": {}", esc(d)))
                .unwrap_or_default()
        ));
    }
    body.push_str("</tbody></table></div>");
    html::page(StatusCode::OK, "Bulk revocation", Some(&me), &body)
}

/// `POST /console/certificates/{id}/revoke`: the API's revoke with the form's reason.
pub async fn revoke(
    State(console): State<Console>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (me, fields) = match console.open_form(&caller, &body).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let Ok(n) = id.parse::<i64>() else {
        return html::failure(StatusCode::NOT_FOUND, "no such certificate");
    };
    let reason = fields.get("reason").cloned().unwrap_or_default();
    match console
        .call(
            &caller,
            Method::POST,
            &format!("/api/v1/certificates/{n}/revoke"),
            fields.get("csrf").map(String::as_str),
            Some(serde_json::json!({ "reason": reason })),
        )
        .await
    {
        Ok(_) => html::redirect(&format!("/console/certificates/{n}?done=revoked")),
        Err(e) => render_detail(&console, &caller, &me, &id, Some((e.status, e.detail))).await,
    }
}
