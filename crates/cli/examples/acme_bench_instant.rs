//! ACME issuance benchmark with instant-acme (crates.io) as the client
//! (scripts/bench-acme.sh with `CLIENT=instant-acme`, docs/performance.md): the same N
//! certificates through http-01, C at a time, against any RFC 8555 server, driven through
//! instant-acme's public API — a client library neither server wrote.
//!
//! In: the same options as `acme_bench` (acme_bench_common). Out: one JSON line on stdout
//! (count, errors, seconds, certs_per_sec, p50_ms, p99_ms, where the time went per step,
//! the client's CPU seconds while timed); each failed certificate on stderr.
//!
//! Untimed: the CSRs (openssl) and one account per worker. Timed, per certificate:
//! newOrder → the authorization → answer http-01 → refresh the order until `ready` →
//! finalize with the CSR → refresh until `valid` (if finalize did not say so) → download.
//! instant-acme's own `poll_ready` always sleeps before its first look (250 ms by default),
//! which would time the client, not the server; the order is refreshed here instead at
//! once, then every `--poll-ms` — the pace `acme_bench` keeps. instant-acme asks
//! `newNonce` before each newOrder (it keeps nonces per order, not per account).

#[path = "acme_bench_common/mod.rs"]
mod common;
#[path = "../tests/common/ureq_http.rs"]
mod ureq_http;

use common::{
    agent, finish, make_csrs, ms, parse_args, process_cpu_seconds, quantile, serve_http01,
    step_stats,
};
use common::{Args, Tokens};
use instant_acme::{Account, ChallengeType, Identifier, NewAccount, NewOrder, Order, OrderStatus};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ureq_http::UreqHttp;

/// The steps of one certificate, in order (the keys of the report's `steps`).
const STEPS: [&str; 7] = [
    "new_order",
    "get_authz",
    "answer_challenge",
    "await_order_ready",
    "finalize",
    "await_order_valid",
    "download",
];

/// A certificate's wall time, whole and per step.
struct Timed {
    steps: [Duration; 7],
    total: Duration,
}

fn main() -> std::process::ExitCode {
    finish(
        "acme_bench_instant",
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(bench())),
    )
}

async fn new_account(args: &Args) -> Result<Account, String> {
    let http = Box::new(UreqHttp(agent(&args.ca_file)?));
    let (account, _credentials) = Account::builder_with_http(http)
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            args.directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("newAccount: {e}"))?;
    Ok(account)
}

/// Refreshes the order until it leaves `pending`/`processing`: at once, then every `poll`.
async fn await_order(
    order: &mut Order,
    poll: Duration,
    polls: &AtomicUsize,
) -> Result<OrderStatus, String> {
    let mut first = true;
    loop {
        if !first {
            tokio::time::sleep(poll).await;
        }
        first = false;
        polls.fetch_add(1, Ordering::Relaxed);
        let state = order.refresh().await.map_err(|e| format!("order: {e}"))?;
        match state.status {
            OrderStatus::Pending | OrderStatus::Processing => {}
            other => return Ok(other),
        }
    }
}

/// One certificate, start to finish; returns the time of each step.
async fn one_certificate(
    account: &Account,
    name: &str,
    csr: &[u8],
    tokens: &Tokens,
    poll: Duration,
    polls: &AtomicUsize,
) -> Result<[Duration; 7], String> {
    let mut steps = [Duration::ZERO; 7];
    let mut t = Instant::now();
    let mut lap = |i: usize, t: &mut Instant| {
        steps[i] = t.elapsed();
        *t = Instant::now();
    };
    let mut order = account
        .new_order(&NewOrder::new(&[Identifier::Dns(name.to_string())]))
        .await
        .map_err(|e| format!("newOrder: {e}"))?;
    lap(0, &mut t);
    let token = {
        let mut authorizations = order.authorizations();
        let mut authz = authorizations
            .next()
            .await
            .ok_or("the order has no authorization")?
            .map_err(|e| format!("authorization: {e}"))?;
        lap(1, &mut t);
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .ok_or("no http-01 challenge")?;
        let token = challenge.token.clone();
        tokens.lock().map_err(|_| "token map poisoned")?.insert(
            token.clone(),
            challenge.key_authorization().as_str().to_string(),
        );
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("challenge: {e}"))?;
        lap(2, &mut t);
        token
    };
    let status = await_order(&mut order, poll, polls).await;
    if let Ok(mut m) = tokens.lock() {
        m.remove(&token);
    }
    if status? != OrderStatus::Ready {
        return Err(format!("order not ready: {:?}", order.state().status));
    }
    lap(3, &mut t);
    order
        .finalize_csr(csr)
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    lap(4, &mut t);
    if order.state().status != OrderStatus::Valid {
        let status = await_order(&mut order, poll, polls).await?;
        if status != OrderStatus::Valid {
            return Err(format!("order {status:?}"));
        }
    }
    lap(5, &mut t);
    let pem = order
        .certificate()
        .await
        .map_err(|e| format!("certificate: {e}"))?
        .ok_or("no certificate")?;
    if !pem.starts_with("-----BEGIN CERTIFICATE-----") {
        return Err(format!("certificate: not a PEM chain: {pem}"));
    }
    lap(6, &mut t);
    Ok(steps)
}

async fn bench() -> Result<Value, String> {
    let args = Arc::new(parse_args()?);
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| format!("i{:x}", std::process::id()));
    let names: Arc<Vec<String>> = Arc::new(
        (0..args.count)
            .map(|i| format!("c{i}.{run_id}.{}", args.domain))
            .collect(),
    );
    let csrs = Arc::new(make_csrs(&args.csr_dir, &names, args.concurrency)?);
    let tokens: Tokens = Arc::default();
    serve_http01(args.http01_port, tokens.clone())?;
    // Untimed: one account per worker.
    let mut accounts = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        accounts.push(new_account(&args).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<Vec<Result<Timed, String>>>> = Arc::default();
    let cpu0 = process_cpu_seconds();
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for account in accounts {
        let (args, names, csrs, tokens) =
            (args.clone(), names.clone(), csrs.clone(), tokens.clone());
        let (next, polls, results) = (next.clone(), polls.clone(), results.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(name), Some(csr)) = (names.get(i), csrs.get(i)) else {
                    return;
                };
                let t = Instant::now();
                let r = one_certificate(&account, name, csr, &tokens, args.poll, &polls)
                    .await
                    .map(|steps| Timed {
                        steps,
                        total: t.elapsed(),
                    });
                if let Err(e) = &r {
                    eprintln!("certificate {name}: {e}");
                }
                if let Ok(mut all) = results.lock() {
                    all.push(r);
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| format!("a worker failed: {e}"))?;
    }
    let elapsed = t0.elapsed();
    let client_cpu = process_cpu_seconds() - cpu0;
    let results = std::mem::take(&mut *results.lock().map_err(|_| "results poisoned")?);
    let ok: Vec<&Timed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut totals: Vec<f64> = ok.iter().map(|t| ms(t.total)).collect();
    totals.sort_by(f64::total_cmp);
    let per_cert: Vec<&[Duration]> = ok.iter().map(|t| &t.steps[..]).collect();
    let steps = step_stats(&STEPS, &per_cert);
    let seconds = elapsed.as_secs_f64();
    Ok(json!({
        "client": "instant-acme 0.8",
        "directory": args.directory,
        "count": args.count,
        "concurrency": args.concurrency,
        "errors": results.len() - ok.len(),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "certs_per_sec": ((ok.len() as f64 / seconds) * 100.0).round() / 100.0,
        "p50_ms": quantile(&totals, 0.5),
        "p99_ms": quantile(&totals, 0.99),
        "steps": steps,
        "order_refreshes": polls.load(Ordering::Relaxed),
        "poll_cap_ms": args.poll.as_millis() as u64,
        "client_cpu_seconds": (client_cpu * 100.0).round() / 100.0,
    }))
}
