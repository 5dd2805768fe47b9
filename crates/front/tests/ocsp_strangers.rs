#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Strangers cannot make the CA sign (issue 14 §3): OCSP requests for serials the CA never
//! issued, under the issuing CA's real hashes, are answered `unauthorized` by the front
//! without a signer call, a journal record or a stored row, and the front's memory stays
//! bounded; a serial the CA did issue still answers `good`.

use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_types::Serial;
use strongroom_wire::{Request, Response};
use strongroom_x509::ocsp::cert_id;
use strongroom_x509::CaCertificate;

/// How many strangers' requests the test sends.
const REQUESTS: usize = 20_000;

/// An unsigned OCSPResponse with status unauthorized (6).
const UNAUTHORIZED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x06];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 128 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// OCSPRequest { tbsRequest { requestList { Request { reqCert } } } } for one serial.
fn ocsp_request(ca: &CaCertificate, serial: &Serial) -> Vec<u8> {
    let id = cert_id(ca, serial, false).unwrap().to_der_bytes().unwrap();
    tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x30, &id))))
}

/// POSTs `body` to /ocsp on a kept-alive connection; returns the response body.
fn post(conn: &mut BufReader<TcpStream>, host: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST /ocsp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // One write: a head and a body in two segments would wait on delayed ACKs.
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    conn.get_mut().write_all(&request).unwrap();
    let mut length = 0usize;
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut out = vec![0u8; length];
    conn.read_exact(&mut out).unwrap();
    out
}

/// Whether an OCSPResponse says `successful` and carries a signed body (the status
/// ENUMERATED 0 follows the outer SEQUENCE header).
fn successful(der: &[u8]) -> bool {
    der.len() > 100 && der[..8].windows(3).any(|w| w == [0x0a, 0x01, 0x00])
}

fn journal_records(c: &Control) -> u64 {
    match c.signer.client().call(&Request::Health).unwrap() {
        Response::Health(h) => h.journal_records,
        other => panic!("{other:?}"),
    }
}

fn stored_responses(c: &Control) -> u64 {
    let db = c.dir().join("control/control.db");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM ocsp_responses').fetchone()[0])",
        ])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The front's resident memory in KiB.
fn front_rss_kib(c: &Control) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", c.front_pid().unwrap())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn random_serials_get_unauthorized_without_a_signature() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let admin = c.admin();
    let (csr, _) = c.csr("known.lab.test", "DNS:known.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let known: Serial = r.json()["serial"].as_str().unwrap().parse().unwrap();
    let chain = match c
        .signer
        .client()
        .call(&Request::GetCaChain {
            ca: "issuing".parse().unwrap(),
        })
        .unwrap()
    {
        Response::CaChain(c) => c,
        other => panic!("{other:?}"),
    };
    let issuing = CaCertificate::from_der(&chain[0]).unwrap();
    let host = c.front_base.trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&host).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut conn = BufReader::new(stream);

    // The issued serial answers a signed response (successful, status 0).
    let good = post(&mut conn, &host, &ocsp_request(&issuing, &known));
    assert!(successful(&good), "{good:?}");

    let journal_before = journal_records(&c);
    let rows_before = stored_responses(&c);
    let rss_before = front_rss_kib(&c);
    // A stranger's serials: 16 random bytes each, under the issuing CA's real hashes.
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..REQUESTS {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&next().to_be_bytes());
        bytes[8..].copy_from_slice(&next().to_be_bytes());
        bytes[0] = (bytes[0] & 0x7f) | 0x01;
        let serial = Serial::from_be_bytes(&bytes).unwrap();
        let answer = post(&mut conn, &host, &ocsp_request(&issuing, &serial));
        assert_eq!(answer, UNAUTHORIZED, "request {i} for serial {serial}");
    }
    let rss_after = front_rss_kib(&c);
    assert_eq!(
        journal_records(&c),
        journal_before,
        "the signer signed for a stranger (every OCSP signature is journaled)"
    );
    assert_eq!(
        stored_responses(&c),
        rows_before,
        "rows were stored for strangers"
    );
    // The unit's MemoryMax is 1 GiB; the front must not grow by anything like the requests.
    assert!(
        rss_after < 1024 * 1024 && rss_after.saturating_sub(rss_before) < 64 * 1024,
        "front RSS {rss_before} KiB -> {rss_after} KiB over {REQUESTS} strangers' requests"
    );
    eprintln!("front RSS {rss_before} KiB -> {rss_after} KiB over {REQUESTS} requests");

    // The issued serial still answers, on the same connection.
    let again = post(&mut conn, &host, &ocsp_request(&issuing, &known));
    assert!(successful(&again), "{again:?}");
}
