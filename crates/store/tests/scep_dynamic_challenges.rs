//! Signed dynamic SCEP challenges' replay cache and per-device limit on both backends, used
//! as the front uses them (on PostgreSQL through its own role, which may only execute
//! `scep_dynamic_challenge_use`): a jti enrols once per profile; a device gets `limit` uses
//! in any 24 hours and a refused use burns nothing; two fronts racing on one jti (or on a
//! device's last use) get exactly one acceptance; old rows are purged; the front's role can
//! neither read, rewrite nor empty the cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use backends::{front_store, is_postgres};

use sqlx::{Executor, Row};
use strongroom_store::*;
use strongroom_types::ProfileName;

/// A plausible "now" (2023-11-14): earlier than the database's clock, so the PostgreSQL
/// function's purge goes by the time the test passes.
const T0: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn profile(name: &str) -> ProfileName {
    name.parse().unwrap()
}

/// A 16-character jti numbered `n`.
fn jti(n: u32) -> String {
    format!("jti-{n:012}")
}

/// Rows in the cache, read as the owner.
async fn rows(url: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM scep_dynamic_challenges")
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    pool.close().await;
    n
}

on_both_backends!(
    a_jti_enrols_once_and_a_device_has_its_daily_limit,
    |_owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let scep = profile("scep-device");
        let other = profile("tls-server");
        use DynamicOutcome::*;

        // Once per profile: the same jti again is a replay, whatever device it claims.
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(1), "dev-a", T0, 3)
                .await
                .unwrap(),
            Accepted
        );
        for device in ["dev-a", "dev-b"] {
            assert_eq!(
                front
                    .use_dynamic_challenge(&scep, &jti(1), device, T0 + 5, 3)
                    .await
                    .unwrap(),
                Replayed,
                "{device}"
            );
        }
        // The key is (profile, jti): another profile's connector may draw the same jti.
        assert_eq!(
            front
                .use_dynamic_challenge(&other, &jti(1), "dev-a", T0 + 5, 3)
                .await
                .unwrap(),
            Accepted
        );

        // Three a day for dev-a under this profile: two more, then the limit — which
        // records nothing, so the refused jti is still unused.
        for (n, at) in [(2, T0 + 10), (3, T0 + 20)] {
            assert_eq!(
                front
                    .use_dynamic_challenge(&scep, &jti(n), "dev-a", at, 3)
                    .await
                    .unwrap(),
                Accepted
            );
        }
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(4), "dev-a", T0 + 30, 3)
                .await
                .unwrap(),
            DeviceLimit
        );
        assert_eq!(rows(&url).await, 4);
        // Other devices, and dev-a under another profile, are not affected.
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(5), "dev-b", T0 + 30, 3)
                .await
                .unwrap(),
            Accepted
        );
        assert_eq!(
            front
                .use_dynamic_challenge(&other, &jti(6), "dev-a", T0 + 30, 3)
                .await
                .unwrap(),
            Accepted
        );
        // The window slides: a use counts while it is less than 24 h old. At T0 + DAY the
        // first use (at T0) has left it; the others (T0 + 10, + 20) still count.
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(4), "dev-a", T0 + DAY - 1, 3)
                .await
                .unwrap(),
            DeviceLimit
        );
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(4), "dev-a", T0 + DAY, 3)
                .await
                .unwrap(),
            Accepted
        );
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(7), "dev-a", T0 + DAY, 3)
                .await
                .unwrap(),
            DeviceLimit
        );

        // Refused before any SQL: a jti of 15 or 65 characters, with a space or non-ASCII;
        // an empty or overlong device id; a limit of 0.
        let long_jti = "j".repeat(65);
        let long_device = "d".repeat(129);
        for (j, d, limit) in [
            ("jti-short-00015", "dev-a", 3),
            (long_jti.as_str(), "dev-a", 3),
            ("jti with a space", "dev-a", 3),
            ("jti-ünïcode-0001", "dev-a", 3),
            (jti(8).as_str(), "", 3),
            (jti(8).as_str(), long_device.as_str(), 3),
            (jti(8).as_str(), "dev a", 3),
            (jti(8).as_str(), "dev-a", 0),
        ] {
            let e = front
                .use_dynamic_challenge(&scep, j, d, T0, limit)
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::Invalid(_)),
                "{j:?} {d:?} {limit}: {e}"
            );
        }
        assert_eq!(rows(&url).await, 7);

        // Purge: three days after a use its row goes (the token it names expired long
        // before); younger rows stay.
        assert_eq!(
            front
                .use_dynamic_challenge(&scep, &jti(9), "dev-c", T0 + 3 * DAY + 15, 3)
                .await
                .unwrap(),
            Accepted
        );
        // Gone: the rows used at T0, T0 + 5 and T0 + 10 (before T0 + 15); 7 - 3 + 1.
        assert_eq!(rows(&url).await, 5);
        front.close().await;
    }
);

on_both_backends!(
    two_fronts_racing_get_one_acceptance,
    |_owner: Store, url: String| async move {
        // Two connections (on PostgreSQL, two pools as the front's role), one task on each,
        // started together on every round.
        let (a, b) = (front_store(&url).await, front_store(&url).await);
        let scep = profile("scep-device");
        for round in 0..20u32 {
            // One jti presented twice (a replayed token racing the original).
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let race = |store: Store, jti: String, device: String, limit: u32| {
                let (scep, barrier) = (scep.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .use_dynamic_challenge(&scep, &jti, &device, T0 + 1, limit)
                        .await
                        .unwrap()
                })
            };
            let device = format!("race-{round}");
            let (ra, rb) = (
                race(a.clone(), jti(1000 + round), device.clone(), 3),
                race(b.clone(), jti(1000 + round), device.clone(), 3),
            );
            let mut outcomes = [ra.await.unwrap(), rb.await.unwrap()];
            outcomes.sort_by_key(|o| o.as_str());
            assert_eq!(
                outcomes,
                [DynamicOutcome::Accepted, DynamicOutcome::Replayed],
                "round {round}"
            );

            // Two tokens for one device racing on its last use (limit 2, one used above).
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let race = |store: Store, jti: String| {
                let (scep, barrier, device) = (scep.clone(), barrier.clone(), device.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .use_dynamic_challenge(&scep, &jti, &device, T0 + 2, 2)
                        .await
                        .unwrap()
                })
            };
            let (ra, rb) = (
                race(a.clone(), jti(2000 + round)),
                race(b.clone(), jti(3000 + round)),
            );
            let mut outcomes = [ra.await.unwrap(), rb.await.unwrap()];
            outcomes.sort_by_key(|o| o.as_str());
            assert_eq!(
                outcomes,
                [DynamicOutcome::Accepted, DynamicOutcome::DeviceLimit],
                "round {round}"
            );
        }
        assert_eq!(rows(&url).await, 40);
        a.close().await;
        b.close().await;
    }
);

/// On PostgreSQL the front's role records uses only through the function: it cannot read
/// the cache, insert a row, backdate or delete one (to replay a token or free a device's
/// quota). Control has no right on the table or the function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_role_only_records_uses() {
    let db = backends::postgres().await;
    assert!(
        is_postgres(&db.url),
        "this test needs STRONGROOM_TEST_PG to name the postgres superuser"
    );
    let front = front_store(&db.url).await;
    let scep = profile("scep-device");
    assert_eq!(
        front
            .use_dynamic_challenge(&scep, &jti(1), "dev-a", T0, 1)
            .await
            .unwrap(),
        DynamicOutcome::Accepted
    );
    let as_role = |role: &'static str, sql: &'static str| {
        let url = db
            .url
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
        async move {
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let r = pool
                .execute(sql)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            pool.close().await;
            r
        }
    };
    for role in ["strongroom_front", "strongroom_control"] {
        for forbidden in [
            "SELECT * FROM scep_dynamic_challenges",
            "INSERT INTO scep_dynamic_challenges (profile, jti, device_id, used_at) \
             VALUES ('scep-device', 'jti-000000000002', 'dev-a', 1)",
            "UPDATE scep_dynamic_challenges SET used_at = 1",
            "DELETE FROM scep_dynamic_challenges",
            "TRUNCATE scep_dynamic_challenges",
        ] {
            let e = as_role(role, forbidden).await.unwrap_err();
            assert!(e.contains("permission denied"), "{role}: {forbidden}: {e}");
        }
    }
    let e = as_role(
        "strongroom_control",
        "SELECT scep_dynamic_challenge_use('scep-device', 'jti-000000000003', 'dev-b', 1700000000, 3)",
    )
    .await
    .unwrap_err();
    assert!(e.contains("permission denied"), "control: {e}");
    // Nothing above changed the cache: the jti is still used, the device still at its limit.
    assert_eq!(
        front
            .use_dynamic_challenge(&scep, &jti(1), "dev-a", T0 + 1, 1)
            .await
            .unwrap(),
        DynamicOutcome::Replayed
    );
    assert_eq!(
        front
            .use_dynamic_challenge(&scep, &jti(2), "dev-a", T0 + 1, 1)
            .await
            .unwrap(),
        DynamicOutcome::DeviceLimit
    );
    front.close().await;
    db.cleanup().await;
}
