#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The TOTP second factor of logins (issue 19) against a real control daemon and signer, on
//! SQLite and PostgreSQL, with codes computed by `oathtool` as an authenticator app would:
//! enrolment (the otpauth URI once; confirmed by a code; ten recovery codes once); from then
//! on a password alone, a wrong code or a replayed code is refused, a right code and each
//! recovery code work once; a session cannot move an active factor without a current code;
//! an admin can reset it, an enroller cannot; `strongroom login --totp` logs in; the front's
//! database role cannot read the table; no secret or recovery code in the logs.

use serde_json::{json, Value};
use strongroom_store::Store;
use strongroom_testkit::stack::{Client, Control, Db};
use strongroom_testkit::step;

const PASSWORD: &str = "tina-password-long-enough";

fn code(secret: &str, offset: i64) -> String {
    strongroom_testkit::totp_code(secret, offset)
}

fn login(c: &Control, body: Value) -> (u16, Value) {
    let r = c.client().post("/api/v1/auth/login", &body);
    let v = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    (r.status, v)
}

/// Enrols `who`'s factor and confirms it with the current code: (secret, recovery codes).
fn enrol(who: &Client) -> (String, Vec<String>) {
    let r = who.post("/api/v1/auth/totp", &json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    let secret = v["secret"].as_str().unwrap().to_string();
    let uri = v["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Strongroom:tina?secret=")
            && uri.contains(&secret)
            && uri.contains("issuer=Strongroom"),
        "{uri}"
    );
    let r = who.post(
        "/api/v1/auth/totp/confirm",
        &json!({"code": code(&secret, 0)}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

fn totp(db: Db) {
    let _step = step("a user enrols: the otpauth URI once, a wrong code does not confirm");
    let c = Control::start(db);
    let admin = c.admin();
    let tina = c.user(&admin, "tina", &["enroller"]);
    let r = tina.post("/api/v1/auth/totp", &json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    let pending_secret = r.json()["secret"].as_str().unwrap().to_string();
    let wrong = format!(
        "{:06}",
        (code(&pending_secret, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let r = tina.post("/api/v1/auth/totp/confirm", &json!({"code": wrong}));
    assert_eq!(r.status, 401, "{}", r.text);
    // Until it is confirmed, the password alone still logs in.
    let (status, _) = login(&c, json!({"username": "tina", "password": PASSWORD}));
    assert_eq!(status, 201);

    let _step = step("confirmed: ten recovery codes; the password alone is refused from now on");
    let (secret, recovery) = enrol(&tina);
    assert_ne!(secret, pending_secret, "a new enrolment, a new secret");
    assert_eq!(recovery.len(), 10);
    let (status, v) = login(&c, json!({"username": "tina", "password": PASSWORD}));
    assert_eq!(status, 401, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("second factor"),
        "{v}"
    );
    let (status, _) = login(
        &c,
        json!({"username": "tina", "password": PASSWORD, "totp": wrong}),
    );
    assert_eq!(status, 401);
    // The right code with the wrong password is refused too.
    let next = code(&secret, 1);
    let (status, _) = login(
        &c,
        json!({"username": "tina", "password": "not-the-password", "totp": next}),
    );
    assert_eq!(status, 401);

    let _step = step("a right code logs in once; the same code again is a replay");
    let (status, v) = login(
        &c,
        json!({"username": "tina", "password": PASSWORD, "totp": next}),
    );
    assert_eq!(status, 201, "{v}");
    let session = admin.with_token(v["token"].as_str().unwrap());
    let (status, _) = login(
        &c,
        json!({"username": "tina", "password": PASSWORD, "totp": next}),
    );
    assert_eq!(status, 401, "a replayed code");

    let _step = step("each recovery code logs in once");
    let (status, v) = login(
        &c,
        json!({"username": "tina", "password": PASSWORD, "recovery_code": recovery[0].to_uppercase()}),
    );
    assert_eq!(status, 201, "{v}");
    let (status, _) = login(
        &c,
        json!({"username": "tina", "password": PASSWORD, "recovery_code": recovery[0]}),
    );
    assert_eq!(status, 401, "a recovery code works once");

    let _step = step("a session cannot move the factor without a current code; an admin resets it");
    let r = session.post("/api/v1/auth/totp", &json!({}));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = session.send("DELETE", "/api/v1/auth/totp", &json!({"code": "000000"}));
    assert_eq!(r.status, 401, "{}", r.text);
    let erin = c.user(&admin, "erin", &["enroller"]);
    let r = erin
        .call("DELETE", "/api/v1/users/tina/totp", None, None)
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text);
    let r = admin
        .call("DELETE", "/api/v1/users/tina/totp", None, None)
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let (status, v) = login(&c, json!({"username": "tina", "password": PASSWORD}));
    assert_eq!(status, 201, "reset: the password alone again: {v}");
    let tina_token = v["token"].as_str().unwrap().to_string();

    let _step = step("strongroom totp enrol / confirm, then strongroom login --totp");
    let (exit, out, err) = c.cli(&tina_token, &["totp", "enrol"]);
    assert_eq!(exit, 0, "{err}");
    assert!(out.starts_with("otpauth://totp/Strongroom:tina?"), "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret "))
        .unwrap()
        .to_string();
    let (exit, out, err) = c.cli(&tina_token, &["totp", "confirm", &code(&secret, 0)]);
    assert_eq!(exit, 0, "{err}");
    assert_eq!(out.lines().count(), 10, "ten recovery codes: {out}");
    let (exit, _, _) = c.cli(&tina_token, &["totp", "reset", "erin"]);
    assert_eq!(exit, 3, "an enroller resets nobody's factor");
    let pw_file = c.dir().join("tina.pw");
    std::fs::write(&pw_file, PASSWORD).unwrap();
    let pw = pw_file.to_str().unwrap();
    let (exit, _, err) = c.cli("", &["login", "--user", "tina", "--password-file", pw]);
    assert_ne!(exit, 0, "no code: {err}");
    assert!(err.contains("second factor"), "{err}");
    let next = code(&secret, 1);
    let (exit, _, err) = c.cli(
        "",
        &[
            "login",
            "--user",
            "tina",
            "--password-file",
            pw,
            "--totp",
            &next,
        ],
    );
    assert_eq!(exit, 0, "{err}");

    let _step = step("what is stored and logged: sealed secrets, no codes");
    if db == Db::Postgres {
        // The front's role has no right on the table.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let front = rt
            .block_on(Store::connect_without_migrating(&c.front_db_url))
            .unwrap();
        let tina_id = admin.get("/api/v1/users/tina").json()["id"]
            .as_i64()
            .unwrap();
        let read = rt.block_on(front.totp_of(tina_id));
        assert!(read.is_err(), "the front read user_totp: {read:?}");
    }
    let log = std::fs::read_to_string(&c.log).unwrap_or_default();
    assert!(
        !log.contains(&secret),
        "the TOTP secret is in control's log"
    );
    for r in &recovery {
        assert!(
            !log.contains(r.as_str()),
            "a recovery code is in control's log"
        );
    }
    let audit = admin.get("/api/v1/audit?action=auth.totp.confirm");
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(audit.text.contains("auth.totp.confirm"), "{}", audit.text);
}

#[test]
fn totp_sqlite() {
    totp(Db::Sqlite);
}

#[test]
fn totp_postgres() {
    totp(Db::Postgres);
}
