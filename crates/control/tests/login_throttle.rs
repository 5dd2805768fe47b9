#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! A password-guessing flood against `POST /api/v1/auth/login`: a user name locked after
//! five failures (the right password refused too, with no argon2 run for it) and an address
//! after twenty; hundreds of parallel wrong logins from many addresses that must not take
//! control past its unit's `MemoryMax` nor stop it answering; and failures counted in the
//! audit log rather than chained one by one.

use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;
use strongroom_testkit::stack::{Client, Control, Db};

/// `MemoryMax=` of `systemd/strongroom-control.service`.
const MEMORY_MAX: u64 = 1 << 30;
/// `TasksMax=` of the same unit.
const TASKS_MAX: u64 = 512;

/// Limits high enough that one user name from one address (127.0.0.1) can fail a hundred
/// times, each failure reaching argon2.
const PERMISSIVE: &str = "[login]\nuser_failures = 100000\naddress_failures = 100000\n";

/// What a login attempt answered, with the header a throttled client needs.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    content_type: String,
}

/// `POST /api/v1/auth/login` on a fresh connection, keeping `Retry-After`.
fn login(c: &Control, username: &str, password: &str) -> Answer {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let root = Certificate::from_der(&c.root_der).to_owned();
    let agent = ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .new_agent();
    let mut r = agent
        .post(format!("{}/api/v1/auth/login", c.base))
        .header("Content-Type", "application/json")
        .send(json!({"username": username, "password": password}).to_string())
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after").map(|v| v.parse().unwrap());
    let content_type = header("content-type").unwrap_or_default();
    let status = r.status().as_u16();
    let _ = r.body_mut().read_to_string();
    Answer {
        status,
        retry_after,
        content_type,
    }
}

/// A counter from `/metrics`, if control has it.
fn metric(admin: &Client, name: &str) -> Option<u64> {
    let text = admin.get("/metrics").text;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.parse().unwrap())
}

/// Audit events whose action starts with `action`, oldest first.
fn audit(admin: &Client, action: &str) -> Vec<Value> {
    let r = admin.get(&format!("/api/v1/audit?action={action}&limit=1000"));
    assert_eq!(r.status, 200, "{}", r.text);
    let mut items: Vec<Value> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event"].clone())
        .collect();
    items.reverse();
    items
}

/// The control daemon's process id: the process whose command line names this test's
/// configuration file.
fn control_pid(c: &Control) -> u32 {
    let config = c.config.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args
            .first()
            .is_some_and(|a| a.ends_with("strongroom-control"))
            && args.contains(&config)
        {
            return pid;
        }
    }
    panic!("no strongroom-control process runs with {config}");
}

/// A field of `/proc/PID/status` (`VmRSS` in bytes, `Threads` as a count); None once the
/// process is gone.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next()?.parse().ok()?;
    Some(if parts.next() == Some("kB") {
        n * 1024
    } else {
        n
    })
}

#[test]
fn a_locked_user_name_and_address_are_refused_without_argon2() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    c.user(&admin, "dave", &["auditor"]);
    c.user(&admin, "erin", &["auditor"]);
    let dave_password = "dave-password-long-enough";

    // Five wrong passwords for dave are five ordinary refusals.
    for _ in 0..5 {
        assert_eq!(login(&c, "dave", "guess-guess-guess").status, 401);
    }
    let checks = metric(&admin, "strongroom_control_password_checks_total");
    // The sixth is throttled, with the seconds to wait.
    let sixth = login(&c, "dave", "guess-guess-guess");
    assert_eq!(sixth.status, 429);
    assert_eq!(sixth.content_type, "application/problem+json");
    let wait = sixth.retry_after.expect("a 429 carries Retry-After");
    assert!((1..=900).contains(&wait), "Retry-After: {wait}");
    // While locked even the right password is refused, and no password check runs for it.
    let right = login(&c, "dave", dave_password);
    assert_eq!(right.status, 429);
    assert!(right.retry_after.is_some());
    let after = metric(&admin, "strongroom_control_password_checks_total");
    assert!(
        checks.is_some(),
        "no strongroom_control_password_checks_total"
    );
    assert_eq!(
        after, checks,
        "argon2 ran for an attempt on a locked user name"
    );
    // Other users log in as before.
    assert_eq!(login(&c, "erin", "erin-password-long-enough").status, 201);

    // The audit log: the first failure, one summary of the other four, one lockout; the
    // refused attempts add nothing one by one.
    let events: Vec<Value> = audit(&admin, "auth.login")
        .into_iter()
        .filter(|e| e["target"] == "user:dave")
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "auth.login",
            "auth.login",
            "auth.login.failures",
            "auth.login.lockout"
        ],
        "{events:#?}"
    );
    assert_eq!(events[1]["outcome"], "denied", "{events:#?}");
    assert!(
        events[2]["detail"].as_str().unwrap().starts_with("4 more"),
        "{events:#?}"
    );

    // Fifteen more failures from this address, each for another name (unknown names count
    // as much as wrong passwords), make twenty: the address is locked, for every name.
    for i in 0..15 {
        assert_eq!(
            login(&c, &format!("nobody-{i}"), "guess-guess-guess").status,
            401
        );
    }
    let refused = login(&c, "erin", "erin-password-long-enough");
    assert_eq!(refused.status, 429);
    assert!(refused.retry_after.is_some_and(|s| (1..=900).contains(&s)));
    assert_eq!(
        audit(&admin, "auth.login.lockout")
            .iter()
            .filter(|e| e["target"] == "address:127.0.0.1")
            .count(),
        1
    );
    // Sessions and API keys are not logins: they keep working.
    assert_eq!(admin.get("/api/v1/auth/whoami").status, 200);
}

/// A TCP connection to `to` from `source` (any address of 127/8 is loopback on Linux).
fn connect_from(source: Ipv4Addr, to: SocketAddrV4) -> std::io::Result<TcpStream> {
    let sockaddr = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, owned by the TcpStream at once; bind and connect read a
    // sockaddr_in of the length given, which lives across the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(SocketAddrV4::new(source, 0));
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sockaddr(to);
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// One wrong login for `username` on a fresh TLS connection from `source`: the status, or
/// what went wrong.
fn wrong_login_from(
    source: Ipv4Addr,
    port: u16,
    tls: &Arc<rustls::ClientConfig>,
    username: &str,
) -> Result<u16, String> {
    let tcp = connect_from(source, SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let name = ServerName::IpAddress(IpAddr::from(Ipv4Addr::LOCALHOST).into());
    let conn = rustls::ClientConnection::new(tls.clone(), name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let body = json!({"username": username, "password": "guess-guess-guess"}).to_string();
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .and_then(|_| stream.flush())
    .map_err(|e| format!("write: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))
}

#[test]
fn a_parallel_flood_of_wrong_logins_leaves_control_answering_and_within_its_memory() {
    // 500 wrong logins at once, each on its own connection, as a botnet sends them: from 50
    // addresses (127.0.0.10 to 127.0.0.59), ten each. Ten stays under the twenty failures
    // that lock an address and under the accept loop's per-address connection cap, so every
    // attempt asks for a password check; 500 stays under the accept loop's 512 connections,
    // leaving room for the liveness probe from 127.0.0.1.
    const ADDRESSES: u8 = 50;
    const PER_ADDRESS: usize = 10;
    const FLOOD: usize = ADDRESSES as usize * PER_ADDRESS;
    let c = Control::start(Db::Sqlite);
    let pid = control_pid(&c);
    let port: u16 = c.base.rsplit(':').next().unwrap().parse().unwrap();
    let tls = {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(c.root_der.clone())).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    };
    let peak_rss = Arc::new(AtomicU64::new(proc_status(pid, "VmRSS").unwrap()));
    let peak_threads = Arc::new(AtomicU64::new(0));
    let over_limit = Arc::new(AtomicBool::new(false));
    let flooding = Arc::new(AtomicBool::new(true));
    let start = Arc::new(Barrier::new(FLOOD + 1));

    // Samples RSS and threads; past MemoryMax the kernel would have killed control under
    // its unit, so this kills it too (and spares the machine the rest).
    let sampler = {
        let (peak_rss, peak_threads, over_limit, flooding) = (
            peak_rss.clone(),
            peak_threads.clone(),
            over_limit.clone(),
            flooding.clone(),
        );
        std::thread::spawn(move || {
            while flooding.load(Ordering::Relaxed) {
                let (Some(rss), Some(threads)) =
                    (proc_status(pid, "VmRSS"), proc_status(pid, "Threads"))
                else {
                    break;
                };
                peak_rss.fetch_max(rss, Ordering::Relaxed);
                peak_threads.fetch_max(threads, Ordering::Relaxed);
                if rss > MEMORY_MAX {
                    over_limit.store(true, Ordering::Relaxed);
                    // SAFETY: kill with the pid of the control process this test started.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    // Probes liveness from 127.0.0.1 throughout; the first probe leaves with the flood.
    let probes = Arc::new(Mutex::new(Vec::new()));
    let prober = {
        let (client, probes, flooding, start) =
            (c.client(), probes.clone(), flooding.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            loop {
                let during = flooding.load(Ordering::Relaxed);
                let status = client
                    .call("GET", "/api/v1/health", None, None)
                    .map(|r| r.status)
                    .map_err(|e| e.to_string());
                probes.lock().unwrap().push((during, status));
                if !during {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            let (tls, start) = (tls.clone(), start.clone());
            let source = Ipv4Addr::new(127, 0, 0, 10 + (i % ADDRESSES as usize) as u8);
            std::thread::spawn(move || {
                start.wait();
                wrong_login_from(source, port, &tls, &format!("flood-{i}"))
            })
        })
        .collect();
    let answers: Vec<Result<u16, String>> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    // One probe more after the flood.
    flooding.store(false, Ordering::Relaxed);
    prober.join().unwrap();
    sampler.join().unwrap();
    let peak = peak_rss.load(Ordering::Relaxed);
    let mut by_status = std::collections::BTreeMap::new();
    for a in &answers {
        *by_status.entry(a.clone()).or_insert(0) += 1;
    }
    eprintln!(
        "{FLOOD} parallel wrong logins: peak control RSS {} MiB, peak threads {}; answers {by_status:?}",
        peak >> 20,
        peak_threads.load(Ordering::Relaxed)
    );
    assert!(
        !over_limit.load(Ordering::Relaxed),
        "control's RSS passed MemoryMax ({} MiB > 1024 MiB)",
        peak >> 20
    );
    assert!(peak < MEMORY_MAX, "peak RSS {} MiB", peak >> 20);
    assert!(
        peak_threads.load(Ordering::Relaxed) < TASKS_MAX,
        "control ran {} threads; its unit allows {TASKS_MAX} tasks",
        peak_threads.load(Ordering::Relaxed)
    );

    // Every attempt was answered: refused (401), or asked to come back (429/503).
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Ok(401) | Ok(429) | Ok(503))),
        "{by_status:?}"
    );
    assert!(
        answers.contains(&Ok(401)),
        "no attempt was checked: {by_status:?}"
    );

    // Liveness answered during the flood and after it.
    let probes = probes.lock().unwrap();
    assert!(probes.iter().any(|(during, _)| *during), "{probes:?}");
    assert!(probes.iter().all(|(_, s)| *s == Ok(200)), "{probes:?}");
    assert_eq!(c.client().get("/api/v1/health").status, 200);
    // And it still logs people in.
    let admin = c.admin();
    assert_eq!(admin.get("/api/v1/auth/whoami").status, 200);
}

#[test]
fn failed_logins_are_counted_in_one_audit_event_not_one_each() {
    let c = Control::start_with(Db::Sqlite, PERMISSIVE);
    let admin = c.admin();
    c.user(&admin, "carol", &["auditor"]);
    for _ in 0..100 {
        assert_eq!(login(&c, "carol", "guess-guess-guess").status, 401);
    }
    let failures = || -> Vec<Value> {
        audit(&admin, "auth.login")
            .into_iter()
            .filter(|e| e["target"] == "user:carol" && e["outcome"] == "denied")
            .collect()
    };
    // While the window is open only the first failure is in the log.
    let during = failures();
    assert!(
        during.len() <= 2,
        "{} events for 100 failures",
        during.len()
    );
    // The next success closes the count: one event with the other 99.
    assert_eq!(login(&c, "carol", "carol-password-long-enough").status, 201);
    let after = failures();
    assert!(after.len() <= 3, "{} events for 100 failures", after.len());
    let summary = after
        .iter()
        .find(|e| e["action"] == "auth.login.failures")
        .unwrap_or_else(|| panic!("no auth.login.failures event: {after:#?}"));
    let detail = summary["detail"].as_str().unwrap();
    assert!(detail.starts_with("99 more failed logins"), "{detail}");
    assert!(detail.contains("127.0.0.1"), "{detail}");
    // The chain still verifies.
    let v = admin.get("/api/v1/audit/verify");
    assert_eq!(v.json()["ok"], true, "{}", v.text);
}
