#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Metrics for every daemon (issue 15): after an issuance, an OCSP request and an ACME
//! directory GET, control's `/metrics` carries the signer's series (fetched over its socket
//! at scrape time) and the front's metrics listener carries the front's; `promtool check
//! metrics` accepts both texts; the public ports do not serve metrics; a signer that is
//! down makes `strongroom_signer_up 0`, not a failed scrape.

use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_testkit::stack::{free_port, workspace_binary, Control, Db};
use strongroom_types::Serial;
use strongroom_wire::{Request, Response};
use strongroom_x509::ocsp::cert_id;
use strongroom_x509::CaCertificate;

/// One plain HTTP/1.1 exchange; returns (status, body).
fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    tcp.write_all(&request).unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    let mut body = answer[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// `promtool check metrics` on `text`: its complaints, empty when it accepts the text.
fn promtool(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/install-deps.sh test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        String::new()
    } else {
        format!("promtool failed: {said}")
    }
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut out = vec![tag, content.len() as u8];
    out.extend_from_slice(content);
    out
}

/// OCSPRequest { tbsRequest { requestList { Request { reqCert } } } } for one serial.
fn ocsp_request(ca: &CaCertificate, serial: &Serial) -> Vec<u8> {
    let id = cert_id(ca, serial, false).unwrap().to_der_bytes().unwrap();
    tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x30, &id))))
}

/// The front with HTTPS, ACME and its metrics listener. Returns the process and the
/// (plain, HTTPS, metrics) ports.
fn start_front(c: &Control) -> (Child, u16, u16, u16) {
    let (http, https, metrics) = (free_port(), free_port(), free_port());
    let config = c.dir().join("front-metrics.toml");
    std::fs::write(
        &config,
        format!(
            "listen_http = \"127.0.0.1:{http}\"\nlisten_https = \"127.0.0.1:{https}\"\ndatabase_url = {:?}\nsigner_socket = {:?}\nallow_root = true\n\n\
             [tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\n\n\
             [acme]\nbase_url = \"https://127.0.0.1:{https}\"\ndefault_profile = \"tls-server\"\n\n[[acme.profile]]\nname = \"tls-server\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n",
            c.front_db_url, c.pki.socket
        ),
    )
    .unwrap();
    let log = c.dir().join("front-metrics.log");
    let mut child = Command::new(workspace_binary("strongroom-front"))
        .args(["run", "--config"])
        .arg(&config)
        .env("STRONGROOM_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The plain port is bound last: when it accepts, HTTPS and metrics are bound too.
    while TcpStream::connect(("127.0.0.1", http)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "front exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "front not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, http, https, metrics)
}

#[test]
fn every_daemon_exports_metrics_that_promtool_accepts() {
    let mut c = Control::start(Db::Sqlite);
    let (mut front, http_port, https_port, metrics_port) = start_front(&c);

    // Traffic: an issuance through control, an OCSP request for it, an ACME directory GET.
    let admin = c.admin();
    let (csr, _) = c.csr("metrics.lab.test", "DNS:metrics.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let serial: Serial = r.json()["serial"].as_str().unwrap().parse().unwrap();
    let chain = match c
        .signer
        .client()
        .call(&Request::GetCaChain {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        Response::CaChain(chain) => chain,
        other => panic!("{other:?}"),
    };
    let issuing = CaCertificate::from_der(&chain[0]).unwrap();
    let (status, body) = http(
        http_port,
        "POST",
        "/ocsp",
        "application/ocsp-request",
        &ocsp_request(&issuing, &serial),
    );
    assert_eq!(status, 200);
    let header = 2 + usize::from(body[1] & 0x80 != 0) * usize::from(body[1] & 0x7f);
    assert_eq!(
        &body[header..header + 3],
        &[0x0a, 0x01, 0x00],
        "a successful OCSP answer"
    );
    let root = c
        .pki
        .write_pem("metrics-root", std::slice::from_ref(&c.root_der));
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&root)
        .arg(format!("https://127.0.0.1:{https_port}/acme/directory"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("newNonce"));

    // Control's /metrics: its own series and the signer's, accepted by promtool.
    let m = admin.get("/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(promtool(&m.text), "", "{}", m.text);
    assert_eq!(
        sample(&m.text, "strongroom_signer_up"),
        Some(1.0),
        "{}",
        m.text
    );
    let issued = sample(
        &m.text,
        "strongroom_signer_operations_total{operation=\"IssueCertificate\",outcome=\"ok\"}",
    );
    assert!(issued.is_some_and(|n| n >= 1.0), "{}", m.text);
    let signed = sample(&m.text, "strongroom_signer_hsm_signature_seconds_count");
    assert!(signed.is_some_and(|n| n >= 1.0), "{}", m.text);
    let synced = sample(&m.text, "strongroom_signer_journal_sync_seconds_count");
    assert!(synced.is_some_and(|n| n >= 1.0), "{}", m.text);
    assert_eq!(sample(&m.text, "strongroom_signer_hsm_degraded"), Some(0.0));

    // The front's metrics listener: requests by protocol and outcome, the OCSP cache,
    // orders by status, validation latency; accepted by promtool.
    let (status, body) = http(metrics_port, "GET", "/metrics", "text/plain", b"");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(promtool(&text), "", "{text}");
    let ocsp = sample(
        &text,
        "strongroom_front_requests_total{protocol=\"ocsp\",outcome=\"successful\"}",
    );
    assert_eq!(ocsp, Some(1.0), "{text}");
    let acme = sample(
        &text,
        "strongroom_front_requests_total{protocol=\"acme\",outcome=\"2xx\"}",
    );
    assert!(acme.is_some_and(|n| n >= 1.0), "{text}");
    let cache = sample(&text, "strongroom_front_ocsp_cache_total{result=\"hit\"}").unwrap_or(0.0)
        + sample(&text, "strongroom_front_ocsp_cache_total{result=\"miss\"}").unwrap_or(0.0);
    assert_eq!(cache, 1.0, "{text}");
    assert!(text.contains("# TYPE strongroom_front_acme_orders gauge"));
    assert_eq!(
        sample(&text, "strongroom_front_acme_validation_seconds_count"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "strongroom_front_store_up"), Some(1.0));
    // An ACME problem is counted by its type (a JWS without a key or nonce on new-account).
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&root)
        .args(["-H", "Content-Type: application/jose+json", "--data"])
        .arg(r#"{"protected":"e30","payload":"","signature":"AA"}"#)
        .arg(format!(
            "https://127.0.0.1:{https_port}/acme/tls-server/new-account"
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("urn:ietf:params:acme:error:"),
        "{out:?}"
    );
    let (_, body) = http(metrics_port, "GET", "/metrics", "text/plain", b"");
    let text = String::from_utf8(body).unwrap();
    let problems: f64 = text
        .lines()
        .filter(|l| l.starts_with("strongroom_front_requests_total{protocol=\"acme\""))
        .filter(|l| !l.contains("outcome=\"2xx\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(problems, 1.0, "{text}");
    assert!(
        !text.contains("protocol=\"acme\",outcome=\"4xx\""),
        "a problem document is counted by its type: {text}"
    );

    // The public ports do not serve metrics.
    assert_eq!(http(http_port, "GET", "/metrics", "text/plain", b"").0, 404);

    // The signer down: control's scrape still answers, saying so.
    c.signer.stop();
    let m = admin.get("/metrics");
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(promtool(&m.text), "", "{}", m.text);
    assert_eq!(
        sample(&m.text, "strongroom_signer_up"),
        Some(0.0),
        "{}",
        m.text
    );
    assert!(!m.text.contains("strongroom_signer_operations_total"));

    // SAFETY: kill with the pid of a child we own and have not reaped.
    unsafe { libc::kill(front.id() as i32, libc::SIGTERM) };
    let _ = front.wait();
}
