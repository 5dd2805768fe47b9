#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The administrators' day against a real control daemon, a real signer and SoftHSM2, on
//! SQLite and on PostgreSQL: users and roles, API keys, issuance from an openssl CSR
//! (verified with `openssl verify`), search with cursors, download, renew, revoke, bulk
//! revoke, two-person approval, audit verification.

use serde_json::json;
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

fn lifecycle(db: Db) {
    let _step = step("set up");
    let c = Control::start(db);
    let admin = c.admin();

    let _step = step("CAs mirrored from the signer; profiles imported from the policy file");
    let cas = admin.get("/api/v1/cas").json();
    assert_eq!(cas["items"].as_array().unwrap().len(), 2, "{cas}");
    let tree = admin.get("/api/v1/cas/tree").json();
    assert_eq!(tree["roots"][0]["id"], "root");
    assert_eq!(tree["roots"][0]["children"][0]["id"], "issuing");
    let profiles = admin.get("/api/v1/profiles").json();
    assert_eq!(profiles["items"].as_array().unwrap().len(), 2);

    let _step = step("Roles");
    let operator = c.user(&admin, "olivia", &["ca-operator"]);
    let approver1 = c.user(&admin, "bob", &["approver"]);
    let approver2 = c.user(&admin, "carol", &["approver"]);
    let auditor = c.user(&admin, "dave", &["auditor"]);
    let enroller = c.user(&admin, "erin", &["enroller"]);

    let _step = step("Issue from a CSR");
    let (csr, _key) = c.csr("web.lab.test", "DNS:web.lab.test,DNS:www.lab.test");
    // Naming someone else as owner is user administration (user:manage): an operator may
    // not, an admin may.
    let body = json!({"profile": "tls-server", "csr": csr, "owner": "web-team", "team": "platform", "tags": ["env:prod"]});
    let r = operator.post("/api/v1/certificates", &body);
    assert_eq!(r.status, 403, "{}", r.text);
    let r = admin.post("/api/v1/certificates", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let cert = r.json();
    let id = cert["id"].as_i64().unwrap();
    assert_eq!(cert["source"], "api");
    assert_eq!(
        cert["names"],
        json!(["dns:web.lab.test", "dns:www.lab.test"])
    );
    let pem_path = c.dir().join("web.pem");
    std::fs::write(&pem_path, cert["pem"].as_str().unwrap()).unwrap();
    let root_path = c.dir().join("root.pem");
    std::fs::write(
        &root_path,
        strongroom_x509::to_pem("CERTIFICATE", &c.root_der),
    )
    .unwrap();
    let chain_path = c.dir().join("chain.pem");
    std::fs::write(&chain_path, cert["chain_pem"].as_str().unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile"])
        .arg(&root_path)
        .arg("-untrusted")
        .arg(&chain_path)
        .arg(&pem_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let _step = step("Download: PEM, DER, chain");
    let d = auditor.get(&format!("/api/v1/certificates/{id}/download?format=der"));
    assert_eq!(d.status, 200);
    assert_eq!(d.content_type, "application/pkix-cert");
    assert_eq!(d.bytes[0], 0x30);
    let chain = auditor.get(&format!("/api/v1/certificates/{id}/download?format=chain"));
    assert_eq!(
        chain.text.matches("BEGIN CERTIFICATE").count(),
        3,
        "{}",
        chain.text
    );

    let _step = step("The enroller may use tls-server (enrollers = *), but not revoke");
    let (csr2, _) = c.csr("api.lab.test", "DNS:api.lab.test");
    let r = enroller.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr2, "tags": ["env:dev"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id2 = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["owner"], "erin");
    let r = enroller.post(
        &format!("/api/v1/certificates/{id2}/revoke"),
        &json!({"reason": "keyCompromise"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);

    // Policy is enforced by the signer too: a name outside the CA's constraints.
    let _step = step("Policy is enforced by the signer too: a name outside the CA's …");
    let (bad, _) = c.csr("evil.example.com", "DNS:evil.example.com");
    let r = operator.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": bad}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");

    let _step = step("Search and cursors");
    for i in 0..3 {
        let (csr, _) = c.csr(&format!("n{i}.lab.test"), &format!("DNS:n{i}.lab.test"));
        let r = operator.post(
            "/api/v1/certificates",
            &json!({"profile": "tls-server", "csr": csr, "tags": ["batch"]}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/certificates?tag=batch&limit=2".to_string();
    loop {
        let page = auditor.get(&path).json();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/certificates?tag=batch&limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    let by_name = auditor
        .get("/api/v1/certificates?name=dns:www.lab.test")
        .json();
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    let expiring = auditor
        .get("/api/v1/certificates?expiring_within_days=365&status=valid")
        .json();
    // The five issued here, and control's own listener certificates (recorded at start:
    // the one for its HSM key and the standby one for a key in memory).
    let owners: Vec<&str> = expiring["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["owner"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(owners.len(), 7, "{expiring}");
    assert_eq!(
        owners.iter().filter(|o| **o == "listener:control").count(),
        2,
        "{owners:?}"
    );

    let _step = step("Renew, then revoke the old one");
    let (csr3, _) = c.csr("web.lab.test", "DNS:web.lab.test,DNS:www.lab.test");
    let r = operator.post(
        &format!("/api/v1/certificates/{id}/renew"),
        &json!({"csr": csr3}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let renewed = r.json();
    assert_eq!(renewed["replaces"], id);
    assert_eq!(renewed["owner"], "web-team");
    let r = operator.post(
        &format!("/api/v1/certificates/{id}/revoke"),
        &json!({"reason": "superseded"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "revoked");
    assert_eq!(r.json()["revocation"]["reason"], "superseded");
    let again = operator.post(
        &format!("/api/v1/certificates/{id}/revoke"),
        &json!({"reason": "superseded"}),
    );
    assert_eq!(again.status, 409);

    let _step = step("Bulk revoke reports each id");
    let r = operator.post(
        "/api/v1/certificates/revoke",
        &json!({"ids": [id, id2, 999_999], "reason": "cessationOfOperation"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let bulk = r.json();
    assert_eq!(bulk["revoked"], 1);
    assert_eq!(bulk["failed"], 2);
    assert_eq!(bulk["results"][0]["outcome"], "conflict");
    assert_eq!(bulk["results"][2]["outcome"], "not-found");

    let _step = step("The signer's CRL lists both revoked serials");
    let crl = match c
        .signer
        .client()
        .call(&strongroom_wire::Request::IssueCrl {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        strongroom_wire::Response::Crl { der, .. } => der,
        other => panic!("{other:?}"),
    };
    let crl_path = c.dir().join("issuing.crl");
    std::fs::write(&crl_path, &crl).unwrap();
    let text = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&crl_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_ascii_uppercase();
    for cid in [id, id2] {
        let serial = admin.get(&format!("/api/v1/certificates/{cid}")).json()["serial"]
            .as_str()
            .unwrap()
            .to_ascii_uppercase();
        assert!(
            text.contains(&serial.trim_start_matches('0').to_string()) || text.contains(&serial),
            "serial {serial} not on the CRL:\n{text}"
        );
    }

    let _step = step("Two-person integrity: a profile needing two approvals");
    let mut profile = admin.get("/api/v1/profiles/tls-client").json();
    profile["approvals_required"] = json!(2);
    let body = json!({"profile": profile["profile"], "approvals_required": 2, "enrollers": ["*"]});
    let r = operator.send("PUT", "/api/v1/profiles/tls-client", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    let (csr4, _) = c.csr("bob.lab.test", "DNS:bob.lab.test");
    let r = operator.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr4}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let approval = r.json()["approval"].as_i64().unwrap();
    // The requester cannot approve (olivia lacks approval:decide; an admin requester is
    // refused by the store's rule, tested below).
    assert_eq!(
        operator
            .post(
                &format!("/api/v1/approvals/{approval}/approve"),
                &json!({"comment": "checked against the change ticket"})
            )
            .status,
        403
    );
    let r = approver1.post(
        &format!("/api/v1/approvals/{approval}/approve"),
        &json!({"comment": "checked against the change ticket"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "pending");
    let again = approver1.post(
        &format!("/api/v1/approvals/{approval}/approve"),
        &json!({"comment": "checked against the change ticket"}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    let r = approver2.post(
        &format!("/api/v1/approvals/{approval}/approve"),
        &json!({"comment": "checked against the change ticket"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let done = r.json();
    assert_eq!(done["state"], "approved");
    let issued = done["result"]["ok"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{done}"));
    let issued = admin.get(&format!("/api/v1/certificates/{issued}")).json();
    assert_eq!(issued["owner"], "olivia");
    assert_eq!(issued["profile"], "tls-client");
    // An admin who files a request cannot approve it either.
    let (csr5, _) = c.csr("x.lab.test", "DNS:x.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr5}),
    );
    assert_eq!(r.status, 202);
    let own = r.json()["approval"].as_i64().unwrap();
    let r = admin.post(
        &format!("/api/v1/approvals/{own}/approve"),
        &json!({"comment": "checked against the change ticket"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("requester"), "{}", r.text);
    // Nor can an approver the admin created: they are the admin's creatures.
    let r = approver1.post(
        &format!("/api/v1/approvals/{own}/reject"),
        &json!({"comment": "checked against the change ticket"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("not independent of admin"), "{}", r.text);

    let _step = step("API keys: shown once, scoped, revocable without restart");
    let r = operator.post(
        "/api/v1/apikeys",
        &json!({"label": "ci", "roles": ["ca-operator"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json()["token"].as_str().unwrap().to_string();
    let key_id = r.json()["key_id"].as_str().unwrap().to_string();
    let ci = operator.with_token(&token);
    assert_eq!(ci.get("/api/v1/auth/whoami").json()["username"], "olivia");
    let r = operator.post(
        "/api/v1/apikeys",
        &json!({"label": "too much", "roles": ["admin"]}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        operator
            .call("DELETE", &format!("/api/v1/apikeys/{key_id}"), None, None)
            .unwrap()
            .status,
        204
    );
    assert_eq!(ci.get("/api/v1/auth/whoami").status, 401);
    let listed = admin.get("/api/v1/apikeys?all=true").json();
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("secret_hash").is_none() && k.get("token").is_none()));

    let _step = step("Disabling a user stops their session at once");
    let r = admin.send("PATCH", "/api/v1/users/erin", &json!({"disabled": true}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(enroller.get("/api/v1/auth/whoami").status, 401);
    // The last admin cannot be disabled.
    let r = admin.send("PATCH", "/api/v1/users/admin", &json!({"disabled": true}));
    assert_eq!(r.status, 409, "{}", r.text);

    // Everything the signer issued above (seven certificates through the API and control's
    // listener certificate) is already in the inventory: a reconciliation of the whole
    // journal, as the control role on PostgreSQL, records nothing. An auditor may not run it.
    let _step = step("Everything the signer issued above (seven certificates through the API …");
    let r = operator.post("/api/v1/system/reconcile", &json!({"grace_secs": 0}));
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json();
    assert_eq!(report["recorded"], json!([]), "{report}");
    assert!(report["compared"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!(
        auditor.post("/api/v1/system/reconcile", &json!({})).status,
        403
    );

    // Audit: every change above is an event, the chain verifies, denials are recorded.
    let _step = step("Audit: every change above is an event, the chain verifies, denials are …");
    let v = auditor.get("/api/v1/audit/verify").json();
    assert_eq!(v["ok"], true, "{v}");
    let denied = auditor.get("/api/v1/audit?action=permission.denied").json();
    assert!(!denied["items"].as_array().unwrap().is_empty());
    let revokes = auditor
        .get("/api/v1/audit?action=certificate.revoke")
        .json();
    assert_eq!(revokes["items"].as_array().unwrap().len(), 2, "{revokes}");
    assert_eq!(operator.get("/api/v1/audit").status, 403);

    let _step = step("Metrics for a scraper with metrics:read");
    let m = auditor.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.text
            .contains("strongroom_control_certificates_issued_total 7"),
        "{}",
        m.text
    );
}

#[test]
fn lifecycle_on_sqlite() {
    lifecycle(Db::Sqlite);
}

#[test]
fn lifecycle_on_postgres() {
    lifecycle(Db::Postgres);
}
