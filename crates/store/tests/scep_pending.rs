//! SCEP requests waiting for approval, on both backends, submitted as the front submits
//! them (on PostgreSQL through its own role, which may only execute `scep_pending_submit`
//! and `scep_pending_status`): a request and its `scep.approve` job are recorded together
//! and once per (profile, transactionID); control files one approval per request and
//! records the outcome once, forgetting the CSR; a lapsed approval rejects its request; a
//! profile holds at most MAX_PENDING_PER_PROFILE pending requests; the front's role can
//! neither read the CSRs nor mark a request issued or rejected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use backends::{front_store, is_postgres};

use sqlx::Executor;
use strongroom_store::*;
use strongroom_types::{ProfileName, Serial};

const FINGERPRINT: &str = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";

fn profile(name: &str) -> ProfileName {
    name.parse().unwrap()
}

fn request(p: &str, transaction: &str) -> NewScepPending {
    NewScepPending {
        protocol: strongroom_store::PendingProtocol::Scep,
        profile: profile(p),
        transaction_id: transaction.into(),
        // Not a real CSR: the store does not parse it (control does).
        csr: b"csr-bytes with challenge s3cret-challenge".to_vec(),
        signer_fingerprint: FINGERPRINT.into(),
        names: vec!["dev1.lab.test".into(), "alt.lab.test".into()],
    }
}

fn approval(required: i64, expires_at: i64) -> ApprovalToFile<'static> {
    ApprovalToFile {
        kind: "scep.enrol",
        payload: "{}",
        requested_by: "scep:scep-device",
        required,
        expires_at,
    }
}

/// A certificate row for an `Issued` outcome to point at.
async fn certificate(store: &Store) -> i64 {
    store
        .insert_ca(
            &CaRecord {
                id: "issuing".parse().unwrap(),
                parent: None,
                subject: "CN=issuing".into(),
                state: CaState::Active,
                not_before: 1,
                not_after: 2_000_000_000,
                cert_der: vec![0x30, 0x00],
            },
            1,
        )
        .await
        .unwrap();
    let mut serial = [0u8; 16];
    serial[0] = 1;
    store
        .insert_certificate(
            &NewCertificate {
                issuer: "issuing".parse().unwrap(),
                serial: Serial::from_random(serial).unwrap(),
                profile: Some("scep-device".into()),
                subject_cn: None,
                names: vec!["dev1.lab.test".into()],
                not_before: 1,
                not_after: 1_000_000,
                fingerprint: format!("{:064x}", 7),
                der: vec![0x30, 0x00],
                source: CertificateSource::Scep,
                owner: Some("scep:scep-device".into()),
                team: None,
                tags: vec![],
                replaces: None,
            },
            1,
        )
        .await
        .unwrap()
}

on_both_backends!(
    recorded_with_its_job_once_per_transaction,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let scep = profile("scep-device");
        let first = request("scep-device", "tx-1");
        // Debug never shows the CSR (it carries the challengePassword).
        assert!(!format!("{first:?}").contains("s3cret"));

        let id = match front.submit_scep_pending(&first, 100).await.unwrap() {
            SubmitOutcome::Queued { id } => id,
            other => panic!("{other:?}"),
        };
        // The device's repeat, and the same transactionID under the profile with another
        // CSR, write nothing.
        let mut again = first.clone();
        again.csr = b"another".to_vec();
        assert_eq!(
            front.submit_scep_pending(&again, 130).await.unwrap(),
            SubmitOutcome::Exists { id }
        );
        // The same transactionID under another profile is another request.
        assert!(matches!(
            front
                .submit_scep_pending(&request("other", "tx-1"), 131)
                .await
                .unwrap(),
            SubmitOutcome::Queued { .. }
        ));

        let view = front
            .scep_pending_status(&scep, "tx-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.id, id);
        assert_eq!(view.status, ScepPendingStatus::Pending);
        assert_eq!(view.signer_fingerprint, FINGERPRINT);
        assert_eq!(
            front.scep_pending_status(&scep, "tx-2").await.unwrap(),
            None
        );

        // Exactly one job per new request, naming the row.
        let job = owner.claim_job("w", 200, 60).await.unwrap().unwrap();
        assert_eq!(job.kind, SCEP_APPROVE_JOB);
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
        assert_eq!(payload["pending_id"], id);
        assert!(owner.claim_job("w", 200, 60).await.unwrap().is_some());
        assert!(owner.claim_job("w", 200, 60).await.unwrap().is_none());

        // Control reads the whole row; its Debug hides the CSR too.
        let row = owner.scep_pending(id).await.unwrap();
        assert_eq!(row.csr.as_deref(), Some(first.csr.as_slice()));
        assert_eq!(row.names, first.names);
        assert_eq!((row.approval_id, row.created_at), (None, 100));
        assert!(!format!("{row:?}").contains("s3cret"));
        front.close().await;
    }
);

on_both_backends!(
    one_approval_one_outcome_and_the_csr_forgotten,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let scep = profile("scep-device");
        let cert = certificate(&owner).await;
        let SubmitOutcome::Queued { id } = front
            .submit_scep_pending(&request("scep-device", "tx-ok"), 10)
            .await
            .unwrap()
        else {
            panic!()
        };
        let filed = match owner
            .file_scep_approval(id, &approval(2, 1000), 20)
            .await
            .unwrap()
        {
            FileOutcome::Filed(a) => a,
            other => panic!("{other:?}"),
        };
        let a = owner.approval(filed).await.unwrap();
        assert_eq!((a.kind.as_str(), a.required), ("scep.enrol", 2));
        assert_eq!(a.state, ApprovalState::Pending);
        // A job run twice files once.
        assert_eq!(
            owner
                .file_scep_approval(id, &approval(2, 1000), 21)
                .await
                .unwrap(),
            FileOutcome::AlreadyFiled(filed)
        );
        assert_eq!(
            owner.scep_pending(id).await.unwrap().approval_id,
            Some(filed)
        );
        assert!(matches!(
            owner
                .decide_scep_pending(id, &ScepPendingStatus::Pending, 30)
                .await,
            Err(StoreError::Conflict(_))
        ));

        let issued = ScepPendingStatus::Issued {
            certificate_id: cert,
        };
        owner.decide_scep_pending(id, &issued, 30).await.unwrap();
        let row = owner.scep_pending(id).await.unwrap();
        assert_eq!(row.status, issued);
        assert_eq!(row.csr, None, "the CSR outlived the decision");
        assert_eq!(
            front
                .scep_pending_status(&scep, "tx-ok")
                .await
                .unwrap()
                .unwrap()
                .status,
            issued
        );
        // Decided once: no second outcome, no approval for a decided row.
        assert!(matches!(
            owner
                .decide_scep_pending(
                    id,
                    &ScepPendingStatus::Rejected {
                        reason: "late".into()
                    },
                    40
                )
                .await,
            Err(StoreError::Conflict(_))
        ));

        let SubmitOutcome::Queued { id: no } = front
            .submit_scep_pending(&request("scep-device", "tx-no"), 50)
            .await
            .unwrap()
        else {
            panic!()
        };
        let rejected = ScepPendingStatus::Rejected {
            reason: "rejected by bob: unknown device".into(),
        };
        owner.decide_scep_pending(no, &rejected, 60).await.unwrap();
        assert_eq!(
            owner
                .file_scep_approval(no, &approval(1, 1000), 61)
                .await
                .unwrap(),
            FileOutcome::Decided
        );
        assert_eq!(
            front
                .scep_pending_status(&scep, "tx-no")
                .await
                .unwrap()
                .unwrap()
                .status,
            rejected
        );
        front.close().await;
    }
);

on_both_backends!(
    a_lapsed_approval_rejects_its_request,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let SubmitOutcome::Queued { id } = front
            .submit_scep_pending(&request("scep-device", "tx-late"), 10)
            .await
            .unwrap()
        else {
            panic!()
        };
        let SubmitOutcome::Queued { id: fresh } = front
            .submit_scep_pending(&request("scep-device", "tx-fresh"), 10)
            .await
            .unwrap()
        else {
            panic!()
        };
        owner
            .file_scep_approval(id, &approval(1, 100), 20)
            .await
            .unwrap();
        owner
            .file_scep_approval(fresh, &approval(1, 10_000), 20)
            .await
            .unwrap();
        assert_eq!(owner.reject_lapsed_scep_pending(99).await.unwrap(), 0);
        assert_eq!(owner.reject_lapsed_scep_pending(100).await.unwrap(), 1);
        let row = owner.scep_pending(id).await.unwrap();
        assert!(
            matches!(row.status, ScepPendingStatus::Rejected { ref reason } if reason.contains("expired")),
            "{row:?}"
        );
        assert_eq!(row.csr, None);
        assert_eq!(
            owner.scep_pending(fresh).await.unwrap().status,
            ScepPendingStatus::Pending
        );
        front.close().await;
    }
);

on_both_backends!(
    a_profile_holds_a_bounded_number_pending,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        for n in 0..MAX_PENDING_PER_PROFILE {
            assert!(matches!(
                front
                    .submit_scep_pending(&request("scep-device", &format!("tx-{n}")), 10)
                    .await
                    .unwrap(),
                SubmitOutcome::Queued { .. }
            ));
        }
        assert_eq!(
            front
                .submit_scep_pending(&request("scep-device", "one-too-many"), 11)
                .await
                .unwrap(),
            SubmitOutcome::Full
        );
        // The device whose request is recorded still gets its answer; another profile is
        // not affected; a decided request makes room.
        assert!(matches!(
            front
                .submit_scep_pending(&request("scep-device", "tx-0"), 12)
                .await
                .unwrap(),
            SubmitOutcome::Exists { .. }
        ));
        assert!(matches!(
            front
                .submit_scep_pending(&request("other", "tx-x"), 12)
                .await
                .unwrap(),
            SubmitOutcome::Queued { .. }
        ));
        let first = front
            .scep_pending_status(&profile("scep-device"), "tx-0")
            .await
            .unwrap()
            .unwrap();
        owner
            .decide_scep_pending(
                first.id,
                &ScepPendingStatus::Rejected {
                    reason: "no".into(),
                },
                13,
            )
            .await
            .unwrap();
        assert!(matches!(
            front
                .submit_scep_pending(&request("scep-device", "one-too-many"), 14)
                .await
                .unwrap(),
            SubmitOutcome::Queued { .. }
        ));
        front.close().await;
    }
);

/// On PostgreSQL the front's role submits and reads a status only through the functions:
/// it cannot read the CSRs, insert a row that says issued, mark one issued or rejected,
/// re-point one at another certificate or delete one. Control reads and decides, but
/// cannot submit as the front does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_role_cannot_decide() {
    let db = backends::postgres().await;
    assert!(
        is_postgres(&db.url),
        "this test needs STRONGROOM_TEST_PG to name the postgres superuser"
    );
    let front = front_store(&db.url).await;
    let cert = certificate(&db.store).await;
    let SubmitOutcome::Queued { id } = front
        .submit_scep_pending(&request("scep-device", "tx-role"), 1)
        .await
        .unwrap()
    else {
        panic!()
    };
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
    for forbidden in [
        "SELECT csr FROM scep_pending".to_string(),
        "SELECT id, status FROM scep_pending".to_string(),
        format!("UPDATE scep_pending SET status = 'issued', certificate_id = {cert}, csr = NULL WHERE id = {id}"),
        format!("UPDATE scep_pending SET status = 'rejected', reason = 'x', csr = NULL WHERE id = {id}"),
        format!(
            "INSERT INTO scep_pending (profile, transaction_id, signer_fingerprint, names, status, \
             certificate_id, created_at, updated_at) VALUES ('scep-device', 'forged', '{FINGERPRINT}', '', \
             'issued', {cert}, 1, 1)"
        ),
        format!("DELETE FROM scep_pending WHERE id = {id}"),
        "UPDATE approval_requests SET state = 'approved'".to_string(),
    ] {
        let e = as_role("strongroom_front", forbidden.clone()).await.unwrap_err();
        assert!(e.contains("permission denied"), "front: {forbidden}: {e}");
    }
    as_role(
        "strongroom_control",
        "SELECT csr, status FROM scep_pending".into(),
    )
    .await
    .unwrap();
    let e = as_role(
        "strongroom_control",
        "SELECT * FROM scep_pending_submit('scep', 'p', 't', '\\x30'::bytea, 'f', '', 1)".into(),
    )
    .await
    .unwrap_err();
    assert!(e.contains("permission denied"), "control: {e}");
    // Nothing above changed the row; control's decision does.
    let row = db.store.scep_pending(id).await.unwrap();
    assert_eq!(row.status, ScepPendingStatus::Pending);
    let control = Store::connect_without_migrating(&db.url.replacen(
        "postgres://postgres@",
        "postgres://strongroom_control@",
        1,
    ))
    .await
    .unwrap();
    control
        .decide_scep_pending(
            id,
            &ScepPendingStatus::Issued {
                certificate_id: cert,
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(
        front
            .scep_pending_status(&profile("scep-device"), "tx-role")
            .await
            .unwrap()
            .unwrap()
            .status,
        ScepPendingStatus::Issued {
            certificate_id: cert
        }
    );
    control.close().await;
    front.close().await;
    db.cleanup().await;
}

on_both_backends!(
    an_est_request_keeps_its_protocol_through_the_front_role,
    |owner: Store, url: String| async move {
        let front = front_store(&url).await;
        let mut est = request("scep-device", "est-0123abcd");
        est.protocol = strongroom_store::PendingProtocol::Est;
        let id = match front.submit_scep_pending(&est, 100).await.unwrap() {
            SubmitOutcome::Queued { id } => id,
            other => panic!("{other:?}"),
        };
        let view = front
            .scep_pending_status(&profile("scep-device"), "est-0123abcd")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.protocol, strongroom_store::PendingProtocol::Est);
        assert_eq!(
            owner.scep_pending(id).await.unwrap().protocol,
            strongroom_store::PendingProtocol::Est
        );
        // A SCEP request reads back as SCEP.
        let scep = request("scep-device", "tx-scep");
        front.submit_scep_pending(&scep, 101).await.unwrap();
        let view = front
            .scep_pending_status(&profile("scep-device"), "tx-scep")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.protocol, strongroom_store::PendingProtocol::Scep);
    }
);
