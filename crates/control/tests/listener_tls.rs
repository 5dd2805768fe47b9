//! Control and the front serve HTTPS with their listener key in the HSM (`[tls] key =
//! "hsm"`, the default): `openssl s_client` completes TLS 1.3 and TLS 1.2 handshakes, the
//! chain verifies to the test root, and the certificate's public key is the signer's
//! `ListenerKey`. `key = "memory"` still works, with another key. A signer that goes away
//! fails the handshake that meets it, not the daemon; the standby certificate serves the
//! handshakes after it, and the HSM key is served again once the signer is back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use base64::Engine;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, tool};
use strongroom_wire::{Request, Response};

/// What `openssl s_client` saw: the protocol, and the leaf's SubjectPublicKeyInfo (DER).
struct Handshake {
    protocol: String,
    spki: Vec<u8>,
}

/// One full handshake with `openssl s_client`, verifying the chain against `root`.
fn handshake(port: u16, root: &Path, version: &str) -> Result<Handshake, String> {
    let out = run(Command::new(tool("openssl"))
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
        ])
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile"])
        .arg(root)
        .stdin(Stdio::null()));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || !text.contains("Verify return code: 0 (ok)") {
        return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let protocol = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Protocol: "))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.split_once("New, ").map(|(_, r)| r))
                .and_then(|r| r.split(',').next())
        })
        .unwrap_or_default()
        .trim()
        .to_string();
    // The leaf as s_client printed it, then its public key through `openssl x509`.
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = text.find("-----END CERTIFICATE-----").unwrap() + 25;
    let mut x509 = Command::new(tool("openssl"))
        .args(["x509", "-noout", "-pubkey"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(x509.stdin.as_mut().unwrap(), &text.as_bytes()[begin..end]).unwrap();
    let pubkey = x509.wait_with_output().unwrap();
    let body: String = String::from_utf8_lossy(&pubkey.stdout)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    Ok(Handshake { protocol, spki })
}

fn listener_key(c: &Control) -> Vec<u8> {
    match c.signer.client().call(&Request::ListenerKey).unwrap() {
        Response::ListenerKey { public_key, .. } => public_key,
        other => panic!("{other:?}"),
    }
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Both protocol versions, each a full handshake with the listener key in the HSM.
fn assert_serves_with(port: u16, root: &Path, spki: &[u8]) {
    for (flag, protocol) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let h = handshake(port, root, flag).unwrap_or_else(|e| panic!("{flag}: {e}"));
        assert_eq!(h.protocol, protocol);
        assert_eq!(h.spki, spki, "{flag}: the certificate is for the HSM key");
    }
}

#[test]
fn control_serves_tls_with_its_listener_key_in_the_hsm() {
    let mut c = Control::start(Db::Sqlite);
    let spki = listener_key(&c);
    let root = c
        .pki
        .write_pem("root.pem", std::slice::from_ref(&c.root_der));
    let port = port_of(&c.base);
    assert_serves_with(port, &root, &spki);
    assert_eq!(c.client().get("/api/v1/health").status, 200);
    assert!(
        c.log_text().contains("the HSM key pkcs11:"),
        "{}",
        c.log_text()
    );
    let signer_log = c.signer.log_text();
    assert!(signer_log.contains("TLS handshake signed"), "{signer_log}");

    // The signer goes away: the handshake that meets it fails, control does not; later
    // handshakes get the standby certificate (key made in control's memory at start,
    // issued by the same CA), so the API still answers.
    c.signer.stop();
    assert!(handshake(port, &root, "-tls1_3").is_err());
    for flag in ["-tls1_2", "-tls1_3"] {
        let standby = handshake(port, &root, flag).unwrap_or_else(|e| panic!("{flag}: {e}"));
        assert_ne!(
            standby.spki, spki,
            "{flag}: the standby key is not the HSM key"
        );
    }
    assert_eq!(c.client().get("/api/v1/health").status, 200);
    // Back: the kept connections are dead; a probe (every 5 s, off any client's handshake)
    // reconnects and the HSM key is served again.
    c.signer = c.pki.start_signer();
    let back = Instant::now();
    while handshake(port, &root, "-tls1_3").unwrap().spki != spki {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the HSM key is not served 30 s after the signer came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_serves_with(port, &root, &spki);
    assert!(c.log_text().contains("TLS handshakes fail"));
    assert!(c.log_text().contains("the standby certificate rests"));

    // key = "memory": a key made in control's memory, not the HSM's.
    c.stop();
    let config = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(
        &c.config,
        config.replace("[tls]\n", "[tls]\nkey = \"memory\"\n"),
    )
    .unwrap();
    c.launch();
    let h = handshake(port, &root, "-tls1_3").unwrap();
    assert_ne!(h.spki, spki);
    assert_eq!(h.spki.len(), 91, "a P-256 key");
    assert!(c.log_text().contains("a key made in memory"));
}

/// The signer's process id (the test kit keeps its child private).
fn signer_pid(c: &Control) -> i32 {
    let config = c.pki.config.to_str().unwrap().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|l| l.contains("strongroom-signer") && l.contains(&config))
        })
        .and_then(|e| e.file_name().to_str()?.parse().ok())
        .expect("the signer's process")
}

/// `GET /health` on the front's plain port: how long the answer took.
fn plain_health(port: u16) -> Duration {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    started.elapsed()
}

#[test]
fn the_front_serves_tls_with_its_listener_key_in_the_hsm() {
    let mut c = Control::start(Db::Sqlite);
    let root = c
        .pki
        .write_pem("root.pem", std::slice::from_ref(&c.root_der));
    let port = c.start_front_https("[tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\n");
    let plain = port_of(&c.front_base);
    // Under the test kit every daemon is the signer's `dev` peer, so the front's key is the
    // one ListenerKey gives this test (separate peers get separate keys: the signer's
    // listener_key tests).
    let spki = listener_key(&c);
    assert_serves_with(port, &root, &spki);
    let log = c.front_log();
    assert!(log.contains("the HSM key pkcs11:"), "{log}");
    // The listener certificate is in the inventory like any other, for that key.
    let admin = c.admin();
    let listed = admin.get("/api/v1/certificates?tag=listener").json();
    let owners: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["owner"].as_str())
        .collect();
    assert!(owners.contains(&"listener:front"), "{listed}");

    // A signer that hangs (stopped, not gone: connections wait) holds the handshakes that
    // wait on it, not the front: its other port keeps answering at once. Each waiting
    // handshake blocks a thread; without block_in_place they would be the runtime's two
    // workers, and the plain port would wait with them.
    let pid = signer_pid(&c);
    // SAFETY: kill with the pid of the test's own signer, found above.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let stopped = Instant::now();
    let waiting: Vec<_> = (0..6)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || handshake(port, &root, "-tls1_3"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let took = plain_health(plain);
    // Stopped for a second in all: the handshakes that waited took longer than the standby's
    // idea of a slow signature.
    std::thread::sleep(Duration::from_secs(1).saturating_sub(stopped.elapsed()));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(took < Duration::from_millis(500), "/health took {took:?}");
    for w in waiting {
        let _ = w.join().unwrap();
    }
    // Those signatures were slow (the signer was stopped): the front serves its standby
    // certificate until a probe finds the HSM prompt again (5 s), then the HSM key's.
    let deadline = Instant::now() + Duration::from_secs(20);
    while handshake(port, &root, "-tls1_3").map(|h| h.spki) != Ok(spki.clone()) {
        assert!(
            Instant::now() < deadline,
            "the HSM key never came back: {}",
            c.front_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        c.front_log()
            .contains("the HSM signs TLS handshakes slowly"),
        "{}",
        c.front_log()
    );
    assert_serves_with(port, &root, &spki);
}
