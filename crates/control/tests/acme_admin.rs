#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! ACME from the operator's side, against a real control daemon, on SQLite and on
//! PostgreSQL: external account binding keys made through the API (the HMAC key shown once,
//! never listed, audited or logged), deleted while unbound and refused once bound; accounts
//! and orders written by a stand-in for the front (through the store) and read, paginated
//! and deactivated through the API; and `acme.revoke` jobs queued as the front queues them,
//! carried out by control's job worker as the API would revoke; and the `strongroom acme`
//! commands with their exit codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use strongroom_acme::{b64, Signer};
use strongroom_store::{
    AuthorizationStatus, JobState, NewAcmeAccount, NewAcmeAuthorization, NewAcmeOrder, OrderStatus,
    Store,
};
use strongroom_testkit::stack::{Client, Control, Db};
use strongroom_testkit::step;
use strongroom_types::clock::{Clock, SystemClock};

/// Now: the test stands in for the front, which reads the same clock.
fn now() -> i64 {
    SystemClock.now()
}

fn account(thumbprint: &str, eab_kid: Option<&str>) -> NewAcmeAccount {
    NewAcmeAccount {
        thumbprint: thumbprint.into(),
        jwk: format!(r#"{{"kty":"EC","crv":"P-256","x":"{thumbprint}","y":"secret-looking"}}"#),
        contact: vec!["mailto:ops@lab.test".into()],
        eab_kid: eab_kid.map(str::to_string),
        eab_jws: None,
        created_ip: "192.0.2.7".into(),
    }
}

fn authz(value: &str, wildcard: bool) -> NewAcmeAuthorization {
    NewAcmeAuthorization {
        identifier_type: "dns".into(),
        identifier_value: value.into(),
        wildcard,
        expires_at: now() + 3600,
        challenges: vec![("dns-01".into(), format!("token-{value}"))],
    }
}

fn order(account_id: i64, authorizations: Vec<NewAcmeAuthorization>) -> NewAcmeOrder {
    NewAcmeOrder {
        account_id,
        profile: "tls-server".into(),
        expires_at: now() + 3600,
        not_before: None,
        not_after: None,
        replaces_id: None,
        client_ip: "192.0.2.7".into(),
        authorizations,
    }
}

/// Waits until certificate `id` shows revoked through the API.
fn wait_revoked(c: &Control, admin: &Client, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = admin.get(&format!("/api/v1/certificates/{id}")).json();
        if v["status"] == "revoked" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "certificate {id} not revoked after 20 s: {v}\n{}",
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until a job leaves the queue.
fn wait_job(rt: &tokio::runtime::Runtime, store: &Store, id: i64) -> JobState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = rt.block_on(store.job_state(id)).unwrap();
        if matches!(s, JobState::Done | JobState::Failed) {
            return s;
        }
        assert!(Instant::now() < deadline, "job {id} still {s:?} after 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What an ACME client POSTs to revokeCert: signed with `key`, as account `account` (kid)
/// or with the key itself (jwk).
fn revoke_request(key: &Signer, account: Option<i64>, cert_der: &[u8], reason: u8) -> String {
    let kid = account.map(|a| format!("https://front.lab.test/acme/account/{a}"));
    key.sign(
        "https://front.lab.test/acme/revoke-cert",
        Some("nonce-used-by-the-front"),
        kid.as_deref(),
        Some(&json!({"certificate": b64::encode(cert_der), "reason": reason})),
    )
    .to_string()
}

fn der_of(issued: &Value) -> Vec<u8> {
    der::pem::decode_vec(issued["pem"].as_str().unwrap().as_bytes())
        .unwrap()
        .1
}

/// The P-256 key `openssl req` wrote (PKCS#8 PEM).
fn key_of(path: &std::path::Path) -> Signer {
    let pem = std::fs::read_to_string(path).unwrap();
    Signer::from_pkcs8(&der::pem::decode_vec(pem.as_bytes()).unwrap().1).unwrap()
}

fn eab_keys(c: &Client) -> Vec<Value> {
    let r = c.get("/api/v1/acme/eab-keys");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

fn acme_admin(db: Db) {
    let _step = step("set up");
    let c = Control::start(db);
    let admin = c.admin();
    let operator = c.user(&admin, "olivia", &["ca-operator"]);
    let auditor = c.user(&admin, "dave", &["auditor"]);
    let enroller = c.user(&admin, "erin", &["enroller"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(c.owner_store());

    // An EAB key for tls-server: a kid and 32 random bytes, base64url without padding.
    let _step = step("An EAB key for tls-server: a kid and 32 random bytes, base64url without …");
    let r = operator.post("/api/v1/acme/eab-keys", &json!({"profile": "tls-server"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let made = r.json();
    let kid = made["kid"].as_str().unwrap().to_string();
    let hmac_b64 = made["hmac_key"].as_str().unwrap().to_string();
    assert_eq!(made["profile"], "tls-server");
    assert!(kid.starts_with("eab_") && kid.len() == 20, "{kid}");
    assert!(!hmac_b64.contains(['=', '+', '/']), "{hmac_b64}");
    let hmac = URL_SAFE_NO_PAD.decode(&hmac_b64).unwrap();
    assert_eq!(hmac.len(), 32);
    let stored = rt.block_on(store.eab_key(&kid)).unwrap().unwrap();
    assert_eq!(stored.hmac_key, hmac, "the answer shows the stored key");
    assert_eq!(stored.created_by, "olivia");

    // Refused: a profile that does not exist, an unknown field, the wrong role.
    let _step = step("Refused: a profile that does not exist, an unknown field, the wrong role");
    for body in [
        json!({"profile": "no-such-profile"}),
        json!({"profile": "tls-server", "hmac_key": "chosen-by-me"}),
        json!({}),
    ] {
        let r = operator.post("/api/v1/acme/eab-keys", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
    assert_eq!(
        enroller
            .post("/api/v1/acme/eab-keys", &json!({"profile": "tls-server"}))
            .status,
        403
    );
    assert_eq!(
        auditor
            .post("/api/v1/acme/eab-keys", &json!({"profile": "tls-server"}))
            .status,
        403
    );

    // Listed (the auditor may read) without the key; the key is nowhere else either.
    let _step = step("Listed (the auditor may read) without the key; the key is nowhere else …");
    let listed = eab_keys(&auditor);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kid"], kid.as_str());
    assert_eq!(listed[0]["profile"], "tls-server");
    assert_eq!(listed[0]["account_id"], Value::Null);
    assert_eq!(listed[0]["created_by"], "olivia");
    assert!(listed[0].get("hmac_key").is_none(), "{}", listed[0]);
    let listing = auditor.get("/api/v1/acme/eab-keys").text;
    assert!(!listing.contains(&hmac_b64) && !listing.contains(&hex::encode(&hmac)));
    assert_eq!(enroller.get("/api/v1/acme/eab-keys").status, 403);
    let audit = admin.get("/api/v1/audit?action=acme.eab.create").json();
    let event = &audit["items"][0]["event"];
    assert_eq!(event["target"], format!("acme-eab:{kid}"), "{audit}");
    assert!(event["actor"].as_str().unwrap().starts_with("olivia"));
    let export = admin.get("/api/v1/audit/export").text;
    assert!(!export.contains(&hmac_b64) && !export.contains(&hex::encode(&hmac)));

    let _step = step("Deleted while unbound; a second delete finds nothing");
    let r = operator.call(
        "DELETE",
        &format!("/api/v1/acme/eab-keys/{kid}"),
        None,
        None,
    );
    assert_eq!(r.unwrap().status, 204);
    let r = operator
        .call(
            "DELETE",
            &format!("/api/v1/acme/eab-keys/{kid}"),
            None,
            None,
        )
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(eab_keys(&admin).is_empty());
    assert_eq!(
        admin.get("/api/v1/audit?action=acme.eab.delete").json()["items"][0]["event"]["target"],
        format!("acme-eab:{kid}")
    );

    let _step = step("A key an account used is bound: listed with its account, not deletable");
    let bound_kid = operator
        .post("/api/v1/acme/eab-keys", &json!({"profile": "tls-server"}))
        .json()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let a1 = rt
        .block_on(store.create_acme_account(&account("thumb-one", Some(&bound_kid)), now()))
        .unwrap();
    let a2_key = Signer::generate().unwrap();
    let a2 = rt
        .block_on(store.create_acme_account(
            &NewAcmeAccount {
                jwk: a2_key.jwk().to_value().to_string(),
                ..account("thumb-two", None)
            },
            now(),
        ))
        .unwrap();
    let r = operator
        .call(
            "DELETE",
            &format!("/api/v1/acme/eab-keys/{bound_kid}"),
            None,
            None,
        )
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(eab_keys(&admin)[0]["account_id"], a1.id);

    let _step = step("Accounts: thumbprint, never the JWK; pages of one with a cursor");
    let page = auditor.get("/api/v1/acme/accounts?limit=1").json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let first = &page["items"][0];
    assert_eq!(first["id"], a1.id);
    assert_eq!(first["status"], "valid");
    assert_eq!(first["thumbprint"], "thumb-one");
    assert_eq!(first["eab_kid"], bound_kid.as_str());
    assert_eq!(first["contact"], json!(["mailto:ops@lab.test"]));
    assert_eq!(first["created_ip"], "192.0.2.7");
    assert!(first.get("jwk").is_none() && !page.to_string().contains("secret-looking"));
    let next = page["next"].as_str().unwrap();
    let page2 = auditor
        .get(&format!("/api/v1/acme/accounts?limit=1&cursor={next}"))
        .json();
    assert_eq!(page2["items"][0]["id"], a2.id, "{page2}");
    assert_eq!(page2["next"], Value::Null);
    let one = auditor
        .get(&format!("/api/v1/acme/accounts/{}", a2.id))
        .json();
    assert_eq!(one["thumbprint"], "thumb-two");
    assert_eq!(auditor.get("/api/v1/acme/accounts/999").status, 404);
    assert_eq!(enroller.get("/api/v1/acme/accounts").status, 403);

    let _step = step("Orders: identifiers from the authorizations, wildcards with their `*.`");
    let o1 = rt
        .block_on(store.create_acme_order(
            &order(
                a1.id,
                vec![authz("www.lab.test", false), authz("lab.test", true)],
            ),
            now(),
        ))
        .unwrap();
    let o2 = rt
        .block_on(store.create_acme_order(&order(a2.id, vec![authz("api.lab.test", false)]), now()))
        .unwrap();
    let error = r#"{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no TXT record"}"#;
    assert!(rt
        .block_on(store.set_acme_order_status(
            o2.id,
            &[OrderStatus::Pending],
            OrderStatus::Invalid,
            Some(error)
        ))
        .unwrap());
    let all = auditor.get("/api/v1/acme/orders").json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let mine = auditor
        .get(&format!("/api/v1/acme/orders?account={}", a1.id))
        .json();
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{mine}");
    assert_eq!(items[0]["id"], o1.id);
    assert_eq!(items[0]["account_id"], a1.id);
    assert_eq!(items[0]["profile"], "tls-server");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(
        items[0]["identifiers"],
        json!([{"type": "dns", "value": "www.lab.test"}, {"type": "dns", "value": "*.lab.test"}])
    );
    assert_eq!(items[0]["error"], Value::Null);
    assert_eq!(items[0]["certificate_id"], Value::Null);
    let theirs = auditor
        .get(&format!("/api/v1/acme/orders?account={}", a2.id))
        .json();
    assert_eq!(theirs["items"][0]["status"], "invalid");
    assert_eq!(
        theirs["items"][0]["error"]["type"],
        "urn:ietf:params:acme:error:unauthorized"
    );
    let page = auditor.get("/api/v1/acme/orders?limit=1").json();
    let next = page["next"].as_str().unwrap();
    // A cursor belongs to its filter.
    let moved = auditor.get(&format!(
        "/api/v1/acme/orders?limit=1&account={}&cursor={next}",
        a1.id
    ));
    assert_eq!(moved.status, 400, "{}", moved.text);
    assert_eq!(auditor.get("/api/v1/acme/orders?account=999").status, 404);
    assert_eq!(auditor.get("/api/v1/acme/orders?account=0").status, 400);

    let _step = step("Deactivate: once; the second time is a conflict; auditors may not");
    let path = format!("/api/v1/acme/accounts/{}/deactivate", a1.id);
    assert_eq!(auditor.post(&path, &json!({})).status, 403);
    let r = operator.post(&path, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "deactivated");
    let again = operator.post(&path, &json!({}));
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.content_type, "application/problem+json");
    assert_eq!(
        rt.block_on(store.acme_authorization(o1.authorizations[0]))
            .unwrap()
            .status,
        AuthorizationStatus::Deactivated
    );
    let audit = admin
        .get("/api/v1/audit?action=acme.account.deactivate")
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(
        audit["items"][0]["event"]["target"],
        format!("acme-account:{}", a1.id)
    );

    // acme.revoke, queued as the front queues it (with the client's signed request),
    // carried out by control's worker after it verified that request itself.
    let _step = step("acme.revoke, queued as the front queues it (with the client's signed …");
    let (csr, _) = c.csr("acme.lab.test", "DNS:acme.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let cert_id = r.json()["id"].as_i64().unwrap();
    let cert_der = der_of(&r.json());
    // The account obtained it through an order (control checks that again).
    let mut link = rt
        .block_on(store.create_acme_order(
            &strongroom_store::NewAcmeOrder {
                account_id: a2.id,
                profile: "tls-server".into(),
                expires_at: now() + 3600,
                not_before: None,
                not_after: None,
                replaces_id: None,
                client_ip: "192.0.2.7".into(),
                authorizations: Vec::new(),
            },
            now(),
        ))
        .unwrap();
    assert!(rt
        .block_on(store.set_acme_order_status(
            link.id,
            &[OrderStatus::Pending],
            OrderStatus::Processing,
            None
        ))
        .unwrap());
    assert!(rt
        .block_on(store.finish_acme_order(link.id, cert_id))
        .unwrap());
    link = rt.block_on(store.acme_order(link.id)).unwrap();
    assert_eq!(link.certificate_id, Some(cert_id));
    let payload = json!({"certificate_id": cert_id, "reason": 1, "account_id": a2.id,
        "jws": revoke_request(&a2_key, Some(a2.id), &cert_der, 1)});
    let job = rt
        .block_on(store.enqueue_job("acme.revoke", &payload.to_string(), now(), 3, now()))
        .unwrap();
    let revoked = wait_revoked(&c, &admin, cert_id);
    assert_eq!(
        revoked["revocation"]["reason"], "keyCompromise",
        "{revoked}"
    );
    assert_eq!(
        revoked["revocation"]["revoked_by"],
        format!("acme:{}", a2.id)
    );
    assert_eq!(wait_job(&rt, &store, job), JobState::Done);
    let audit = admin.get("/api/v1/audit?action=certificate.revoke").json();
    let event = &audit["items"][0]["event"];
    assert_eq!(event["actor"], format!("acme:{}", a2.id), "{audit}");
    assert_eq!(event["target"], format!("certificate:{cert_id}"));

    let _step = step("Already revoked: the job is done, nothing changes");
    let again = json!({"certificate_id": cert_id, "reason": 4, "account_id": a2.id,
        "jws": revoke_request(&a2_key, Some(a2.id), &cert_der, 4)});
    let job = rt
        .block_on(store.enqueue_job("acme.revoke", &again.to_string(), now(), 3, now()))
        .unwrap();
    assert_eq!(wait_job(&rt, &store, job), JobState::Done);
    let still = admin.get(&format!("/api/v1/certificates/{cert_id}")).json();
    assert_eq!(still["revocation"]["reason"], "keyCompromise");

    // Jobs whose evidence does not hold are refused at once (one attempt of three) and
    // audited; an unknown kind fails. Each forged job stands for a compromised front, which
    // may insert into jobs: no signed request; a key of its own; the account's valid
    // request for another certificate; a reason the client did not ask for; an account
    // that never had the certificate; removeFromCRL.
    let _step = step("Jobs whose evidence does not hold are refused at once (one attempt of …");
    let (csr, cert2_key) = c.csr("acme2.lab.test", "DNS:acme2.lab.test");
    let issued2 = admin
        .post(
            "/api/v1/certificates",
            &json!({"profile": "tls-server", "csr": csr}),
        )
        .json();
    let cert2 = issued2["id"].as_i64().unwrap();
    let cert2_der = der_of(&issued2);
    let cert2_key = key_of(&cert2_key);
    let stranger = Signer::generate().unwrap();
    let forged = [
        json!({"certificate_id": cert2, "reason": 1, "account_id": null}),
        json!({"certificate_id": cert2, "reason": 1, "account_id": null,
            "jws": revoke_request(&stranger, None, &cert2_der, 1)}),
        json!({"certificate_id": cert2, "reason": 1, "account_id": a2.id,
            "jws": revoke_request(&a2_key, Some(a2.id), &cert_der, 1)}),
        json!({"certificate_id": cert2, "reason": 1, "account_id": null,
            "jws": revoke_request(&cert2_key, None, &cert2_der, 4)}),
        json!({"certificate_id": cert2, "reason": 1, "account_id": a2.id,
            "jws": revoke_request(&a2_key, Some(a2.id), &cert2_der, 1)}),
        json!({"certificate_id": cert2, "reason": 8, "account_id": null,
            "jws": revoke_request(&cert2_key, None, &cert2_der, 8)}),
        json!({"certificate_id": "x", "reason": 1}),
    ];
    let refused_before = admin
        .get("/api/v1/audit?action=job.refused&limit=1000")
        .json()["items"]
        .as_array()
        .unwrap()
        .len();
    // Queued as the front queues them: on PostgreSQL through the front's own role.
    let front_store = rt
        .block_on(Store::connect_without_migrating(&c.front_db_url))
        .unwrap();
    for payload in &forged {
        let job = rt
            .block_on(front_store.enqueue_job("acme.revoke", &payload.to_string(), now(), 3, now()))
            .unwrap();
        // Three attempts allowed, a retry 30 s after a failed one: Failed within
        // wait_job's 20 s means refused at the first attempt.
        assert_eq!(wait_job(&rt, &store, job), JobState::Failed, "{payload}");
    }
    let refused = admin
        .get("/api/v1/audit?action=job.refused&limit=1000")
        .json();
    assert_eq!(
        refused["items"].as_array().unwrap().len() - refused_before,
        forged.len(),
        "{refused}"
    );
    let job = rt
        .block_on(store.enqueue_job("acme.no-such-kind", "{}", now(), 1, now()))
        .unwrap();
    assert_eq!(wait_job(&rt, &store, job), JobState::Failed);
    assert_eq!(
        admin.get(&format!("/api/v1/certificates/{cert2}")).json()["status"],
        "valid"
    );
    assert!(
        c.log_text().contains("unknown job kind"),
        "{}",
        c.log_text()
    );
    // Signed with the certificate's own key, as the client sent it: revoked.
    let payload = json!({"certificate_id": cert2, "reason": 5, "account_id": null,
        "jws": revoke_request(&cert2_key, None, &cert2_der, 5)});
    let job = rt
        .block_on(store.enqueue_job("acme.revoke", &payload.to_string(), now(), 3, now()))
        .unwrap();
    let revoked = wait_revoked(&c, &admin, cert2);
    assert_eq!(revoked["revocation"]["reason"], "cessationOfOperation");
    assert_eq!(revoked["revocation"]["revoked_by"], "acme:certificate-key");
    assert_eq!(wait_job(&rt, &store, job), JobState::Done);

    let _step = step("The same through the CLI, with its exit codes");
    let token = operator.token.clone().unwrap();
    let (code, out, err) = c.cli(
        &token,
        &[
            "acme",
            "eab",
            "create",
            "--profile",
            "tls-server",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("shown once"), "{err}");
    let made: Value = serde_json::from_str(&out).unwrap();
    let cli_kid = made["kid"].as_str().unwrap().to_string();
    let cli_key = made["hmac_key"].as_str().unwrap().to_string();
    assert_eq!(URL_SAFE_NO_PAD.decode(&cli_key).unwrap().len(), 32);
    let (code, out, _) = c.cli(&token, &["acme", "eab", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("KID") && out.contains(&cli_kid) && !out.contains(&cli_key),
        "{out}"
    );
    assert_eq!(c.cli(&token, &["acme", "eab", "delete", &cli_kid]).0, 0);
    assert_eq!(c.cli(&token, &["acme", "eab", "delete", &cli_kid]).0, 4);
    let (code, out, _) = c.cli(&token, &["acme", "accounts", "--output", "json"]);
    assert_eq!(code, 0);
    let accounts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(accounts["items"].as_array().unwrap().len(), 2, "{out}");
    let (code, out, _) = c.cli(&token, &["acme", "orders", "--account", &a1.id.to_string()]);
    assert_eq!(code, 0);
    assert!(out.contains("www.lab.test,*.lab.test"), "{out}");
    assert!(!out.contains("api.lab.test"), "{out}");
    let (code, out, err) = c.cli(&token, &["acme", "deactivate", &a2.id.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("deactivated"), "{out}");
    assert_eq!(
        c.cli(&token, &["acme", "deactivate", &a2.id.to_string()]).0,
        5
    );
    let auditor_token = auditor.token.clone().unwrap();
    assert_eq!(c.cli(&auditor_token, &["acme", "deactivate", "1"]).0, 3);

    let _step = step("No HMAC key in the log at any level; the chain still verifies");
    let log = c.log_text();
    assert!(!log.contains(&hmac_b64) && !log.contains(&hex::encode(&hmac)));
    assert!(!log.contains(&cli_key));
    assert_eq!(admin.get("/api/v1/audit/verify").json()["ok"], true);
    rt.block_on(store.close());
}

#[test]
fn acme_admin_sqlite() {
    acme_admin(Db::Sqlite);
}

#[test]
fn acme_admin_postgres() {
    acme_admin(Db::Postgres);
}
