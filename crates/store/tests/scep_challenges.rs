//! One-time SCEP challenges on both backends, consumed as the front consumes them (on
//! PostgreSQL through its own role, which may only execute `scep_challenge_consume`): a
//! challenge is used once, only under its profile and only before it expires; a refusal
//! burns nothing; two fronts racing on one challenge get exactly one success; the front's
//! role can neither make, read, edit nor delete a challenge; the per-profile cap holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use backends::{front_store, is_postgres};

use sqlx::Executor;
use strongroom_store::*;
use strongroom_types::ProfileName;

fn profile(name: &str) -> ProfileName {
    name.parse().unwrap()
}

on_both_backends!(
    used_once_under_its_profile_before_it_expires,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let scep = profile("scep-device");
        let other = profile("tls-server");

        // Made by control: the record carries no hash, and neither does anything read back.
        let made = owner
            .create_scep_challenge(
                &scep,
                scep_challenge_hash("first-secret"),
                "olivia",
                100,
                200,
            )
            .await
            .unwrap();
        assert_eq!(made.profile, scep);
        assert_eq!(made.created_by, "olivia");
        assert_eq!((made.created_at, made.expires_at), (100, 200));
        assert_eq!(
            (made.consumed_at, made.consumed_transaction.clone()),
            (None, None)
        );
        assert_eq!(
            owner.scep_challenge(made.id).await.unwrap(),
            Some(made.clone())
        );

        // Refusals burn nothing: unknown text, a transactionID out of bounds, the wrong
        // profile — then the right one consumes it.
        assert_eq!(
            front
                .consume_scep_challenge(&scep, "no-such-secret", "tx-0", 150)
                .await
                .unwrap(),
            ConsumeOutcome::Unknown
        );
        for bad in ["", "tab\there", &"x".repeat(257)] {
            let e = front
                .consume_scep_challenge(&scep, "first-secret", bad, 150)
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::Invalid(_)), "{bad:?}: {e}");
        }
        assert_eq!(
            front
                .consume_scep_challenge(&other, "first-secret", "tx-0", 150)
                .await
                .unwrap(),
            ConsumeOutcome::WrongProfile { id: made.id }
        );
        // The text, not a near miss: a trailing newline is another challenge.
        assert_eq!(
            front
                .consume_scep_challenge(&scep, "first-secret\n", "tx-0", 150)
                .await
                .unwrap(),
            ConsumeOutcome::Unknown
        );
        let used = match front
            .consume_scep_challenge(&scep, "first-secret", "tx-1", 150)
            .await
            .unwrap()
        {
            ConsumeOutcome::Consumed(r) => r,
            other => panic!("expected Consumed, got {other:?}"),
        };
        assert_eq!(used.id, made.id);
        assert_eq!(used.consumed_at, Some(150));
        assert_eq!(used.consumed_transaction.as_deref(), Some("tx-1"));

        // Once: a second use (a replay, or the device retrying with its own transactionID)
        // is refused and says which transaction used it; the record is unchanged.
        for tx in ["tx-2", "tx-1"] {
            assert_eq!(
                front
                    .consume_scep_challenge(&scep, "first-secret", tx, 160)
                    .await
                    .unwrap(),
                ConsumeOutcome::AlreadyUsed {
                    id: made.id,
                    transaction_id: "tx-1".into()
                }
            );
        }
        // At another profile a used challenge is still the wrong profile's.
        assert_eq!(
            front
                .consume_scep_challenge(&other, "first-secret", "tx-3", 160)
                .await
                .unwrap(),
            ConsumeOutcome::WrongProfile { id: made.id }
        );
        assert_eq!(
            owner.scep_challenge(made.id).await.unwrap(),
            Some(used.clone())
        );

        // Expiry: usable while now < expires_at; at expires_at and after, refused, unburnt.
        let short = owner
            .create_scep_challenge(
                &scep,
                scep_challenge_hash("short-lived"),
                "olivia",
                100,
                300,
            )
            .await
            .unwrap();
        for now in [300, 10_000] {
            assert_eq!(
                front
                    .consume_scep_challenge(&scep, "short-lived", "tx-4", now)
                    .await
                    .unwrap(),
                ConsumeOutcome::Expired { id: short.id }
            );
        }
        assert_eq!(
            owner
                .scep_challenge(short.id)
                .await
                .unwrap()
                .unwrap()
                .consumed_at,
            None
        );
        assert!(matches!(
            front
                .consume_scep_challenge(&scep, "short-lived", "tx-4", 299)
                .await
                .unwrap(),
            ConsumeOutcome::Consumed(_)
        ));

        // Listing: newest first, unused only unless asked, by profile; never a hash.
        let spare = owner
            .create_scep_challenge(&other, scep_challenge_hash("spare"), "erin", 400, 900)
            .await
            .unwrap();
        let ids = |v: Vec<ChallengeRecord>| v.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(owner.scep_challenges(None, false).await.unwrap()),
            [spare.id]
        );
        assert_eq!(
            ids(owner.scep_challenges(None, true).await.unwrap()),
            [spare.id, short.id, made.id]
        );
        assert_eq!(
            ids(owner.scep_challenges(Some(&scep), true).await.unwrap()),
            [short.id, made.id]
        );
        assert!(owner
            .scep_challenges(Some(&scep), false)
            .await
            .unwrap()
            .is_empty());

        // Control deletes an unused challenge, not a used one; a deleted one is unknown.
        assert!(!owner.delete_unused_scep_challenge(made.id).await.unwrap());
        assert!(owner.delete_unused_scep_challenge(spare.id).await.unwrap());
        assert!(!owner.delete_unused_scep_challenge(spare.id).await.unwrap());
        assert_eq!(
            front
                .consume_scep_challenge(&other, "spare", "tx-5", 450)
                .await
                .unwrap(),
            ConsumeOutcome::Unknown
        );

        // Made already expired: refused. The same hash twice: a conflict.
        assert!(matches!(
            owner
                .create_scep_challenge(&scep, scep_challenge_hash("late"), "olivia", 500, 500)
                .await
                .unwrap_err(),
            StoreError::Invalid(_)
        ));
        assert!(matches!(
            owner
                .create_scep_challenge(
                    &scep,
                    scep_challenge_hash("first-secret"),
                    "olivia",
                    500,
                    900
                )
                .await
                .unwrap_err(),
            StoreError::Conflict(_)
        ));

        // Purge: what expired at or before the cut, used or not.
        assert_eq!(owner.purge_expired_scep_challenges(299).await.unwrap(), 1);
        assert_eq!(owner.scep_challenge(made.id).await.unwrap(), None);
        assert!(owner.scep_challenge(short.id).await.unwrap().is_some());
        assert_eq!(owner.purge_expired_scep_challenges(300).await.unwrap(), 1);
        assert!(owner.scep_challenges(None, true).await.unwrap().is_empty());
        front.close().await;
    }
);

on_both_backends!(
    two_fronts_racing_on_one_challenge_consume_it_once,
    |owner: Store, url: String| async move {
        // Two connections (on PostgreSQL, two pools as the front's role), one task on each,
        // started together on every round.
        let (a, b) = (front_store(&url).await, front_store(&url).await);
        let scep = profile("scep-device");
        for round in 0..20 {
            let secret = format!("race-{round}");
            let made = owner
                .create_scep_challenge(&scep, scep_challenge_hash(&secret), "olivia", 1, 1_000)
                .await
                .unwrap();
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let race = |store: Store, tx: &'static str| {
                let (secret, scep, barrier) = (secret.clone(), scep.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .consume_scep_challenge(&scep, &secret, tx, 10)
                        .await
                        .unwrap()
                })
            };
            let (ra, rb) = (race(a.clone(), "tx-a"), race(b.clone(), "tx-b"));
            let outcomes = [ra.await.unwrap(), rb.await.unwrap()];
            let winners: Vec<&ChallengeRecord> = outcomes
                .iter()
                .filter_map(|o| match o {
                    ConsumeOutcome::Consumed(r) => Some(r),
                    _ => None,
                })
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
            let winner_tx = winners[0].consumed_transaction.clone().unwrap();
            let loser = outcomes
                .iter()
                .find(|o| !matches!(o, ConsumeOutcome::Consumed(_)))
                .unwrap();
            assert_eq!(
                loser,
                &ConsumeOutcome::AlreadyUsed {
                    id: made.id,
                    transaction_id: winner_tx.clone()
                },
                "round {round}"
            );
            let stored = owner.scep_challenge(made.id).await.unwrap().unwrap();
            assert_eq!(
                stored.consumed_transaction,
                Some(winner_tx),
                "round {round}"
            );
        }
        a.close().await;
        b.close().await;
    }
);

on_both_backends!(
    a_profile_holds_at_most_the_cap_of_open_challenges,
    |owner: Store, url: String| async move {
        // Fill the profile to the cap in one statement (ten thousand API calls would test the
        // loop, not the cap).
        let fill = if is_postgres(&url) {
            "INSERT INTO scep_challenges (profile, challenge_hash, created_by, created_at, expires_at) \
         SELECT 'scep-device', sha256(convert_to('fill-' || n, 'UTF8')), 'loop', 1, 1000 \
         FROM generate_series(1, 10000) AS n"
        } else {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
         INSERT INTO scep_challenges (profile, challenge_hash, created_by, created_at, expires_at) \
         SELECT 'scep-device', randomblob(32), 'loop', 1, 1000 FROM n"
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        pool.execute(fill).await.unwrap();
        pool.close().await;
        assert_eq!(MAX_OPEN_CHALLENGES_PER_PROFILE, 10_000);
        let scep = profile("scep-device");
        let e = owner
            .create_scep_challenge(&scep, scep_challenge_hash("one-more"), "erin", 10, 900)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        // Another profile is not affected; once the filled ones expire, room again.
        owner
            .create_scep_challenge(
                &profile("other"),
                scep_challenge_hash("elsewhere"),
                "erin",
                10,
                900,
            )
            .await
            .unwrap();
        owner
            .create_scep_challenge(&scep, scep_challenge_hash("one-more"), "erin", 1000, 1900)
            .await
            .unwrap();
    }
);

/// On PostgreSQL the front's role consumes only through the function: it cannot make a
/// challenge, read the table (hashes, who made what), mark one used or delete one, nor read
/// a table it never had a right on. Control makes, reads and deletes, but never consumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_role_only_consumes() {
    let db = backends::postgres().await;
    assert!(
        is_postgres(&db.url),
        "this test needs STRONGROOM_TEST_PG to name the postgres superuser"
    );
    let front = front_store(&db.url).await;
    let scep = profile("scep-device");
    let made = db
        .store
        .create_scep_challenge(&scep, scep_challenge_hash("role-test"), "olivia", 1, 1_000)
        .await
        .unwrap();
    let as_role = |role: &'static str, sql: String| {
        let url = db
            .url
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
        async move {
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let r = pool
                .execute(sqlx::AssertSqlSafe(sql))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            pool.close().await;
            r
        }
    };
    let id = made.id;
    for forbidden in [
        "INSERT INTO scep_challenges (profile, challenge_hash, created_by, created_at, expires_at) \
         VALUES ('scep-device', sha256('mine'::bytea), 'front', 1, 1000)"
            .to_string(),
        "SELECT challenge_hash FROM scep_challenges".to_string(),
        format!("UPDATE scep_challenges SET consumed_at = 2, consumed_transaction = 'x' WHERE id = {id}"),
        "UPDATE scep_challenges SET expires_at = 999999".to_string(),
        format!("DELETE FROM scep_challenges WHERE id = {id}"),
        "SELECT * FROM api_keys".to_string(),
        "SELECT * FROM users".to_string(),
        "SELECT * FROM login_certificates".to_string(),
    ] {
        let e = as_role("strongroom_front", forbidden.clone()).await.unwrap_err();
        assert!(e.contains("permission denied"), "front: {forbidden}: {e}");
    }
    for allowed in [
        "SELECT id, profile FROM scep_challenges".to_string(),
        format!("DELETE FROM scep_challenges WHERE id = -{id}"),
        "INSERT INTO scep_challenges (profile, challenge_hash, created_by, created_at, expires_at) \
         VALUES ('scep-device', sha256('control'::bytea), 'control', 1, 1000)"
            .to_string(),
    ] {
        as_role("strongroom_control", allowed.clone())
            .await
            .unwrap_or_else(|e| panic!("control: {allowed}: {e}"));
    }
    for forbidden in [
        format!("UPDATE scep_challenges SET consumed_at = 2, consumed_transaction = 'x' WHERE id = {id}"),
        "SELECT * FROM scep_challenge_consume('scep-device', sha256('role-test'::bytea), 'x', 2)"
            .to_string(),
    ] {
        let e = as_role("strongroom_control", forbidden.clone()).await.unwrap_err();
        assert!(e.contains("permission denied"), "control: {forbidden}: {e}");
    }
    // Nothing above consumed it; the front, through the store, does.
    assert_eq!(
        db.store
            .scep_challenge(id)
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        None
    );
    assert!(matches!(
        front
            .consume_scep_challenge(&scep, "role-test", "tx-1", 2)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    front.close().await;
    db.cleanup().await;
}
