//! PostgreSQL roles per daemon (migrations/postgres/roles.sql): the front can record
//! certificates and audit events but cannot read users or API keys, cannot edit or delete
//! audit events; control cannot rewrite the audit log either.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use sqlx::Executor;

const ROLES: &str = include_str!("../../../migrations/postgres/roles.sql");

async fn as_role(url: &str, role: &str, sql: &'static str) -> Result<(), String> {
    let pool = sqlx::AnyPool::connect(&url.replacen(
        "postgres://postgres@",
        &format!("postgres://{role}@"),
        1,
    ))
    .await
    .map_err(|e| e.to_string())?;
    let r = pool
        .execute(sql)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    pool.close().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_daemon_gets_only_its_grants() {
    let db = backends::postgres().await;
    if !db.url.starts_with("postgres://postgres@") {
        panic!("this test needs STRONGROOM_TEST_PG to name the postgres superuser");
    }
    let admin = sqlx::AnyPool::connect(&db.url).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(ROLES)).await.unwrap();
    admin.close().await;

    as_role(
        &db.url,
        "strongroom_front",
        "SELECT count(*) FROM certificates",
    )
    .await
    .unwrap();
    as_role(
        &db.url,
        "strongroom_front",
        "SELECT count(*) FROM revocations",
    )
    .await
    .unwrap();
    for forbidden in ["SELECT * FROM users", "SELECT * FROM api_keys", "DELETE FROM audit_events", "UPDATE audit_events SET detail = ''", "INSERT INTO profiles (name, issuer_id, definition, version, updated_at) VALUES ('x', 'y', '{}', 1, 1)"] {
        let e = as_role(&db.url, "strongroom_front", forbidden).await.unwrap_err();
        assert!(e.contains("permission denied"), "front: {forbidden}: {e}");
    }
    as_role(&db.url, "strongroom_control", "SELECT count(*) FROM users")
        .await
        .unwrap();
    as_role(
        &db.url,
        "strongroom_control",
        "UPDATE journal_reconciliation SET after_seq = after_seq WHERE id = 1",
    )
    .await
    .unwrap();
    let e = as_role(
        &db.url,
        "strongroom_front",
        "UPDATE journal_reconciliation SET after_seq = 0",
    )
    .await
    .unwrap_err();
    assert!(
        e.contains("permission denied"),
        "front: journal_reconciliation: {e}"
    );
    for forbidden in [
        "DELETE FROM audit_events",
        "UPDATE audit_events SET detail = ''",
    ] {
        let e = as_role(&db.url, "strongroom_control", forbidden)
            .await
            .unwrap_err();
        assert!(e.contains("permission denied"), "control: {forbidden}: {e}");
    }
    db.cleanup().await;
}
