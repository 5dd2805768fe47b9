//! PostgreSQL over TLS, against a throwaway cluster that accepts TLS only (tls_server):
//! `sslmode=verify-full` with the operator's CA file connects, migrates and round-trips a
//! repository over an encrypted connection; a CA that did not issue the server's
//! certificate, a host name the certificate does not name, no CA file at all, and a
//! connection without TLS are each refused.
//!
//! One test function, one cluster: the steps share it and run in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;
mod tls_server;

use sqlx::{Executor, Row};
use std::path::Path;
use strongroom_store::{CaRecord, CaState, Store, StoreError};
use tls_server::TlsServer;

fn url(server: &TlsServer, host: &str, mode: &str, ca: Option<&Path>) -> String {
    let mut url = format!(
        "postgres://postgres@{host}:{}/postgres?sslmode={mode}",
        server.port
    );
    if let Some(ca) = ca {
        url.push_str(&format!("&sslrootcert={}", ca.display()));
    }
    url
}

/// The refusal's text, or a panic naming what connected when it should not have.
async fn refusal(url: &str, what: &str) -> String {
    match Store::connect(url).await {
        Err(StoreError::Backend(m)) => m,
        Err(other) => panic!("{what}: refused for the wrong reason: {other}"),
        Ok(store) => {
            store.close().await;
            panic!("{what}: connected")
        }
    }
}

#[test]
fn postgres_over_tls_only_with_the_operators_ca_and_the_right_host_name() {
    let server = TlsServer::start();
    let good = url(&server, "localhost", "verify-full", Some(&server.ca));
    // As the shipped systemd units do: sqlx's rustls trusts the CA file alone, never the
    // system store. Set before the runtime starts any thread (the only test here).
    std::env::set_var("SSL_CERT_FILE", "/dev/null");
    // backends::postgres() creates its fresh database on the server this names.
    std::env::set_var("STRONGROOM_TEST_PG", &good);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // verify-full with the right CA: connects over TLS, migrates, round-trips.
        let db = backends::postgres().await;
        assert!(db.url.contains("sslmode=verify-full"), "{}", db.url);
        let store = &db.store;
        let ca = CaRecord {
            id: "root".parse().unwrap(),
            parent: None,
            subject: "CN=root".into(),
            state: CaState::Active,
            not_before: 1_700_000_000,
            not_after: 2_000_000_000,
            cert_der: vec![0x30, 0x00],
        };
        store.insert_ca(&ca, 1).await.unwrap();
        let back = store.ca(&ca.id).await.unwrap();
        assert_eq!(
            (back.subject.as_str(), back.state),
            ("CN=root", CaState::Active)
        );
        assert!(store.schema_is_current().await.unwrap());

        // The server's view of a connection made the same way: TLS, not plain TCP.
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let row = pool
            .fetch_one("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .await
            .unwrap();
        let (ssl, version): (bool, String) = (row.get("ssl"), row.get("version"));
        assert!(ssl, "the server says this connection is not TLS");
        assert!(version.starts_with("TLSv1."), "{version}");
        pool.close().await;
        db.cleanup().await;

        // A CA that did not issue the server's certificate.
        let m = refusal(
            &url(&server, "localhost", "verify-full", Some(&server.other_ca)),
            "verify-full with an unrelated CA",
        )
        .await;
        assert!(m.contains("UnknownIssuer"), "{m}");

        // The right CA, but the certificate names DNS:localhost, not 127.0.0.1.
        let m = refusal(
            &url(&server, "127.0.0.1", "verify-full", Some(&server.ca)),
            "verify-full with a host name the certificate does not name",
        )
        .await;
        assert!(
            m.contains("certificate not valid for name \"127.0.0.1\""),
            "{m}"
        );

        // No CA file: with the system store switched off, nothing is trusted.
        let m = refusal(
            &url(&server, "localhost", "verify-full", None),
            "verify-full without sslrootcert",
        )
        .await;
        assert!(m.contains("UnknownIssuer"), "{m}");

        // Without TLS the server itself refuses (hostssl lines only). The store lets a
        // loopback URL choose its mode, so the refusal here is the server's.
        let m = refusal(
            &url(&server, "127.0.0.1", "disable", None),
            "sslmode=disable",
        )
        .await;
        assert!(
            m.contains("pg_hba.conf rejects connection") && m.contains("no encryption"),
            "{m}\n{}",
            server.log()
        );
    });
}
