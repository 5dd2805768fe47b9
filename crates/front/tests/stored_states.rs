#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The states the front keeps in the store — an ACME account's, order's, authorization's
//! and challenge's (RFC 8555 §7.1.6) and a signed OCSP response's — are enums whose names
//! are the RFC's (what clients read in the JSON) and the database's text; each state comes
//! back from the database as the state that was written, and nothing else parses.

use strongroom_store::{
    AccountStatus, AuthorizationStatus, CaRecord, CaState, ChallengeStatus, NewAcmeAccount,
    NewAcmeAuthorization, NewAcmeOrder, OrderStatus, Store, StoredOcsp,
};
use strongroom_types::OcspStatusKind;

async fn sqlite(dir: &tempfile::TempDir) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("front.db").display()
    );
    Store::connect(&url).await.unwrap()
}

/// Asserts `all`'s names, that each parses back to itself, prints and serializes (the JSON
/// clients read) as its name, and that near misses do not parse.
macro_rules! check_names {
    ($ty:ty, $names:expr) => {{
        let names: Vec<&str> = <$ty>::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, $names, "{}", stringify!($ty));
        for s in <$ty>::ALL {
            assert_eq!(<$ty>::parse(s.as_str()).unwrap(), *s);
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            for near in [
                s.as_str().to_uppercase(),
                format!("{} ", s.as_str()),
                format!("{}s", s.as_str()),
            ] {
                assert!(<$ty>::parse(&near).is_err(), "{near:?} parsed");
            }
        }
        assert!(<$ty>::parse("").is_err());
    }};
}

#[test]
fn state_names_are_rfc_8555s_and_parse_back() {
    check_names!(AccountStatus, ["valid", "deactivated", "revoked"]);
    check_names!(
        OrderStatus,
        ["pending", "ready", "processing", "valid", "invalid"]
    );
    check_names!(
        AuthorizationStatus,
        [
            "pending",
            "valid",
            "invalid",
            "deactivated",
            "expired",
            "revoked"
        ]
    );
    check_names!(
        ChallengeStatus,
        ["pending", "processing", "valid", "invalid"]
    );
    let ocsp: Vec<&str> = OcspStatusKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(ocsp, ["good", "revoked", "unknown"]);
    for k in OcspStatusKind::ALL {
        assert_eq!(OcspStatusKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(OcspStatusKind::parse("Good"), None);
}

#[tokio::test]
async fn every_state_survives_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let account = store
        .create_acme_account(
            &NewAcmeAccount {
                thumbprint: "tp".into(),
                jwk: "{}".into(),
                contact: vec![],
                eab_kid: None,
                eab_jws: None,
                created_ip: "192.0.2.1".into(),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(account.status, AccountStatus::Valid);
    let order = store
        .create_acme_order(
            &NewAcmeOrder {
                account_id: account.id,
                profile: "tls-server".into(),
                expires_at: 1_000,
                not_before: None,
                not_after: None,
                replaces_id: None,
                client_ip: "192.0.2.1".into(),
                authorizations: vec![NewAcmeAuthorization {
                    identifier_type: "dns".into(),
                    identifier_value: "www.example.test".into(),
                    wildcard: false,
                    expires_at: 1_000,
                    challenges: vec![("http-01".into(), "tok".into())],
                }],
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(
        store.acme_order(order.id).await.unwrap().status,
        OrderStatus::Pending
    );

    // Orders: every state, written and read back.
    for &to in OrderStatus::ALL {
        assert!(store
            .set_acme_order_status(order.id, OrderStatus::ALL, to, None)
            .await
            .unwrap());
        assert_eq!(store.acme_order(order.id).await.unwrap().status, to);
        let counted = store.acme_orders_by_status().await.unwrap();
        assert_eq!(counted, vec![(to, 1)]);
    }
    // A move from a state the order is not in changes nothing.
    assert!(!store
        .set_acme_order_status(order.id, &[OrderStatus::Pending], OrderStatus::Ready, None)
        .await
        .unwrap());
    assert_eq!(
        store.acme_order(order.id).await.unwrap().status,
        OrderStatus::Invalid
    );

    // Authorizations and their challenge.
    let authz = order.authorizations[0];
    for &to in AuthorizationStatus::ALL {
        assert!(store
            .set_acme_authorization_status(authz, AuthorizationStatus::ALL, to)
            .await
            .unwrap());
        assert_eq!(store.acme_authorization(authz).await.unwrap().status, to);
    }
    let challenge = store.acme_authorization(authz).await.unwrap().challenges[0].clone();
    assert_eq!(challenge.status, ChallengeStatus::Pending);
    let mut from = challenge.status;
    for &to in ChallengeStatus::ALL {
        assert!(store
            .set_acme_challenge_status(challenge.id, from, to, None, None)
            .await
            .unwrap());
        let read = store.acme_challenge(challenge.id).await.unwrap();
        assert_eq!(read.status, to);
        // The authorization's listing reads the same column.
        assert_eq!(
            store.acme_authorization(authz).await.unwrap().challenges[0].status,
            to
        );
        from = to;
    }

    // Accounts.
    assert!(store.deactivate_acme_account(account.id).await.unwrap());
    assert_eq!(
        store.acme_account(account.id).await.unwrap().status,
        AccountStatus::Deactivated
    );

    // A stored OCSP response's status.
    store
        .insert_ca(
            &CaRecord {
                id: "issuing".parse().unwrap(),
                parent: None,
                subject: "CN=issuing".into(),
                state: CaState::Active,
                not_before: 0,
                not_after: 2_000_000_000,
                cert_der: vec![0x30, 0x00],
            },
            1,
        )
        .await
        .unwrap();
    let serial: strongroom_types::Serial = "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap();
    for (i, kind) in OcspStatusKind::ALL.into_iter().enumerate() {
        let this_update = 100 + i as i64;
        store
            .put_ocsp_responses(&[StoredOcsp {
                ca: "issuing".parse().unwrap(),
                serial: serial.clone(),
                status: kind,
                der: vec![0x30, 0x00],
                this_update,
                next_update: this_update + 3600,
            }])
            .await
            .unwrap();
        let read = store
            .ocsp_response(&"issuing".parse().unwrap(), &serial)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((read.status, read.this_update), (kind, this_update));
    }
    store.close().await;
}
