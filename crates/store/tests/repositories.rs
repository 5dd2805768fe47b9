//! Repository behaviour, identical on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use strongroom_store::*;
use strongroom_types::{CaId, RevocationReason, Serial};

fn ca(id: &str, parent: Option<&str>) -> CaRecord {
    CaRecord {
        id: id.parse().unwrap(),
        parent: parent.map(|p| p.parse().unwrap()),
        subject: format!("CN={id}"),
        state: CaState::Active,
        not_before: 1_700_000_000,
        not_after: 2_000_000_000,
        cert_der: vec![0x30, 0x00],
    }
}

fn cert(n: u32, issuer: &str) -> NewCertificate {
    let mut serial = [0u8; 16];
    serial[0] = 1;
    serial[12..].copy_from_slice(&n.to_be_bytes());
    NewCertificate {
        issuer: issuer.parse().unwrap(),
        serial: Serial::from_random(serial).unwrap(),
        profile: Some(
            if n % 2 == 0 {
                "tls-server"
            } else {
                "tls-client"
            }
            .into(),
        ),
        subject_cn: Some(format!("h{n}.lab.test")),
        names: vec![format!("h{n}.lab.test"), format!("alt{n}.lab.test")],
        not_before: 1_800_000_000,
        not_after: 1_800_000_000 + i64::from(n) * 86_400,
        fingerprint: format!("{n:064x}"),
        der: vec![0x30, 0x03, 0x02, 0x01, (n % 100) as u8],
        source: if n % 3 == 0 {
            CertificateSource::Acme
        } else {
            CertificateSource::Api
        },
        owner: Some(if n % 5 == 0 { "team-a" } else { "team-b" }.into()),
        team: None,
        tags: if n % 10 == 0 {
            vec!["pci".into(), "prod".into()]
        } else {
            vec!["prod".into()]
        },
        replaces: None,
    }
}

on_both_backends!(
    ca_hierarchy_and_lifecycle,
    |store: Store, _url: String| async move {
        store.insert_ca(&ca("root", None), 1).await.unwrap();
        store
            .insert_ca(&ca("issuing", Some("root")), 2)
            .await
            .unwrap();
        assert!(matches!(
            store.insert_ca(&ca("root", None), 3).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.insert_ca(&ca("orphan", Some("nope")), 3).await,
            Err(StoreError::Invalid(_))
        ));
        let ids: Vec<String> = store
            .cas()
            .await
            .unwrap()
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        assert_eq!(ids, ["root", "issuing"]);
        let issuing: CaId = "issuing".parse().unwrap();
        store
            .set_ca_state(&issuing, CaState::Retiring)
            .await
            .unwrap();
        assert!(matches!(
            store.set_ca_state(&issuing, CaState::Active).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.ca(&issuing).await.unwrap().state, CaState::Retiring);
        assert!(matches!(
            store.ca(&"ghost".parse().unwrap()).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

on_both_backends!(
    inventory_filters_pages_and_revocation,
    |store: Store, _url: String| async move {
        store.insert_ca(&ca("issuing", None), 1).await.unwrap();
        for n in 1..=250 {
            store
                .insert_certificate(&cert(n, "issuing"), 10)
                .await
                .unwrap();
        }
        // Duplicate serial under the same issuer.
        assert!(matches!(
            store.insert_certificate(&cert(7, "issuing"), 10).await,
            Err(StoreError::Conflict(_))
        ));

        // A full keyset walk sees every certificate once, in order.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .certificates(&CertificateFilter::default(), after, 100)
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|c| c.id));
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        assert_eq!(seen.len(), 250);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));

        let count = |f: CertificateFilter| {
            let store = store.clone();
            async move { store.count_certificates(&f).await.unwrap() }
        };
        assert_eq!(
            count(CertificateFilter {
                profile: Some("tls-server".into()),
                ..Default::default()
            })
            .await,
            125
        );
        assert_eq!(
            count(CertificateFilter {
                tag: Some("pci".into()),
                ..Default::default()
            })
            .await,
            25
        );
        assert_eq!(
            count(CertificateFilter {
                owner: Some("team-a".into()),
                ..Default::default()
            })
            .await,
            50
        );
        assert_eq!(
            count(CertificateFilter {
                expiring_before: Some(1_800_000_000 + 30 * 86_400),
                ..Default::default()
            })
            .await,
            29
        );
        assert_eq!(
            count(CertificateFilter {
                name: Some("ALT42.lab.test".into()),
                ..Default::default()
            })
            .await,
            1
        );
        // A serial alone finds its certificate under any issuer.
        assert_eq!(
            count(CertificateFilter {
                serial: Some(cert(42, "issuing").serial),
                ..Default::default()
            })
            .await,
            1
        );
        // SQL-looking input is just a value.
        assert_eq!(
            count(CertificateFilter {
                name: Some("x' OR '1'='1".into()),
                ..Default::default()
            })
            .await,
            0
        );

        let page = store
            .certificates(
                &CertificateFilter {
                    name: Some("h42.lab.test".into()),
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        let c = &page.items[0];
        assert_eq!(c.certificate, cert(42, "issuing").tap_names());
        assert!(!c.revoked);
        let by_serial = store
            .certificate_by_serial(&"issuing".parse().unwrap(), &cert(42, "issuing").serial)
            .await
            .unwrap();
        assert_eq!(by_serial.id, c.id);

        let rev = RevocationRow {
            certificate_id: c.id,
            reason: RevocationReason::KeyCompromise,
            revoked_at: 99,
            invalidity_date: Some(90),
            revoked_by: "alice".into(),
        };
        store.revoke_certificate(&rev).await.unwrap();
        assert!(matches!(
            store.revoke_certificate(&rev).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .revoke_certificate(&RevocationRow {
                    certificate_id: 99_999,
                    ..rev.clone()
                })
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.revocation(c.id).await.unwrap(), Some(rev));
        assert!(store.certificate(c.id).await.unwrap().revoked);
        assert_eq!(
            count(CertificateFilter {
                revoked: Some(true),
                ..Default::default()
            })
            .await,
            1
        );
        assert!(matches!(
            store
                .certificates(&CertificateFilter::default(), None, 0)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
);

trait TapNames {
    fn tap_names(self) -> Self;
}

impl TapNames for NewCertificate {
    /// The stored names are the SANs plus the CN, lower-cased, sorted, deduplicated.
    fn tap_names(mut self) -> Self {
        let mut names = self.names.clone();
        names.extend(self.subject_cn.clone());
        names.sort();
        names.dedup();
        self.names = names;
        self
    }
}

on_both_backends!(
    audit_chain_detects_edits_and_deletions,
    |store: Store, url: String| async move {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let e = NewAuditEvent {
                    actor: format!("user{}", i % 3),
                    action: "certificate.issue".into(),
                    target: format!("certificate:{i}"),
                    outcome: AuditOutcome::Ok,
                    detail: String::new(),
                };
                store.append_audit(&e, 1_000 + i).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(store.verify_audit().await.unwrap(), Ok(40));
        let events = store.audit_events(1, 40).await.unwrap();
        assert_eq!(events.len(), 40);
        assert!(events.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert_eq!(
            store.audit_head().await.unwrap(),
            (40, events[39].hash.clone())
        );

        // Someone with database access edits an event, then deletes one.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 17")
            .execute(&raw)
            .await
            .unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.seq, 17, "{broken:?}");
        assert!(broken.why.contains("edited"), "{broken:?}");
        sqlx::query("UPDATE audit_events SET detail = '' WHERE seq = 17")
            .execute(&raw)
            .await
            .unwrap();
        assert_eq!(store.verify_audit().await.unwrap(), Ok(40));
        sqlx::query("DELETE FROM audit_events WHERE seq = 23")
            .execute(&raw)
            .await
            .unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.seq, 24, "{broken:?}");
        assert!(broken.why.contains("missing"), "{broken:?}");
        raw.close().await;
    }
);

on_both_backends!(
    users_and_api_keys,
    |store: Store, _url: String| async move {
        let id = store
            .insert_user(
                "alice",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                &[Role::Admin, Role::Auditor],
                false,
                5,
            )
            .await
            .unwrap();
        assert!(matches!(
            store.insert_user("alice", "x", &[], false, 6).await,
            Err(StoreError::Conflict(_))
        ));
        let alice = store.user_by_name("alice").await.unwrap();
        assert_eq!(alice.id, id);
        assert_eq!(alice.roles, vec![Role::Admin, Role::Auditor]);
        store
            .insert_api_key(
                &NewApiKey {
                    key_id: "k_123",
                    secret_hash: "hash",
                    owner_id: id,
                    roles: &[Role::Enroller],
                    expires_at: Some(1_000),
                    label: "ci",
                },
                5,
            )
            .await
            .unwrap();
        let key = store.api_key("k_123").await.unwrap();
        assert_eq!(
            (key.owner_id, key.roles.clone(), key.revoked_at),
            (id, vec![Role::Enroller], None)
        );
        store.revoke_api_key("k_123", 7).await.unwrap();
        assert_eq!(store.api_key("k_123").await.unwrap().revoked_at, Some(7));
        assert!(matches!(
            store.revoke_api_key("k_123", 8).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.revoke_api_key("nope", 8).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

on_both_backends!(
    approvals_two_person_integrity,
    |store: Store, _url: String| async move {
        let id = store
            .create_approval("ca.create", "{\"id\":\"team\"}", "alice", 2, 100, 1_000)
            .await
            .unwrap();
        let own = store
            .decide_approval(
                id,
                "alice",
                true,
                "checked the request",
                Independence::Ancestry,
                110,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&own, StoreError::Conflict(m) if m.contains("own request")),
            "{own:?}"
        );
        assert_eq!(
            store
                .decide_approval(
                    id,
                    "bob",
                    true,
                    "checked the request",
                    Independence::Ancestry,
                    120
                )
                .await
                .unwrap(),
            ApprovalState::Pending
        );
        let twice = store
            .decide_approval(
                id,
                "bob",
                true,
                "checked the request",
                Independence::Ancestry,
                121,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&twice, StoreError::Conflict(m) if m.contains("already decided")),
            "{twice:?}"
        );
        assert_eq!(
            store
                .decide_approval(
                    id,
                    "carol",
                    true,
                    "checked the request",
                    Independence::Ancestry,
                    130
                )
                .await
                .unwrap(),
            ApprovalState::Approved
        );
        assert!(matches!(
            store
                .decide_approval(
                    id,
                    "dave",
                    true,
                    "checked the request",
                    Independence::Ancestry,
                    140
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        let r = store.approval(id).await.unwrap();
        assert_eq!(
            (r.state, r.approved_by),
            (
                ApprovalState::Approved,
                vec!["bob".to_string(), "carol".to_string()]
            )
        );

        let rejected = store
            .create_approval("certificate.issue", "{}", "alice", 2, 100, 1_000)
            .await
            .unwrap();
        assert_eq!(
            store
                .decide_approval(
                    rejected,
                    "bob",
                    false,
                    "checked the request",
                    Independence::Ancestry,
                    120
                )
                .await
                .unwrap(),
            ApprovalState::Rejected
        );

        let late = store
            .create_approval("ca.retire", "{}", "alice", 1, 100, 200)
            .await
            .unwrap();
        assert!(
            matches!(store.decide_approval(late, "bob", true, "checked the request", Independence::Ancestry, 200).await, Err(StoreError::Conflict(m)) if m.contains("expired"))
        );
        assert_eq!(
            store.approval(late).await.unwrap().state,
            ApprovalState::Expired
        );
        let pending = store
            .create_approval("ca.retire", "{}", "alice", 1, 100, 300)
            .await
            .unwrap();
        assert_eq!(store.expire_approvals(400).await.unwrap(), 1);
        assert_eq!(
            store.approval(pending).await.unwrap().state,
            ApprovalState::Expired
        );
        assert!(matches!(
            store.create_approval("x", "{}", "a", 0, 1, 2).await,
            Err(StoreError::Invalid(_))
        ));
    }
);

on_both_backends!(
    profiles_are_versioned_and_need_their_issuer,
    |store: Store, _url: String| async move {
        let mut p: strongroom_types::Profile = serde_json::from_str(
        r#"{"name":"tls-server","issuer":"issuing","max_validity_secs":7776000,"key_algorithms":["ecdsa-p256"],
            "key_usage":["digital-signature"],"extended_key_usage":["server-auth"],"allowed_name_kinds":["dns"]}"#,
    )
    .unwrap();
        assert!(
            matches!(
                store.put_profile(&p, 0, &[], 1).await,
                Err(StoreError::Invalid(_))
            ),
            "unknown issuer"
        );
        store.insert_ca(&ca("issuing", None), 1).await.unwrap();
        assert_eq!(store.put_profile(&p, 0, &[], 2).await.unwrap(), 1);
        p.max_validity_secs = 86_400;
        assert_eq!(store.put_profile(&p, 2, &[], 3).await.unwrap(), 2);
        let r = store.profile(&p.name).await.unwrap();
        assert_eq!(
            (r.profile.max_validity_secs, r.approvals_required, r.version),
            (86_400, 2, 2)
        );
        assert_eq!(store.profiles().await.unwrap().len(), 1);
        store.delete_profile(&p.name).await.unwrap();
        assert!(matches!(
            store.profile(&p.name).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.delete_profile(&p.name).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

on_both_backends!(
    jobs_run_once_and_retry,
    |store: Store, _url: String| async move {
        let a = store
            .enqueue_job("crl.refresh", "{\"ca\":\"issuing\"}", 100, 2, 1)
            .await
            .unwrap();
        let b = store
            .enqueue_job("expiry.alert", "{}", 200, 1, 1)
            .await
            .unwrap();
        assert_eq!(
            store.claim_job("w1", 50, 30).await.unwrap(),
            None,
            "nothing due yet"
        );

        // Ten workers race for the one due job: exactly one gets it.
        let mut tasks = Vec::new();
        for w in 0..10 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.claim_job(&format!("w{w}"), 150, 30).await.unwrap()
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(job) = t.await.unwrap() {
                winners.push(job);
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(
            (winners[0].id, winners[0].attempts, winners[0].lease_until),
            (a, 1, 180)
        );

        // The winner dies; after its lease another worker takes the job over.
        assert_eq!(store.claim_job("w-late", 170, 30).await.unwrap(), None);
        let again = store.claim_job("w-late", 181, 30).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (a, 2));
        assert!(matches!(
            store.complete_job(a, "w0-maybe", 182).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .fail_job(a, "w-late", "HSM unavailable", 300, 183)
                .await
                .unwrap(),
            JobState::Failed,
            "2 of 2 attempts used"
        );

        let jb = store.claim_job("w2", 250, 30).await.unwrap().unwrap();
        assert_eq!(jb.id, b);
        store.complete_job(b, "w2", 251).await.unwrap();
        assert_eq!(store.job_state(b).await.unwrap(), JobState::Done);
        assert_eq!(store.job_state(a).await.unwrap(), JobState::Failed);
        assert_eq!(store.claim_job("w3", 10_000, 30).await.unwrap(), None);
    }
);

on_both_backends!(
    crls_only_go_up_and_ocsp_responses_refresh,
    |store: Store, url: String| async move {
        store.insert_ca(&ca("issuing", None), 1).await.unwrap();
        let issuing: strongroom_types::CaId = "issuing".parse().unwrap();
        let crl = |number: i64| StoredCrl {
            ca: issuing.clone(),
            scope: "full".into(),
            number,
            der: vec![0x30, number as u8],
            this_update: 100 * number,
            next_update: 100 * number + 50,
        };
        assert_eq!(store.latest_crl(&issuing, "full").await.unwrap(), None);
        store.put_crl(&crl(1)).await.unwrap();
        store.put_crl(&crl(3)).await.unwrap();
        assert!(matches!(
            store.put_crl(&crl(2)).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .latest_crl(&issuing, "full")
                .await
                .unwrap()
                .unwrap()
                .number,
            3
        );
        // Scopes are independent: a shard's CRL 2 after the full CRL 3 is fine.
        let mut shard = crl(2);
        shard.scope = "2".into();
        store.put_crl(&shard).await.unwrap();
        assert_eq!(
            store
                .latest_crl(&issuing, "2")
                .await
                .unwrap()
                .unwrap()
                .number,
            2
        );
        assert_eq!(
            store
                .latest_crl(&issuing, "full")
                .await
                .unwrap()
                .unwrap()
                .number,
            3
        );

        let serial: strongroom_types::Serial = "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap();
        let resp = |status: &str, this_update: i64| StoredOcsp {
            ca: issuing.clone(),
            serial: serial.clone(),
            status: strongroom_types::OcspStatusKind::parse(status).unwrap(),
            der: vec![0x30, this_update as u8],
            this_update,
            next_update: this_update + 3600,
        };
        store.put_ocsp_responses(&[resp("good", 10)]).await.unwrap();
        store
            .put_ocsp_responses(&[resp("revoked", 20)])
            .await
            .unwrap();
        // An older response never replaces a newer one.
        store.put_ocsp_responses(&[resp("good", 15)]).await.unwrap();
        let got = store
            .ocsp_response(&issuing, &serial)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((got.status.as_str(), got.this_update), ("revoked", 20));
        assert_eq!(
            store.ocsp_due(20 + 3600 + 1, 10).await.unwrap(),
            vec![(issuing.clone(), serial.clone())]
        );
        assert!(store.ocsp_due(20 + 3600, 10).await.unwrap().is_empty());
        // A status outside the three has no value in the type; written around the store,
        // the column refuses it as invalid all the same.
        assert_eq!(strongroom_types::OcspStatusKind::parse("maybe"), None);
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        let refused = sqlx::query(
            "INSERT INTO ocsp_responses (ca_id, serial, status, der, this_update, next_update) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind("issuing")
        .bind("0a1b2c3d4e5f60718293a4b5c6d7e8fa")
        .bind("maybe")
        .bind(vec![0x30u8, 30])
        .bind(30i64)
        .bind(30i64 + 3600)
        .execute(&raw)
        .await;
        raw.close().await;
        assert!(matches!(
            refused.map_err(StoreError::from),
            Err(StoreError::Invalid(_))
        ));
    }
);

on_both_backends!(
    journal_reconciliation_records_what_is_missing_once,
    |store: Store, _url: String| async move {
        store.insert_ca(&ca("issuing", None), 1).await.unwrap();
        assert_eq!(store.journal_watermark().await.unwrap(), 0);
        // The front recorded certificate 1; certificates 2 and 3 only reached the journal.
        let known = store
            .insert_certificate(&cert(1, "issuing"), 5)
            .await
            .unwrap();
        let found = vec![cert(1, "issuing"), cert(2, "issuing"), cert(3, "issuing")];
        let event = |id: i64, c: &NewCertificate| NewAuditEvent {
            actor: "system".into(),
            action: "certificate.reconcile".into(),
            target: format!("certificate:{id}"),
            outcome: AuditOutcome::Ok,
            detail: format!("serial {}", c.serial),
        };
        let ids = store
            .reconcile_from_journal(&found, 40, event, 10)
            .await
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert!(!ids.contains(&known));
        assert_eq!(store.journal_watermark().await.unwrap(), 40);
        let two = store
            .certificate_by_serial(&"issuing".parse().unwrap(), &cert(2, "issuing").serial)
            .await
            .unwrap();
        assert_eq!(two.id, ids[0]);
        let audit = store.audit_events(1, 100).await.unwrap();
        let reconciled: Vec<_> = audit
            .iter()
            .filter(|e| e.event.action == "certificate.reconcile")
            .map(|e| e.event.target.clone())
            .collect();
        assert_eq!(
            reconciled,
            ids.iter()
                .map(|i| format!("certificate:{i}"))
                .collect::<Vec<_>>()
        );
        // Again (a crash after the commit, or an overlapping pass): nothing new, and the
        // watermark never moves back.
        assert!(store
            .reconcile_from_journal(&found, 30, event, 11)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.journal_watermark().await.unwrap(), 40);
    }
);
