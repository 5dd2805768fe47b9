#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! One-time SCEP challenges through control, against a real control daemon, on SQLite and
//! on PostgreSQL: made for a profile by whoever may enrol under it (the issuance rule: an
//! enroller only under profiles naming them, refused 403 and audited otherwise), with a
//! bounded lifetime; 32 random bytes shown once, stored as a hash that the front's consume
//! (through its own role) matches; listed without the secret; revoked while unused; and
//! the challenge in no listing, audit event or log file of the run. Then the same through
//! `strongroom scep challenge`, with its exit codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;
use strongroom_store::{ConsumeOutcome, Store};
use strongroom_testkit::stack::{Client, Control, Db};
use strongroom_testkit::step;
use strongroom_types::clock::{Clock, SystemClock};
use strongroom_types::ProfileName;

const PATH: &str = "/api/v1/scep/challenges";

fn now() -> i64 {
    SystemClock.now()
}

/// Makes a challenge; returns the answer.
fn create(who: &Client, body: &Value) -> Value {
    let r = who.post(PATH, body);
    assert_eq!(r.status, 201, "{body}: {}", r.text);
    r.json()
}

fn delete(who: &Client, id: &str) -> u16 {
    who.call("DELETE", &format!("{PATH}/{id}"), None, None)
        .unwrap()
        .status
}

fn listed_ids(who: &Client, query: &str) -> Vec<i64> {
    let r = who.get(&format!("{PATH}{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
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

fn scep_challenges(db: Db) {
    let _step = step("set up: tls-client restricted to erin; frank enrols elsewhere only");
    let c = Control::start(db);
    let admin = c.admin();
    let operator = c.user(&admin, "olivia", &["ca-operator"]);
    let erin = c.user(&admin, "erin", &["enroller"]);
    let frank = c.user(&admin, "frank", &["enroller"]);
    let auditor = c.user(&admin, "dave", &["auditor"]);
    let tls_client = admin.get("/api/v1/profiles/tls-client").json()["profile"].clone();
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/tls-client",
        &json!({"profile": tls_client, "enrollers": ["erin"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let owner = rt.block_on(c.owner_store());
    let mut secrets: Vec<String> = Vec::new();

    let _step = step("erin makes one for tls-client: 32 random bytes, base64url, once");
    let before = now();
    let made = create(&erin, &json!({"profile": "tls-client", "ttl_secs": 600}));
    let id = made["id"].as_i64().unwrap();
    let challenge = made["challenge"].as_str().unwrap().to_string();
    secrets.push(challenge.clone());
    assert_eq!(made["profile"], "tls-client");
    assert!(!challenge.contains(['=', '+', '/']), "{challenge}");
    assert_eq!(URL_SAFE_NO_PAD.decode(&challenge).unwrap().len(), 32);
    let expires_at = made["expires_at"].as_i64().unwrap();
    assert!((before + 600..=now() + 600).contains(&expires_at), "{made}");
    let stored = rt.block_on(owner.scep_challenge(id)).unwrap().unwrap();
    assert_eq!(stored.created_by, "erin");
    assert_eq!(stored.expires_at, expires_at);
    // Another call, another challenge; the default lifetime is an hour.
    let default = create(&erin, &json!({"profile": "tls-client"}));
    secrets.push(default["challenge"].as_str().unwrap().to_string());
    assert_ne!(default["challenge"], made["challenge"]);
    let lifetime = default["expires_at"].as_i64().unwrap() - now();
    assert!((3_590..=3_600).contains(&lifetime), "{default}");

    let _step = step("the front, through its own role, consumes it with the text shown");
    let front = rt
        .block_on(Store::connect_without_migrating(&c.front_db_url))
        .unwrap();
    let tls_client_name: ProfileName = "tls-client".parse().unwrap();
    match rt
        .block_on(front.consume_scep_challenge(&tls_client_name, &challenge, "tx-erin", now()))
        .unwrap()
    {
        ConsumeOutcome::Consumed(r) => assert_eq!(r.id, id),
        other => panic!("the shown challenge does not match the stored hash: {other:?}"),
    }
    assert!(matches!(
        rt.block_on(front.consume_scep_challenge(&tls_client_name, &challenge, "tx-2", now()))
            .unwrap(),
        ConsumeOutcome::AlreadyUsed { .. }
    ));

    let _step = step("refused: bad lifetimes, bad bodies and unknown profiles (400)");
    for body in [
        json!({"profile": "tls-client", "ttl_secs": 59}),
        json!({"profile": "tls-client", "ttl_secs": 0}),
        json!({"profile": "tls-client", "ttl_secs": 30 * 86_400 + 1}),
        json!({"profile": "tls-client", "ttl_secs": -1}),
        json!({"profile": "tls-client", "ttl_secs": "1h"}),
        json!({"profile": "tls-client", "challenge": "chosen-by-me"}),
        json!({"profile": "no-such-profile"}),
        json!({"profile": "Not A Name"}),
        json!({}),
    ] {
        let r = erin.post(PATH, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
    // The bounds themselves are accepted.
    for ttl in [60, 30 * 86_400] {
        let made = create(&erin, &json!({"profile": "tls-client", "ttl_secs": ttl}));
        secrets.push(made["challenge"].as_str().unwrap().to_string());
    }

    let _step = step("refused: who may not enrol under the profile (403, audited)");
    let r = frank.post(PATH, &json!({"profile": "tls-client"}));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("enrollers"), "{}", r.text);
    let denied = admin
        .get("/api/v1/audit?action=scep.challenge.create")
        .json();
    let event = denied["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["event"])
        .find(|e| e["outcome"] == "denied")
        .unwrap_or_else(|| panic!("no denial audited: {denied}"))
        .clone();
    assert_eq!(event["target"], "profile:tls-client");
    assert!(event["actor"].as_str().unwrap().starts_with("frank"));
    assert_eq!(
        auditor.post(PATH, &json!({"profile": "tls-server"})).status,
        403
    );
    assert_eq!(auditor.get(PATH).status, 403);
    // frank may enrol under tls-server (every enroller may).
    let franks = create(&frank, &json!({"profile": "tls-server"}));
    secrets.push(franks["challenge"].as_str().unwrap().to_string());
    let franks_id = franks["id"].as_i64().unwrap();

    let _step = step("listing: no secret; each caller sees the profiles they may enrol under");
    let r = erin.get(&format!("{PATH}?include_used=true"));
    assert_eq!(r.status, 200, "{}", r.text);
    for s in &secrets {
        assert!(
            !r.text.contains(s.as_str()),
            "a listing shows a challenge: {}",
            r.text
        );
    }
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 5, "{items:?}");
    for i in &items {
        let keys: Vec<&String> = i.as_object().unwrap().keys().collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("challenge") || k.contains("hash")),
            "{i}"
        );
    }
    let used = items.iter().find(|i| i["id"] == id).unwrap();
    assert_eq!(used["state"], "used");
    assert_eq!(used["consumed_transaction"], "tx-erin");
    assert_eq!(used["created_by"], "erin");
    assert!(
        !listed_ids(&erin, "").contains(&id),
        "used ones only when asked"
    );
    assert_eq!(listed_ids(&frank, ""), [franks_id]);
    assert_eq!(frank.get(&format!("{PATH}?profile=tls-client")).status, 403);
    assert_eq!(listed_ids(&frank, "?profile=tls-server"), [franks_id]);
    assert_eq!(listed_ids(&operator, "?include_used=true").len(), 5);
    assert_eq!(
        erin.get(&format!("{PATH}?profile=no-such-profile")).status,
        400
    );
    assert_eq!(erin.get(&format!("{PATH}?include_used=maybe")).status, 400);

    let _step = step("revoking: only an unused one, only by who may enrol under its profile");
    let default_id = default["id"].as_i64().unwrap().to_string();
    assert_eq!(delete(&frank, &default_id), 403);
    assert_eq!(delete(&auditor, &default_id), 403);
    assert_eq!(delete(&erin, &default_id), 204);
    assert_eq!(delete(&erin, &default_id), 404);
    assert_eq!(delete(&erin, &id.to_string()), 409);
    assert_eq!(delete(&erin, "abc"), 400);
    assert_eq!(delete(&erin, "0"), 400);
    // A revoked challenge no longer enrols.
    assert_eq!(
        rt.block_on(front.consume_scep_challenge(
            &tls_client_name,
            default["challenge"].as_str().unwrap(),
            "tx-3",
            now()
        ))
        .unwrap(),
        ConsumeOutcome::Unknown
    );

    let _step = step("the audit log names the challenges and profiles, never a secret");
    let audit = admin
        .get("/api/v1/audit?action=scep.challenge.create")
        .json();
    let ok: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["event"])
        .filter(|e| e["outcome"] == "ok")
        .collect();
    assert_eq!(ok.len(), 5, "{audit}");
    assert!(ok
        .iter()
        .any(|e| e["target"] == format!("scep-challenge:{id}")
            && e["detail"].as_str().unwrap().contains("profile tls-client")));
    let deleted = admin
        .get("/api/v1/audit?action=scep.challenge.delete")
        .json();
    assert_eq!(
        deleted["items"][0]["event"]["target"],
        format!("scep-challenge:{default_id}"),
        "{deleted}"
    );

    let _step = step("the same through the CLI, with its exit codes");
    let token = operator.token.clone().unwrap();
    let (code, out, err) = c.cli(
        &token,
        &[
            "scep",
            "challenge",
            "create",
            "--profile",
            "tls-server",
            "--ttl",
            "2h",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("shown once"), "{err}");
    let made: Value = serde_json::from_str(&out).unwrap();
    let cli_challenge = made["challenge"].as_str().unwrap().to_string();
    secrets.push(cli_challenge.clone());
    assert!(
        !err.contains(&cli_challenge),
        "the challenge went to stderr"
    );
    assert_eq!(URL_SAFE_NO_PAD.decode(&cli_challenge).unwrap().len(), 32);
    let lifetime = made["expires_at"].as_i64().unwrap() - now();
    assert!((7_190..=7_200).contains(&lifetime), "{made}");
    let cli_id = made["id"].as_i64().unwrap().to_string();
    // Table output shows the challenge too (that is what create is for).
    let (code, out, _) = c.cli(
        &token,
        &["scep", "challenge", "create", "--profile", "tls-server"],
    );
    assert_eq!(code, 0, "{out}");
    let table_challenge = out
        .lines()
        .find_map(|l| l.strip_prefix("challenge"))
        .unwrap_or_else(|| panic!("no challenge line: {out}"))
        .trim()
        .to_string();
    assert_eq!(URL_SAFE_NO_PAD.decode(&table_challenge).unwrap().len(), 32);
    secrets.push(table_challenge);
    let (code, out, _) = c.cli(
        &token,
        &["scep", "challenge", "list", "--profile", "tls-server"],
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ID") && out.contains(&cli_id) && !out.contains(&cli_challenge),
        "{out}"
    );
    let (code, out, _) = c.cli(
        &token,
        &[
            "scep",
            "challenge",
            "list",
            "--include-used",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 6, "{out}");
    for bad in ["1x", "1h30m", "-5", ""] {
        let (code, _, err) = c.cli(
            &token,
            &[
                "scep",
                "challenge",
                "create",
                "--profile",
                "tls-server",
                "--ttl",
                bad,
            ],
        );
        assert_eq!(code, 2, "--ttl {bad:?}: {err}");
    }
    // 30 s is well formed but under the server's bound: a bad request (6).
    let (code, _, err) = c.cli(
        &token,
        &[
            "scep",
            "challenge",
            "create",
            "--profile",
            "tls-server",
            "--ttl",
            "30s",
        ],
    );
    assert_eq!(code, 6, "{err}");
    let frank_token = frank.token.clone().unwrap();
    assert_eq!(
        c.cli(
            &frank_token,
            &["scep", "challenge", "create", "--profile", "tls-client"],
        )
        .0,
        3
    );
    assert_eq!(
        c.cli(&token, &["scep", "challenge", "delete", &cli_id]).0,
        0
    );
    assert_eq!(
        c.cli(&token, &["scep", "challenge", "delete", &cli_id]).0,
        4
    );
    assert_eq!(
        c.cli(&token, &["scep", "challenge", "delete", &id.to_string()])
            .0,
        5
    );

    let _step = step("no challenge in the audit export or any log file; the chain verifies");
    let export = admin.get("/api/v1/audit/export").text;
    let mut logs = Vec::new();
    log_files(c.dir(), &mut logs);
    assert!(
        logs.iter().any(|p| p.ends_with("control.log")),
        "no control log among {logs:?}"
    );
    assert!(
        c.log_text().contains("one-time SCEP challenge made"),
        "{}",
        c.log_text()
    );
    for s in &secrets {
        assert!(
            !export.contains(s.as_str()),
            "the audit export shows a challenge"
        );
        for log in &logs {
            let text = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
            assert!(
                !text.contains(s.as_str()),
                "{} shows a challenge",
                log.display()
            );
        }
    }
    assert_eq!(admin.get("/api/v1/audit/verify").json()["ok"], true);
    rt.block_on(front.close());
    rt.block_on(owner.close());
}

#[test]
fn scep_challenges_sqlite() {
    scep_challenges(Db::Sqlite);
}

#[test]
fn scep_challenges_postgres() {
    scep_challenges(Db::Postgres);
}
