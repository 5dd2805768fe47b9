//! ACME at the protocol level with a scripted client (our own JWS signer, ureq): the
//! negative cases real clients never send — replayed nonce, wrong `url`, `alg: none` and
//! HS256, oversize JWS, wrong media type, an IP address in a `dns` identifier, a CSR for
//! other names, a wrong challenge answer, a validation target on a forbidden address — and
//! the flows they rarely do: ARI `replaces` (own and foreign certificate), key rollover,
//! revocation with the certificate key and by an account holding authorizations for every
//! name, the paged orders list, account deactivation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::{agent_trusting, ari_cert_id, eventually, http01_server, key_and_csr, Answers, Up};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::Arc;
use strongroom_acme::jws::Signer;
use strongroom_acme::{b64, challenge};
use strongroom_testkit::step;

struct Client {
    agent: ureq::Agent,
    dir: Value,
    base: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn links(&self) -> String {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn problem(&self) -> String {
        self.json()["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:ietf:params:acme:error:")
            .to_string()
    }
}

impl Client {
    fn new(up: &Up) -> Client {
        let agent = agent_trusting(&up.root_pem());
        let base = format!("https://127.0.0.1:{}", up.front_https);
        let mut c = Client {
            agent,
            dir: Value::Null,
            base,
        };
        c.dir = c.get(&up.directory()).json();
        c
    }

    fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut r = r.unwrap();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        Answer {
            status: r.status().as_u16(),
            headers,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, url: &str) -> Answer {
        Client::answer(self.agent.get(url).call())
    }

    fn nonce(&self) -> String {
        let a = Client::answer(
            self.agent
                .head(self.dir["newNonce"].as_str().unwrap())
                .call(),
        );
        a.header("replay-nonce").expect("a nonce")
    }

    fn post_raw(&self, url: &str, body: &[u8], content_type: &str) -> Answer {
        Client::answer(
            self.agent
                .post(url)
                .header("content-type", content_type)
                .send(body),
        )
    }

    fn post(&self, key: &Signer, kid: Option<&str>, url: &str, payload: Option<&Value>) -> Answer {
        let jws = key.sign(url, Some(&self.nonce()), kid, payload);
        self.post_raw(url, jws.to_string().as_bytes(), "application/jose+json")
    }

    /// The http-01 challenge of an authorization.
    fn http01_challenge(&self, key: &Signer, kid: &str, authz_url: &str) -> Value {
        let z = self.post(key, Some(kid), authz_url, None).json();
        z["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "http-01")
            .unwrap()
            .clone()
    }

    fn account(&self, key: &Signer) -> String {
        let a = self.post(
            key,
            None,
            self.dir["newAccount"].as_str().unwrap(),
            Some(&json!({"termsOfServiceAgreed": true})),
        );
        assert!(
            a.status == 201 || a.status == 200,
            "newAccount: {} {}",
            a.status,
            a.body
        );
        a.header("location").unwrap()
    }
}

/// Runs an order for `ips` to `valid` and returns (order URL, certificate PEM).
fn obtain(
    c: &Client,
    key: &Signer,
    kid: &str,
    answers: &Answers,
    csr: &[u8],
    ips: &[&str],
    replaces: Option<&str>,
) -> (String, String) {
    let mut req = json!({"identifiers": ips.iter().map(|i| json!({"type": "ip", "value": i})).collect::<Vec<_>>()});
    if let Some(r) = replaces {
        req["replaces"] = json!(r);
    }
    let o = c.post(
        key,
        Some(kid),
        c.dir["newOrder"].as_str().unwrap(),
        Some(&req),
    );
    assert_eq!(o.status, 201, "newOrder: {}", o.body);
    let order_url = o.header("location").unwrap();
    let thumb = key.jwk().thumbprint();
    for authz in o.json()["authorizations"].as_array().unwrap() {
        let ch = c.http01_challenge(key, kid, authz.as_str().unwrap());
        let token = ch["token"].as_str().unwrap().to_string();
        answers
            .lock()
            .unwrap()
            .push((token.clone(), challenge::key_authorization(&token, &thumb)));
        let r = c.post(
            key,
            Some(kid),
            ch["url"].as_str().unwrap(),
            Some(&json!({})),
        );
        assert_eq!(r.status, 200, "challenge: {}", r.body);
        assert!(r.links().contains("rel=\"up\""), "{:?}", r.headers);
    }
    eventually(20, "order ready", || {
        let s = c.post(key, Some(kid), &order_url, None).json();
        if s["status"] == "ready" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });
    let fin = o.json()["finalize"].as_str().unwrap().to_string();
    let f = c.post(
        key,
        Some(kid),
        &fin,
        Some(&json!({"csr": b64::encode(csr)})),
    );
    assert_eq!(f.status, 200, "finalize: {}", f.body);
    assert_eq!(f.json()["status"], "valid", "{}", f.body);
    let cert_url = f.json()["certificate"].as_str().unwrap().to_string();
    let pem = c.post(key, Some(kid), &cert_url, None);
    assert_eq!(pem.status, 200);
    assert_eq!(
        pem.header("content-type").as_deref(),
        Some("application/pem-certificate-chain")
    );
    assert!(pem.links().contains("rel=\"alternate\""), "{}", pem.links());
    assert_eq!(
        pem.body.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf + issuing CA: {}",
        pem.body
    );
    (order_url, pem.body)
}

#[test]
fn protocol_edges() {
    let _step = step("set up");
    let tmp = tempfile::tempdir().unwrap();
    let up = Up::start(tmp.path(), None);
    let c = Client::new(&up);
    assert!(
        c.dir["renewalInfo"].is_string() && c.dir["meta"]["profiles"]["tls-server"].is_string(),
        "{}",
        c.dir
    );
    assert_eq!(c.dir["meta"]["externalAccountRequired"], false);
    let client_dir = c
        .get(&format!("{}/acme/tls-client/directory", c.base))
        .json();
    assert_eq!(
        client_dir["meta"]["externalAccountRequired"], true,
        "{client_dir}"
    );

    // Accounts: created once, found again, onlyReturnExisting for an unknown key.
    let _step = step("Accounts: created once, found again, onlyReturnExisting for an unknown …");
    let key = Signer::generate().unwrap();
    let kid = c.account(&key);
    assert_eq!(c.account(&key), kid);
    let stranger = Signer::generate().unwrap();
    let a = c.post(
        &stranger,
        None,
        c.dir["newAccount"].as_str().unwrap(),
        Some(&json!({"onlyReturnExisting": true})),
    );
    assert_eq!(
        (a.status, a.problem().as_str()),
        (400, "accountDoesNotExist"),
        "{}",
        a.body
    );
    // EAB is required in the tls-client directory.
    let a = c.post(
        &stranger,
        None,
        client_dir["newAccount"].as_str().unwrap(),
        Some(&json!({"termsOfServiceAgreed": true})),
    );
    assert_eq!(a.problem(), "externalAccountRequired", "{}", a.body);
    // With a binding, the account object shows the JWS the client sent (RFC 8555 §7.1.2,
    // as Pebble does): in the newAccount answer, on POST-as-GET and when found again.
    let home = tmp.path().join("home");
    up.login(&home);
    let (eab_kid, hmac) = up.eab_key(&home, "tls-client");
    let bound = Signer::generate().unwrap();
    let client_new_account = client_dir["newAccount"].as_str().unwrap();
    let eab = strongroom_acme::jws::sign_eab(
        &eab_kid,
        &b64::decode(&hmac, "hmac").unwrap(),
        bound.jwk(),
        client_new_account,
    );
    let a = c.post(
        &bound,
        None,
        client_new_account,
        Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["externalAccountBinding"], eab, "{}", a.body);
    let bound_url = a.header("location").unwrap();
    let got = c.post(&bound, Some(&bound_url), &bound_url, None);
    assert_eq!(got.json()["externalAccountBinding"], eab, "{}", got.body);
    let again = c.post(
        &bound,
        None,
        client_new_account,
        Some(&json!({"onlyReturnExisting": true})),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.json()["externalAccountBinding"],
        eab,
        "{}",
        again.body
    );
    let plain = c.post(&key, Some(&kid), &kid, None).json();
    assert!(plain.get("externalAccountBinding").is_none(), "{plain}");

    let _step = step("Envelope negatives; every answer carries a fresh nonce");
    let new_order = c.dir["newOrder"].as_str().unwrap().to_string();
    let order_req = json!({"identifiers": [{"type": "ip", "value": "127.0.0.1"}]});
    let nonce = c.nonce();
    let first = key.sign(&new_order, Some(&nonce), Some(&kid), Some(&order_req));
    assert_eq!(
        c.post_raw(
            &new_order,
            first.to_string().as_bytes(),
            "application/jose+json"
        )
        .status,
        201
    );
    let replay = c.post_raw(
        &new_order,
        first.to_string().as_bytes(),
        "application/jose+json",
    );
    assert_eq!(
        (replay.status, replay.problem().as_str()),
        (400, "badNonce"),
        "{}",
        replay.body
    );
    assert!(replay.header("replay-nonce").is_some());
    let wrong_url = key.sign(
        &format!("{}/acme/tls-server/new-account", c.base),
        Some(&c.nonce()),
        Some(&kid),
        Some(&order_req),
    );
    let a = c.post_raw(
        &new_order,
        wrong_url.to_string().as_bytes(),
        "application/jose+json",
    );
    assert_eq!(
        (a.status, a.problem().as_str()),
        (403, "unauthorized"),
        "{}",
        a.body
    );
    for alg in ["none", "HS256"] {
        let h = json!({"alg": alg, "url": new_order, "nonce": c.nonce(), "kid": kid});
        let a = c.post_raw(
            &new_order,
            key.sign_with_header(&h, Some(&order_req))
                .to_string()
                .as_bytes(),
            "application/jose+json",
        );
        assert_eq!(a.problem(), "badSignatureAlgorithm", "{alg}: {}", a.body);
        assert!(a.json()["algorithms"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x == "ES256")));
    }
    let huge = json!({"identifiers": [{"type": "dns", "value": "x".repeat(70_000)}]});
    let a = c.post(&key, Some(&kid), &new_order, Some(&huge));
    assert!(
        a.status == 400 || a.status == 413,
        "{} {}",
        a.status,
        a.body
    );
    let a = c.post_raw(
        &new_order,
        key.sign(&new_order, Some(&c.nonce()), Some(&kid), Some(&order_req))
            .to_string()
            .as_bytes(),
        "application/json",
    );
    assert_eq!(a.status, 415, "{}", a.body);
    let a = c.post(
        &key,
        Some(&kid),
        &new_order,
        Some(&json!({"identifiers": [{"type": "dns", "value": "127.0.0.1"}]})),
    );
    assert_eq!(a.problem(), "malformed", "{}", a.body);
    assert!(
        a.json()["detail"].as_str().unwrap().contains("type \"ip\""),
        "{}",
        a.body
    );

    let _step = step("A full order over http-01 for an IP address, served by this test");
    let answers = Arc::new(std::sync::Mutex::new(Vec::new()));
    http01_server("127.0.0.1", up.http01, answers.clone());
    http01_server("127.0.0.2", up.http01, answers.clone());
    let (cert_key, csr) = key_and_csr(tmp.path(), "leaf", &["127.0.0.1"]);
    let (_, other_csr) = key_and_csr(tmp.path(), "other", &["127.0.0.9"]);

    let _step = step("Finalize with a CSR for other names is badCSR (the order stays ready)");
    let o = c.post(&key, Some(&kid), &new_order, Some(&order_req));
    let order_url = o.header("location").unwrap();
    let ch = c.http01_challenge(&key, &kid, o.json()["authorizations"][0].as_str().unwrap());
    let token = ch["token"].as_str().unwrap().to_string();
    answers.lock().unwrap().push((
        token.clone(),
        challenge::key_authorization(&token, &key.jwk().thumbprint()),
    ));
    c.post(
        &key,
        Some(&kid),
        ch["url"].as_str().unwrap(),
        Some(&json!({})),
    );
    eventually(20, "order ready", || {
        let s = c.post(&key, Some(&kid), &order_url, None).json();
        if s["status"] == "ready" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });
    let f = c.post(
        &key,
        Some(&kid),
        o.json()["finalize"].as_str().unwrap(),
        Some(&json!({"csr": b64::encode(&other_csr)})),
    );
    assert_eq!(f.problem(), "badCSR", "{}", f.body);
    assert!(
        f.json()["detail"].as_str().unwrap().contains("127.0.0.9"),
        "{}",
        f.body
    );
    let f = c.post(
        &key,
        Some(&kid),
        o.json()["finalize"].as_str().unwrap(),
        Some(&json!({"csr": b64::encode(&csr)})),
    );
    assert_eq!(f.json()["status"], "valid", "{}", f.body);

    let _step = step("A wrong challenge answer invalidates the authorization and the order");
    let o = c.post(
        &key,
        Some(&kid),
        &new_order,
        Some(&json!({"identifiers": [{"type": "ip", "value": "127.0.0.2"}]})),
    );
    let ch = c.http01_challenge(&key, &kid, o.json()["authorizations"][0].as_str().unwrap());
    answers.lock().unwrap().push((
        ch["token"].as_str().unwrap().to_string(),
        "not-the-key-authorization".into(),
    ));
    c.post(
        &key,
        Some(&kid),
        ch["url"].as_str().unwrap(),
        Some(&json!({})),
    );
    let bad_order = o.header("location").unwrap();
    eventually(20, "order invalid after a wrong answer", || {
        let s = c.post(&key, Some(&kid), &bad_order, None).json();
        if s["status"] == "invalid"
            && s["error"]["type"]
                .as_str()
                .unwrap_or_default()
                .ends_with("incorrectResponse")
        {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });

    // A validation target outside the allowed networks is refused without connecting.
    let _step = step("A validation target outside the allowed networks is refused without …");
    let o = c.post(
        &key,
        Some(&kid),
        &new_order,
        Some(&json!({"identifiers": [{"type": "ip", "value": "10.255.255.1"}]})),
    );
    let ch = c.http01_challenge(&key, &kid, o.json()["authorizations"][0].as_str().unwrap());
    c.post(
        &key,
        Some(&kid),
        ch["url"].as_str().unwrap(),
        Some(&json!({})),
    );
    let ch_url = ch["url"].as_str().unwrap().to_string();
    eventually(20, "forbidden address refused", || {
        let s = c.post(&key, Some(&kid), &ch_url, None).json();
        let detail = s["error"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if s["status"] == "invalid" && detail.contains("refusing to validate against 10.255.255.1")
        {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });

    // A certificate, then ARI: its window, `replaces` by its own account, and by another.
    let _step = step("A certificate, then ARI: its window, `replaces` by its own account, and …");
    let (_, pem) = obtain(&c, &key, &kid, &answers, &csr, &["127.0.0.1"], None);
    let cert_id = ari_cert_id(tmp.path(), &pem);
    let info = c.get(&format!(
        "{}/{cert_id}",
        c.dir["renewalInfo"].as_str().unwrap()
    ));
    assert_eq!(info.status, 200, "{}", info.body);
    assert!(
        info.json()["suggestedWindow"]["start"].as_str().unwrap()
            < info.json()["suggestedWindow"]["end"].as_str().unwrap()
    );
    assert!(info.header("retry-after").is_some());
    let other_key = Signer::generate().unwrap();
    let other_kid = c.account(&other_key);
    let mut foreign = order_req.clone();
    foreign["replaces"] = json!(cert_id);
    let a = c.post(&other_key, Some(&other_kid), &new_order, Some(&foreign));
    assert_eq!(
        (a.status, a.problem().as_str()),
        (403, "unauthorized"),
        "{}",
        a.body
    );
    let (_, renewed) = obtain(
        &c,
        &key,
        &kid,
        &answers,
        &csr,
        &["127.0.0.1"],
        Some(&cert_id),
    );
    let a = c.post(&key, Some(&kid), &new_order, Some(&foreign));
    assert_eq!(a.problem(), "alreadyReplaced", "{}", a.body);

    let _step = step("Revocation signed with the certificate's own key (no account)");
    let cert_key_signer = Signer::from_pkcs8(&cert_key).unwrap();
    let leaf_der = {
        let f = tmp.path().join("renewed.pem");
        std::fs::write(&f, &renewed).unwrap();
        strongroom_testkit::run(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&f),
        )
        .stdout
    };
    let revoke = c.dir["revokeCert"].as_str().unwrap().to_string();
    let body = json!({"certificate": b64::encode(&leaf_der), "reason": 1});
    let a = c.post(&stranger, None, &revoke, Some(&body));
    assert_eq!(a.problem(), "unauthorized", "a stranger's key: {}", a.body);
    let a = c.post(&cert_key_signer, None, &revoke, Some(&body));
    assert_eq!(a.status, 200, "{}", a.body);
    eventually(20, "control carries out the revocation", || {
        let a = c.post(&cert_key_signer, None, &revoke, Some(&body));
        if a.problem() == "alreadyRevoked" {
            Ok(())
        } else {
            Err(a.body)
        }
    });
    let info = c.get(&format!(
        "{}/{}",
        c.dir["renewalInfo"].as_str().unwrap(),
        ari_cert_id(tmp.path(), &renewed)
    ));
    assert_eq!(info.status, 200, "{}", info.body);

    // Revocation by an account that did not obtain the certificate but holds valid
    // authorizations for all of its names (RFC 8555 §7.6): refused before, accepted after.
    let _step = step("Revocation by an account that did not obtain the certificate but holds …");
    let first_der = {
        let f = tmp.path().join("first.pem");
        std::fs::write(&f, &pem).unwrap();
        strongroom_testkit::run(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&f),
        )
        .stdout
    };
    let body = json!({"certificate": b64::encode(&first_der), "reason": 4});
    let a = c.post(&other_key, Some(&other_kid), &revoke, Some(&body));
    assert_eq!(a.problem(), "unauthorized", "{}", a.body);
    let o = c.post(&other_key, Some(&other_kid), &new_order, Some(&order_req));
    let held_order = o.header("location").unwrap();
    let ch = c.http01_challenge(
        &other_key,
        &other_kid,
        o.json()["authorizations"][0].as_str().unwrap(),
    );
    let token = ch["token"].as_str().unwrap().to_string();
    let thumb = other_key.jwk().thumbprint();
    answers
        .lock()
        .unwrap()
        .push((token.clone(), challenge::key_authorization(&token, &thumb)));
    c.post(
        &other_key,
        Some(&other_kid),
        ch["url"].as_str().unwrap(),
        Some(&json!({})),
    );
    eventually(20, "the other account's authorization valid", || {
        let s = c
            .post(&other_key, Some(&other_kid), &held_order, None)
            .json();
        if s["status"] == "ready" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });
    let a = c.post(&other_key, Some(&other_kid), &revoke, Some(&body));
    assert_eq!(a.status, 200, "{}", a.body);
    eventually(20, "control revokes for the authorized account", || {
        let a = c.post(&other_key, Some(&other_kid), &revoke, Some(&body));
        if a.problem() == "alreadyRevoked" {
            Ok(())
        } else {
            Err(a.body)
        }
    });

    let _step = step("Deactivating an authorization closes its order (RFC 8555 §7.1.6)");
    let o = c.post(&key, Some(&kid), &new_order, Some(&order_req));
    let order_url = o.header("location").unwrap();
    let authz = o.json()["authorizations"][0].as_str().unwrap().to_string();
    let a = c.post(
        &key,
        Some(&kid),
        &authz,
        Some(&json!({"status": "deactivated"})),
    );
    assert_eq!(a.json()["status"], "deactivated", "{}", a.body);
    let s = c.post(&key, Some(&kid), &order_url, None).json();
    assert_eq!(s["status"], "invalid", "{s}");
    let a = c.post(&other_key, Some(&other_kid), &authz, None);
    assert_eq!(a.status, 404, "another account's authorization: {}", a.body);

    let _step = step("Key rollover: the new key works, the old one no longer does");
    let new_key = Signer::generate().unwrap();
    let key_change = c.dir["keyChange"].as_str().unwrap().to_string();
    let inner = new_key.sign(
        &key_change,
        None,
        None,
        Some(&json!({"account": kid, "oldKey": key.jwk().to_value()})),
    );
    let a = c.post(&key, Some(&kid), &key_change, Some(&inner));
    assert_eq!(a.status, 200, "key change: {}", a.body);
    assert_eq!(c.post(&new_key, Some(&kid), &kid, None).status, 200);
    assert_ne!(c.post(&key, Some(&kid), &kid, None).status, 200);

    // The orders list is paged, 100 per page, oldest first, with Link rel="next".
    let _step = step("The orders list is paged, 100 per page, oldest first, with Link …");
    let pager = Signer::generate().unwrap();
    let pager_kid = c.account(&pager);
    let mut made = Vec::new();
    for i in 0..101 {
        let req = json!({"identifiers": [{"type": "ip", "value": format!("127.0.1.{i}")}]});
        let o = c.post(&pager, Some(&pager_kid), &new_order, Some(&req));
        assert_eq!(o.status, 201, "order {i}: {}", o.body);
        made.push(o.header("location").unwrap());
    }
    let list_url = c.post(&pager, Some(&pager_kid), &pager_kid, None).json()["orders"]
        .as_str()
        .unwrap()
        .to_string();
    let first = c.post(&pager, Some(&pager_kid), &list_url, None);
    let listed: Vec<String> = serde_json::from_value(first.json()["orders"].clone()).unwrap();
    assert_eq!(listed, made[..100], "{}", first.body);
    let next = first
        .links()
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .map(|l| l.split(['<', '>']).nth(1).unwrap().to_string())
        .expect("a next link");
    let second = c.post(&pager, Some(&pager_kid), &next, None);
    assert_eq!(
        second.json()["orders"],
        json!([made[100]]),
        "{}",
        second.body
    );
    assert!(
        !second.links().contains("rel=\"next\""),
        "{}",
        second.links()
    );
    let bad = c.post(
        &pager,
        Some(&pager_kid),
        &format!("{list_url}?after=-1"),
        None,
    );
    assert_eq!(bad.problem(), "malformed", "{}", bad.body);

    let _step = step("Deactivation: the account is closed for good");
    let a = c.post(
        &new_key,
        Some(&kid),
        &kid,
        Some(&json!({"status": "deactivated"})),
    );
    assert_eq!(a.json()["status"], "deactivated", "{}", a.body);
    let a = c.post(&new_key, Some(&kid), &new_order, Some(&order_req));
    assert_eq!(
        (a.status, a.problem().as_str()),
        (401, "unauthorized"),
        "RFC 8555 §7.3.6: {}",
        a.body
    );
    // A plain GET of a POST-only resource is a problem document too (RFC 8555 §6.7).
    for url in [&kid, &new_order, &key_change_url(&c)] {
        let a = Client::answer(c.agent.get(url.as_str()).call());
        assert_eq!(a.status, 405, "{url}: {}", a.body);
        assert_eq!(a.problem(), "malformed", "{url}: {}", a.body);
        assert_eq!(
            a.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{url}"
        );
        assert_eq!(a.header("allow").as_deref(), Some("POST"), "{url}");
    }
}

fn key_change_url(c: &Client) -> String {
    c.dir["keyChange"].as_str().unwrap().to_string()
}
