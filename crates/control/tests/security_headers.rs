#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The security headers (issue 19) on every kind of answer control gives: a public route, a
//! login, a refusal by the guard, a problem from a handler, the fallback 404 and 405, a
//! body control refuses to read.

use serde_json::json;
use strongroom_testkit::stack::{Control, Db, Reply};

fn assert_secure(what: &str, r: &Reply) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP: {:?}", r.headers));
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    for (name, value) in [
        ("strict-transport-security", "max-age=63072000"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(
            r.header(name),
            Some(value),
            "{what}: {name}: {:?}",
            r.headers
        );
    }
    assert!(
        r.header("permissions-policy")
            .is_some_and(|p| p.contains("camera=()")),
        "{what}: {:?}",
        r.headers
    );
}

#[test]
fn every_answer_carries_the_security_headers() {
    let c = Control::start(Db::Sqlite);
    let anonymous = c.client();
    let admin = c.admin();
    assert_secure("health", &anonymous.get("/api/v1/health"));
    let login = anonymous.post(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": "wrong-password-here"}),
    );
    assert_eq!(login.status, 401);
    assert_secure("a refused login", &login);
    let r = anonymous.get("/api/v1/auth/whoami");
    assert_eq!(r.status, 401);
    assert_secure("the guard's refusal", &r);
    let r = admin.get("/api/v1/auth/whoami");
    assert_eq!(r.status, 200);
    assert_secure("an API answer", &r);
    let r = admin.get("/api/v1/no-such-route");
    assert_eq!(r.status, 404);
    assert_secure("the fallback", &r);
    let r = admin.send("PATCH", "/api/v1/health", &json!({}));
    assert_eq!(r.status, 405);
    assert_secure("a method not allowed", &r);
    let r = admin
        .call(
            "POST",
            "/api/v1/users",
            Some(b"{not json"),
            Some("application/json"),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    assert_secure("a body that does not parse", &r);
}
