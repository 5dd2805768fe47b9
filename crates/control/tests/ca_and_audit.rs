#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Production mode: creating an intermediate CA needs two approvers (the requester never
//! counts), then the signer makes its key in the HSM and the CA is usable at once. Signed
//! audit checkpoints: an export verifies offline with `strongroom audit verify --root`; an
//! edited event is caught even when every later hash was recomputed, and so is a cut.

use serde_json::json;
use std::process::Command;
use strongroom_testkit::stack::{workspace_binary, Control, Db};
use strongroom_types::audit::{event_hash, AuditEvent};

fn verify(c: &Control, file: &std::path::Path, root: &std::path::Path) -> (i32, String) {
    let out = Command::new(workspace_binary("strongroom"))
        .args(["audit", "verify"])
        .arg(file)
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    let _ = c;
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn approved_ca_creation_and_signed_checkpoints() {
    let c = Control::start_with(Db::Sqlite, "production = true\n[audit]\ncheckpoint_ca = \"issuing\"\ncheckpoint_interval_secs = 3600\n");
    let admin = c.admin();
    // Dual control from the first day: the approvers are sponsored by the break-glass
    // officer (the envelope opened at installation), so they may decide the admin's
    // requests; the admin's own creatures may not.
    let envelope = std::fs::read_to_string(&c.break_glass_file).unwrap();
    let officer = c.login("break-glass", envelope.lines().nth(1).unwrap());
    let bob = c.user(&officer, "bob", &["approver"]);
    let carol = c.user(&officer, "carol", &["approver"]);
    let approve = |who: &strongroom_testkit::stack::Client, id: i64| {
        let r = who.post(
            &format!("/api/v1/approvals/{id}/approve"),
            &json!({"comment": "matches the change ticket"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    // A privileged user needs two approvals, even when an admin asks.
    let r = admin.post(
        "/api/v1/users",
        &json!({"username": "olivia", "password": "olivia-password-long-enough", "roles": ["ca-operator"]}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let request = r.json()["approval"].as_i64().unwrap();
    assert_eq!(admin.get("/api/v1/users/olivia").status, 404);
    let shown = admin.get(&format!("/api/v1/approvals/{request}")).json();
    assert!(shown["payload"].get("password_hash").is_none(), "{shown}");
    // A helper the admin creates cannot be the second person.
    let mallory = c.user(&admin, "mallory", &["approver"]);
    let r = mallory.post(
        &format!("/api/v1/approvals/{request}/approve"),
        &json!({"comment": "sure"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("not independent of admin"), "{}", r.text);
    // Every decision says why.
    let r = bob.post(&format!("/api/v1/approvals/{request}/approve"), &json!({}));
    assert_eq!(r.status, 400, "{}", r.text);
    approve(&bob, request);
    let done = approve(&carol, request);
    assert_eq!(done["state"], "approved", "{done}");
    assert_eq!(done["decisions"][1]["comment"], "matches the change ticket");
    let operator = c.login("olivia", "olivia-password-long-enough");
    // Granting a privileged role is filed too.
    let r = admin.send(
        "PATCH",
        "/api/v1/users/mallory",
        &json!({"roles": ["approver", "admin"]}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let grant = r.json()["approval"].as_i64().unwrap();
    assert_eq!(
        admin.get("/api/v1/users/mallory").json()["roles"],
        json!(["approver"])
    );
    // Taking over an independent approver does not make a second person either: the admin
    // resets frank's password, logs in as frank, and is refused.
    c.user(&officer, "frank", &["approver"]);
    let r = admin.send(
        "PATCH",
        "/api/v1/users/frank",
        &json!({"password": "taken-over-by-the-admin"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let frank = c.login("frank", "taken-over-by-the-admin");
    let r = frank.post(
        &format!("/api/v1/approvals/{grant}/approve"),
        &json!({"comment": "sure"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("not independent of admin"), "{}", r.text);

    let body = json!({
        "id": "issuing-2", "parent": "root", "subject": "CN=Strongroom Test Issuing CA 2,O=Strongroom Test",
        "algorithm": "ecdsa-p256", "validity_days": 365, "permitted": ["dns:lab.test", "ip:127.0.0.0/8"],
        "crl_url": "http://127.0.0.1:8080/crl/issuing-2.crl",
    });
    let r = operator.post("/api/v1/cas", &body);
    assert_eq!(r.status, 202, "{}", r.text);
    let approval = r.json()["approval"].as_i64().unwrap();
    assert_eq!(admin.get("/api/v1/cas/issuing-2").status, 404);
    assert_eq!(
        bob.post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &json!({"comment": "checked against the change ticket"})
        )
        .json()["state"],
        "pending"
    );
    let done = carol
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &json!({"comment": "checked against the change ticket"}),
        )
        .json();
    assert_eq!(done["state"], "approved", "{done}");
    assert_eq!(done["result"]["ok"]["id"], "issuing-2", "{done}");
    let tree = admin.get("/api/v1/cas/tree").json();
    let children: Vec<&str> = tree["roots"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["issuing", "issuing-2"]);
    // Usable at once: a profile on it, a certificate from it.
    let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
    profile["name"] = json!("tls-server-2");
    profile["issuer"] = json!("issuing-2");
    let r = operator.send(
        "PUT",
        "/api/v1/profiles/tls-server-2",
        &json!({"profile": profile, "enrollers": ["*"]}),
    );
    // One operator alone cannot change what the CA signs: the profile waits for two.
    assert_eq!(r.status, 202, "{}", r.text);
    let request = r.json()["approval"].as_i64().unwrap();
    assert_eq!(admin.get("/api/v1/profiles/tls-server-2").status, 404);
    approve(&bob, request);
    let done = approve(&carol, request);
    assert_eq!(
        done["result"]["ok"]["profile"]["name"], "tls-server-2",
        "{done}"
    );
    let (csr, _) = c.csr("two.lab.test", "DNS:two.lab.test");
    let r = operator.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server-2", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["issuer"], "issuing-2");
    // Retirement needs approval too, and a CA with profiles cannot retire.
    let r = operator.post("/api/v1/cas/issuing-2/retire", &json!({}));
    assert_eq!(r.status, 202);

    // Checkpoint, export, verify offline.
    let auditor = c.user(&admin, "dave", &["auditor"]);
    let r = auditor.post("/api/v1/audit/checkpoints", &json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    let covered = r.json()["seq"].as_i64().unwrap();
    assert_eq!(
        auditor.post("/api/v1/audit/checkpoints", &json!({})).status,
        201,
        "the audit event of the first checkpoint moved the head"
    );
    let export = auditor.get("/api/v1/audit/export");
    assert_eq!(export.status, 200);
    let dir = c.dir();
    let file = dir.join("audit.ndjson");
    std::fs::write(&file, &export.text).unwrap();
    let root = dir.join("root.pem");
    std::fs::write(&root, strongroom_x509::to_pem("CERTIFICATE", &c.root_der)).unwrap();
    let (code, text) = verify(&c, &file, &root);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("2 signed checkpoints verified"), "{text}");

    // A rewrite: edit event 3 and recompute every later hash, as a database superuser
    // could. The chain links up; the signed checkpoint does not.
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut tail = Vec::new();
    for line in export.text.lines() {
        if line.starts_with("{\"checkpoint\"") {
            tail.push(line.to_string());
        } else {
            events.push(serde_json::from_str(line).unwrap());
        }
    }
    events[2].event.detail = "nothing happened here".into();
    let mut prev = events[1].hash.clone();
    for e in events.iter_mut().skip(2) {
        e.prev_hash = prev.clone();
        e.hash = event_hash(e.hash_rule, &prev, e.seq, e.at, &e.event);
        prev = e.hash.clone();
    }
    let mut rewritten: String = events
        .iter()
        .map(|e| format!("{}\n", serde_json::to_string(e).unwrap()))
        .collect();
    rewritten.push_str(&tail.join("\n"));
    let forged = dir.join("forged.ndjson");
    std::fs::write(&forged, &rewritten).unwrap();
    let (code, text) = verify(&c, &forged, &root);
    assert_eq!(code, 8, "{text}");
    assert!(
        text.contains(&format!("event {covered}")) && text.contains("rewritten"),
        "{text}"
    );
    // A cut: the last events dropped, checkpoints kept.
    let cut: String = export
        .text
        .lines()
        .filter(|l| !l.contains(&format!("\"seq\":{}", covered + 1)))
        .filter(|l| {
            l.starts_with("{\"checkpoint\"")
                || serde_json::from_str::<AuditEvent>(l)
                    .map(|e| e.seq < covered)
                    .unwrap_or(false)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&forged, cut).unwrap();
    let (code, text) = verify(&c, &forged, &root);
    assert_eq!(code, 8, "{text}");
    assert!(text.contains("missing"), "{text}");
    // A checkpoint from another PKI's root does not verify.
    let other = dir.join("other-root.pem");
    std::fs::write(
        &other,
        std::fs::read_to_string(dir.join("policy.toml"))
            .map(|_| strongroom_x509::to_pem("CERTIFICATE", &[0x30, 0x03, 0x02, 0x01, 0x01]))
            .unwrap(),
    )
    .unwrap();
    let (code, _) = verify(&c, &file, &other);
    assert_eq!(code, 8);
}
