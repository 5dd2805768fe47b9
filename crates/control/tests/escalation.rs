#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Escalation paths found in review, each tried as the attacker would (issue 14 §1):
//! an enroller naming `admin` as owner of a client certificate, an unbound certificate
//! logging in through its inventory owner, renewing another user's certificate, and a
//! certificate row inserted with the front's database role. Client-certificate logins come
//! only from control's binding table.

use serde_json::{json, Value};
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_wire::{IssuanceRequest, Request, Response, SubjectKey};

fn chain_pem(cert: &Value) -> String {
    format!(
        "{}{}",
        cert["pem"].as_str().unwrap(),
        cert["chain_pem"].as_str().unwrap()
    )
}

fn whoami_with(
    c: &Control,
    cert_pem: &str,
    key: &std::path::Path,
) -> strongroom_testkit::stack::Reply {
    let key_pem = std::fs::read(key).unwrap();
    c.client_with_cert(cert_pem.as_bytes(), &key_pem)
        .get("/api/v1/auth/whoami")
}

#[test]
fn an_enroller_cannot_become_admin_through_a_client_certificate() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    let body = json!({"profile": admin.get("/api/v1/profiles/tls-client").json()["profile"], "enrollers": ["*"]});
    assert_eq!(
        admin
            .send("PUT", "/api/v1/profiles/tls-client", &body)
            .status,
        200
    );
    let eve = c.user(&admin, "eve", &["enroller"]);

    // The reproduced attack: a client certificate "owned by" admin.
    let (csr, eve_key) = c.csr("eve.lab.test", "DNS:eve.lab.test");
    let r = eve.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr, "names": ["dns:eve.lab.test"], "owner": "admin"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("user:manage"), "{}", r.text);

    // Her own certificate is hers, and an inventory entry logs nobody in.
    let r = eve.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr, "names": ["dns:eve.lab.test"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let eve_cert = r.json();
    assert_eq!(eve_cert["owner"], "eve");
    let r = whoami_with(&c, &chain_pem(&eve_cert), &eve_key);
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("not bound"), "{}", r.text);

    // Even a certificate that admin's own request made, owned by admin, is no login until
    // it is bound.
    let (csr, admin_key) = c.csr("ops.lab.test", "DNS:ops.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-client", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let admin_cert = r.json();
    assert_eq!(admin_cert["owner"], "admin");
    assert_eq!(
        whoami_with(&c, &chain_pem(&admin_cert), &admin_key).status,
        401
    );

    // Renewing admin's certificate (which copies its owner) is not eve's to do.
    let (csr, _) = c.csr("ops.lab.test", "DNS:ops.lab.test");
    let id = admin_cert["id"].as_i64().unwrap();
    let r = eve.post(
        &format!("/api/v1/certificates/{id}/renew"),
        &json!({"csr": csr}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    // She renews her own.
    let (csr, _) = c.csr("eve.lab.test", "DNS:eve.lab.test");
    let eid = eve_cert["id"].as_i64().unwrap();
    let r = eve.post(
        &format!("/api/v1/certificates/{eid}/renew"),
        &json!({"csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);

    // Eve may bind nothing, not even to herself: binding is user administration.
    let r = eve.post(
        "/api/v1/users/admin/login-certificates",
        &json!({"certificate_id": id}),
    );
    assert_eq!(r.status, 403, "{}", r.text);

    // She enrols a login certificate for herself: it logs in as eve, with eve's roles.
    let (csr, key) = c.csr("eve-login.lab.test", "DNS:eve-login.lab.test");
    let r = eve.post("/api/v1/auth/login-certificates", &json!({"csr": csr}));
    assert_eq!(r.status, 201, "{}", r.text);
    let login = r.json();
    assert_eq!(login["owner"], "eve");
    let me = whoami_with(&c, &chain_pem(&login), &key);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "eve");
    assert_eq!(me.json()["roles"], json!(["enroller"]));
    let listed = admin.get("/api/v1/users/eve/login-certificates").json();
    assert_eq!(listed["items"][0]["certificate_id"], login["id"]);

    // An admin binds admin's certificate to admin: now, and only now, it logs in.
    let r = admin.post(
        "/api/v1/users/admin/login-certificates",
        &json!({"certificate_id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let me = whoami_with(&c, &chain_pem(&admin_cert), &admin_key);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "admin");
    // A certificate logs in one user only.
    let r = admin.post(
        "/api/v1/users/eve/login-certificates",
        &json!({"certificate_id": id}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    // Unbinding ends it at once.
    let r = admin.send(
        "DELETE",
        &format!("/api/v1/users/admin/login-certificates/{id}"),
        &json!(null),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        whoami_with(&c, &chain_pem(&admin_cert), &admin_key).status,
        401
    );
    let audit = admin
        .get("/api/v1/audit?action=user.login-certificate.bind")
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

/// psql as the URL's role; returns (success, stderr).
fn psql_as(url: &str, sql: &str) -> (bool, String) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_certificate_row_the_front_inserts_grants_no_login() {
    let c = Control::start(Db::Postgres);
    // A genuine client certificate from the issuing CA (the front may ask the signer for
    // certificates under the profiles it is allowed), recorded by the front's role as
    // owned by admin.
    let (csr_pem, key) = c.csr("mallory.lab.test", "DNS:mallory.lab.test");
    let (_, csr_der) = der::pem::decode_vec(csr_pem.trim().as_bytes()).unwrap();
    let issued = match c
        .signer
        .client()
        .call(&Request::IssueCertificate(IssuanceRequest {
            profile: "tls-client".parse().unwrap(),
            subject_key: SubjectKey::Csr(csr_der),
            names: vec!["dns:mallory.lab.test".parse().unwrap()],
            validity_secs: None,
        }))
        .unwrap()
    {
        Response::Certificate(c) => c,
        other => panic!("{other:?}"),
    };
    let summary = strongroom_x509::CertificateSummary::from_der(&issued.der).unwrap();
    let insert = format!(
        "INSERT INTO certificates (issuer_id, serial, profile, subject_cn, not_before, not_after, \
         fingerprint, der, status, source, owner, created_at) VALUES ('issuing', '{}', 'tls-client', \
         'mallory.lab.test', {}, {}, '{}', decode('{}', 'hex'), 'valid', 'acme', 'admin', 0)",
        summary.serial,
        summary.not_before,
        summary.not_after,
        summary.fingerprint,
        hex::encode(&issued.der)
    );
    let (ok, err) = psql_as(&c.front_db_url, &insert);
    assert!(ok, "the front records what it issues: {err}");
    // The front cannot bind it either.
    let (ok, err) = psql_as(
        &c.front_db_url,
        "INSERT INTO login_certificates (certificate_id, fingerprint, user_id, bound_by, created_at) \
         SELECT id, fingerprint, 1, 'front', 0 FROM certificates WHERE owner = 'admin'",
    );
    assert!(!ok && err.contains("permission denied"), "{err}");
    // Nor will control bind a row the front wrote, even when an admin asks.
    let admin = c.admin();
    let rows = admin.get("/api/v1/certificates?owner=admin").json();
    let id = rows["items"][0]["id"].as_i64().unwrap();
    let r = admin.post(
        "/api/v1/users/admin/login-certificates",
        &json!({"certificate_id": id}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("not issued through this API"), "{}", r.text);
    let pem = format!(
        "{}{}",
        strongroom_x509::to_pem("CERTIFICATE", &issued.der),
        issued
            .chain
            .iter()
            .map(|d| strongroom_x509::to_pem("CERTIFICATE", d))
            .collect::<String>()
    );
    let r = whoami_with(&c, &pem, &key);
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("not bound"), "{}", r.text);
}
