//! Shared set-up for the ACME tests: `strongroom up` in ACME test mode (validation ports
//! and resolver on loopback, as Pebble's httpPort / tlsPort / -dnsserver) and a Debian
//! `knotd` serving `lab.test` on loopback with RFC 2136 updates under a TSIG key.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod clients;
pub mod ureq_http;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strongroom_acme::b64;
use strongroom_acme::jws::Signer;
use strongroom_testkit::run;

pub const STRONGROOM: &str = env!("CARGO_BIN_EXE_strongroom");

// Not every test binary uses every re-export.
#[allow(unused_imports)]
pub use strongroom_testkit::{
    stack::free_port,
    up::{ensure_daemons_built, Up},
};

/// A knotd serving `lab.test` (`* A 127.0.0.1`) with RFC 2136 updates allowed for the TSIG
/// key `acme-key` (hmac-sha256). CAA at the apex lets `strongroom.test` issue (`issue` and
/// `issuewild`); `denied.lab.test` names another CA only.
pub struct Knot {
    child: Child,
    /// UDP/TCP port.
    pub port: u16,
    /// The TSIG secret (base64).
    pub secret: String,
}

impl Knot {
    /// Starts knotd in `dir`.
    pub fn start(dir: &Path) -> Knot {
        let dir = dir.join("knot");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let secret = "c3Ryb25ncm9vbS10ZXN0LXRzaWcta2V5LTMyLWJ5dGVzIQ==".to_string();
        std::fs::write(
            dir.join("lab.test.zone"),
            "$ORIGIN lab.test.\n$TTL 1\n@ SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 1\n@ NS ns.lab.test.\nns A 127.0.0.1\n@ A 127.0.0.1\n* A 127.0.0.1\n\
             @ CAA 0 issue \"strongroom.test\"\n@ CAA 0 issuewild \"strongroom.test\"\n\
             denied A 127.0.0.1\ndenied CAA 0 issue \"other-ca.example\"\n",
        )
        .unwrap();
        let conf = dir.join("knot.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n  listen: 127.0.0.1@{port}\n  rundir: {d}\n\n\
                 database:\n  storage: {d}\n\n\
                 key:\n  - id: acme-key\n    algorithm: hmac-sha256\n    secret: {secret}\n\n\
                 acl:\n  - id: update\n    key: acme-key\n    action: update\n\n\
                 zone:\n  - domain: lab.test\n    storage: {d}\n    file: lab.test.zone\n    acl: update\n    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n\n\
                 log:\n  - target: stderr\n    any: info\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("knot.log")).unwrap();
        let knotd = ["/usr/sbin/knotd", "/usr/bin/knotd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("knotd is not installed (scripts/install-deps.sh test installs Debian's knot)");
        let child = Command::new(knotd)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let knot = Knot {
            child,
            port,
            secret,
        };
        // Ready when it answers a query for the zone.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if knot.query_a("ready.lab.test").is_some() {
                return knot;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not start: {}",
                std::fs::read_to_string(dir.join("knot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn query_a(&self, name: &str) -> Option<Vec<u8>> {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .ok()?;
        let q = strongroom_acme::dns::encode_query(4242, name, strongroom_acme::dns::A).ok()?;
        sock.send_to(&q, ("127.0.0.1", self.port)).ok()?;
        let mut buf = [0u8; 1500];
        let n = sock.recv(&mut buf).ok()?;
        strongroom_acme::dns::parse_answer(&buf[..n], 4242, name, strongroom_acme::dns::A)
            .ok()?
            .into_iter()
            .next()
    }

    /// certbot's dns-rfc2136 credentials file (0600).
    pub fn certbot_credentials(&self, dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("rfc2136.ini");
        std::fs::write(
            &p,
            format!(
                "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = {}\ndns_rfc2136_name = acme-key\ndns_rfc2136_secret = {}\ndns_rfc2136_algorithm = HMAC-SHA256\n",
                self.port, self.secret
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's private directory, named after `prefix` and printed; kept after the test when
/// `STRONGROOM_KEEP_TEST_DIR` is set, for reading the daemons' logs.
pub fn test_dir(prefix: &str) -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(std::env::var_os("STRONGROOM_KEEP_TEST_DIR").is_some())
        .tempdir()
        .unwrap();
    eprintln!("test directory {}", tmp.path().display());
    tmp
}

/// Runs a command, asserting success, returning stdout+stderr.
pub fn ok(cmd: &mut Command, what: &str) -> String {
    stamp(what);
    let out = run(cmd);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// `openssl verify` of a leaf against the root with the chain file as untrusted.
pub fn openssl_verify(root: &Path, chain: &Path, leaf: &Path) {
    let text = ok(
        Command::new("openssl")
            .args(["verify", "-x509_strict", "-CAfile"])
            .arg(root)
            .arg("-untrusted")
            .arg(chain)
            .arg(leaf),
        "openssl verify",
    );
    assert!(text.contains(": OK"), "{text}");
}

/// pkilint's PKIX linter reports no ERROR or FATAL. One finding is set aside: RFC 5280's
/// dNSName syntax has no wildcards (they are a CA/Browser Forum convention), so pkilint's
/// PKIX linter flags `*.name` in a wildcard certificate; any other finding fails.
pub fn pkilint(leaf: &Path) {
    let out = run(Command::new(strongroom_testkit::tool("lint_pkix_cert"))
        .args(["lint", "-s", "ERROR"])
        .arg(leaf));
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let findings: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("FATAL"))
        .filter(|l| !(l.contains("pkix.invalid_domain_name_syntax") && l.contains("\"*.")))
        .collect();
    assert!(
        findings.is_empty(),
        "pkilint on {}:\n{report}",
        leaf.display()
    );
}

/// Seconds since the test process's first call (for step timings in the output).
pub fn stamp(what: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed();
    eprintln!("[{:>7.1} s] {what}", t.as_secs_f64());
}

/// Polls `check` every 250 ms for up to `secs`.
pub fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// http-01 answers a test serves: (token, key authorization).
pub type Answers = Arc<Mutex<Vec<(String, String)>>>;

/// Serves http-01 answers on `port` of `ip`: `token → body` from `answers`.
pub fn http01_server(ip: &str, port: u16, answers: Answers) {
    let listener = std::net::TcpListener::bind((ip, port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split(' ').nth(1).unwrap_or_default().to_string();
            let body = answers
                .lock()
                .unwrap()
                .iter()
                .find(|(t, _)| path.ends_with(t.as_str()))
                .map(|(_, b)| b.clone());
            let reply = match body {
                Some(b) => format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len()),
                None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

/// A P-256 key (PKCS#8 DER, made by ring so the test can also sign with it) and a DER
/// CSR for IP SANs made by openssl.
pub fn key_and_csr(dir: &Path, name: &str, ips: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let pkcs8 = Signer::generate_pkcs8().unwrap();
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&key, strongroom_testkit::pem("PRIVATE KEY", &pkcs8)).unwrap();
    let csr = dir.join(format!("{name}.csr"));
    let san = ips
        .iter()
        .map(|i| format!("IP:{i}"))
        .collect::<Vec<_>>()
        .join(",");
    ok(
        Command::new("openssl")
            .args(["req", "-new", "-subj", "/", "-key"])
            .arg(&key)
            .args([
                "-addext",
                &format!("subjectAltName={san}"),
                "-outform",
                "DER",
                "-out",
            ])
            .arg(&csr),
        "openssl req",
    );
    (pkcs8, std::fs::read(csr).unwrap())
}

/// The ARI certID of a PEM certificate, via openssl.
pub fn ari_cert_id(dir: &Path, pem: &str) -> String {
    let f = dir.join("ari.pem");
    std::fs::write(&f, pem).unwrap();
    let text = ok(
        Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-serial",
                "-ext",
                "authorityKeyIdentifier",
                "-in",
            ])
            .arg(&f),
        "openssl x509",
    );
    let serial = text
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap()
        .trim()
        .to_string();
    let aki: String = text
        .lines()
        .map(str::trim)
        .find(|l| l.contains(':') && !l.starts_with("serial") && !l.starts_with("X509v3"))
        .unwrap()
        .trim_start_matches("keyid:")
        .replace(':', "");
    let unhex = |h: &str| {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let serial = if serial.len() % 2 == 1 {
        format!("0{serial}")
    } else {
        serial
    };
    let mut serial_bytes = unhex(&serial);
    if serial_bytes[0] & 0x80 != 0 {
        serial_bytes.insert(0, 0);
    }
    format!(
        "{}.{}",
        b64::encode(&unhex(&aki)),
        b64::encode(&serial_bytes)
    )
}

/// A ureq agent that trusts only the PEM certificates in `root` and hands every HTTP
/// status to the caller.
pub fn agent_trusting(root: &Path) -> ureq::Agent {
    use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
    let pem = std::fs::read(root).unwrap();
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert!(!certs.is_empty(), "no certificate in {}", root.display());
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(certs)))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// OCSP status of `cert` (issued by `issuer`) through the front, as openssl reports it.
pub fn ocsp_status(up: &Up, issuer: &Path, cert: &Path) -> String {
    let out = run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(issuer)
        .arg("-cert")
        .arg(cert)
        .args(["-url", &format!("http://127.0.0.1:{}/ocsp", up.front_http)])
        .arg("-CAfile")
        .arg(up.root_pem()));
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Splits a PEM bundle file into (leaf file, rest-of-chain file).
pub fn split_chain(
    bundle: &Path,
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string(bundle).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let cut = text.find(end).unwrap() + end.len();
    let (leaf, chain) = (
        dir.join(format!("{name}.leaf.pem")),
        dir.join(format!("{name}.chain.pem")),
    );
    std::fs::write(&leaf, &text[..cut]).unwrap();
    std::fs::write(&chain, &text[cut..]).unwrap();
    (leaf, chain)
}

pub fn check_certificate(
    up: &Up,
    dir: &Path,
    name: &str,
    bundle: &Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    stamp(&format!("checking {name}"));
    let (leaf, chain) = split_chain(bundle, dir, name);
    openssl_verify(&up.root_pem(), &chain, &leaf);
    pkilint(&leaf);
    (leaf, chain)
}

/// Serves `webroot` over plain HTTP on `port` of `ip`, as a web server would for http-01:
/// `GET /.well-known/acme-challenge/TOKEN` answers the file a client's hook (uacme) or
/// `WELLKNOWN` directory (dehydrated) holds, else 404. Runs until the test process ends.
pub fn webroot_server(ip: &str, port: u16, webroot: &Path) {
    let listener = std::net::TcpListener::bind((ip, port)).unwrap();
    let dir = webroot.join(".well-known/acme-challenge");
    std::fs::create_dir_all(&dir).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split(' ').nth(1).unwrap_or_default().to_string();
            let body = path
                .strip_prefix("/.well-known/acme-challenge/")
                .filter(|t| {
                    !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
                .and_then(|t| std::fs::read(dir.join(t)).ok());
            let reply = match body {
                Some(b) => {
                    let mut r = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", b.len())
                        .into_bytes();
                    r.extend_from_slice(&b);
                    r
                }
                None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = s.write_all(&reply);
        }
    });
}
