//! instant-acme (the async Rust ACME client from crates.io) against `strongroom up`: the
//! flows the issue names for it — ARI `renewalInfo` and `replaces` with the account's own
//! certificate and with another account's, key rollover, and deactivation — driven entirely
//! through the client's public API, so what it sends is what its users send.
//!
//! instant-acme's default HTTP stack (hyper-rustls with the platform verifier) is left out
//! to keep the dependency graph lean; its `HttpClient` trait is served by ureq, which the
//! other ACME tests already use, trusting only the `up` root.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::ureq_http::UreqHttp;
use common::{agent_trusting, ari_cert_id, http01_server, key_and_csr, Answers, Up};
use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Error, HttpClient,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn transport(root: &Path) -> Box<dyn HttpClient> {
    Box::new(UreqHttp(agent_trusting(root)))
}

async fn new_account(up: &Up) -> Account {
    let (account, _credentials) = Account::builder_with_http(transport(&up.root_pem()))
        .create(
            &NewAccount {
                contact: &["mailto:pki-team@lab.test"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            up.directory(),
            None,
        )
        .await
        .unwrap();
    account
}

/// The identifier of a PEM certificate for ARI, as the client would carry it.
fn cert_id(dir: &Path, pem: &str) -> CertificateIdentifier<'static> {
    let quoted = serde_json::to_string(&ari_cert_id(dir, pem)).unwrap();
    serde_json::from_str::<CertificateIdentifier<'_>>(&quoted)
        .unwrap()
        .into_owned()
}

/// One certificate for `ip` by http-01; `Err` carries the server's refusal.
async fn obtain(
    account: &Account,
    answers: &Answers,
    csr: &[u8],
    ip: &str,
    replaces: Option<CertificateIdentifier<'static>>,
) -> Result<String, Error> {
    let ids = [Identifier::Ip(ip.parse::<IpAddr>().unwrap())];
    let mut new_order = NewOrder::new(&ids).profile("tls-server");
    if let Some(id) = replaces {
        new_order = new_order.replaces(id);
    }
    let mut order = account.new_order(&new_order).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        let mut challenge = authz.challenge(ChallengeType::Http01).expect("http-01");
        let key_authorization = challenge.key_authorization().as_str().to_string();
        answers
            .lock()
            .unwrap()
            .push((challenge.token.clone(), key_authorization));
        challenge.set_ready().await?;
    }
    let retries = RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .timeout(Duration::from_secs(30));
    assert_eq!(order.poll_ready(&retries).await?, OrderStatus::Ready);
    order.finalize_csr(csr).await?;
    order.poll_certificate(&retries).await
}

fn refusal(result: Result<String, Error>) -> (String, u16) {
    match result {
        Err(Error::Api(p)) => (
            p.r#type
                .unwrap_or_default()
                .trim_start_matches("urn:ietf:params:acme:error:")
                .to_string(),
            p.status.unwrap_or_default(),
        ),
        other => panic!("expected a problem document, got {other:?}"),
    }
}

#[test]
fn instant_acme_ari_rollover_deactivation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let up = Up::start(dir, None);
    let answers: Answers = Arc::default();
    http01_server("127.0.0.1", up.http01, answers.clone());
    http01_server("127.0.0.2", up.http01, answers.clone());
    let (_, csr_one) = key_and_csr(dir, "one", &["127.0.0.1"]);
    let (_, csr_two) = key_and_csr(dir, "two", &["127.0.0.2"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut alice = new_account(&up).await;
        let profiles: Vec<String> = alice.profiles().map(|p| p.name.to_string()).collect();
        assert!(
            profiles.contains(&"tls-server".to_string()),
            "directory profiles: {profiles:?}"
        );

        // First certificate, and its renewal window from ARI.
        let first = obtain(&alice, &answers, &csr_one, "127.0.0.1", None)
            .await
            .unwrap();
        let first_id = cert_id(dir, &first);
        let (info, _) = alice.renewal_info(&first_id).await.unwrap();
        let window = info.suggested_window;
        assert!(window.start < window.end, "{window:?}");
        assert!(
            window.start > time::OffsetDateTime::now_utc(),
            "a fresh certificate is not due yet: {window:?}"
        );

        // Another account's certificate cannot be replaced by alice.
        let bob = new_account(&up).await;
        let foreign = obtain(&bob, &answers, &csr_two, "127.0.0.2", None)
            .await
            .unwrap();
        let (kind, status) = refusal(
            obtain(
                &alice,
                &answers,
                &csr_two,
                "127.0.0.2",
                Some(cert_id(dir, &foreign)),
            )
            .await,
        );
        assert_eq!((kind.as_str(), status), ("unauthorized", 403));

        // Her own certificate can, once.
        obtain(
            &alice,
            &answers,
            &csr_one,
            "127.0.0.1",
            Some(first_id.clone()),
        )
        .await
        .unwrap();
        let (kind, status) =
            refusal(obtain(&alice, &answers, &csr_one, "127.0.0.1", Some(first_id)).await);
        assert_eq!((kind.as_str(), status), ("alreadyReplaced", 409));

        // Key rollover: the account keeps working under its new key.
        let credentials = alice.update_key().await.unwrap();
        obtain(&alice, &answers, &csr_one, "127.0.0.1", None)
            .await
            .unwrap();

        // Deactivation: the account, restored from its latest credentials, is refused.
        alice.deactivate().await.unwrap();
        let restored = Account::builder_with_http(transport(&up.root_pem()))
            .from_credentials(credentials)
            .await
            .unwrap();
        let (kind, status) =
            refusal(obtain(&restored, &answers, &csr_one, "127.0.0.1", None).await);
        // RFC 8555 §7.3.6: 401.
        assert_eq!((kind.as_str(), status), ("unauthorized", 401));
    });
}
