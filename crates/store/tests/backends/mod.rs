//! Every repository test runs on both backends: a fresh SQLite file and a fresh
//! PostgreSQL database (created on the server at STRONGROOM_TEST_PG, default
//! postgres://postgres@127.0.0.1:5432/postgres, and dropped afterwards). A TLS server is
//! named with its query: `…/postgres?sslmode=verify-full&sslrootcert=/path/ca.pem`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use sqlx::Executor;
use std::sync::atomic::{AtomicU32, Ordering};
use strongroom_store::Store;

pub fn admin_url() -> String {
    std::env::var("STRONGROOM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A test database; the PostgreSQL one is dropped on `cleanup`.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = self.pg_name {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&admin_url()).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("strongroom.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        pg_name: None,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> TestDb {
    sqlx::any::install_default_drivers();
    let name = format!(
        "strongroom_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let admin = sqlx::AnyPool::connect(&admin_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} ({e}): run `make test`, which starts it",
                admin_url()
            )
        });
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    admin.close().await;
    let url = database_url(&admin_url(), &name);
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        pg_name: Some(name),
        _dir: None,
    }
}

/// `admin` with its database replaced by `name`; the query (`?sslmode=verify-full&
/// sslrootcert=/path/ca.pem` for a TLS server) is kept.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin, None),
    };
    let Some((server, _)) = base.rsplit_once('/') else {
        panic!("STRONGROOM_TEST_PG must end in /DATABASE");
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs `body` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = backends::sqlite().await;
                ($body)(db.store.clone(), db.url.clone()).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = backends::postgres().await;
                ($body)(db.store.clone(), db.url.clone()).await;
                db.cleanup().await;
            }
        }
    };
}

/// The per-daemon roles and grants, as `strongroom-control migrate --roles` applies them.
pub const ROLES: &str = include_str!("../../../../migrations/postgres/roles.sql");

/// Whether a test database (as [`TestDb::url`] names it) is PostgreSQL, opened as its owner.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://postgres@")
}

/// Another connection to the same database as the front opens it: on PostgreSQL as
/// `strongroom_front` (the roles applied first), on SQLite a second pool on the same file.
pub async fn front_store(url: &str) -> Store {
    if !is_postgres(url) {
        return Store::connect_without_migrating(url).await.unwrap();
    }
    let admin = sqlx::AnyPool::connect(url).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(ROLES)).await.unwrap();
    admin.close().await;
    Store::connect_without_migrating(&url.replacen(
        "postgres://postgres@",
        "postgres://strongroom_front@",
        1,
    ))
    .await
    .unwrap()
}
