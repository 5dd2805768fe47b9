//! The OpenAPI 3.1 document, generated from the route table: paths, methods, permissions
//! (`x-permission`), path and query parameters, request bodies. A test checks that every
//! route is documented and every documented operation is served.
//!
//! In: [`crate::routes::ROUTES`]. Out: the JSON served at `/api/v1/openapi.json`.

use crate::api::scep_challenges::{DEFAULT_TTL_SECS, MAX_TTL_SECS, MIN_TTL_SECS};
use crate::rbac::Permission;
use crate::routes::{RouteId, ROUTES};
use serde_json::{json, Map, Value};
use strongroom_store::{MAX_EST_LABEL, MAX_EST_USERNAME};

fn string() -> Value {
    json!({"type": "string"})
}
fn integer() -> Value {
    json!({"type": "integer", "format": "int64"})
}
fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}
fn object(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

/// The request body schema of a route, if it takes one.
fn body(id: RouteId) -> Option<Value> {
    use RouteId::*;
    Some(match id {
        Login => object(
            &["username", "password"],
            json!({"username": string(), "password": string()}),
        ),
        ProfilePut => object(
            &["profile"],
            json!({
                "profile": {"type": "object", "description": "A profile as in docs/signer.md (name, issuer, max_validity_secs, key_algorithms, key_usage, extended_key_usage, allowed_name_kinds, ...)"},
                "approvals_required": {"type": "integer", "minimum": 0, "maximum": 10},
                "enrollers": strings(),
            }),
        ),
        CertIssue => object(
            &["profile", "csr"],
            json!({
                "profile": string(), "csr": {"type": "string", "description": "PEM CERTIFICATE REQUEST"},
                "names": strings(), "validity_secs": {"type": "integer", "minimum": 1},
                "owner": string(), "team": string(), "tags": strings(),
            }),
        ),
        CertRenew => object(
            &["csr"],
            json!({"csr": string(), "validity_secs": {"type": "integer", "minimum": 1}}),
        ),
        CertRevoke => object(
            &["reason"],
            json!({"reason": {"type": "string", "description": "RFC 5280 name or code"}, "invalidity_date": integer()}),
        ),
        CertBulkRevoke => object(
            &["ids", "reason"],
            json!({"ids": {"type": "array", "items": integer(), "minItems": 1, "maxItems": 1000}, "reason": string()}),
        ),
        UserCreate => object(
            &["username", "password", "roles"],
            json!({"username": string(), "password": {"type": "string", "minLength": 12}, "roles": strings()}),
        ),
        UserUpdate => object(
            &[],
            json!({"roles": strings(), "disabled": {"type": "boolean"}, "password": {"type": "string", "minLength": 12}}),
        ),
        ApprovalApprove | ApprovalReject => object(
            &["comment"],
            json!({"comment": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "why (recorded with the decision and in the audit log)"}}),
        ),
        LoginCertBind => object(&["certificate_id"], json!({"certificate_id": integer()})),
        LoginCertEnrol => object(
            &["csr"],
            json!({
                "csr": {"type": "string", "description": "PEM CERTIFICATE REQUEST"},
                "profile": {"type": "string", "description": "a client-auth profile (default tls-client)"},
                "names": strings(), "validity_secs": {"type": "integer", "minimum": 1},
            }),
        ),
        ApiKeyCreate => object(
            &["label"],
            json!({"label": string(), "roles": strings(), "expires_in_secs": integer()}),
        ),
        EabKeyCreate => object(
            &["profile"],
            json!({"profile": {"type": "string", "description": "an existing certificate profile"}}),
        ),
        ScepChallengeCreate => object(
            &["profile"],
            json!({
                "profile": {"type": "string", "description": "an existing profile the caller may enrol under"},
                "ttl_secs": {"type": "integer", "minimum": MIN_TTL_SECS, "maximum": MAX_TTL_SECS, "description": format!("lifetime in seconds (default {DEFAULT_TTL_SECS})")},
            }),
        ),
        EstUserCreate => object(
            &["label", "username"],
            json!({
                "label": {"type": "string", "pattern": format!("^[a-z0-9-]{{1,{MAX_EST_LABEL}}}$"), "description": "the EST label (`default` for /.well-known/est/ without one)"},
                "username": {"type": "string", "pattern": format!("^[!-9;-~]{{1,{MAX_EST_USERNAME}}}$"), "description": "the HTTP Basic username: visible ASCII, no ':'"},
                "password": {"type": "string", "minLength": 12, "description": "absent: control draws 24 characters and answers them once"},
            }),
        ),
        Reconcile => object(
            &[],
            json!({"grace_secs": {"type": "integer", "minimum": 0, "maximum": 2_592_000, "description": "compare only journal records at least this old (default 600)"}}),
        ),
        _ => return None,
    })
}

/// The query parameters of a route.
fn query(id: RouteId) -> &'static [(&'static str, &'static str)] {
    use RouteId::*;
    match id {
        CertList => &[
            ("status", "string"),
            ("expiring_before", "integer"),
            ("expiring_within_days", "integer"),
            ("issuer", "string"),
            ("profile", "string"),
            ("name", "string"),
            ("tag", "string"),
            ("owner", "string"),
            ("serial", "string"),
            ("limit", "integer"),
            ("cursor", "string"),
        ],
        CertDownload => &[("format", "string")],
        StatsCertificates => &[("days", "integer")],
        ApprovalList => &[
            ("state", "string"),
            ("before", "integer"),
            ("limit", "integer"),
        ],
        ApiKeyList => &[("all", "boolean")],
        AuditQuery => &[
            ("actor", "string"),
            ("action", "string"),
            ("before", "integer"),
            ("limit", "integer"),
        ],
        AuditExport => &[("from", "integer"), ("to", "integer")],
        AcmeAccountList => &[("limit", "integer"), ("cursor", "string")],
        ScepChallengeList => &[("profile", "string"), ("include_used", "boolean")],
        EstUserList => &[("label", "string")],
        AcmeOrderList => &[
            ("account", "integer"),
            ("limit", "integer"),
            ("cursor", "string"),
        ],
        _ => &[],
    }
}

/// Path parameter names of a template (`/x/{id}/y` → `id`).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": string()}))
            .collect();
        params.extend(query(r.id).iter().map(
            |(n, t)| json!({"name": n, "in": "query", "required": false, "schema": {"type": t}}),
        ));
        let mut op = json!({
            "operationId": format!("{:?}", r.id),
            "summary": r.summary,
            "tags": [r.tag],
            "x-permission": r.permission.as_str(),
            "parameters": params,
            "responses": {
                r.success.to_string(): {"description": "success"},
                "default": {"description": "an RFC 9457 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        if r.permission == Permission::Public {
            op["security"] = json!([]);
        }
        if let Some(b) = body(r.id) {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": b}}});
        }
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Strongroom control API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "https://127.0.0.1:9443"}],
        "security": [{"apiKey": []}, {"clientCertificate": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "sr_<id>_<secret> from POST /api/v1/auth/login or /api/v1/apikeys"},
                "clientCertificate": {"type": "mutualTLS", "description": "a client certificate issued by a CA in tls.client_auth_cas, in the inventory with an owner"},
            },
            "schemas": {
                "Problem": {"type": "object", "properties": {"type": string(), "title": string(), "status": {"type": "integer"}, "detail": string()}},
            },
        },
    })
}
