//! ACME state on both backends, written through the front's narrow PostgreSQL role where
//! there is one: nonces are used once, an EAB key binds one account, order and challenge
//! moves are guarded by the current status, rate-limit counts and expiry work.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod backends;

use sqlx::Executor;
use strongroom_store::*;

const ROLES: &str = include_str!("../../../migrations/postgres/roles.sql");

/// The store as the front sees it: on PostgreSQL, connected as `strongroom_front`.
async fn front_store(owner: &Store, url: &str) -> Store {
    if !url.starts_with("postgres://postgres@") {
        return owner.clone();
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

fn order(account: i64, ip: &str) -> NewAcmeOrder {
    NewAcmeOrder {
        account_id: account,
        profile: "tls-server".into(),
        expires_at: 2_000,
        not_before: None,
        not_after: None,
        replaces_id: None,
        client_ip: ip.into(),
        authorizations: ["a.lab.test", "lab.test"]
            .iter()
            .enumerate()
            .map(|(i, v)| NewAcmeAuthorization {
                identifier_type: "dns".into(),
                identifier_value: (*v).into(),
                wildcard: i == 1,
                expires_at: 2_000,
                challenges: vec![
                    ("dns-01".into(), format!("tok{i}")),
                    ("http-01".into(), format!("tok{i}h")),
                ],
            })
            .collect(),
    }
}

on_both_backends!(acme_state, |owner: Store, url: String| async move {
    let front = front_store(&owner, &url).await;

    // Nonces: once, and only before they expire.
    front
        .add_acme_nonces(&["n1".to_string(), "n2".to_string()], 100)
        .await
        .unwrap();
    assert!(front.consume_acme_nonce("n1", 50).await.unwrap());
    assert!(!front.consume_acme_nonce("n1", 50).await.unwrap());
    assert!(!front.consume_acme_nonce("n2", 100).await.unwrap());
    assert!(!front.consume_acme_nonce("never", 50).await.unwrap());
    let batch: Vec<String> = (0..70).map(|i| format!("b{i}")).collect();
    front.add_acme_nonces(&batch, 100).await.unwrap();
    assert!(front.consume_acme_nonce("b69", 50).await.unwrap());
    assert!(!front.consume_acme_nonce("b69", 50).await.unwrap());

    // EAB keys are made by control (the owner here) and bind one account.
    owner
        .create_eab_key(&EabKey {
            kid: "eab_1".into(),
            profile: "tls-client".into(),
            hmac_key: vec![9; 32],
            account_id: None,
            created_by: "admin".into(),
            created_at: 10,
            bound_at: None,
        })
        .await
        .unwrap();
    let new = |tp: &str, eab: Option<&str>| NewAcmeAccount {
        thumbprint: tp.into(),
        jwk: format!("{{\"tp\":\"{tp}\"}}"),
        contact: vec!["mailto:a@lab.test".into(), "mailto:b@lab.test".into()],
        eab_kid: eab.map(str::to_string),
        eab_jws: eab
            .map(|k| format!("{{\"protected\":\"{k}\",\"payload\":\"p\",\"signature\":\"s\"}}")),
        created_ip: "192.0.2.1".into(),
    };
    let a = front
        .create_acme_account(&new("tp-a", None), 20)
        .await
        .unwrap();
    assert_eq!(a.contact.len(), 2);
    let b = front
        .create_acme_account(&new("tp-b", Some("eab_1")), 21)
        .await
        .unwrap();
    assert_eq!(
        front.eab_key("eab_1").await.unwrap().unwrap().account_id,
        Some(b.id)
    );
    // The binding's JWS is kept as sent, to be shown in the account object.
    assert_eq!(a.eab_jws, None);
    assert_eq!(
        front.acme_account(b.id).await.unwrap().eab_jws.as_deref(),
        Some(r#"{"protected":"eab_1","payload":"p","signature":"s"}"#)
    );

    // A nonce and the account a `kid` names, in one statement: the account (as
    // `acme_account` reads it) only for a good nonce, which is then used up; no account
    // for an unknown id; nothing read for a bad nonce.
    front
        .add_acme_nonces(&["k1".to_string(), "k2".to_string()], 100)
        .await
        .unwrap();
    assert_eq!(
        front
            .consume_acme_nonce_reading_account("k1", 50, b.id)
            .await
            .unwrap(),
        NonceAndAccount::Account(front.acme_account(b.id).await.unwrap())
    );
    assert_eq!(
        front
            .consume_acme_nonce_reading_account("k1", 50, b.id)
            .await
            .unwrap(),
        NonceAndAccount::BadNonce
    );
    assert_eq!(
        front
            .consume_acme_nonce_reading_account("k2", 50, 999_999)
            .await
            .unwrap(),
        NonceAndAccount::NoAccount
    );
    assert!(
        !front.consume_acme_nonce("k2", 50).await.unwrap(),
        "k2 was used up"
    );
    let e = front
        .create_acme_account(&new("tp-c", Some("eab_1")), 22)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    assert!(
        front
            .acme_account_by_thumbprint("tp-c")
            .await
            .unwrap()
            .is_none(),
        "nothing created"
    );
    let e = front
        .create_acme_account(&new("tp-a", None), 23)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    assert!(format!("{:?}", owner.eab_key("eab_1").await.unwrap().unwrap()).contains("redacted"));

    // Orders, authorizations, challenges; guarded moves.
    let o = front
        .create_acme_order(&order(a.id, "192.0.2.1"), 30)
        .await
        .unwrap();
    assert_eq!((o.status.as_str(), o.authorizations.len()), ("pending", 2));
    let z = front.acme_authorization(o.authorizations[1]).await.unwrap();
    assert!(z.wildcard && z.challenges.len() == 2 && z.challenges[0].token == "tok1");
    let ch = z.challenges[0].id;
    assert!(front
        .set_acme_challenge_status(
            ch,
            ChallengeStatus::Pending,
            ChallengeStatus::Processing,
            None,
            None
        )
        .await
        .unwrap());
    assert!(
        !front
            .set_acme_challenge_status(
                ch,
                ChallengeStatus::Pending,
                ChallengeStatus::Processing,
                None,
                None
            )
            .await
            .unwrap(),
        "a second validation does not start"
    );
    let left = front.acme_challenges_processing(10).await.unwrap();
    assert_eq!(
        left.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ch],
        "a validation in flight is found for a restarted front to resume"
    );
    assert!(front
        .set_acme_challenge_status(
            ch,
            ChallengeStatus::Processing,
            ChallengeStatus::Valid,
            Some(40),
            None
        )
        .await
        .unwrap());
    assert_eq!(
        front.acme_challenge(ch).await.unwrap().validated_at,
        Some(40)
    );
    for id in &o.authorizations {
        assert!(front
            .set_acme_authorization_status(
                *id,
                &[AuthorizationStatus::Pending],
                AuthorizationStatus::Valid
            )
            .await
            .unwrap());
    }
    assert!(front
        .set_acme_order_status(o.id, &[OrderStatus::Pending], OrderStatus::Ready, None)
        .await
        .unwrap());
    assert!(front
        .set_acme_order_status(o.id, &[OrderStatus::Ready], OrderStatus::Processing, None)
        .await
        .unwrap());
    assert!(
        !front
            .set_acme_order_status(o.id, &[OrderStatus::Ready], OrderStatus::Processing, None)
            .await
            .unwrap(),
        "only one finalize"
    );
    owner
        .insert_ca(
            &strongroom_store::CaRecord {
                id: "issuing".parse().unwrap(),
                parent: None,
                subject: "CN=issuing".into(),
                state: CaState::Active,
                not_before: 0,
                not_after: 4_000_000_000,
                cert_der: vec![0x30, 0x00],
            },
            1,
        )
        .await
        .unwrap();
    // Issuance recorded in one transaction: certificate, order closed, audit event.
    let head_before = owner.audit_head().await.unwrap().0;
    let (cert_id, closed) = front
        .record_acme_issuance(
            &NewCertificate {
                issuer: "issuing".parse().unwrap(),
                serial: "0102".parse().unwrap(),
                profile: Some("tls-server".into()),
                subject_cn: None,
                names: vec!["dns:a.lab.test".into(), "dns:*.lab.test".into()],
                not_before: 1,
                not_after: 2,
                fingerprint: "ab".repeat(32),
                der: vec![0x30, 0x00],
                source: CertificateSource::Acme,
                owner: Some(format!("acme:{}", a.id)),
                team: None,
                tags: vec!["acme".into()],
                replaces: None,
            },
            o.id,
            |id| NewAuditEvent {
                actor: format!("acme:{}", a.id),
                action: "acme.certificate.issue".into(),
                target: format!("certificate:{id}"),
                outcome: AuditOutcome::Ok,
                detail: String::new(),
            },
            50,
        )
        .await
        .unwrap();
    assert!(closed, "the order was processing");
    assert_eq!(
        front.acme_order(o.id).await.unwrap().status,
        OrderStatus::Valid
    );
    let (head_after, _) = owner.audit_head().await.unwrap();
    assert_eq!(head_after, head_before + 1);
    let event = owner.audit_events(head_after, head_after).await.unwrap();
    assert_eq!(event[0].event.target, format!("certificate:{cert_id}"));
    assert!(
        !front.finish_acme_order(o.id, cert_id).await.unwrap(),
        "already valid"
    );
    assert_eq!(
        front
            .acme_order_by_certificate(cert_id)
            .await
            .unwrap()
            .unwrap()
            .id,
        o.id
    );
    let (issuer, der) = front
        .acme_certificate_of_account(cert_id, a.id)
        .await
        .unwrap()
        .expect("the account's own certificate");
    assert_eq!((issuer.as_str(), der), ("issuing", vec![0x30, 0x00]));
    assert!(
        front
            .acme_certificate_of_account(cert_id, a.id + 1000)
            .await
            .unwrap()
            .is_none(),
        "another account does not get it"
    );
    assert!(!front.acme_certificate_replaced(cert_id).await.unwrap());
    let mut renewal = order(a.id, "192.0.2.1");
    renewal.replaces_id = Some(cert_id);
    front.create_acme_order(&renewal, 60).await.unwrap();
    assert!(front.acme_certificate_replaced(cert_id).await.unwrap());

    // A validation outcome moves challenge, authorization and order in one transaction.
    let v = front
        .create_acme_order(&order(a.id, "192.0.2.9"), 70)
        .await
        .unwrap();
    let first = front.acme_authorization(v.authorizations[0]).await.unwrap();
    let second = front.acme_authorization(v.authorizations[1]).await.unwrap();
    for z in [&first, &second] {
        assert!(front
            .set_acme_challenge_status(
                z.challenges[0].id,
                ChallengeStatus::Pending,
                ChallengeStatus::Processing,
                None,
                None
            )
            .await
            .unwrap());
    }
    assert!(front
        .record_acme_validation(first.challenges[0].id, first.id, v.id, Ok(71))
        .await
        .unwrap());
    assert_eq!(
        front.acme_order(v.id).await.unwrap().status,
        OrderStatus::Pending,
        "one of two authorizations"
    );
    assert!(
        !front
            .record_acme_validation(first.challenges[0].id, first.id, v.id, Ok(72))
            .await
            .unwrap(),
        "recorded once"
    );
    assert!(front
        .record_acme_validation(second.challenges[0].id, second.id, v.id, Ok(73))
        .await
        .unwrap());
    assert_eq!(
        front.acme_order(v.id).await.unwrap().status,
        OrderStatus::Ready
    );
    let w = front
        .create_acme_order(&order(a.id, "192.0.2.9"), 74)
        .await
        .unwrap();
    let z = front.acme_authorization(w.authorizations[0]).await.unwrap();
    assert!(front
        .set_acme_challenge_status(
            z.challenges[0].id,
            ChallengeStatus::Pending,
            ChallengeStatus::Processing,
            None,
            None
        )
        .await
        .unwrap());
    assert!(front
        .record_acme_validation(z.challenges[0].id, z.id, w.id, Err(r#"{"type":"x"}"#))
        .await
        .unwrap());
    let w = front.acme_order(w.id).await.unwrap();
    assert_eq!(
        (w.status.as_str(), w.error.as_deref()),
        ("invalid", Some(r#"{"type":"x"}"#))
    );
    assert_eq!(
        front.acme_authorization(z.id).await.unwrap().status,
        AuthorizationStatus::Invalid
    );

    assert_eq!(
        owner.acme_order_ids(Some(a.id), 0, 10).await.unwrap().len(),
        4
    );

    // Expiry: the pending renewal closes; the valid order stays.
    // The pending renewal and the ready order expire; so do three pending authorizations.
    let (_, orders, authz) = front.expire_acme(3_000).await.unwrap();
    assert_eq!((orders, authz), (2, 3));
    assert_eq!(
        front.acme_order(o.id).await.unwrap().status,
        OrderStatus::Valid
    );

    // Key rollover and deactivation.
    assert!(front
        .roll_acme_account_key(a.id, "tp-a", "tp-a2", "{}")
        .await
        .unwrap());
    assert!(!front
        .roll_acme_account_key(a.id, "tp-a", "tp-a3", "{}")
        .await
        .unwrap());
    assert!(
        front
            .roll_acme_account_key(b.id, "tp-b", "tp-a2", "{}")
            .await
            .is_err(),
        "a key belongs to one account"
    );
    // Who may revoke (RFC 8555 §7.6): the account that obtained the certificate; another
    // only with valid, unexpired authorizations for every name (a.lab.test, *.lab.test).
    assert!(front
        .acme_account_may_revoke(a.id, cert_id, 100)
        .await
        .unwrap());
    assert!(!front
        .acme_account_may_revoke(b.id, cert_id, 100)
        .await
        .unwrap());
    let held = front
        .create_acme_order(&order(b.id, "192.0.2.9"), 90)
        .await
        .unwrap();
    front
        .set_acme_authorization_status(
            held.authorizations[0],
            &[AuthorizationStatus::Pending],
            AuthorizationStatus::Valid,
        )
        .await
        .unwrap();
    assert!(
        !front
            .acme_account_may_revoke(b.id, cert_id, 100)
            .await
            .unwrap(),
        "one name of two is not enough"
    );
    front
        .set_acme_authorization_status(
            held.authorizations[1],
            &[AuthorizationStatus::Pending],
            AuthorizationStatus::Valid,
        )
        .await
        .unwrap();
    assert!(front
        .acme_account_may_revoke(b.id, cert_id, 100)
        .await
        .unwrap());
    assert!(
        !front
            .acme_account_may_revoke(b.id, cert_id, 2_000)
            .await
            .unwrap(),
        "expired authorizations do not count"
    );

    // An order claimed for finalize whose front stopped: failed once it is old enough.
    let stuck = front
        .create_acme_order(&order(b.id, "192.0.2.10"), 95)
        .await
        .unwrap();
    assert!(front
        .set_acme_order_status(stuck.id, &[OrderStatus::Pending], OrderStatus::Ready, None)
        .await
        .unwrap());
    assert!(front
        .claim_acme_order_for_finalize(stuck.id, 100)
        .await
        .unwrap());
    assert!(
        !front
            .claim_acme_order_for_finalize(stuck.id, 101)
            .await
            .unwrap(),
        "one finalize"
    );
    assert!(front.fail_stuck_acme_orders(99).await.unwrap().is_empty());
    assert_eq!(
        front.fail_stuck_acme_orders(100).await.unwrap(),
        vec![stuck.id]
    );
    let failed = front.acme_order(stuck.id).await.unwrap();
    assert_eq!(failed.status, OrderStatus::Invalid);
    assert!(failed.error.unwrap().contains("interrupted"));

    assert!(front.deactivate_acme_account(a.id).await.unwrap());
    assert!(!front.deactivate_acme_account(a.id).await.unwrap());
    assert_eq!(
        front.acme_account(a.id).await.unwrap().status,
        AccountStatus::Deactivated
    );
    if url.starts_with("postgres://") {
        front.close().await; // its own pool; the SQLite store is the owner's
    }
});

/// SQLite keeps nonces in a database of their own beside the main file. A reconnect in the
/// same boot keeps them (another process's nonces stay valid); a reboot — seen as a
/// different boot id — empties the table (a power loss may have lost the last deletes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_nonces_live_apart_and_do_not_survive_a_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("control.db");
    let url = format!("sqlite://{}?mode=rwc", main.display());
    let store = Store::connect(&url).await.unwrap();
    store
        .add_acme_nonces(&["kept".to_string(), "used".to_string()], 100)
        .await
        .unwrap();
    assert!(store.consume_acme_nonce("used", 50).await.unwrap());
    assert!(!store.consume_acme_nonce("used", 50).await.unwrap());
    assert!(dir.path().join("control.db-nonces").exists());
    store
        .add_acme_nonces(&["other".to_string()], 100)
        .await
        .unwrap();
    store.close().await;
    let again = Store::connect(&url).await.unwrap();
    assert!(
        again.consume_acme_nonce("kept", 50).await.unwrap(),
        "a reconnect in the same boot keeps the nonces"
    );
    again.close().await;
    // Pretend the machine rebooted since the table was filled.
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}-nonces", main.display()))
        .await
        .unwrap();
    raw.execute("UPDATE nonce_boot SET boot_id = 'an-earlier-boot'")
        .await
        .unwrap();
    raw.close().await;
    let rebooted = Store::connect(&url).await.unwrap();
    assert!(
        !rebooted.consume_acme_nonce("other", 50).await.unwrap(),
        "after a reboot no earlier nonce is accepted"
    );
    rebooted.close().await;
}

/// How many of the racing creations got in; every other one must have hit `expected`.
async fn settle<T>(
    racers: Vec<tokio::task::JoinHandle<Result<T, LimitHit>>>,
    expected: LimitHit,
) -> usize {
    let mut created = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => created += 1,
            Err(hit) => assert_eq!(hit, expected),
        }
    }
    created
}

// Rate limits hold exactly when orders race: eight at once against a limit of three.
on_both_backends!(
    acme_limits_hold_under_concurrency,
    |owner: Store, url: String| async move {
        let front = front_store(&owner, &url).await;
        let account = front
            .create_acme_account(
                &NewAcmeAccount {
                    thumbprint: "tp-racer".into(),
                    jwk: "{}".into(),
                    contact: Vec::new(),
                    eab_kid: None,
                    eab_jws: None,
                    created_ip: "198.51.100.1".into(),
                },
                10,
            )
            .await
            .unwrap();
        let limits = OrderLimits {
            orders_per_account: 3,
            requests_per_ip: 0,
            authorizations_per_identifier: 0,
            since: 0,
        };
        let mut racers = Vec::new();
        for i in 0..8 {
            let store = front.clone();
            let mut o = order(account.id, "198.51.100.1");
            o.authorizations.truncate(1);
            o.authorizations[0].identifier_value = format!("r{i}.lab.test");
            racers.push(tokio::spawn(async move {
                store
                    .create_acme_order_within(&o, &limits, 100)
                    .await
                    .unwrap()
            }));
        }
        let created = settle(racers, LimitHit::Account(3)).await;
        assert_eq!(
            created, 3,
            "exactly the limit, however the orders interleave"
        );

        // New accounts from one address race the same way: the address made one account and
        // three orders; with a limit of six, two of eight racing accounts get in.
        let mut racers = Vec::new();
        for i in 0..8 {
            let store = front.clone();
            racers.push(tokio::spawn(async move {
                store
                    .create_acme_account_within(
                        &NewAcmeAccount {
                            thumbprint: format!("tp-racer-{i}"),
                            jwk: "{}".into(),
                            contact: Vec::new(),
                            eab_kid: None,
                            eab_jws: None,
                            created_ip: "198.51.100.1".into(),
                        },
                        6,
                        0,
                        100,
                    )
                    .await
                    .unwrap()
            }));
        }
        let created = settle(racers, LimitHit::Ip(6)).await;
        assert_eq!(created, 2, "exactly up to the address limit");

        // The address and identifier limits for orders, one at a time.
        let by_ip = OrderLimits {
            orders_per_account: 0,
            requests_per_ip: 6, // one account, three orders and two more accounts came from it
            authorizations_per_identifier: 0,
            since: 0,
        };
        let o = order(account.id, "198.51.100.1");
        assert_eq!(
            front
                .create_acme_order_within(&o, &by_ip, 100)
                .await
                .unwrap()
                .unwrap_err(),
            LimitHit::Ip(6)
        );
        let per_name = OrderLimits {
            orders_per_account: 0,
            requests_per_ip: 0,
            authorizations_per_identifier: 1,
            since: 0,
        };
        let mut again = order(account.id, "198.51.100.2");
        again.authorizations.truncate(1);
        again.authorizations[0].identifier_value = "solo.lab.test".into();
        let first = front
            .create_acme_order_within(&again, &per_name, 100)
            .await
            .unwrap();
        assert!(first.is_ok(), "{first:?}");
        let second = front
            .create_acme_order_within(&again, &per_name, 100)
            .await
            .unwrap();
        assert_eq!(
            second.unwrap_err(),
            LimitHit::Identifier("solo.lab.test".into(), 1)
        );
        if url.starts_with("postgres://") {
            front.close().await;
        }
    }
);
