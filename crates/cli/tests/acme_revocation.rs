//! ACME revokeCert (RFC 8555 §7.6) as a relying party sees it, against `strongroom up`:
//! the `200` arrives only once the revocation is in force — the first OCSP request after
//! it, over POST and over GET (RFC 6960 A.1), says `revoked` although both were answered
//! `good` from the front's memory just before — and a second revocation, by account key
//! or by certificate key, is `400 alreadyRevoked`. Two concurrent revocations of one
//! certificate get `200` or `alreadyRevoked`, never a `500`. With control stopped (frozen
//! with SIGSTOP: the job stays queued) the client gets `503` + Retry-After, not `200`, and
//! OCSP still says `good`: nobody was told a revocation that is not in force.
//!
//! The scripted client signs with our own JWS signer (as acme_protocol.rs); OCSP is asked
//! by openssl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::{agent_trusting, eventually, http01_server, key_and_csr, ok, stamp, Answers, Up};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_acme::jws::Signer;
use strongroom_acme::{b64, challenge};

/// A scripted ACME client (just what revocation needs).
struct Client {
    agent: ureq::Agent,
    dir: Value,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn problem(&self) -> String {
        self.json()["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:ietf:params:acme:error:")
            .to_string()
    }
}

impl Client {
    fn new(up: &Up) -> Client {
        let agent = agent_trusting(&up.root_pem());
        let mut c = Client {
            agent,
            dir: Value::Null,
        };
        c.dir = c.get(&up.directory()).json();
        c
    }

    fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut r = r.unwrap();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        Answer {
            status: r.status().as_u16(),
            headers,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, url: &str) -> Answer {
        Client::answer(self.agent.get(url).call())
    }

    fn post(&self, key: &Signer, kid: Option<&str>, url: &str, payload: Option<&Value>) -> Answer {
        let nonce = Client::answer(
            self.agent
                .head(self.dir["newNonce"].as_str().unwrap())
                .call(),
        )
        .header("replay-nonce")
        .expect("a nonce");
        let jws = key.sign(url, Some(&nonce), kid, payload);
        Client::answer(
            self.agent
                .post(url)
                .header("content-type", "application/jose+json")
                .send(jws.to_string().as_bytes()),
        )
    }

    fn account(&self, key: &Signer) -> String {
        let a = self.post(
            key,
            None,
            self.dir["newAccount"].as_str().unwrap(),
            Some(&json!({"termsOfServiceAgreed": true})),
        );
        assert!(a.status == 201 || a.status == 200, "newAccount: {}", a.body);
        a.header("location").unwrap()
    }

    /// A certificate for 127.0.0.1 by http-01; returns the leaf's PEM file and DER.
    fn obtain(
        &self,
        key: &Signer,
        kid: &str,
        answers: &Answers,
        csr: &[u8],
        out: &Path,
    ) -> (PathBuf, Vec<u8>) {
        let req = json!({"identifiers": [{"type": "ip", "value": "127.0.0.1"}]});
        let o = self.post(
            key,
            Some(kid),
            self.dir["newOrder"].as_str().unwrap(),
            Some(&req),
        );
        assert_eq!(o.status, 201, "newOrder: {}", o.body);
        let order_url = o.header("location").unwrap();
        let thumb = key.jwk().thumbprint();
        for authz in o.json()["authorizations"].as_array().unwrap() {
            let z = self
                .post(key, Some(kid), authz.as_str().unwrap(), None)
                .json();
            if z["status"] == "valid" {
                continue; // reused from an earlier order of this account
            }
            let ch = z["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "http-01")
                .unwrap()
                .clone();
            let token = ch["token"].as_str().unwrap().to_string();
            answers
                .lock()
                .unwrap()
                .push((token.clone(), challenge::key_authorization(&token, &thumb)));
            let r = self.post(
                key,
                Some(kid),
                ch["url"].as_str().unwrap(),
                Some(&json!({})),
            );
            assert_eq!(r.status, 200, "challenge: {}", r.body);
        }
        eventually(20, "order ready", || {
            let s = self.post(key, Some(kid), &order_url, None).json();
            if s["status"] == "ready" {
                Ok(())
            } else {
                Err(s.to_string())
            }
        });
        let fin = o.json()["finalize"].as_str().unwrap().to_string();
        let f = self.post(
            key,
            Some(kid),
            &fin,
            Some(&json!({"csr": b64::encode(csr)})),
        );
        assert_eq!(f.json()["status"], "valid", "finalize: {}", f.body);
        let cert_url = f.json()["certificate"].as_str().unwrap().to_string();
        let chain = self.post(key, Some(kid), &cert_url, None).body;
        let end = "-----END CERTIFICATE-----\n";
        let leaf = &chain[..chain.find(end).unwrap() + end.len()];
        std::fs::write(out, leaf).unwrap();
        let der_file = out.with_extension("der");
        ok(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(out)
                .arg("-out")
                .arg(&der_file),
            "openssl x509",
        );
        (out.to_path_buf(), std::fs::read(der_file).unwrap())
    }

    /// revokeCert signed by the account (`kid`) or, without one, by `key` itself.
    fn revoke(&self, key: &Signer, kid: Option<&str>, der: &[u8], reason: u8) -> Answer {
        let body = json!({"certificate": b64::encode(der), "reason": reason});
        self.post(
            key,
            kid,
            self.dir["revokeCert"].as_str().unwrap(),
            Some(&body),
        )
    }
}

/// What openssl makes of an OCSP answer for `leaf`: `good`, `revoked` or the whole output.
fn status_of(output: &str, leaf: &Path) -> String {
    let prefix = format!("{}: ", leaf.display());
    output
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| output.to_string())
}

/// The OCSP status of `leaf` asked by POST (openssl, no nonce: the request bytes are the
/// same every time, so the front may answer them from memory).
fn ocsp_post(up: &Up, leaf: &Path) -> String {
    let out = ok(
        Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(up.data.join("ca/issuing.pem"))
            .arg("-cert")
            .arg(leaf)
            .args(["-url", &format!("http://127.0.0.1:{}/ocsp", up.front_http)])
            .arg("-CAfile")
            .arg(up.root_pem()),
        "openssl ocsp",
    );
    status_of(&out, leaf)
}

/// The same request in the GET form of RFC 6960 A.1 (`/ocsp/{url-encoded base64}`), the
/// answer checked by openssl.
fn ocsp_get(up: &Up, leaf: &Path) -> String {
    let req = leaf.with_extension("ocsp-req");
    let resp = leaf.with_extension("ocsp-resp");
    ok(
        Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(up.data.join("ca/issuing.pem"))
            .arg("-cert")
            .arg(leaf)
            .arg("-reqout")
            .arg(&req),
        "openssl ocsp -reqout",
    );
    let encoded: String = b64_standard(&std::fs::read(&req).unwrap())
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let url = format!("http://127.0.0.1:{}/ocsp/{encoded}", up.front_http);
    let mut r = ureq::get(&url).call().unwrap();
    assert_eq!(r.status(), 200);
    std::fs::write(&resp, r.body_mut().read_to_vec().unwrap()).unwrap();
    let out = ok(
        Command::new("openssl")
            .args(["ocsp", "-respin"])
            .arg(&resp)
            .arg("-issuer")
            .arg(up.data.join("ca/issuing.pem"))
            .arg("-cert")
            .arg(leaf)
            .arg("-CAfile")
            .arg(up.root_pem()),
        "openssl ocsp -respin",
    );
    status_of(&out, leaf)
}

/// Standard base64 with padding (the form RFC 6960 A.1 URL-encodes).
fn b64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Asks OCSP by POST and GET, both `good`: the answers are now in the front's memory
/// (by serial and by request bytes), which is what could be served stale after a `200`.
fn warm(up: &Up, leaf: &Path) {
    assert_eq!(ocsp_post(up, leaf), "good");
    assert_eq!(ocsp_get(up, leaf), "good");
    assert_eq!(ocsp_post(up, leaf), "good");
}

/// A new key, its signer and a CSR for 127.0.0.1.
fn certificate_key(dir: &Path, name: &str) -> (Signer, Vec<u8>) {
    let (pkcs8, csr) = key_and_csr(dir, name, &["127.0.0.1"]);
    (Signer::from_pkcs8(&pkcs8).unwrap(), csr)
}

#[test]
fn revoke_answers_200_only_when_ocsp_says_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let up = Up::start(dir, None);
    let answers: Answers = Arc::default();
    http01_server("127.0.0.1", up.http01, answers.clone());
    let c = Client::new(&up);
    let key = Signer::generate().unwrap();
    let kid = c.account(&key);

    // By account key: 200, then revoked on the very next OCSP request, POST and GET;
    // a second revocation is alreadyRevoked.
    let (_, csr) = certificate_key(dir, "one");
    let (leaf, der) = c.obtain(&key, &kid, &answers, &csr, &dir.join("one.pem"));
    warm(&up, &leaf);
    let started = Instant::now();
    let a = c.revoke(&key, Some(&kid), &der, 1);
    assert_eq!(a.status, 200, "{}", a.body);
    stamp(&format!(
        "revokeCert by account key: 200 after {:?}",
        started.elapsed()
    ));
    let again = c.revoke(&key, Some(&kid), &der, 1);
    assert_eq!(
        (again.status, again.problem().as_str()),
        (400, "alreadyRevoked"),
        "second revocation by account key: {}",
        again.body
    );
    assert_eq!(ocsp_post(&up, &leaf), "revoked", "POST right after the 200");
    assert_eq!(ocsp_get(&up, &leaf), "revoked", "GET right after the 200");

    // By the certificate's own key: the same.
    let (cert_key, csr) = certificate_key(dir, "two");
    let (leaf, der) = c.obtain(&key, &kid, &answers, &csr, &dir.join("two.pem"));
    warm(&up, &leaf);
    let started = Instant::now();
    let a = c.revoke(&cert_key, None, &der, 4);
    assert_eq!(a.status, 200, "{}", a.body);
    stamp(&format!(
        "revokeCert by certificate key: 200 after {:?}",
        started.elapsed()
    ));
    assert_eq!(ocsp_get(&up, &leaf), "revoked", "GET right after the 200");
    assert_eq!(ocsp_post(&up, &leaf), "revoked", "POST right after the 200");
    let again = c.revoke(&cert_key, None, &der, 4);
    assert_eq!(
        (again.status, again.problem().as_str()),
        (400, "alreadyRevoked"),
        "second revocation by certificate key: {}",
        again.body
    );

    // Two at once, by account key and by certificate key: each gets 200 or
    // alreadyRevoked (never a 500), not both alreadyRevoked, and OCSP says revoked.
    let (cert_key, csr) = certificate_key(dir, "three");
    let (leaf, der) = c.obtain(&key, &kid, &answers, &csr, &dir.join("three.pem"));
    warm(&up, &leaf);
    let (a, b) = std::thread::scope(|s| {
        let by_account = s.spawn(|| c.revoke(&key, Some(&kid), &der, 0));
        let by_cert_key = s.spawn(|| c.revoke(&cert_key, None, &der, 0));
        (by_account.join().unwrap(), by_cert_key.join().unwrap())
    });
    let outcome = |x: &Answer| match (x.status, x.problem().as_str()) {
        (200, _) => "revoked",
        (400, "alreadyRevoked") => "alreadyRevoked",
        _ => panic!("concurrent revocation answered {} {}", x.status, x.body),
    };
    assert_ne!(
        (outcome(&a), outcome(&b)),
        ("alreadyRevoked", "alreadyRevoked"),
        "one of them revoked it"
    );
    assert_eq!(ocsp_post(&up, &leaf), "revoked");
    assert_eq!(ocsp_get(&up, &leaf), "revoked");
}

/// The control daemon `up` started for `data` (its command line names `data`).
fn control_pid(data: &Path) -> String {
    let needle = data.to_string_lossy().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        if args
            .first()
            .is_some_and(|a| a.ends_with("strongroom-control"))
            && args.iter().any(|a| a.contains(&needle))
        {
            return name;
        }
    }
    panic!("no strongroom-control process for {needle}");
}

/// Control frozen with SIGSTOP (its job worker cannot run); SIGCONT when dropped.
struct Frozen(String);

impl Frozen {
    /// Freezes control at a moment it holds no write lock on the SQLite database (else
    /// the front's own writes would wait on a process that never finishes).
    fn control(up: &Up) -> Frozen {
        let pid = control_pid(&up.data);
        let db = up.data.join("control/control.db");
        loop {
            assert!(signal("STOP", &pid), "kill -STOP {pid}");
            let frozen = Frozen(pid.clone());
            let probe = Command::new("python3")
                .args([
                    "-c",
                    "import sqlite3, sys\n\
                     c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n\
                     c.execute('BEGIN IMMEDIATE')\n\
                     c.execute('ROLLBACK')",
                ])
                .arg(&db)
                .output()
                .unwrap();
            if probe.status.success() {
                return frozen;
            }
            let err = String::from_utf8_lossy(&probe.stderr);
            assert!(err.contains("locked"), "python3 sqlite3 probe: {err}");
            drop(frozen);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends SIGSTOP or SIGCONT to a process this test started (through `up`), by its id.
fn signal(name: &str, pid: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("kill -{name} \"$1\""), "sh", pid])
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("CONT", &self.0);
    }
}

#[test]
fn revoke_with_control_stopped_answers_503_and_ocsp_stays_good() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let up = Up::start(dir, None);
    let answers: Answers = Arc::default();
    http01_server("127.0.0.1", up.http01, answers.clone());
    let c = Client::new(&up);
    let key = Signer::generate().unwrap();
    let kid = c.account(&key);
    let (_, csr) = certificate_key(dir, "four");
    let (leaf, der) = c.obtain(&key, &kid, &answers, &csr, &dir.join("four.pem"));
    warm(&up, &leaf);

    let frozen = Frozen::control(&up);
    let started = Instant::now();
    let a = c.revoke(&key, Some(&kid), &der, 1);
    assert_eq!(a.status, 503, "control is stopped: {}", a.body);
    stamp(&format!(
        "revokeCert with control stopped: 503 after {:?}",
        started.elapsed()
    ));
    assert!(
        a.header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)),
        "{:?}",
        a.headers
    );
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(a.problem(), "serverInternal", "{}", a.body);
    assert!(
        a.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("queued")),
        "{}",
        a.body
    );
    // Not revoked, and nobody said it was.
    assert_eq!(ocsp_post(&up, &leaf), "good");
    assert_eq!(ocsp_get(&up, &leaf), "good");

    // Control back: the queued job takes effect; the retry learns it.
    drop(frozen);
    eventually(30, "the queued revocation takes effect", || {
        let a = c.revoke(&key, Some(&kid), &der, 1);
        if a.problem() == "alreadyRevoked" {
            Ok(())
        } else {
            Err(format!("{} {}", a.status, a.body))
        }
    });
    eventually(10, "OCSP says revoked", || match ocsp_post(&up, &leaf) {
        s if s == "revoked" => Ok(()),
        s => Err(s),
    });
}
