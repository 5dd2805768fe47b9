#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Hostile input, generated from the OpenAPI document: for every route, bodies with each
//! field replaced by a wrong type or a hostile string, unknown fields, missing fields,
//! broken JSON, the wrong media type, oversize bodies, hostile path segments and query
//! strings, tampered cursors. Every answer is a 4xx problem (or a harmless 200 for a
//! read), never a 5xx, and no resource changes (nor any ACME account, EAB key, SCEP
//! challenge or EST user).

use serde_json::{json, Value};
use strongroom_testkit::stack::{Client, Control, Db};

const HOSTILE_STRINGS: &[&str] = &[
    "' OR '1'='1' --",
    "\"; DROP TABLE users; --",
    "../../../../etc/passwd",
    "%00",
    "\u{0}",
    "𝕊𝕥𝕣𝕠𝕟𝕘",
    "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
    "",
];

fn wrong_values() -> Vec<Value> {
    let mut v: Vec<Value> = vec![
        json!(null),
        json!(-1),
        json!(1e308),
        json!(18446744073709551616u128 as f64),
        json!(true),
        json!([]),
        json!({}),
        json!([{"a": [1, 2, {"b": null}]}]),
        json!("x".repeat(70_000)),
    ];
    v.extend(HOSTILE_STRINGS.iter().map(|s| json!(s)));
    v
}

/// A template body per route that is well-typed but can never succeed, so that a single
/// mutated field cannot turn it into a valid request.
fn template(op: &str) -> Value {
    match op {
        "Login" => json!({"username": "", "password": "x"}),
        "ProfilePut" => json!({"profile": {"name": "x"}, "approvals_required": 0, "enrollers": []}),
        "CertIssue" => {
            json!({"profile": "tls-server", "csr": "not a csr", "names": [], "tags": []})
        }
        "CertRenew" => json!({"csr": "not a csr"}),
        "CertRevoke" => json!({"reason": "removeFromCRL"}),
        "CertBulkRevoke" => json!({"ids": [], "reason": "superseded"}),
        "UserCreate" => {
            json!({"username": "newuser", "password": "long-enough-password", "roles": ["no-such-role"]})
        }
        "UserUpdate" => json!({"roles": ["no-such-role"]}),
        "ApiKeyCreate" => json!({"label": "", "expires_in_secs": 1}),
        "CaCreate" => {
            json!({"id": "new-ca", "parent": "no-such-ca", "subject": "CN=x", "algorithm": "ecdsa-p256", "validity_days": 1})
        }
        "EabKeyCreate" => json!({"profile": "no-such-profile"}),
        "ScepChallengeCreate" => json!({"profile": "no-such-profile", "ttl_secs": 3600}),
        "EstUserCreate" => {
            json!({"label": "Not A Label", "username": "device", "password": "long-enough-password"})
        }
        "Reconcile" => json!({"grace_secs": -1}),
        _ => json!({}),
    }
}

fn concrete(path: &str, v: &str) -> String {
    path.replace("{id}", v)
        .replace("{name}", v)
        .replace("{key_id}", v)
        .replace("{kid}", v)
        .replace("{label}", v)
        .replace("{username}", v)
}

fn snapshot(admin: &Client) -> Vec<String> {
    [
        "/api/v1/users",
        "/api/v1/profiles",
        "/api/v1/cas",
        "/api/v1/certificates?limit=1000",
        "/api/v1/approvals?limit=1000",
        "/api/v1/apikeys?all=true",
        "/api/v1/acme/accounts?limit=1000",
        "/api/v1/acme/eab-keys",
        "/api/v1/scep/challenges?include_used=true",
        "/api/v1/est/users",
    ]
    .iter()
    .map(|p| {
        let r = admin.get(p);
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        r.text
    })
    .collect()
}

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    let before = snapshot(&admin);
    let doc = admin.get("/api/v1/openapi.json").json();
    let mut sent = 0;
    let mut check = |method: &str, path: &str, body: Option<Vec<u8>>, ct: Option<&str>| {
        let r = admin
            .call(method, path, body.as_deref(), ct)
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {path} ({} bytes): {e}",
                    body.as_ref().map_or(0, Vec::len)
                )
            });
        sent += 1;
        assert!(r.status < 500, "{method} {path} → {}: {}", r.status, r.text);
        if r.status >= 400 {
            assert_eq!(
                r.content_type, "application/problem+json",
                "{method} {path}"
            );
            let p = r.json();
            assert!(
                p["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{method} {path}: {p}"
            );
        } else {
            assert_eq!(
                method, "GET",
                "{method} {path} succeeded with hostile input: {}",
                r.text
            );
        }
    };
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let m = method.to_uppercase();
            let id = op["operationId"].as_str().unwrap();
            if id == "Logout" || id == "LogoutEverywhere" {
                continue; // take no input; they would end the admin's session
            }
            let has_params = path.contains('{');
            // Hostile path segments.
            if has_params {
                for seg in [
                    "'%20OR%201=1",
                    "..%2F..%2Fetc",
                    "-1",
                    "0",
                    "99999999999999999999999",
                    "%00",
                    "a%22b",
                    &"z".repeat(300),
                ] {
                    check(
                        &m,
                        &concrete(path, seg),
                        Some(b"{}".to_vec()),
                        Some("application/json"),
                    );
                }
            }
            let p = concrete(path, "1");
            // Hostile query strings.
            if m == "GET" {
                for q in [
                    "limit=0",
                    "limit=abc",
                    "limit=1001",
                    "unknown=1",
                    "cursor=ff.00",
                    "cursor=1.deadbeefdeadbeefdeadbeefdeadbeef",
                    "status=%27%20OR%201%3D1",
                    "before=x",
                    "from=-5&to=-9",
                    "format=exe",
                    "all=maybe",
                    "expiring_within_days=99999999",
                ] {
                    let key = q.split('=').next().unwrap();
                    let known = op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == key);
                    if known || key == "unknown" {
                        check("GET", &format!("{p}?{q}"), None, None);
                    }
                }
                continue;
            }
            // Broken bodies and media types.
            for (body, ct) in [
                (b"".to_vec(), "application/json"),
                (b"{".to_vec(), "application/json"),
                (b"[]".to_vec(), "application/json"),
                (b"null".to_vec(), "application/json"),
                (b"{\"a\":1}".to_vec(), "text/plain"),
                (vec![b'['; 100_000], "application/json"),
                (
                    format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024)).into_bytes(),
                    "application/json",
                ),
                (vec![0xff, 0xfe, 0x00], "application/json"),
            ] {
                check(&m, &p, Some(body), Some(ct));
            }
            // Schema-driven mutations of the template.
            let Some(schema) = op
                .get("requestBody")
                .map(|b| &b["content"]["application/json"]["schema"])
            else {
                continue;
            };
            let base = template(id);
            let mut unknown = base.clone();
            unknown["no_such_field"] = json!(1);
            check(
                &m,
                &p,
                Some(unknown.to_string().into_bytes()),
                Some("application/json"),
            );
            for req in schema["required"].as_array().unwrap() {
                let mut missing = base.clone();
                missing
                    .as_object_mut()
                    .unwrap()
                    .remove(req.as_str().unwrap());
                check(
                    &m,
                    &p,
                    Some(missing.to_string().into_bytes()),
                    Some("application/json"),
                );
            }
            for field in schema["properties"].as_object().unwrap().keys() {
                for v in wrong_values() {
                    let mut body = base.clone();
                    body[field.as_str()] = v;
                    check(
                        &m,
                        &p,
                        Some(body.to_string().into_bytes()),
                        Some("application/json"),
                    );
                }
            }
        }
    }
    assert!(sent > 500, "only {sent} hostile requests were generated");
    assert_eq!(snapshot(&admin), before, "hostile input changed state");
    assert_eq!(admin.get("/api/v1/audit/verify").json()["ok"], true);
    assert!(!c.log_text().contains("internal error"), "{}", c.log_text());
    eprintln!("{sent} hostile requests, no 5xx, no change");
}
