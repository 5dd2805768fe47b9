#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! EST HTTP Basic users through control, against a real control daemon, on SQLite and on
//! PostgreSQL: made for a label by an admin or CA operator (an enroller, who may enrol
//! only under some profiles, and an auditor are refused 403, the enroller's attempts
//! audited as denials); a drawn password — 24 base64url characters — shown once, a given
//! one held to the password rules; stored as an argon2id hash that the front's lookup
//! (through its own role) verifies with `strongroom_httpd::password`; listed without any
//! password or hash; locked by the front's failure count and unlocked here; deleted; and
//! no password in any answer but the one that makes it, any audit event or log file. Then
//! the same through `strongroom est user`, with its exit codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;
use strongroom_httpd::password::verify_password;
use strongroom_store::Store;
use strongroom_testkit::stack::{Client, Control, Db};
use strongroom_testkit::step;
use strongroom_types::clock::{Clock, SystemClock};

const PATH: &str = "/api/v1/est/users";

fn now() -> i64 {
    SystemClock.now()
}

/// Makes a user; returns the answer.
fn create(who: &Client, body: &Value) -> Value {
    let r = who.post(PATH, body);
    assert_eq!(r.status, 201, "{body}: {}", r.text);
    r.json()
}

/// `/api/v1/est/users/{label}/{username}` with the username percent-encoded.
fn user_path(label: &str, username: &str) -> String {
    let encoded: String = username
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{PATH}/{label}/{encoded}")
}

fn delete(who: &Client, label: &str, username: &str) -> u16 {
    who.call("DELETE", &user_path(label, username), None, None)
        .unwrap()
        .status
}

fn unlock(who: &Client, label: &str, username: &str) -> (u16, Value) {
    let r = who
        .call(
            "POST",
            &format!("{}/unlock", user_path(label, username)),
            None,
            None,
        )
        .unwrap();
    let v = if r.status == 200 {
        r.json()
    } else {
        Value::Null
    };
    (r.status, v)
}

fn listed(who: &Client, query: &str) -> Vec<String> {
    let r = who.get(&format!("{PATH}{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["label"].as_str().unwrap(),
                i["username"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every `*.log` file under `dir`, recursively.
fn log_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            log_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "log") {
            found.push(path);
        }
    }
}

/// Audit events of one action, newest first.
fn audited(admin: &Client, action: &str) -> Vec<Value> {
    admin.get(&format!("/api/v1/audit?action={action}")).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event"].clone())
        .collect()
}

fn est_users(db: Db) {
    let _step = step("set up: an operator, an enroller, an auditor; the front's store");
    let c = Control::start(db);
    let admin = c.admin();
    let operator = c.user(&admin, "olivia", &["ca-operator"]);
    let erin = c.user(&admin, "erin", &["enroller"]);
    let auditor = c.user(&admin, "dave", &["auditor"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let front = rt
        .block_on(Store::connect_without_migrating(&c.front_db_url))
        .unwrap();
    let mut secrets: Vec<String> = Vec::new();

    let _step = step("the operator makes one without a password: 24 base64url characters, once");
    let before = now();
    let made = create(
        &operator,
        &json!({"label": "default", "username": "router-1"}),
    );
    let password = made["password"].as_str().unwrap().to_string();
    secrets.push(password.clone());
    assert_eq!(password.len(), 24, "{password}");
    assert!(!password.contains(['=', '+', '/', ':']), "{password}");
    assert_eq!(URL_SAFE_NO_PAD.decode(&password).unwrap().len(), 18);
    let user = &made["user"];
    assert_eq!(user["label"], "default");
    assert_eq!(user["username"], "router-1");
    assert_eq!(user["created_by"], "olivia");
    assert_eq!(
        (user["failures"].clone(), user["locked"].clone()),
        (json!(0), json!(false))
    );
    assert!((before..=now()).contains(&user["created_at"].as_i64().unwrap()));
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("password") || k.contains("hash")),
        "{user}"
    );
    // Another user, another password.
    let second = create(
        &operator,
        &json!({"label": "default", "username": "router-2"}),
    );
    secrets.push(second["password"].as_str().unwrap().to_string());
    assert_ne!(second["password"], made["password"]);

    let _step = step("the front, through its own role, verifies the password shown");
    let cred = rt
        .block_on(front.est_credential("default", "router-1"))
        .unwrap()
        .unwrap();
    assert_eq!(cred.id, user["id"].as_i64().unwrap());
    assert!(cred.password_hash.starts_with("$argon2id$"));
    assert!(verify_password(&password, &cred.password_hash));
    assert!(!verify_password(
        second["password"].as_str().unwrap(),
        &cred.password_hash
    ));
    assert!(!verify_password(
        &format!("{password} "),
        &cred.password_hash
    ));

    let _step = step("a given password: held to the rules, never answered back");
    let given = "a given password, long enough";
    secrets.push(given.to_string());
    let r = create(
        &admin,
        &json!({"label": "branch-7", "username": "Dev!ce#42", "password": given}),
    );
    assert!(
        r.get("password").is_none(),
        "a given password was answered: {r}"
    );
    assert_eq!(r["user"]["created_by"], "admin");
    let cred = rt
        .block_on(front.est_credential("branch-7", "Dev!ce#42"))
        .unwrap()
        .unwrap();
    assert!(verify_password(given, &cred.password_hash));
    // A username with '/' and '%', percent-encoded in the path later on.
    let odd = create(
        &operator,
        &json!({"label": "branch-7", "username": "a/b%c"}),
    );
    secrets.push(odd["password"].as_str().unwrap().to_string());

    let _step = step("refused: bad names, weak or unsendable passwords, bad bodies (400)");
    for body in [
        json!({"label": "Default", "username": "u"}),
        json!({"label": "a_b", "username": "u"}),
        json!({"label": "", "username": "u"}),
        json!({"label": "l".repeat(65), "username": "u"}),
        json!({"label": "default", "username": "a:b"}),
        json!({"label": "default", "username": "a b"}),
        json!({"label": "default", "username": ""}),
        json!({"label": "default", "username": "naïve"}),
        json!({"label": "default", "username": "u".repeat(129)}),
        json!({"label": "default", "username": "u", "password": "too-short"}),
        json!({"label": "default", "username": "u", "password": "x".repeat(1025)}),
        json!({"label": "default", "username": "u", "password": "long enough\nbut a newline"}),
        json!({"label": "default", "username": "u", "password": 123456789012345u64}),
        json!({"label": "default", "username": "u", "password_hash": "$argon2id$x"}),
        json!({"label": "default"}),
        json!({}),
    ] {
        let r = operator.post(PATH, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
    assert!(!listed(&admin, "").iter().any(|n| n.ends_with("/u")));

    let _step = step("refused: the same user twice (409)");
    let r = operator.post(PATH, &json!({"label": "default", "username": "router-1"}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("router-1"), "{}", r.text);

    let _step = step("refused: an enroller (403, audited) and an auditor (403)");
    let r = erin.post(PATH, &json!({"label": "default", "username": "erins"}));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("admin or CA operator"), "{}", r.text);
    let denied = audited(&admin, "est.user.create");
    let event = denied
        .iter()
        .find(|e| e["outcome"] == "denied")
        .unwrap_or_else(|| panic!("no denial audited: {denied:?}"));
    assert_eq!(event["target"], "est-user:default/erins");
    assert!(event["actor"].as_str().unwrap().starts_with("erin"));
    assert_eq!(erin.get(PATH).status, 403);
    assert_eq!(delete(&erin, "default", "router-2"), 403);
    assert_eq!(unlock(&erin, "default", "router-2").0, 403);
    for action in ["est.user.delete", "est.user.unlock"] {
        assert!(
            audited(&admin, action)
                .iter()
                .any(|e| e["outcome"] == "denied"),
            "{action}"
        );
    }
    assert_eq!(
        auditor
            .post(PATH, &json!({"label": "default", "username": "dave"}))
            .status,
        403
    );
    assert_eq!(auditor.get(PATH).status, 403);
    assert_eq!(delete(&auditor, "default", "router-2"), 403);

    let _step = step("listing: by label then username, never a password or hash");
    let r = admin.get(PATH);
    assert_eq!(r.status, 200);
    for s in &secrets {
        assert!(!r.text.contains(s.as_str()), "a listing shows a password");
    }
    assert!(
        !r.text.contains("argon2"),
        "a listing shows a hash: {}",
        r.text
    );
    assert_eq!(
        listed(&operator, ""),
        [
            "branch-7/Dev!ce#42",
            "branch-7/a/b%c",
            "default/router-1",
            "default/router-2"
        ]
    );
    assert_eq!(
        listed(&operator, "?label=default"),
        ["default/router-1", "default/router-2"]
    );
    assert!(listed(&operator, "?label=nowhere").is_empty());
    assert_eq!(admin.get(&format!("{PATH}?label=Bad%20Label")).status, 400);
    assert_eq!(admin.get(&format!("{PATH}?profile=x")).status, 400);

    let _step = step("the front locks router-1 after three wrong passwords; control unlocks it");
    let id = user["id"].as_i64().unwrap();
    let t = now();
    for _ in 0..2 {
        assert_eq!(
            rt.block_on(front.est_login_failed(id, t, 3, 600)).unwrap(),
            None
        );
    }
    assert_eq!(
        rt.block_on(front.est_login_failed(id, t, 3, 600)).unwrap(),
        Some(t + 600)
    );
    let r = admin.get(&format!("{PATH}?label=default"));
    let row = r.json()["items"][0].clone();
    assert_eq!(row["username"], "router-1");
    assert_eq!(row["locked"], true);
    assert_eq!(row["locked_until"], t + 600);
    // One failure on router-2, no lock.
    rt.block_on(front.est_login_failed(second["user"]["id"].as_i64().unwrap(), t, 3, 600))
        .unwrap();
    let (status, v) = unlock(&operator, "default", "router-1");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["user"]["locked"], false);
    assert_eq!(v["user"]["locked_until"], Value::Null);
    assert_eq!(v["user"]["failures"], 0);
    let (status, v) = unlock(&operator, "default", "router-2");
    assert_eq!((status, v["user"]["failures"].clone()), (200, json!(0)));
    assert_eq!(
        rt.block_on(front.est_credential("default", "router-1"))
            .unwrap()
            .unwrap()
            .locked_until,
        None
    );
    assert_eq!(unlock(&operator, "default", "nobody").0, 404);
    assert_eq!(unlock(&operator, "Bad_Label", "router-1").0, 400);
    assert_eq!(unlock(&operator, "default", "a:b").0, 400);
    let unlocks = audited(&admin, "est.user.unlock");
    let ok: Vec<&Value> = unlocks.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 2, "{unlocks:?}");
    assert_eq!(ok[1]["target"], "est-user:default/router-1");
    assert_eq!(
        ok[1]["detail"],
        format!("locked until {}; 0 failures cleared", t + 600)
    );
    assert_eq!(ok[0]["detail"], "not locked; 1 failures cleared");

    let _step = step("deleting: once; the front no longer finds it");
    assert_eq!(delete(&operator, "default", "router-2"), 204);
    assert_eq!(delete(&operator, "default", "router-2"), 404);
    assert_eq!(delete(&operator, "branch-7", "a/b%c"), 204);
    assert_eq!(delete(&operator, "Bad_Label", "x"), 400);
    assert!(rt
        .block_on(front.est_credential("default", "router-2"))
        .unwrap()
        .is_none());
    assert_eq!(
        listed(&admin, ""),
        ["branch-7/Dev!ce#42", "default/router-1"]
    );

    let _step = step("the audit log names the users, never a password");
    let creates = audited(&admin, "est.user.create");
    let ok: Vec<&Value> = creates.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 4, "{creates:?}");
    assert!(ok.iter().any(|e| e["target"] == "est-user:default/router-1"
        && e["detail"] == "password drawn by control"
        && e["actor"].as_str().unwrap().starts_with("olivia")));
    assert!(ok
        .iter()
        .any(|e| e["target"] == "est-user:branch-7/Dev!ce#42" && e["detail"] == "password given"));
    let deletes = audited(&admin, "est.user.delete");
    assert!(deletes
        .iter()
        .any(|e| e["outcome"] == "ok" && e["target"] == "est-user:branch-7/a/b%c"));

    let _step = step("the same through the CLI, with its exit codes");
    let token = operator.token.clone().unwrap();
    let (code, out, err) = c.cli(
        &token,
        &[
            "est",
            "user",
            "create",
            "--label",
            "default",
            "--username",
            "cli-1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("shown once"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let cli_password = v["password"].as_str().unwrap().to_string();
    secrets.push(cli_password.clone());
    assert!(!err.contains(&cli_password), "the password went to stderr");
    assert_eq!(cli_password.len(), 24);
    // Table output shows the drawn password too (that is what create is for).
    let (code, out, _) = c.cli(
        &token,
        &[
            "est",
            "user",
            "create",
            "--label",
            "default",
            "--username",
            "cli-2",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let table_password = out
        .lines()
        .find_map(|l| l.strip_prefix("password"))
        .unwrap_or_else(|| panic!("no password line: {out}"))
        .trim()
        .to_string();
    assert_eq!(table_password.len(), 24, "{out}");
    assert!(out.contains("cli-2"), "{out}");
    secrets.push(table_password.clone());
    let cred = rt
        .block_on(front.est_credential("default", "cli-2"))
        .unwrap()
        .unwrap();
    assert!(verify_password(&table_password, &cred.password_hash));
    // From a file: its first line; nothing printed of it, no reminder.
    let file = c.dir().join("est-password");
    let from_file = "from a file, long enough";
    secrets.push(from_file.to_string());
    std::fs::write(&file, format!("{from_file}\n")).unwrap();
    let (code, out, err) = c.cli(
        &token,
        &[
            "est",
            "user",
            "create",
            "--label",
            "default",
            "--username",
            "cli-3",
            "--password-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains(from_file) && !out.contains("password"),
        "{out}"
    );
    assert!(!err.contains("shown once"), "{err}");
    let cred = rt
        .block_on(front.est_credential("default", "cli-3"))
        .unwrap()
        .unwrap();
    assert!(verify_password(from_file, &cred.password_hash));
    let (code, out, _) = c.cli(&token, &["est", "user", "list", "--label", "default"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("LABEL"), "{out}");
    for name in ["cli-1", "cli-2", "cli-3", "router-1"] {
        assert!(out.contains(name), "{out}");
    }
    for s in &secrets {
        assert!(!out.contains(s.as_str()), "the listing shows a password");
    }
    let (code, out, _) = c.cli(&token, &["est", "user", "list", "--output", "json"]);
    assert_eq!(code, 0);
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{out}");
    // A lock shows in the table as an RFC 3339 time; unlock lifts it.
    let cli1 = v["user"]["id"].as_i64().unwrap();
    let end = rt
        .block_on(front.est_login_failed(cli1, now(), 1, 600))
        .unwrap()
        .unwrap();
    let (code, out, _) = c.cli(&token, &["est", "user", "list"]);
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.contains("cli-1")).unwrap();
    assert!(
        line.contains("true") && line.contains(&strongroom_types::time::rfc3339(end)),
        "{line}"
    );
    let (code, out, err) = c.cli(&token, &["est", "user", "unlock", "default", "cli-1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("false"), "{out}");
    assert_eq!(
        c.cli(&token, &["est", "user", "unlock", "default", "nobody"])
            .0,
        4
    );
    // A duplicate is a conflict (5), a weak password a bad request (6), an enroller not
    // allowed (3), a missing option a usage error (2).
    assert_eq!(
        c.cli(
            &token,
            &[
                "est",
                "user",
                "create",
                "--label",
                "default",
                "--username",
                "cli-1"
            ]
        )
        .0,
        5
    );
    std::fs::write(&file, "short\n").unwrap();
    assert_eq!(
        c.cli(
            &token,
            &[
                "est",
                "user",
                "create",
                "--label",
                "default",
                "--username",
                "cli-4",
                "--password-file",
                file.to_str().unwrap(),
            ]
        )
        .0,
        6
    );
    let erin_token = erin.token.clone().unwrap();
    assert_eq!(
        c.cli(
            &erin_token,
            &[
                "est",
                "user",
                "create",
                "--label",
                "default",
                "--username",
                "cli-5"
            ]
        )
        .0,
        3
    );
    assert_eq!(
        c.cli(&token, &["est", "user", "create", "--label", "default"])
            .0,
        2
    );
    assert_eq!(
        c.cli(&token, &["est", "user", "delete", "default", "cli-3"])
            .0,
        0
    );
    assert_eq!(
        c.cli(&token, &["est", "user", "delete", "default", "cli-3"])
            .0,
        4
    );

    let _step = step("no password in the audit export or any log file; the chain verifies");
    let export = admin.get("/api/v1/audit/export").text;
    let mut logs = Vec::new();
    log_files(c.dir(), &mut logs);
    assert!(
        logs.iter().any(|p| p.ends_with("control.log")),
        "no control log among {logs:?}"
    );
    assert!(c.log_text().contains("EST user made"), "{}", c.log_text());
    for s in &secrets {
        assert!(
            !export.contains(s.as_str()),
            "the audit export shows a password"
        );
        for log in &logs {
            let text = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
            assert!(
                !text.contains(s.as_str()),
                "{} shows a password",
                log.display()
            );
        }
    }
    assert!(!export.contains("argon2"), "the audit export shows a hash");
    assert_eq!(admin.get("/api/v1/audit/verify").json()["ok"], true);
    rt.block_on(front.close());
}

#[test]
fn est_users_sqlite() {
    est_users(Db::Sqlite);
}

#[test]
fn est_users_postgres() {
    est_users(Db::Postgres);
}
