#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! `kill -9` of the signer and of control while clients issue through the API, on SQLite
//! and PostgreSQL: after restarts and one reconciliation, the inventory holds exactly what
//! the signer's journal says it issued — every certificate a client received, every one
//! signed but never delivered, none twice, none the journal does not know (no half-written
//! rows).

use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strongroom_testkit::ledger::normalise_fingerprint;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

const DELIVERED_TARGET: usize = 120;
const CLIENTS: usize = 4;

fn crash_and_reconcile(db: Db) {
    let _step = step("set up");
    let mut c = Control::start(db);
    let token = c.admin().token.clone().unwrap();
    let csrs: Vec<String> = (0..CLIENTS)
        .map(|t| {
            c.csr(&format!("c{t}.lab.test"), &format!("DNS:c{t}.lab.test"))
                .0
        })
        .collect();
    let delivered: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let (base_client, token) = (c.client(), Arc::new(token));

    let _step = step("clients issue while the signer and control are killed");
    let clients: Vec<_> = csrs
        .into_iter()
        .map(|csr| {
            let client = base_client.with_token(&token);
            let (delivered, done) = (delivered.clone(), done.clone());
            std::thread::spawn(move || {
                let mut cut_off = 0usize;
                while !done.load(Ordering::Relaxed) {
                    let body = json!({"profile": "tls-server", "csr": csr});
                    match client.call(
                        "POST",
                        "/api/v1/certificates",
                        Some(body.to_string().as_bytes()),
                        Some("application/json"),
                    ) {
                        Ok(r) if r.status == 201 => {
                            let fingerprint =
                                normalise_fingerprint(r.json()["fingerprint"].as_str().unwrap());
                            assert!(delivered.lock().unwrap().insert(fingerprint));
                        }
                        // The signer is down or restarting: a clean, retryable answer.
                        Ok(r) if r.status == 503 => cut_off += 1,
                        Ok(r) => panic!("issuance answered {}: {}", r.status, r.text),
                        // Control itself was killed under this request.
                        Err(_) => {
                            cut_off += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
                cut_off
            })
        })
        .collect();
    let started = Instant::now();
    let wait_for = |n: usize| {
        while delivered.lock().unwrap().len() < n {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "issuance stalled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    for (at, victim) in [
        (20, "signer"),
        (50, "control"),
        (80, "signer"),
        (100, "control"),
    ] {
        wait_for(at);
        match victim {
            "signer" => {
                c.signer.kill_hard();
                c.signer = c.pki.start_signer();
            }
            _ => {
                c.kill_control_hard();
                c.launch();
            }
        }
    }
    wait_for(DELIVERED_TARGET);
    done.store(true, Ordering::Relaxed);
    let cut_off: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();

    let _step = step("one reconciliation: the inventory is the journal");
    let delivered = delivered.lock().unwrap();
    let (report, issued) = c.reconcile_to_journal(&token, &delivered);
    eprintln!(
        "{db:?}: {} delivered, {} journaled and listed, {} recorded by the reconciliation, {cut_off} calls cut off",
        delivered.len(),
        issued.len(),
        report["recorded"].as_array().map_or(0, Vec::len),
    );
}

#[test]
fn kill_9_of_signer_and_control_on_sqlite_leaves_inventory_equal_to_journal() {
    crash_and_reconcile(Db::Sqlite);
}

#[test]
fn kill_9_of_signer_and_control_on_postgres_leaves_inventory_equal_to_journal() {
    crash_and_reconcile(Db::Postgres);
}
