//! Browser sessions and the TOTP second factor's records on both backends (issue 19): a
//! console session used within the idle timeout stays, one idle longer ends and is revoked;
//! "log out everywhere" ends login sessions (API and browser) but not API keys made on
//! purpose; a TOTP step is taken once and only moving forward, and two takers racing get it
//! once; a recovery code is used once; an enrolment confirms only the blob it names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use strongroom_store::*;

async fn key(store: &Store, owner: i64, key_id: &str, label: &str, now: i64) {
    store
        .insert_api_key(
            &NewApiKey {
                key_id,
                secret_hash: &"ab".repeat(32),
                owner_id: owner,
                roles: &[Role::Enroller],
                expires_at: Some(now + 43_200),
                label,
            },
            now,
        )
        .await
        .unwrap();
}

on_both_backends!(
    an_idle_browser_session_ends_and_logging_out_everywhere_spares_api_keys,
    |store: Store, _url: String| async move {
        let tina = store
            .insert_user("tina", "x", &[Role::Enroller], false, 1_000)
            .await
            .unwrap();
        key(&store, tina, "c0ffee0000000001", "console", 1_000).await;
        // Used within 900 s of its making, then of its last use: alive.
        assert!(store
            .touch_session("c0ffee0000000001", 1_800, 900)
            .await
            .unwrap());
        assert!(store
            .touch_session("c0ffee0000000001", 2_600, 900)
            .await
            .unwrap());
        // 900 s and more without use: ended, and revoked for good.
        assert!(!store
            .touch_session("c0ffee0000000001", 3_500, 900)
            .await
            .unwrap());
        assert!(!store
            .touch_session("c0ffee0000000001", 3_501, 900)
            .await
            .unwrap());
        assert!(store
            .api_key("c0ffee0000000001")
            .await
            .unwrap()
            .revoked_at
            .is_some());

        key(&store, tina, "c0ffee0000000002", "console", 4_000).await;
        key(&store, tina, "c0ffee0000000003", "session", 4_000).await;
        key(&store, tina, "c0ffee0000000004", "deploy-bot", 4_000).await;
        assert_eq!(store.revoke_user_sessions(tina, 4_100).await.unwrap(), 2);
        for (id, revoked) in [
            ("c0ffee0000000002", true),
            ("c0ffee0000000003", true),
            ("c0ffee0000000004", false),
        ] {
            let k = store.api_key(id).await.unwrap();
            assert_eq!(k.revoked_at.is_some(), revoked, "{id}");
        }
    }
);

on_both_backends!(
    a_totp_step_and_a_recovery_code_are_taken_once,
    |store: Store, _url: String| async move {
        let tina = store
            .insert_user("tina", "x", &[Role::Enroller], false, 1)
            .await
            .unwrap();
        assert!(store.totp_of(tina).await.unwrap().is_none());
        let first = vec![1u8; 48];
        store.totp_begin(tina, &first, 10).await.unwrap();
        // Nothing active yet: no step can be taken.
        assert!(!store.totp_take_step(tina, 5).await.unwrap());
        // A newer enrolment replaces the pending one; confirming the old blob does nothing.
        let second = vec![2u8; 48];
        store.totp_begin(tina, &second, 11).await.unwrap();
        let hashes: Vec<String> = (0..10).map(|i| format!("{i:064x}")).collect();
        assert!(!store
            .totp_confirm(tina, &first, 100, &hashes, 12)
            .await
            .unwrap());
        assert!(store
            .totp_confirm(tina, &second, 100, &hashes, 12)
            .await
            .unwrap());
        let r = store.totp_of(tina).await.unwrap().unwrap();
        assert_eq!(r.sealed.as_deref(), Some(second.as_slice()));
        assert!(r.pending.is_none());
        assert_eq!(r.last_step, 100);

        // Steps move forward only, each once.
        assert!(
            !store.totp_take_step(tina, 100).await.unwrap(),
            "the confirming step"
        );
        assert!(store.totp_take_step(tina, 101).await.unwrap());
        assert!(!store.totp_take_step(tina, 101).await.unwrap(), "a replay");
        assert!(
            !store.totp_take_step(tina, 99).await.unwrap(),
            "an older step"
        );
        // Two takers of one step at once: one wins.
        let (a, b) = tokio::join!(
            store.totp_take_step(tina, 102),
            store.totp_take_step(tina, 102)
        );
        assert!(a.unwrap() ^ b.unwrap(), "exactly one of two racing takers");

        assert_eq!(store.totp_recovery_codes_left(tina).await.unwrap(), 10);
        assert!(store
            .totp_use_recovery_code(tina, &hashes[3], 20)
            .await
            .unwrap());
        assert!(!store
            .totp_use_recovery_code(tina, &hashes[3], 21)
            .await
            .unwrap());
        assert!(!store
            .totp_use_recovery_code(tina, &"f".repeat(64), 21)
            .await
            .unwrap());
        assert_eq!(store.totp_recovery_codes_left(tina).await.unwrap(), 9);

        assert!(store.totp_remove(tina).await.unwrap());
        assert!(store.totp_of(tina).await.unwrap().is_none());
        assert_eq!(store.totp_recovery_codes_left(tina).await.unwrap(), 0);
        assert!(!store.totp_remove(tina).await.unwrap());
    }
);
