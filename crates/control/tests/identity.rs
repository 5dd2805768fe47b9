#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Identity: the sealed break-glass account (loud when used, resealed with a new password),
//! TLS client certificates from our own CA (honoured while bound to a user and unrevoked),
//! and no password or API key in the log at any level.

use serde_json::json;
use strongroom_testkit::stack::{Control, Db, ADMIN_PASSWORD};

#[test]
fn break_glass_client_certificates_and_quiet_logs() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();

    // Break-glass: sealed on first start, its password in a 0400 file.
    let envelope = std::fs::read_to_string(&c.break_glass_file).unwrap();
    let bg_password = envelope.lines().nth(1).unwrap().to_string();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&c.break_glass_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o400
    );
    let m = admin.get("/metrics").text;
    assert!(m.contains("strongroom_break_glass_unsealed 0"), "{m}");
    let bg = c.login("break-glass", &bg_password);
    assert_eq!(
        bg.get("/api/v1/auth/whoami").json()["username"],
        "break-glass"
    );
    let m = admin.get("/metrics").text;
    assert!(m.contains("strongroom_break_glass_unsealed 1"), "{m}");
    assert!(
        m.contains("strongroom_control_break_glass_logins_total 1"),
        "{m}"
    );
    let events = admin.get("/api/v1/audit?action=break-glass").json();
    assert!(
        events["items"][0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("seal broken"),
        "{events}"
    );
    assert!(c.log_text().contains("BREAK-GLASS account logged in"));
    // Reseal: a new password, shown once; the old one stops working.
    let before = bg.get("/api/v1/auth/whoami");
    assert_eq!(before.status, 200);
    let r = admin.post("/api/v1/users/break-glass/reseal", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let new_password = r.json()["password"].as_str().unwrap().to_string();
    assert!(admin
        .get("/metrics")
        .text
        .contains("strongroom_break_glass_unsealed 0"));
    let stale = c.client().post(
        "/api/v1/auth/login",
        &json!({"username": "break-glass", "password": bg_password}),
    );
    assert_eq!(stale.status, 401);
    // The session opened with the old password ends with the reseal.
    let r = bg.get("/api/v1/auth/whoami");
    assert_eq!(r.status, 401, "{}", r.text);
    c.login("break-glass", &new_password);

    // A client certificate issued to alice logs her in; revoking it ends that.
    c.user(&admin, "alice", &["auditor"]);
    let (csr, key) = c.csr("alice.lab.test", "DNS:alice.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr, "owner": "alice"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let cert = r.json();
    let pem = format!(
        "{}{}",
        cert["pem"].as_str().unwrap(),
        cert["chain_pem"].as_str().unwrap()
    );
    let key_pem = std::fs::read(&key).unwrap();
    let id = cert["id"].as_i64().unwrap();
    let r = admin.post(
        "/api/v1/users/alice/login-certificates",
        &json!({"certificate_id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let alice = c.client_with_cert(pem.as_bytes(), &key_pem);
    let me = alice.get("/api/v1/auth/whoami");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "alice");
    assert_eq!(me.json()["method"], "ClientCertificate");
    assert_eq!(alice.post("/api/v1/users", &json!({})).status, 403);
    assert_eq!(
        admin
            .post(
                &format!("/api/v1/certificates/{id}/revoke"),
                &json!({"reason": "keyCompromise"})
            )
            .status,
        200
    );
    let alice = c.client_with_cert(pem.as_bytes(), &key_pem);
    let r = alice.get("/api/v1/auth/whoami");
    assert_eq!(r.status, 401);
    assert!(r.text.contains("revoked"), "{}", r.text);

    // An API key used, then the log read at debug level: no secret in it.
    let r = admin.post("/api/v1/apikeys", &json!({"label": "probe"}));
    let token = r.json()["token"].as_str().unwrap().to_string();
    admin.with_token(&token).get("/api/v1/auth/whoami");
    let log = c.log_text();
    assert!(
        log.contains("DEBUG") || log.contains("INFO"),
        "the log is empty: {log}"
    );
    let secret_part = token.rsplit('_').next().unwrap();
    for secret in [
        ADMIN_PASSWORD,
        bg_password.as_str(),
        new_password.as_str(),
        token.as_str(),
        secret_part,
        "alice-password-long-enough",
    ] {
        assert!(!log.contains(secret), "a secret reached the control log");
    }
}
