//! `kill -9` of the front while lego clients run ACME orders through it, on SQLite and
//! PostgreSQL (the test kit's stack: signer, control and front as separate processes). The
//! front is killed at seeded moments (`STRONGROOM_CRASH_SEED=N` replays a run) and started
//! again on the same ports while the clients keep ordering. Then:
//! - the front serves a new order to the end;
//! - every order is `valid` with its certificate in the inventory, or cleanly not
//!   (`pending`, `ready`, `invalid`); an order a kill left `processing` (its finalize cut
//!   off) is one the front's collector fails after ten minutes — run here with the clock
//!   past them — and none is left `processing` after it;
//! - after one reconciliation the inventory is exactly the signer's journal: every
//!   certificate a client received, every one signed but never delivered, none twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::clients::{lego_webroot, text};
use common::{free_port, webroot_server, Knot};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use strongroom_store::OrderStatus;
use strongroom_testkit::ledger::normalise_fingerprint;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, step, CrashRng};

const CLIENTS: usize = 3;
const KILLS: usize = 3;

/// The SHA-256 fingerprint of the first certificate in `pem`.
fn fingerprint(pem: &Path) -> String {
    let out = run(Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem));
    let printed = String::from_utf8_lossy(&out.stdout);
    normalise_fingerprint(printed.trim().rsplit('=').next().unwrap())
}

fn orders_by_status(c: &Control, rt: &tokio::runtime::Runtime) -> BTreeMap<String, i64> {
    rt.block_on(async {
        let store = c.owner_store().await;
        store
            .acme_orders_by_status()
            .await
            .unwrap()
            .into_iter()
            .map(|(status, n)| (status.as_str().to_string(), n))
            .collect()
    })
}

fn front_crash_during_acme(db: Db) {
    let _step = step("set up: the stack, names through knot, a webroot for http-01");
    let mut rng = CrashRng::from_env();
    let tmp = common::test_dir("acme-front-crash");
    let dir = tmp.path();
    let knot = Knot::start(dir);
    let mut c = Control::start(db);
    let http01 = free_port();
    let webroot = dir.join("webroot");
    webroot_server("127.0.0.1", http01, &webroot);
    let https = c.start_front_https(&format!(
        "[tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\n\n\
         [acme]\nbase_url = \"https://127.0.0.1:{{https}}\"\ndefault_profile = \"tls-server\"\n\n\
         [[acme.profile]]\nname = \"tls-server\"\n\n\
         [acme.validation]\nhttp01_port = {http01}\nresolver = \"127.0.0.1:{}\"\n\
         allowed_networks = [\"127.0.0.0/8\"]\n",
        knot.port
    ));
    let root = c
        .pki
        .write_pem("acme-root", std::slice::from_ref(&c.root_der));
    let directory = format!("https://127.0.0.1:{https}/acme/directory");
    let lego = |name: &str| {
        lego_webroot(
            &directory,
            &root,
            &dir.join("lego").join(name),
            &webroot,
            name,
        )
    };
    let cert_of = |name: &str| {
        dir.join("lego")
            .join(name)
            .join(format!("certificates/{name}.crt"))
    };
    let token = c.admin().token.clone().unwrap();

    let _step = step("lego clients order while the front is killed and restarted");
    let done = AtomicBool::new(false);
    let delivered = Mutex::new(BTreeSet::new());
    let cut_off = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..CLIENTS {
            let (done, delivered, cut_off, lego, cert_of) =
                (&done, &delivered, &cut_off, &lego, &cert_of);
            s.spawn(move || {
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    let name = format!("c{t}-{i}.lab.test");
                    i += 1;
                    if lego(&name).output().unwrap().status.success() {
                        let new = delivered
                            .lock()
                            .unwrap()
                            .insert(fingerprint(&cert_of(&name)));
                        assert!(new, "{name}: a certificate delivered twice");
                    } else {
                        cut_off.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for _ in 0..KILLS {
            std::thread::sleep(Duration::from_millis(rng.between(1_500, 5_000)));
            c.kill_front_hard();
            std::thread::sleep(Duration::from_millis(rng.between(0, 500)));
            c.restart_front();
        }
        std::thread::sleep(Duration::from_secs(2));
        done.store(true, Ordering::Relaxed);
    });
    let delivered = delivered.into_inner().unwrap();
    eprintln!(
        "seed {}: {} certificates delivered, {} lego runs cut off by {KILLS} kills",
        rng.seed,
        delivered.len(),
        cut_off.load(Ordering::Relaxed)
    );
    assert!(!delivered.is_empty(), "no lego run got a certificate");

    let _step = step("the restarted front serves an order to the end");
    let after = lego("after.lab.test").output().unwrap();
    assert!(
        after.status.success(),
        "lego after the kills: {}",
        text(&after)
    );

    let _step = step("no order is left half-done");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before = orders_by_status(&c, &rt);
    eprintln!("orders by status after the kills: {before:?}");
    // Each kill can cut off at most one finalize per client.
    let processing = before.get("processing").copied().unwrap_or(0);
    assert!(
        processing <= (KILLS * CLIENTS) as i64,
        "{processing} orders processing"
    );
    let failed = rt.block_on(async {
        // The collector's rule, with the clock past its ten minutes.
        c.owner_store()
            .await
            .fail_stuck_acme_orders(i64::MAX)
            .await
            .unwrap()
    });
    assert_eq!(failed.len() as i64, processing);
    let settled = orders_by_status(&c, &rt);
    assert!(
        settled.keys().all(|s| s != "processing"),
        "orders still processing: {settled:?}"
    );
    let valid_ids: Vec<i64> = rt.block_on(async {
        let store = c.owner_store().await;
        let mut valid = Vec::new();
        for id in store.acme_order_ids(None, 0, 100_000).await.unwrap() {
            let order = store.acme_order(id).await.unwrap();
            if order.status == OrderStatus::Valid {
                valid.push(
                    order
                        .certificate_id
                        .expect("a valid order names its certificate"),
                );
            }
        }
        valid
    });
    let admin = c.client().with_token(&token);
    for id in &valid_ids {
        let r = admin.get(&format!("/api/v1/certificates/{id}"));
        assert_eq!(
            r.status, 200,
            "a valid order's certificate {id}: {}",
            r.text
        );
    }
    assert!(valid_ids.len() > delivered.len(), "{valid_ids:?}");

    let _step = step("one reconciliation: the inventory is the journal");
    let (_, issued) = c.reconcile_to_journal(&token, &delivered);
    eprintln!(
        "{} issued in the journal, {} delivered to lego, {} orders valid",
        issued.len(),
        delivered.len(),
        valid_ids.len()
    );
}

#[test]
fn kill_9_of_the_front_during_acme_orders_on_sqlite() {
    front_crash_during_acme(Db::Sqlite);
}

#[test]
fn kill_9_of_the_front_during_acme_orders_on_postgres() {
    front_crash_during_acme(Db::Postgres);
}
