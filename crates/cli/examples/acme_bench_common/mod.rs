//! What both ACME benchmark clients share (examples acme_bench and acme_bench_instant): the
//! command line, the http-01 responder, the CSRs made before timing, the HTTPS agent that
//! trusts only the given root, quantiles and the process's CPU time.
//!
//! In: the arguments and files named there. Out: the pieces above; nothing is timed here.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The command line.
pub struct Args {
    pub directory: String,
    pub ca_file: PathBuf,
    pub count: usize,
    pub concurrency: usize,
    pub http01_port: u16,
    pub domain: String,
    pub csr_dir: PathBuf,
    pub poll: Duration,
    pub run_id: Option<String>,
}

/// Parses `--name value` pairs.
pub fn parse_args() -> Result<Args, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            return Err(format!("unexpected argument {flag:?}"));
        };
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        map.insert(name.to_string(), value);
    }
    let mut take = |k: &str| map.remove(k).ok_or_else(|| format!("--{k} is required"));
    let num = |k: &str, v: String| {
        v.parse::<usize>()
            .map_err(|_| format!("--{k}: not a number"))
    };
    let args = Args {
        directory: take("directory")?,
        ca_file: take("ca-file")?.into(),
        count: num("count", take("count")?)?,
        concurrency: num("concurrency", take("concurrency")?)?.max(1),
        http01_port: take("http01-port")?
            .parse()
            .map_err(|_| "--http01-port: not a port".to_string())?,
        domain: take("domain")?,
        csr_dir: take("csr-dir")?.into(),
        poll: Duration::from_millis(
            map.remove("poll-ms")
                .map(|v| num("poll-ms", v))
                .transpose()?
                .unwrap_or(50) as u64,
        ),
        run_id: map.remove("run-id"),
    };
    if let Some(k) = map.keys().next() {
        return Err(format!("unknown option --{k}"));
    }
    Ok(args)
}

/// The http-01 tokens being answered (token → key authorization).
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Serves `/.well-known/acme-challenge/TOKEN` over HTTP/1.0, a thread per connection
/// (validators connect in parallel; a slow one must not hold up the others).
pub fn serve_http01(port: u16, tokens: Tokens) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("http-01 port {port}: {e}"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tokens = tokens.clone();
            std::thread::spawn(move || answer_http01(stream, &tokens));
        }
    });
    Ok(())
}

fn answer_http01(mut s: std::net::TcpStream, tokens: &Tokens) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 2048];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16_384 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req);
    let path = text.split(' ').nth(1).unwrap_or_default();
    let token = path
        .strip_prefix("/.well-known/acme-challenge/")
        .unwrap_or_default();
    let body = tokens.lock().ok().and_then(|t| t.get(token).cloned());
    let reply = match body {
        Some(b) => format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ),
        None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
    };
    let _ = s.write_all(reply.as_bytes());
}

/// One P-256 key and a DER CSR per name (SAN only), made by openssl before timing.
pub fn make_csrs(dir: &Path, names: &[String], concurrency: usize) -> Result<Vec<Vec<u8>>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = dir.join("csr-key.pem");
    if !key.exists() {
        run_openssl(
            Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                ])
                .arg(&key),
        )?;
    }
    let next = AtomicUsize::new(0);
    let made: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(vec![None; names.len()]);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { return };
                let out = dir.join(format!("{name}.csr.der"));
                let done = run_openssl(
                    Command::new("openssl")
                        .args(["req", "-new", "-subj", "/", "-key"])
                        .arg(&key)
                        .args([
                            "-addext",
                            &format!("subjectAltName=DNS:{name}"),
                            "-outform",
                            "DER",
                            "-out",
                        ])
                        .arg(&out),
                )
                .and_then(|()| std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display())));
                match done {
                    Ok(der) => {
                        if let Ok(mut m) = made.lock() {
                            m[i] = Some(der);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            *f = Some(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    made.into_inner()
        .map_err(|_| "a CSR thread panicked".to_string())?
        .into_iter()
        .map(|c| c.ok_or_else(|| "a CSR is missing".to_string()))
        .collect()
}

fn run_openssl(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("openssl: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// An HTTPS agent with keep-alive that trusts only the roots in `ca_file`.
pub fn agent(ca_file: &Path) -> Result<ureq::Agent, String> {
    use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
    let pem = std::fs::read(ca_file).map_err(|e| format!("{}: {e}", ca_file.display()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("no certificate in {}", ca_file.display()));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(certs)))
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent())
}

/// The `q` quantile (nearest rank) of sorted milliseconds.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds, two decimals.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// CPU time (user + system) this process has used, all threads, in seconds.
pub fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Prints the report on stdout, or the error on stderr under `program`'s name.
pub fn finish(program: &str, run: Result<serde_json::Value, String>) -> std::process::ExitCode {
    match run {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Mean, p50 and p99 milliseconds of each step over the certificates that succeeded, keyed
/// by step name (`steps[c][i]` is certificate c's step i).
pub fn step_stats(
    names: &[&str],
    steps: &[&[Duration]],
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (i, step) in names.iter().enumerate() {
        let mut v: Vec<f64> = steps.iter().map(|s| ms(s[i])).collect();
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        out.insert(
            (*step).to_string(),
            serde_json::json!({"mean_ms": (mean * 100.0).round() / 100.0, "p50_ms": quantile(&v, 0.5), "p99_ms": quantile(&v, 0.99)}),
        );
    }
    out
}
