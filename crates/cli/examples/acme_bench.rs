//! ACME issuance benchmark client (scripts/bench-acme.sh, docs/performance.md): N
//! certificates through http-01, C at a time, against any RFC 8555 server — the same
//! client, byte for byte, for Pebble and for Strongroom.
//!
//! In: a directory URL, the PEM root its HTTPS listener chains to, a port to answer http-01
//! on, a DNS domain whose every name resolves to 127.0.0.1 for the server's validator.
//! Out: one JSON line on stdout (count, errors, seconds, certs_per_sec, p50_ms, p99_ms,
//! where the time went per step, and the client's own CPU seconds while timed); each failed certificate on stderr with the server's
//! problem document.
//!
//! Untimed set-up: one P-256 key and a DER CSR per name made by openssl into `--csr-dir`,
//! one ES256 account per worker. Timed: for each certificate, newOrder → authz → answer
//! http-01 → poll the authz → finalize → poll the order → download. Nonces are taken from
//! the previous answer's Replay-Nonce, as real clients do; `newNonce` is asked only once
//! per worker and after an answer without one. Polling honours Retry-After but never
//! sleeps longer than `--poll-ms`, so both servers are polled at the same pace.
//!
//! Usage: acme_bench --directory URL --ca-file PEM --count N --concurrency C
//!        --http01-port P --domain lab.test --csr-dir DIR [--poll-ms 50] [--run-id ID]

#[path = "acme_bench_common/mod.rs"]
mod common;

use common::{
    agent, finish, make_csrs, ms, parse_args, process_cpu_seconds, quantile, serve_http01,
    step_stats, Tokens,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use strongroom_acme::jws::Signer;
use strongroom_acme::{b64, challenge};

/// The steps of one certificate, in order (the keys of the report's `steps`).
const STEPS: [&str; 7] = [
    "new_order",
    "get_authz",
    "answer_challenge",
    "await_authz_valid",
    "finalize",
    "await_order_valid",
    "download",
];

/// One HTTP answer, read whole.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

/// Counters shared by the workers (how the server answered, not how fast).
#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    polls: AtomicUsize,
    bad_nonce_retries: AtomicUsize,
    nonce_fetches: AtomicUsize,
    retry_after_seen: Mutex<HashMap<u64, usize>>,
}

/// One worker's connection to the server: an HTTP agent with keep-alive, an account, and
/// the nonce the last answer carried.
struct Session<'a> {
    agent: ureq::Agent,
    dir: &'a Value,
    key: Signer,
    kid: Option<String>,
    nonce: Option<String>,
    counters: &'a Counters,
}

impl Session<'_> {
    fn send(
        &self,
        req: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, String> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut r = req.map_err(|e| format!("HTTP: {e}"))?;
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = r
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading the body: {e}"))?;
        let a = Answer {
            status: r.status().as_u16(),
            headers,
            body,
        };
        if let Some(secs) = a.retry_after() {
            if let Ok(mut seen) = self.counters.retry_after_seen.lock() {
                *seen.entry(secs.as_secs()).or_default() += 1;
            }
        }
        Ok(a)
    }

    fn fresh_nonce(&mut self) -> Result<String, String> {
        self.counters.nonce_fetches.fetch_add(1, Ordering::Relaxed);
        let url = url_of(self.dir, "newNonce")?;
        let a = self.send(self.agent.head(url).call())?;
        a.header("replay-nonce")
            .map(str::to_string)
            .ok_or_else(|| format!("newNonce answered {} without a nonce", a.status))
    }

    /// A signed POST (`payload` None is POST-as-GET); a badNonce is retried with the nonce
    /// the error carried, up to three times, as RFC 8555 §6.5 asks of clients.
    fn post(&mut self, url: &str, payload: Option<&Value>) -> Result<Answer, String> {
        for _ in 0..4 {
            let nonce = match self.nonce.take() {
                Some(n) => n,
                None => self.fresh_nonce()?,
            };
            let jws = self
                .key
                .sign(url, Some(&nonce), self.kid.as_deref(), payload);
            let a = self.send(
                self.agent
                    .post(url)
                    .header("content-type", "application/jose+json")
                    .send(jws.to_string().as_bytes()),
            )?;
            self.nonce = a.header("replay-nonce").map(str::to_string);
            if a.status == 400 && a.json()["type"] == "urn:ietf:params:acme:error:badNonce" {
                self.counters
                    .bad_nonce_retries
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return Ok(a);
        }
        Err(format!("{url}: badNonce four times in a row"))
    }

    /// POSTs and insists on `want` status; else the problem document is the error.
    fn expect(
        &mut self,
        what: &str,
        url: &str,
        payload: Option<&Value>,
        want: &[u16],
    ) -> Result<Answer, String> {
        let a = self.post(url, payload)?;
        if want.contains(&a.status) {
            Ok(a)
        } else {
            Err(format!("{what}: HTTP {} {}", a.status, a.body.trim()))
        }
    }

    /// POST-as-GET `url` until its `status` leaves `waiting`; Retry-After is honoured up to
    /// the poll cap.
    fn poll(
        &mut self,
        what: &str,
        url: &str,
        waiting: &[&str],
        cap: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let a = self.expect(what, url, None, &[200])?;
            let v = a.json();
            let status = v["status"].as_str().unwrap_or_default();
            if !waiting.contains(&status) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what}: still {status} after 60 s: {}",
                    a.body.trim()
                ));
            }
            self.counters.polls.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(a.retry_after().map_or(cap, |r| r.min(cap)));
        }
    }
}

fn url_of<'v>(v: &'v Value, field: &str) -> Result<&'v str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("no {field:?} URL in {v}"))
}

/// A certificate's wall time, whole and per step.
struct Timed {
    steps: [Duration; 7],
    total: Duration,
}

/// One certificate, start to finish; returns the time of each step.
fn one_certificate(
    s: &mut Session<'_>,
    name: &str,
    csr: &[u8],
    tokens: &Tokens,
    poll: Duration,
) -> Result<[Duration; 7], String> {
    let mut steps = [Duration::ZERO; 7];
    let mut t = Instant::now();
    let mut lap = |i: usize, t: &mut Instant| {
        steps[i] = t.elapsed();
        *t = Instant::now();
    };
    let new_order = url_of(s.dir, "newOrder")?.to_string();
    let o = s.expect(
        "newOrder",
        &new_order,
        Some(&json!({"identifiers": [{"type": "dns", "value": name}]})),
        &[201],
    )?;
    let order_url = o
        .header("location")
        .ok_or("newOrder: no Location")?
        .to_string();
    let order = o.json();
    let authz_url = order["authorizations"][0]
        .as_str()
        .ok_or_else(|| format!("newOrder: no authorization in {order}"))?
        .to_string();
    let finalize_url = url_of(&order, "finalize")?.to_string();
    lap(0, &mut t);

    let z = s.expect("authz", &authz_url, None, &[200])?.json();
    let ch = z["challenges"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
        .ok_or_else(|| format!("authz: no http-01 challenge in {z}"))?
        .clone();
    let token = ch["token"]
        .as_str()
        .ok_or("challenge: no token")?
        .to_string();
    let thumb = s.key.jwk().thumbprint();
    tokens
        .lock()
        .map_err(|_| "token map poisoned")?
        .insert(token.clone(), challenge::key_authorization(&token, &thumb));
    lap(1, &mut t);

    s.expect("challenge", url_of(&ch, "url")?, Some(&json!({})), &[200])?;
    lap(2, &mut t);

    let z = s.poll("authz poll", &authz_url, &["pending", "processing"], poll)?;
    if let Ok(mut m) = tokens.lock() {
        m.remove(&token);
    }
    if z["status"] != "valid" {
        return Err(format!("authorization {}: {z}", z["status"]));
    }
    lap(3, &mut t);

    let f = s
        .expect(
            "finalize",
            &finalize_url,
            Some(&json!({"csr": b64::encode(csr)})),
            &[200],
        )?
        .json();
    lap(4, &mut t);

    let done = if f["status"] == "valid" {
        f
    } else {
        s.poll("order poll", &order_url, &["ready", "processing"], poll)?
    };
    if done["status"] != "valid" {
        return Err(format!("order {}: {done}", done["status"]));
    }
    lap(5, &mut t);

    let cert_url = url_of(&done, "certificate")?.to_string();
    let pem = s.expect("certificate", &cert_url, None, &[200])?;
    if !pem.body.starts_with("-----BEGIN CERTIFICATE-----") {
        return Err(format!("certificate: not a PEM chain: {}", pem.body));
    }
    lap(6, &mut t);
    Ok(steps)
}

fn main() -> std::process::ExitCode {
    finish("acme_bench", bench())
}

fn bench() -> Result<Value, String> {
    let args = parse_args()?;
    let run_id = match &args.run_id {
        Some(r) => r.clone(),
        None => {
            // A fresh key's thumbprint is as random as anything here; 5 bytes in hex make
            // a DNS label.
            let t = Signer::generate()?.jwk().thumbprint();
            hex::encode(&b64::decode(&t, "thumbprint")?[..5])
        }
    };
    let names: Vec<String> = (0..args.count)
        .map(|i| format!("c{i}.{run_id}.{}", args.domain))
        .collect();
    let csrs = make_csrs(&args.csr_dir, &names, args.concurrency)?;
    let tokens: Tokens = Arc::default();
    serve_http01(args.http01_port, tokens.clone())?;

    let directory = {
        let a = agent(&args.ca_file)?;
        let mut r = a
            .get(&args.directory)
            .call()
            .map_err(|e| format!("directory: {e}"))?;
        let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        serde_json::from_str::<Value>(&body).map_err(|e| format!("directory: {e}: {body}"))?
    };
    let counters = Counters::default();
    let next = AtomicUsize::new(0);
    let start_line = Barrier::new(args.concurrency + 1);
    let results: Mutex<Vec<Result<Timed, String>>> = Mutex::new(Vec::new());
    let setup_failure: Mutex<Option<String>> = Mutex::new(None);

    // (start of the timed phase, requests made before it: the accounts)
    let mut cpu0 = 0.0;
    let (t0, setup_requests) = std::thread::scope(|scope| {
        for _ in 0..args.concurrency {
            scope.spawn(|| {
                // Untimed: the agent, the account key and the account.
                let session = agent(&args.ca_file).and_then(|agent| {
                    let mut s = Session {
                        agent,
                        dir: &directory,
                        key: Signer::generate()?,
                        kid: None,
                        nonce: None,
                        counters: &counters,
                    };
                    let url = url_of(&directory, "newAccount")?.to_string();
                    let a = s.expect(
                        "newAccount",
                        &url,
                        Some(&json!({"termsOfServiceAgreed": true})),
                        &[200, 201],
                    )?;
                    s.kid = a.header("location").map(str::to_string);
                    Ok(s)
                });
                let mut session = match session {
                    Ok(s) => Some(s),
                    Err(e) => {
                        if let Ok(mut f) = setup_failure.lock() {
                            *f = Some(e);
                        }
                        None
                    }
                };
                start_line.wait();
                let Some(s) = session.as_mut() else { return };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(name), Some(csr)) = (names.get(i), csrs.get(i)) else {
                        return;
                    };
                    let t = Instant::now();
                    let r = one_certificate(s, name, csr, &tokens, args.poll);
                    let r = match r {
                        Ok(steps) => Ok(Timed {
                            steps,
                            total: t.elapsed(),
                        }),
                        Err(e) => {
                            eprintln!("certificate {name}: {e}");
                            Err(e)
                        }
                    };
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                }
            });
        }
        start_line.wait();
        // Every worker returns when the names run out; the scope joins them.
        cpu0 = process_cpu_seconds();
        (Instant::now(), counters.requests.load(Ordering::Relaxed))
    });
    let elapsed = t0.elapsed();
    let client_cpu = process_cpu_seconds() - cpu0;

    if let Some(e) = setup_failure.into_inner().ok().flatten() {
        return Err(format!("set-up: {e}"));
    }
    let results = results.into_inner().map_err(|_| "results poisoned")?;
    let ok: Vec<&Timed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let errors = results.len() - ok.len();
    let mut totals: Vec<f64> = ok.iter().map(|t| ms(t.total)).collect();
    totals.sort_by(f64::total_cmp);
    let per_cert: Vec<&[Duration]> = ok.iter().map(|t| &t.steps[..]).collect();
    let steps = step_stats(&STEPS, &per_cert);
    let seconds = elapsed.as_secs_f64();
    let retry_after: serde_json::Map<String, Value> = counters
        .retry_after_seen
        .lock()
        .map(|m| m.iter().map(|(k, v)| (format!("{k}s"), json!(v))).collect())
        .unwrap_or_default();
    Ok(json!({
        "directory": args.directory,
        "count": args.count,
        "concurrency": args.concurrency,
        "errors": errors,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "certs_per_sec": ((ok.len() as f64 / seconds) * 100.0).round() / 100.0,
        "p50_ms": quantile(&totals, 0.5),
        "p99_ms": quantile(&totals, 0.99),
        "steps": steps,
        "requests": counters.requests.load(Ordering::Relaxed) - setup_requests,
        "polls": counters.polls.load(Ordering::Relaxed),
        "nonce_fetches": counters.nonce_fetches.load(Ordering::Relaxed),
        "bad_nonce_retries": counters.bad_nonce_retries.load(Ordering::Relaxed),
        "retry_after_seen": retry_after,
        "poll_cap_ms": args.poll.as_millis() as u64,
        "client_cpu_seconds": (client_cpu * 100.0).round() / 100.0,
    }))
}
