//! EST HTTP Basic credentials on both backends, checked as the front checks them (on
//! PostgreSQL through its own role, which may only execute `est_user_lookup`,
//! `est_user_failed` and `est_user_succeeded`): control makes, lists, deletes and unlocks
//! users, never reading a hash back; names are held to the rules in Rust and in the
//! table's CHECKs; N wrong passwords lock a user, a right one starts the count again, a
//! lock does not count and ends on its own; two fronts failing at once lose no count and
//! lock once; a front lying about the time cannot lock a user for long; the front's role
//! cannot read the table; a label holds at most the cap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use backends::{front_store, is_postgres};

use sqlx::Executor;
use strongroom_store::*;

/// What control stores: an argon2id PHC string (the store checks only its form).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";

/// Control's view of default/router-1.
async fn router_1(owner: &Store) -> EstUserRecord {
    owner.est_user("default", "router-1").await.unwrap()
}

fn invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Invalid(_)))
}

on_both_backends!(
    control_makes_lists_deletes_and_unlocks,
    |owner: Store, _url: String| async move {
        let made = owner
            .create_est_user("default", "router-1", HASH, "olivia", 100)
            .await
            .unwrap();
        assert_eq!(
            made,
            EstUserRecord {
                id: made.id,
                label: "default".into(),
                username: "router-1".into(),
                created_by: "olivia".into(),
                created_at: 100,
                failures: 0,
                locked_until: None,
            }
        );
        // The same username under another label is another user; under the same label, a
        // conflict (and the message names the user, not a constraint).
        let other = owner
            .create_est_user("branch-7", "router-1", HASH, "erin", 110)
            .await
            .unwrap();
        assert_ne!(other.id, made.id);
        match owner
            .create_est_user("default", "router-1", HASH, "erin", 120)
            .await
        {
            Err(StoreError::Conflict(m)) => assert!(m.contains("router-1"), "{m}"),
            r => panic!("expected a conflict, got {r:?}"),
        }
        // Usernames are what HTTP Basic carries: visible ASCII, case kept.
        let odd = owner
            .create_est_user("default", "Dev!ce_#42~[x]", HASH, "olivia", 130)
            .await
            .unwrap();
        assert_eq!(odd.username, "Dev!ce_#42~[x]");
        owner
            .create_est_user("default", &"u".repeat(128), HASH, "olivia", 130)
            .await
            .unwrap();
        owner
            .create_est_user(&"l".repeat(64), "x", HASH, "olivia", 130)
            .await
            .unwrap();

        // Refused before the database: bad labels, bad usernames, a hash that is not one.
        for label in [
            "",
            "Default",
            "a_b",
            "a b",
            "a/b",
            "ünï",
            "a\0",
            &"l".repeat(65),
        ] {
            assert!(
                invalid(owner.create_est_user(label, "u", HASH, "o", 1).await),
                "label {label:?}"
            );
            assert!(invalid(owner.est_users(Some(label)).await), "{label:?}");
            assert!(
                invalid(owner.delete_est_user(label, "u").await),
                "{label:?}"
            );
            assert!(
                invalid(owner.unlock_est_user(label, "u").await),
                "{label:?}"
            );
        }
        for username in [
            "",
            "a:b",
            ":",
            "a b",
            " a",
            "a\t",
            "a\n",
            "naïve",
            "a\0",
            &"u".repeat(129),
        ] {
            assert!(
                invalid(
                    owner
                        .create_est_user("default", username, HASH, "o", 1)
                        .await
                ),
                "username {username:?}"
            );
            assert!(invalid(owner.delete_est_user("default", username).await));
            assert!(invalid(owner.unlock_est_user("default", username).await));
        }
        for hash in [
            "",
            "correct horse battery staple",
            "$argon2i$v=19$x",
            "$2b$12$bcrypt",
        ] {
            assert!(
                invalid(owner.create_est_user("default", "new", hash, "o", 1).await),
                "hash {hash:?}"
            );
        }

        // Listing: by label then username, of one label or all; never a hash.
        let names = |v: Vec<EstUserRecord>| {
            v.into_iter()
                .map(|r| format!("{}/{}", r.label, r.username))
                .collect::<Vec<_>>()
        };
        let long_label = "l".repeat(64);
        assert_eq!(
            names(owner.est_users(None).await.unwrap()),
            [
                "branch-7/router-1".to_string(),
                "default/Dev!ce_#42~[x]".into(),
                "default/router-1".into(),
                format!("default/{}", "u".repeat(128)),
                format!("{long_label}/x"),
            ]
        );
        assert_eq!(
            names(owner.est_users(Some("branch-7")).await.unwrap()),
            ["branch-7/router-1"]
        );
        assert!(owner.est_users(Some("nobody")).await.unwrap().is_empty());
        assert_eq!(
            owner.est_user("default", "router-1").await.unwrap(),
            made.clone()
        );

        // Unlock: clears the count and the lock; unknown users are not found.
        owner.est_login_failed(made.id, 200, 3, 60).await.unwrap();
        assert_eq!(
            owner.est_login_failed(made.id, 200, 2, 60).await.unwrap(),
            Some(260)
        );
        owner.est_login_failed(other.id, 200, 5, 60).await.unwrap();
        let unlocked = owner.unlock_est_user("default", "router-1").await.unwrap();
        assert_eq!((unlocked.failures, unlocked.locked_until), (0, None));
        // The other label's user with the same name keeps its count.
        assert_eq!(
            owner
                .est_user("branch-7", "router-1")
                .await
                .unwrap()
                .failures,
            1
        );
        assert!(matches!(
            owner.unlock_est_user("default", "nobody").await,
            Err(StoreError::NotFound(_))
        ));

        // Delete: once; the other label's user stays; the name is free again.
        let gone = owner.delete_est_user("default", "router-1").await.unwrap();
        assert_eq!(gone.id, made.id);
        assert!(matches!(
            owner.delete_est_user("default", "router-1").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            owner.est_user("default", "router-1").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(owner
            .est_credential("default", "router-1")
            .await
            .unwrap()
            .is_none());
        assert!(owner
            .est_credential("branch-7", "router-1")
            .await
            .unwrap()
            .is_some());
        let again = owner
            .create_est_user("default", "router-1", HASH, "erin", 300)
            .await
            .unwrap();
        assert_ne!(again.id, made.id);
    }
);

on_both_backends!(
    the_tables_checks_hold_rows_written_around_the_store,
    |_owner: Store, url: String| async move {
        // As the schema owner, straight into the table: the CHECKs refuse what the Rust
        // checks refuse.
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let insert = |label: &str, username: &str, hash: &str| {
            format!(
                "INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
                 VALUES ('{label}', '{username}', '{hash}', 'sql', 1)"
            )
        };
        pool.execute(sqlx::AssertSqlSafe(insert("default", "ok-user", HASH)))
            .await
            .unwrap();
        let long_label = "l".repeat(65);
        let long_user = "u".repeat(129);
        for (label, username, hash) in [
            ("Default", "u1", HASH),
            ("a_b", "u1", HASH),
            ("", "u1", HASH),
            (long_label.as_str(), "u1", HASH),
            ("default", "a:b", HASH),
            ("default", "a b", HASH),
            ("default", "", HASH),
            ("default", "naïve", HASH),
            ("default", long_user.as_str(), HASH),
            ("default", "u1", "plaintext-password"),
        ] {
            let e = pool
                .execute(sqlx::AssertSqlSafe(insert(label, username, hash)))
                .await
                .unwrap_err();
            assert!(
                e.to_string().contains("CHECK") || e.to_string().contains("check"),
                "{label:?} {username:?} {hash:?}: {e}"
            );
        }
        let e = pool
            .execute("UPDATE est_users SET failures = -1")
            .await
            .unwrap_err();
        assert!(e.to_string().to_lowercase().contains("check"), "{e}");
        pool.close().await;
    }
);

on_both_backends!(
    wrong_passwords_lock_a_user_and_a_right_one_starts_again,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let made = owner
            .create_est_user("default", "router-1", HASH, "olivia", 100)
            .await
            .unwrap();

        // The front reads the one credential it names: hash, id, lock; its Debug hides
        // the hash. Unknown and malformed names read as unknown, not as errors.
        let cred = front
            .est_credential("default", "router-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (cred.id, cred.password_hash.as_str(), cred.locked_until),
            (made.id, HASH, None)
        );
        let shown = format!("{cred:?}");
        assert!(
            !shown.contains("argon2") && !shown.contains("c2Fsd"),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
        for (label, username) in [
            ("default", "router-2"),
            ("other", "router-1"),
            ("default", "ROUTER-1"),
            ("default", "router-1 "),
            ("Default", "router-1"),
            ("default", "router-1:x"),
            ("", ""),
        ] {
            assert_eq!(
                front.est_credential(label, username).await.unwrap(),
                None,
                "{label:?} {username:?}"
            );
        }

        // Two failures of three, then a success: the count starts again.
        assert_eq!(
            front
                .est_login_failed(made.id, 1_000, 3, 600)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            front
                .est_login_failed(made.id, 1_001, 3, 600)
                .await
                .unwrap(),
            None
        );
        assert_eq!(router_1(&owner).await.failures, 2);
        front.est_login_succeeded(made.id).await.unwrap();
        assert_eq!(router_1(&owner).await.failures, 0);
        // A success with nothing to clear, or for an unknown id, is harmless.
        front.est_login_succeeded(made.id).await.unwrap();
        front.est_login_succeeded(-5).await.unwrap();

        // Three failures in a row: the third locks, until now + 600, and the count is 0.
        assert_eq!(
            front
                .est_login_failed(made.id, 2_000, 3, 600)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            front
                .est_login_failed(made.id, 2_001, 3, 600)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            front
                .est_login_failed(made.id, 2_002, 3, 600)
                .await
                .unwrap(),
            Some(2_602)
        );
        let locked = router_1(&owner).await;
        assert_eq!((locked.failures, locked.locked_until), (0, Some(2_602)));
        assert_eq!(
            front
                .est_credential("default", "router-1")
                .await
                .unwrap()
                .unwrap()
                .locked_until,
            Some(2_602)
        );
        // While the lock holds a failure neither counts nor extends it; a success does
        // not lift it.
        for now in [2_003, 2_601] {
            assert_eq!(
                front.est_login_failed(made.id, now, 3, 600).await.unwrap(),
                None
            );
        }
        front.est_login_succeeded(made.id).await.unwrap();
        let still = router_1(&owner).await;
        assert_eq!((still.failures, still.locked_until), (0, Some(2_602)));

        // At its end the lock is over: failures count from 0 again and clear the old end.
        assert_eq!(
            front
                .est_login_failed(made.id, 2_602, 3, 600)
                .await
                .unwrap(),
            None
        );
        let after = router_1(&owner).await;
        assert_eq!((after.failures, after.locked_until), (1, None));

        // One failure allowed: the first locks.
        assert_eq!(
            front.est_login_failed(made.id, 3_000, 1, 60).await.unwrap(),
            Some(3_060)
        );
        // Control's unlock ends it at once.
        owner.unlock_est_user("default", "router-1").await.unwrap();
        assert_eq!(
            front.est_login_failed(made.id, 3_001, 3, 60).await.unwrap(),
            None
        );
        assert_eq!(router_1(&owner).await.failures, 1);

        // An unknown id counts nothing and locks nothing.
        assert_eq!(
            front.est_login_failed(-5, 3_002, 1, 60).await.unwrap(),
            None
        );

        // Bounds on what the caller may ask for.
        for (max, lock) in [
            (0, 60),
            (-1, 60),
            (MAX_EST_FAILURES_LIMIT + 1, 60),
            (3, 0),
            (3, -60),
            (3, MAX_EST_LOCK_SECS + 1),
        ] {
            assert!(
                invalid(front.est_login_failed(made.id, 3_003, max, lock).await),
                "{max} {lock}"
            );
        }
        assert_eq!(router_1(&owner).await.failures, 1, "a refused call counted");

        // A front that lies about the time (far in the future) cannot lock for years: the
        // lock runs from the database's clock when that is earlier.
        owner.unlock_est_user("default", "router-1").await.unwrap();
        let far = 4_000_000_000_000;
        #[allow(clippy::disallowed_methods)] // the test compares with the real clock
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let end = front
            .est_login_failed(made.id, far, 1, MAX_EST_LOCK_SECS)
            .await
            .unwrap()
            .unwrap();
        assert!(
            (wall + MAX_EST_LOCK_SECS - 5..=wall + MAX_EST_LOCK_SECS + 5).contains(&end),
            "locked until {end}, the wall clock is {wall}"
        );
        front.close().await;
    }
);

on_both_backends!(
    two_fronts_failing_at_once_lose_no_count_and_lock_once,
    |owner: Store, url: String| async move {
        // Two connections (on PostgreSQL, two pools as the front's role); each round, ten
        // failures against a limit of ten, five from each, all started together: exactly
        // one of them locks, and the count is back at 0.
        let (a, b) = (front_store(&url).await, front_store(&url).await);
        for round in 0..10 {
            let username = format!("racer-{round}");
            let made = owner
                .create_est_user("default", &username, HASH, "olivia", 1)
                .await
                .unwrap();
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.est_login_failed(made.id, 500, 10, 300).await.unwrap()
                    })
                })
                .collect();
            let mut locks = Vec::new();
            for t in tasks {
                locks.extend(t.await.unwrap());
            }
            assert_eq!(locks, [800], "round {round}");
            let stored = owner.est_user("default", &username).await.unwrap();
            assert_eq!(
                (stored.failures, stored.locked_until),
                (0, Some(800)),
                "round {round}"
            );
        }
        a.close().await;
        b.close().await;
    }
);

on_both_backends!(
    a_label_holds_at_most_the_cap_of_users,
    |owner: Store, url: String| async move {
        // Fill the label to the cap in one statement (a hundred thousand calls would test
        // the loop, not the cap).
        let fill = if is_postgres(&url) {
            format!(
                "INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
                 SELECT 'default', 'fill-' || n, '{HASH}', 'loop', 1 \
                 FROM generate_series(1, 100000) AS n"
            )
        } else {
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
                 INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
                 SELECT 'default', 'fill-' || i, '{HASH}', 'loop', 1 FROM n"
            )
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        pool.execute(sqlx::AssertSqlSafe(fill)).await.unwrap();
        pool.close().await;
        assert_eq!(MAX_EST_USERS_PER_LABEL, 100_000);
        let e = owner
            .create_est_user("default", "one-more", HASH, "erin", 10)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        // Another label is not affected; once one is deleted, room again.
        owner
            .create_est_user("branch", "one-more", HASH, "erin", 10)
            .await
            .unwrap();
        owner.delete_est_user("default", "fill-7").await.unwrap();
        owner
            .create_est_user("default", "one-more", HASH, "erin", 10)
            .await
            .unwrap();
    }
);

/// On PostgreSQL the front's role reaches EST users only through the three functions: it
/// cannot read the table (every hash at once), make a user, rewrite a hash, a count or a
/// lock, or delete one. Control manages the table but cannot run the front's functions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_role_only_looks_up_and_counts() {
    let db = backends::postgres().await;
    assert!(
        is_postgres(&db.url),
        "this test needs STRONGROOM_TEST_PG to name the postgres superuser"
    );
    let front = front_store(&db.url).await;
    let made = db
        .store
        .create_est_user("default", "router-1", HASH, "olivia", 1)
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
        "SELECT password_hash FROM est_users".to_string(),
        "SELECT id, label, username FROM est_users".to_string(),
        "SELECT count(*) FROM est_users".to_string(),
        format!(
            "INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
             VALUES ('default', 'mine', '{HASH}', 'front', 1)"
        ),
        format!("UPDATE est_users SET password_hash = '{HASH}x' WHERE id = {id}"),
        "UPDATE est_users SET failures = 0, locked_until = NULL".to_string(),
        format!("DELETE FROM est_users WHERE id = {id}"),
        "TRUNCATE est_users".to_string(),
    ] {
        let e = as_role("strongroom_front", forbidden.clone())
            .await
            .unwrap_err();
        assert!(e.contains("permission denied"), "front: {forbidden}: {e}");
    }
    // The functions, called by hand as the front: one row for the name it gives.
    as_role(
        "strongroom_front",
        "SELECT * FROM est_user_lookup('default', 'router-1')".into(),
    )
    .await
    .unwrap();
    // Their bounds hold whoever calls them.
    for bad in [
        format!("SELECT est_user_failed({id}, 10, 0, 60)"),
        format!("SELECT est_user_failed({id}, 10, 3, 86401)"),
        format!("SELECT est_user_failed({id}, 10, 1001, 60)"),
        format!("SELECT est_user_failed({id}, NULL, 3, 60)"),
        "SELECT * FROM est_user_lookup(NULL, 'router-1')".to_string(),
    ] {
        let e = as_role("strongroom_front", bad.clone()).await.unwrap_err();
        assert!(!e.contains("permission denied"), "front: {bad}: {e}");
    }
    for allowed in [
        "SELECT id, label, username, failures, locked_until FROM est_users".to_string(),
        format!(
            "INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
             VALUES ('default', 'by-control', '{HASH}', 'control', 1)"
        ),
        format!("UPDATE est_users SET failures = 0, locked_until = NULL WHERE id = {id}"),
        "DELETE FROM est_users WHERE username = 'by-control'".to_string(),
    ] {
        as_role("strongroom_control", allowed.clone())
            .await
            .unwrap_or_else(|e| panic!("control: {allowed}: {e}"));
    }
    for forbidden in [
        "SELECT * FROM est_user_lookup('default', 'router-1')".to_string(),
        format!("SELECT est_user_failed({id}, 10, 3, 60)"),
        format!("SELECT est_user_succeeded({id})"),
    ] {
        let e = as_role("strongroom_control", forbidden.clone())
            .await
            .unwrap_err();
        assert!(e.contains("permission denied"), "control: {forbidden}: {e}");
    }
    // Nothing above changed the user; the front, through the store, looks it up, counts a
    // failure and clears it.
    assert_eq!(
        db.store.est_user("default", "router-1").await.unwrap(),
        made
    );
    let cred = front
        .est_credential("default", "router-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cred.id, cred.password_hash.as_str()), (id, HASH));
    assert_eq!(front.est_login_failed(id, 10, 3, 60).await.unwrap(), None);
    assert_eq!(
        db.store
            .est_user("default", "router-1")
            .await
            .unwrap()
            .failures,
        1
    );
    front.est_login_succeeded(id).await.unwrap();
    assert_eq!(
        db.store
            .est_user("default", "router-1")
            .await
            .unwrap()
            .failures,
        0
    );
    front.close().await;
    db.cleanup().await;
}
