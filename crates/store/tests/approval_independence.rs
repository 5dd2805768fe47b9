//! Dual control in the store, identical on SQLite and PostgreSQL: who may decide on whose
//! approval request (sponsor lines, transitively; shared sponsors in production) and that
//! every decision says why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use strongroom_store::*;

on_both_backends!(
    approvals_refuse_the_requesters_sponsored_users_and_silent_decisions,
    |store: Store, _url: String| async move {
        let alice = store
            .insert_user("alice", "x", &[Role::Admin], false, 1)
            .await
            .unwrap();
        let erin = store
            .insert_user("erin", "x", &[Role::Approver], false, 2)
            .await
            .unwrap();
        let frank = store
            .insert_user("frank", "x", &[Role::Approver], false, 2)
            .await
            .unwrap();
        store.add_user_sponsor(erin, "alice", 2).await.unwrap();
        store.add_user_sponsor(erin, "alice", 3).await.unwrap();
        assert_eq!(store.user_sponsors(erin).await.unwrap(), ["alice"]);
        assert!(store.user_sponsors(alice).await.unwrap().is_empty());
        let id = store
            .create_approval("profile.put", "{}", "alice", 1, 100, 1_000)
            .await
            .unwrap();
        let puppet = store
            .decide_approval(id, "erin", true, "looks fine", Independence::Ancestry, 110)
            .await
            .unwrap_err();
        assert!(
            matches!(&puppet, StoreError::Conflict(m) if m.contains("not independent of alice")),
            "{puppet:?}"
        );
        // Transitively: a user erin made is alice's creature too.
        let gina = store
            .insert_user("gina", "x", &[Role::Approver], false, 2)
            .await
            .unwrap();
        store.add_user_sponsor(gina, "erin", 2).await.unwrap();
        assert!(matches!(
            store
                .decide_approval(id, "gina", true, "looks fine", Independence::Ancestry, 110)
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Siblings: erin's request, decided by another of alice's users — allowed by
        // ancestry alone, refused when no sponsor may be shared (production).
        let hank = store
            .insert_user("hank", "x", &[Role::Approver], false, 2)
            .await
            .unwrap();
        store.add_user_sponsor(hank, "alice", 2).await.unwrap();
        let erins = store
            .create_approval("certificate.issue", "{}", "erin", 1, 100, 1_000)
            .await
            .unwrap();
        assert!(matches!(
            store
                .decide_approval(erins, "hank", true, "ok", Independence::SharedSponsors, 110)
                .await,
            Err(StoreError::Conflict(m)) if m.contains("same user sponsored both")
        ));
        assert_eq!(
            store
                .decide_approval(erins, "hank", true, "ok", Independence::Ancestry, 110)
                .await
                .unwrap(),
            ApprovalState::Approved
        );
        let silent = store
            .decide_approval(id, "frank", true, "  ", Independence::Ancestry, 110)
            .await
            .unwrap_err();
        assert!(matches!(silent, StoreError::Invalid(_)), "{silent:?}");
        assert_eq!(
            store
                .decide_approval(
                    id,
                    "frank",
                    true,
                    "matches change ticket 42",
                    Independence::Ancestry,
                    120
                )
                .await
                .unwrap(),
            ApprovalState::Approved
        );
        let r = store.approval(id).await.unwrap();
        assert_eq!(
            r.decisions,
            [(
                "frank".to_string(),
                "approve".to_string(),
                "matches change ticket 42".to_string()
            )]
        );
        let _ = frank;
    }
);
