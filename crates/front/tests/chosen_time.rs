#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The front reads the time only from the clock it is given ([`strongroom_front::App::now`]),
//! so its handlers can be run at a chosen moment. The moments here are in 2096, so a front
//! that read the system clock instead would fail each assertion.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use std::sync::Arc;
use strongroom_front::{crl, App, Config};
use strongroom_store::{CaRecord, CaState, Store, StoredCrl, StoredOcsp};
use strongroom_types::clock::{Clock, FixedClock};
use strongroom_types::{CaId, OcspStatusKind, Serial};

/// 2096-10-02T07:06:40Z.
const T: i64 = 4_000_000_000;

fn config() -> Config {
    // Its signer socket does not exist here: nothing in these tests may reach a signer.
    Config::load(&strongroom_testkit::repo_root().join("docs/front.example.toml")).unwrap()
}

fn app_at(store: &Store, now: i64) -> Arc<App> {
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
    Arc::new(App::new(store.clone(), config(), clock))
}

/// A store with one CA, `issuing`.
async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("front.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    store
        .insert_ca(
            &CaRecord {
                id: issuing(),
                parent: None,
                subject: "CN=issuing".into(),
                state: CaState::Active,
                not_before: 0,
                not_after: T * 2,
                cert_der: vec![0x30, 0x00],
            },
            1,
        )
        .await
        .unwrap();
    store
}

fn issuing() -> CaId {
    "issuing".parse().unwrap()
}

#[tokio::test]
async fn a_crl_is_cacheable_until_its_next_update_by_the_front_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    store
        .put_crl(&StoredCrl {
            ca: issuing(),
            scope: "full".into(),
            number: 1,
            der: vec![0x30, 0x00],
            this_update: T - 60,
            next_update: T + 600,
        })
        .await
        .unwrap();
    for (now, max_age) in [(T, 600), (T + 599, 1), (T + 600, 0), (T + 86_400, 0)] {
        let app = app_at(&store, now);
        assert_eq!(app.now(), now);
        let r = crl::get(State(app), Path("issuing.crl".into()), HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            format!("max-age={max_age}, public, no-transform, must-revalidate").as_str(),
            "at {now}"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn a_stored_revoked_response_is_shown_only_until_its_next_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let serial: Serial = "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap();
    store
        .put_ocsp_responses(&[StoredOcsp {
            ca: issuing(),
            serial: serial.clone(),
            status: OcspStatusKind::Revoked,
            der: vec![0x30, 0x00],
            this_update: T - 60,
            next_update: T + 100,
        }])
        .await
        .unwrap();
    // Before its nextUpdate the stored response says revoked: no signer is needed.
    app_at(&store, T + 99)
        .show_revoked(&issuing(), &serial)
        .await
        .unwrap();
    // At its nextUpdate it no longer counts, and the signer (absent here) must answer.
    let e = app_at(&store, T + 100)
        .show_revoked(&issuing(), &serial)
        .await
        .unwrap_err();
    assert!(e.contains("signer"), "{e}");
    store.close().await;
}
