#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Every route is documented and guarded: the OpenAPI document lists exactly the route
//! table; every operation in the document exists on the running server; every route but
//! the pinned public ones answers 401 without credentials; every route answers 403 to a
//! principal whose roles lack its permission; denials land in the audit log.

use std::collections::BTreeSet;
use strongroom_control::rbac::{allows, Permission};
use strongroom_control::routes::ROUTES;
use strongroom_store::Role;
use strongroom_testkit::stack::{Control, Db};

/// The only routes reachable without credentials.
const PUBLIC: &[&str] = &[
    "GET /api/v1/health",
    "GET /api/v1/ready",
    "GET /api/v1/version",
    "GET /api/v1/openapi.json",
    "POST /api/v1/auth/login",
];

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "nobody")
        .replace("{key_id}", "0123456789abcdef")
        .replace("{kid}", "eab_0123456789abcdef")
        .replace("{label}", "default")
        .replace("{username}", "nobody")
}

#[test]
fn document_and_route_table_agree() {
    let doc = strongroom_control::openapi::document();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["x-permission"].is_string(),
                "{method} {path} has no permission"
            );
        }
    }
    let table: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(documented, table);
    let public: BTreeSet<String> = ROUTES
        .iter()
        .filter(|r| r.permission == Permission::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let pinned: BTreeSet<String> = PUBLIC.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        public, pinned,
        "the set of public routes changed: update PUBLIC on purpose"
    );
}

#[test]
fn every_route_is_served_and_guarded() {
    let c = Control::start(Db::Sqlite);
    let anon = c.client();
    let admin = c.admin();
    let doc = anon.get("/api/v1/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut guarded = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let key = format!("{m} {path}");
            let r = anon
                .call(&m, &concrete(path), Some(b"{}"), Some("application/json"))
                .unwrap();
            assert!(
                r.status != 404 && r.status != 405,
                "{key} is documented but not served: {}",
                r.status
            );
            if PUBLIC.contains(&key.as_str()) {
                assert_ne!(r.status, 401, "{key}");
            } else {
                assert_eq!(
                    r.status, 401,
                    "{key} answered {} without credentials: {}",
                    r.status, r.text
                );
                assert_eq!(r.content_type, "application/problem+json");
                guarded += 1;
            }
            // A bad token is as good as none.
            let bad = anon.with_token("sr_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000");
            if !PUBLIC.contains(&key.as_str()) {
                assert_eq!(
                    bad.call(&m, &concrete(path), None, None).unwrap().status,
                    401,
                    "{key}"
                );
            }
        }
    }
    assert_eq!(guarded, ROUTES.len() - PUBLIC.len());

    // Each role against each route: 403 exactly where the role lacks the permission.
    for (role, name) in [
        (Role::Enroller, "enroller"),
        (Role::Auditor, "auditor"),
        (Role::Approver, "approver"),
        (Role::CaOperator, "ca-operator"),
    ] {
        let user = c.user(&admin, &format!("u-{name}"), &[name]);
        for r in ROUTES {
            if r.permission == Permission::Public || allows(&[role], r.permission) {
                continue;
            }
            let reply = user
                .call(
                    r.method.as_str(),
                    &concrete(r.path),
                    Some(b"{}"),
                    Some("application/json"),
                )
                .unwrap();
            assert_eq!(
                reply.status, 403,
                "{name} on {} {}: {}",
                r.method, r.path, reply.text
            );
        }
    }
    let audit = admin
        .get("/api/v1/audit?action=permission.denied&limit=1000")
        .json();
    assert!(audit["items"].as_array().unwrap().len() > 20);
    let anon_denials = admin
        .get("/api/v1/audit?action=auth.denied&limit=1000")
        .json();
    assert!(anon_denials["items"].as_array().unwrap().len() >= guarded);
}

#[test]
fn docs_list_every_route_and_the_example_config_loads() {
    let root = strongroom_testkit::repo_root();
    let doc = std::fs::read_to_string(root.join("docs/control.md")).unwrap();
    for r in ROUTES {
        let entry = format!("`{} {}`", r.method, r.path);
        assert!(
            doc.contains(&entry),
            "docs/control.md does not list {entry}"
        );
    }
    strongroom_control::Config::load(&root.join("docs/control.example.toml")).unwrap();
}
