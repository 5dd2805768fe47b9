//! `kill -9` of the signer at random points while clients issue 500 certificates
//! concurrently, restarted each time: afterwards the journal verifies, every certificate a
//! client received is in it (the same bytes), no serial was issued twice, and what was
//! signed but never delivered is recorded as issued (so control's reconciliation restores
//! it) while what was only intended is never taken for issued.
//!
//! The kill points come from a seeded generator; the seed is printed, and
//! `STRONGROOM_CRASH_SEED=N` replays a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strongroom_testkit::{health, run, CrashRng, SignerProcess};
use strongroom_types::ProfileName;
use strongroom_wire::{CallError, IssuanceRequest, Request, Response, SignerClient, SubjectKey};

const DELIVERED_TARGET: usize = 500;
const CLIENTS: usize = 8;
const KILLS: usize = 4;

/// The journal's records as (kind, body).
fn journal_records(pki: &strongroom_testkit::TestPki) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(pki.state.join("journal/issuance.log")).unwrap();
    text.lines()
        .map(|line| {
            let (_, json) = line.split_once(' ').unwrap();
            let record: Value = serde_json::from_str(json).unwrap();
            (
                record["kind"].as_str().unwrap().to_owned(),
                record["body"].clone(),
            )
        })
        .collect()
}

fn start(pki: &strongroom_testkit::TestPki) -> SignerProcess {
    let signer = pki.start_signer();
    // The policy is signer state: it must survive the kill, not be pushed again.
    assert_eq!(
        health(&mut signer.client()).policy_version,
        1,
        "the policy did not survive a kill -9"
    );
    signer
}

#[test]
fn kill_9_during_500_concurrent_issuances_loses_and_duplicates_nothing() {
    let mut rng = CrashRng::from_env();
    let seed = rng.seed;
    let (pki, signer) = running_pki("");
    let spki = {
        let csr = openssl_csr(pki.dir.path(), "k", &ec_p256(), "/CN=k.lab.test", None);
        strongroom_x509::parse_csr(&csr).unwrap().public_key_der
    };
    let socket = signer.socket.clone();
    let signer = Arc::new(Mutex::new(Some(signer)));
    // The SHA-256 of every certificate a client received.
    let delivered: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let (mut refused, mut unavailable) = (0usize, 0usize);

    let clients: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (socket, spki) = (socket.clone(), spki.clone());
            let (delivered, done) = (delivered.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut refused, mut unavailable) = (0usize, 0usize);
                let mut client: Option<SignerClient> = None;
                let mut i = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let c = match client.as_mut() {
                        Some(c) => c,
                        None => match SignerClient::connect(&socket) {
                            Ok(c) => client.insert(c),
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        },
                    };
                    i += 1;
                    let req = IssuanceRequest {
                        profile: "tls-server".parse::<ProfileName>().unwrap(),
                        subject_key: SubjectKey::PublicKey(spki.clone()),
                        names: vec![format!("dns:c{t}-{i}.lab.test").parse().unwrap()],
                        validity_secs: Some(3600),
                    };
                    match c.call(&Request::IssueCertificate(req)) {
                        Ok(Response::Certificate(cert)) => {
                            let digest = hex::encode(Sha256::digest(&cert.der));
                            let fresh = delivered.lock().unwrap().insert(digest.clone());
                            assert!(fresh, "certificate {digest} delivered twice");
                        }
                        Ok(other) => panic!("unexpected answer {other:?}"),
                        // The signer died under us: whether it acted is unknown, which is
                        // exactly what the journal must settle.
                        Err(CallError::Unavailable(_)) => {
                            unavailable += 1;
                            client = None;
                        }
                        // Only a restarting signer's temporary answers are acceptable.
                        Err(e @ CallError::Refused { .. }) => {
                            assert!(
                                e.is_temporary(),
                                "refused for good during the crash test: {e}"
                            );
                            refused += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                (refused, unavailable)
            })
        })
        .collect();

    // Kill -9 at random points spread over the run, restarting each time.
    let started = Instant::now();
    let mut kills_at = Vec::new();
    for kill in 0..KILLS {
        let wanted = (kill + 1) * DELIVERED_TARGET / (KILLS + 1);
        // Kill somewhere between 60 % and 100 % of the way to the next waypoint.
        let extra = rng.between(0, 40);
        let goal = wanted.saturating_sub(DELIVERED_TARGET / (KILLS + 1) * extra as usize / 100);
        while delivered.lock().unwrap().len() < goal {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "issuance stalled"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.between(0, 5_000)));
        let mut slot = signer.lock().unwrap();
        drop(slot.take()); // SIGKILL, reaped
        kills_at.push(delivered.lock().unwrap().len());
        *slot = Some(start(&pki));
    }
    while delivered.lock().unwrap().len() < DELIVERED_TARGET {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "issuance stalled"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    done.store(true, Ordering::Relaxed);
    for c in clients {
        let (r, u) = c.join().unwrap();
        refused += r;
        unavailable += u;
    }
    signer.lock().unwrap().as_mut().unwrap().stop();

    // The chain is whole (a torn last line, if any, was cut at restart).
    let out = run(Command::new(SIGNER)
        .args(["journal", "verify", "--config"])
        .arg(&pki.config));
    assert!(
        out.status.success(),
        "journal verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let records = journal_records(&pki);
    let mut issued: BTreeMap<String, String> = BTreeMap::new();
    let mut intents: BTreeSet<String> = BTreeSet::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for (kind, body) in &records {
        let serial = body["serial"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "intent" => assert!(intents.insert(serial.clone()), "intent {serial} twice"),
            "issued" => {
                let digest = body["cert_sha256"].as_str().unwrap().to_owned();
                assert!(
                    issued.insert(serial.clone(), digest).is_none(),
                    "serial {serial} issued twice"
                );
                assert!(
                    intents.contains(&serial),
                    "issued {serial} without an intent"
                );
            }
            "failed" => {
                failed.insert(serial);
            }
            _ => {}
        }
    }
    let delivered = delivered.lock().unwrap();
    let journaled: BTreeSet<&String> = issued.values().collect();
    for digest in delivered.iter() {
        assert!(
            journaled.contains(digest),
            "certificate {digest} was delivered but the journal does not hold it"
        );
    }
    let signed_not_delivered = issued.values().filter(|d| !delivered.contains(*d)).count();
    let intent_only = intents
        .iter()
        .filter(|s| !issued.contains_key(*s) && !failed.contains(*s))
        .count();
    eprintln!(
        "seed {seed}: {} delivered, {} issued in the journal ({signed_not_delivered} signed but never delivered), \
         {intent_only} intents without outcome, {} failed, kills after {kills_at:?} deliveries, \
         {unavailable} calls cut off, {refused} temporary refusals",
        delivered.len(),
        issued.len(),
        failed.len(),
    );
    assert!(delivered.len() >= DELIVERED_TARGET);
}

/// Power loss: a journal's first acknowledged record must not vanish with the file's
/// directory entry, so the directory is fsynced when the journal is created (and only
/// then), seen in the system calls of the first ceremony (which creates the journal) and of
/// the second (which opens it).
#[test]
fn the_journal_directory_is_fsynced_when_the_journal_is_created() {
    let pki = strongroom_testkit::TestPki::new(SIGNER, "");
    let trace = pki.dir.path().join("signer.strace");
    let trace_arg = trace.to_str().unwrap().to_owned();
    let wrapper = [
        "strace",
        "-f",
        "-e",
        "trace=openat,fsync",
        "-o",
        trace_arg.as_str(),
    ];
    let journal_dir = pki.state.join("journal");
    let dir_fsyncs = |text: &str| {
        let opened = format!("openat(AT_FDCWD, \"{}\", O_RDONLY", journal_dir.display());
        let mut fds = Vec::new();
        let mut synced = 0;
        for line in text.lines() {
            if line.contains(&opened) {
                fds.push(line.rsplit("= ").next().unwrap().trim().to_owned());
            } else if fds.iter().any(|fd| line.contains(&format!("fsync({fd})"))) {
                synced += 1;
            }
        }
        synced
    };

    let ceremony = |name: &str, text: &str| {
        let file = pki.dir.path().join(format!("{name}.ceremony.toml"));
        std::fs::write(&file, text).unwrap();
        let out = run(pki
            .signer_command_under(&wrapper)
            .args(["ceremony", "--config"])
            .arg(&pki.config)
            .arg("--file")
            .arg(&file));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&trace).unwrap()
    };
    let first = ceremony("root", strongroom_testkit::ROOT_CEREMONY);
    assert!(
        first.contains("issuance.log\", O_RDWR|O_CREAT"),
        "the ceremony did not create the journal:\n{first}"
    );
    assert_eq!(dir_fsyncs(&first), 1, "{first}");

    // The next ceremony opens the existing journal: no directory fsync needed, none made.
    let second = ceremony("issuing", strongroom_testkit::ISSUING_CEREMONY);
    assert!(second.contains("issuance.log"), "{second}");
    assert_eq!(dir_fsyncs(&second), 0, "{second}");
}
