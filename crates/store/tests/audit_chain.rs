//! The audit chain's hash rules and its one way to append (issue 14 §2, §6).
//!
//! A chain written before migration sqlite 10 / postgres 9 keeps verifying under rule 1,
//! new events are rule 2, and a rule-1 event after the switch point is refused by the
//! store's verifier and by the offline one. On PostgreSQL the daemons' roles cannot write
//! a row or move the head: they append through `audit_append`, whose hash equals Rust's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row, SqlSafeStr};
use strongroom_store::*;
use strongroom_types::audit::{event_hash, verify_events};

const ROLES: &str = include_str!("../../../migrations/postgres/roles.sql");
const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn event(actor: &str, action: &str, detail: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor: actor.into(),
        action: action.into(),
        target: "certificate:7".into(),
        outcome: AuditOutcome::Ok,
        detail: detail.into(),
    }
}

/// The migrations of `backend` ("sqlite" or "postgres") numbered below `before`, read from
/// the repository as the store embeds them (same text, so the same checksums).
fn migrations_before(backend: &str, before: i64) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut list: Vec<Migration> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|f| {
            let path = f.unwrap().path();
            let name = path.file_name()?.to_str()?.to_string();
            let version: i64 = name.split('_').next()?.parse().ok()?;
            (version < before).then(|| {
                Migration::new(
                    version,
                    name.into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(std::fs::read_to_string(&path).unwrap()).into_sql_str(),
                    false,
                )
            })
        })
        .collect();
    list.sort_by_key(|m| m.version);
    Migrator::with_migrations(list)
}

/// An empty database of `backend`, migrated only to before the rule-2 migration; its URL.
async fn database_before_rule_2(
    backend: &str,
    dir: &tempfile::TempDir,
) -> (String, Option<String>) {
    sqlx::any::install_default_drivers();
    let (url, pg_name, before) = if backend == "sqlite" {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("strongroom.db").display()
        );
        (url, None, 10)
    } else {
        let name = format!("strongroom_test_{}_audit_upgrade", std::process::id());
        let admin = AnyPool::connect(&backends::admin_url()).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await;
        let url = backends::database_url(&backends::admin_url(), &name);
        (url, Some(name), 9)
    };
    let raw = AnyPool::connect(&url).await.unwrap();
    migrations_before(backend, before).run(&raw).await.unwrap();
    raw.close().await;
    (url, pg_name)
}

/// Appends the way the store did before rule 2: head, then a rule-1 row, then the head's hash.
async fn append_rule_1(raw: &AnyPool, e: &NewAuditEvent, at: i64) -> Result<(), sqlx::Error> {
    let mut tx = raw.begin().await?;
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *tx)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev: String = head.try_get("hash")?;
    let hash = event_hash(HashRule::V1, &prev, seq, at, e);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, target, outcome, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(at)
    .bind(e.actor.clone())
    .bind(e.action.clone())
    .bind(e.target.clone())
    .bind(e.outcome.as_str())
    .bind(e.detail.clone())
    .bind(prev)
    .bind(hash.clone())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// What `strongroom audit verify` does with an export: JSON lines back to events, then the
/// chain check with the switch point taken from the events.
fn verify_offline(events: &[AuditEvent]) -> Result<(), ChainBreak> {
    let parsed: Vec<AuditEvent> = events
        .iter()
        .map(|e| serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap())
        .collect();
    verify_events(parsed[0].seq - 1, &parsed[0].prev_hash, &parsed, None)
}

async fn upgrade_then_downgrade(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg_name) = database_before_rule_2(backend, &dir).await;
    let raw = AnyPool::connect(&url).await.unwrap();
    for i in 1..=3 {
        append_rule_1(
            &raw,
            &event(&format!("user{i}"), "certificate.issue", ""),
            100 + i,
        )
        .await
        .unwrap();
    }

    // The upgrade: the three old events keep rule 1, new ones are rule 2.
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.audit_hash_switch().await.unwrap(), 3);
    for i in 4..=5 {
        let e = store
            .append_audit(&event("alice", "certificate.revoke", "reason=1"), 100 + i)
            .await
            .unwrap();
        assert_eq!(e.seq, i);
        assert_eq!(e.hash_rule, HashRule::V2 { v1_through: 3 });
    }
    assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
    let events = store.audit_events(1, 5).await.unwrap();
    let rules: Vec<i64> = events.iter().map(|e| e.hash_rule.version()).collect();
    assert_eq!(rules, [1, 1, 1, 2, 2]);
    assert_eq!(verify_offline(&events), Ok(()));
    assert_eq!(
        verify_offline(&events[3..]),
        Ok(()),
        "an export from event 4"
    );

    // An older binary still running appends the old way: refused, the chain unchanged.
    assert!(append_rule_1(&raw, &event("old", "x", ""), 106)
        .await
        .is_err());
    assert_eq!(store.audit_head().await.unwrap().0, 5);

    // A writer bypassing the store (the schema owner, or anyone who can write the SQLite
    // file) drops the guard and appends a rule-1 event with a correct rule-1 hash, keeping
    // the freedom to move a NUL between its fields after a checkpoint signs it.
    let guard = if backend == "sqlite" {
        "DROP TRIGGER audit_events_rule_2_only"
    } else {
        "ALTER TABLE audit_events DROP CONSTRAINT audit_events_rule_by_switch; \
         ALTER TABLE audit_events ALTER COLUMN hash_version SET DEFAULT 1"
    };
    raw.execute(guard).await.unwrap();
    append_rule_1(&raw, &event("mallory", "certificate.issue", ""), 106)
        .await
        .unwrap();
    let b = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!((b.seq, b.why.contains("downgraded")), (6, true), "{b:?}");
    let b = verify_offline(&store.audit_events(1, 6).await.unwrap()).unwrap_err();
    assert_eq!((b.seq, b.why.contains("downgraded")), (6, true), "{b:?}");

    // A rule-2 event relabelled as rule 1 (its hash kept).
    raw.execute("DELETE FROM audit_events WHERE seq = 6; UPDATE audit_events SET hash_version = 1 WHERE seq = 4")
        .await
        .unwrap();
    let b = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 4, "{b:?}");
    let b = verify_offline(&store.audit_events(1, 5).await.unwrap()).unwrap_err();
    assert_eq!(b.seq, 4, "{b:?}");
    raw.execute("UPDATE audit_events SET hash_version = 2 WHERE seq = 4")
        .await
        .unwrap();

    // The switch point moved later, so that rule 1 would pass for events 4 and 5.
    if backend == "sqlite" {
        raw.execute("DROP TRIGGER audit_hash_switch_fixed_update")
            .await
            .unwrap();
    }
    raw.execute("UPDATE audit_hash_switch SET v1_through = 5")
        .await
        .unwrap();
    let b = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 4, "{b:?}");

    raw.close().await;
    store.close().await;
    if let Some(name) = pg_name {
        let admin = AnyPool::connect(&backends::admin_url()).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
            .unwrap();
        admin.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_chain_upgrades_to_rule_2_and_cannot_be_downgraded_sqlite() {
    upgrade_then_downgrade("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_chain_upgrades_to_rule_2_and_cannot_be_downgraded_postgres() {
    upgrade_then_downgrade("postgres").await;
}

async fn as_role(url: &str, role: &str) -> AnyPool {
    AnyPool::connect(&url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1))
        .await
        .unwrap()
}

async fn refused(pool: &AnyPool, sql: &'static str) -> String {
    match pool.execute(sql).await {
        Ok(_) => panic!("allowed: {sql}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_append_only_through_audit_append() {
    let db = backends::postgres().await;
    assert!(
        db.url.starts_with("postgres://postgres@"),
        "this test needs STRONGROOM_TEST_PG to name the postgres superuser"
    );
    let owner = db.store.clone();
    owner
        .append_audit(&event("system", "store.start", ""), 1)
        .await
        .unwrap();
    let admin = AnyPool::connect(&db.url).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(ROLES)).await.unwrap();

    for role in ["strongroom_front", "strongroom_control"] {
        let raw = as_role(&db.url, role).await;
        // A forged row with a hash the attacker computed, the way the old store wrote one;
        // the head moved to it; the event deleted; the switch point moved.
        let (seq, prev) = owner.audit_head().await.unwrap();
        let forged = event("acme:1", "acme.certificate.issue", "nothing to see");
        let hash = event_hash(HashRule::V1, &prev, seq + 1, 5, &forged);
        let insert = format!(
            "INSERT INTO audit_events (seq, at, actor, action, target, outcome, detail, prev_hash, hash) \
             VALUES ({}, 5, 'acme:1', 'acme.certificate.issue', 'certificate:7', 'ok', 'nothing to see', '{prev}', '{hash}')",
            seq + 1
        );
        let e = match raw.execute(sqlx::AssertSqlSafe(insert)).await {
            Ok(_) => panic!("{role}: a forged audit row was inserted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("permission denied"), "{role}: insert: {e}");
        for sql in [
            "UPDATE audit_head SET seq = seq + 1, hash = 'ab'",
            "UPDATE audit_head SET hash = hash",
            "DELETE FROM audit_events",
            "UPDATE audit_hash_switch SET v1_through = 1000",
        ] {
            let e = refused(&raw, sql).await;
            assert!(e.contains("permission denied"), "{role}: {sql}: {e}");
        }

        // The one way in: the store appends through audit_append, as this role.
        let daemon = Store::connect_without_migrating(&db.url.replacen(
            "postgres://postgres@",
            &format!("postgres://{role}@"),
            1,
        ))
        .await
        .unwrap();
        let appended = daemon
            .append_audit(&event(role, "audit.test", "through the function"), 10)
            .await
            .unwrap();
        assert_eq!(appended.seq, seq + 1);
        assert_eq!(appended.prev_hash, prev);
        assert_eq!(appended.hash_rule, HashRule::V2 { v1_through: 0 });
        daemon.close().await;
        raw.close().await;
    }
    assert_eq!(owner.verify_audit().await.unwrap(), Ok(3));
    assert_eq!(
        verify_offline(&owner.audit_events(1, 3).await.unwrap()),
        Ok(())
    );

    // PostgreSQL's rule-2 hash is Rust's, byte for byte, on awkward input.
    let long = "é🙂漢".repeat(30_000);
    let cases: Vec<(i64, &str, i64, i64, NewAuditEvent)> = vec![
        (0, ZERO, 1, 0, event("", "", "")),
        (
            3,
            ZERO,
            4,
            -5,
            event("alice", "certificate.revoke", "reason=1 café"),
        ),
        (i64::MAX, "ab", i64::MAX, i64::MIN, event("x", "y", "z")),
        (17, "ff", 18, 1_800_000_000, event("🙂", "a'b\"c\\d", &long)),
    ];
    for (v1_through, prev, seq, at, e) in cases {
        let sql: String =
            sqlx::query_scalar("SELECT audit_hash_v2($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(v1_through)
                .bind(prev.to_string())
                .bind(seq)
                .bind(at)
                .bind(e.actor.clone())
                .bind(e.action.clone())
                .bind(e.target.clone())
                .bind(e.outcome.as_str())
                .bind(e.detail.clone())
                .fetch_one(&admin)
                .await
                .unwrap();
        assert_eq!(
            sql,
            event_hash(HashRule::V2 { v1_through }, prev, seq, at, &e),
            "seq {seq}"
        );
    }

    // A row forged by the owner (a compromised database writer) is reported: content that
    // is not what its hash covers, and a rule-1 event after the switch point.
    admin
        .execute("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 2")
        .await
        .unwrap();
    let b = owner.verify_audit().await.unwrap().unwrap_err();
    assert_eq!((b.seq, b.why.contains("edited")), (2, true), "{b:?}");
    let b = verify_offline(&owner.audit_events(1, 3).await.unwrap()).unwrap_err();
    assert_eq!(b.seq, 2, "{b:?}");
    admin
        .execute("UPDATE audit_events SET detail = 'through the function' WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(owner.verify_audit().await.unwrap(), Ok(3));
    admin
        .execute(
            "ALTER TABLE audit_events DROP CONSTRAINT audit_events_rule_by_switch; \
                  ALTER TABLE audit_events ALTER COLUMN hash_version SET DEFAULT 1",
        )
        .await
        .unwrap();
    append_rule_1(&admin, &event("acme:1", "acme.certificate.issue", ""), 20)
        .await
        .unwrap();
    let b = owner.verify_audit().await.unwrap().unwrap_err();
    assert_eq!((b.seq, b.why.contains("downgraded")), (4, true), "{b:?}");
    let b = verify_offline(&owner.audit_events(1, 4).await.unwrap()).unwrap_err();
    assert_eq!((b.seq, b.why.contains("downgraded")), (4, true), "{b:?}");
    admin.close().await;
    db.cleanup().await;
}
