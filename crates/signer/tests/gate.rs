//! The peer gate and the strict decoder, seen from outside the process: another uid is
//! refused; malformed, oversize and trailing-bytes frames close the connection while the
//! daemon keeps serving others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use strongroom_testkit::{run, TestPki};
use strongroom_wire::{encode_frame, CallError, ErrorKind, Request, SignerClient, MAX_FRAME};

/// When run with STRONGROOM_TEST_CLIENT_SOCKET set (as uid 4242, by the test below), asks
/// for Health and for a certificate and prints what the signer answered.
#[test]
fn client_helper_as_other_uid() {
    let Some(socket) = std::env::var_os("STRONGROOM_TEST_CLIENT_SOCKET") else {
        return;
    };
    let mut c = SignerClient::connect(std::path::Path::new(&socket)).unwrap();
    let health = c.call(&Request::Health);
    println!("HEALTH={}", if health.is_ok() { "ok" } else { "refused" });
    let csr = std::fs::read(std::env::var("STRONGROOM_TEST_CSR").unwrap()).unwrap();
    match issue(&mut c, "tls-server", csr, &[], None) {
        Ok(_) => println!("ISSUE=ok"),
        Err(CallError::Refused { kind, .. }) => println!("ISSUE={kind:?}"),
        Err(e) => println!("ISSUE=transport {e}"),
    }
    let others = [
        (
            "CHAIN",
            Request::GetCaChain {
                ca: "issuing".parse().unwrap(),
            },
        ),
        (
            "CRL",
            Request::IssueCrl {
                ca: "issuing".parse().unwrap(),
            },
        ),
        (
            "POLICY",
            Request::PutPolicy {
                policy: strongroom_testkit::test_policy(),
            },
        ),
        (
            "REVOKE",
            Request::RecordRevocation(strongroom_wire::RevocationRecord {
                ca: "issuing".parse().unwrap(),
                serial: "01020304050607080910".parse().unwrap(),
                reason: strongroom_types::RevocationReason::KeyCompromise,
                revoked_at: 1,
                invalidity_date: None,
            }),
        ),
    ];
    for (name, req) in others {
        match c.call(&req) {
            Ok(_) => println!("{name}=ok"),
            Err(CallError::Refused { kind, .. }) => println!("{name}={kind:?}"),
            Err(e) => println!("{name}=transport {e}"),
        }
    }
}

#[test]
#[ignore = "needs root: a client as another uid (make test runs it when root, as CI does)"]
fn another_uid_is_refused_outside_its_allow_list() {
    // Not `nobody`: the signer refuses the overflow uid in its peer table (preflight.rs).
    let (pki, _signer) =
        running_pki("[[peer]]\nname = \"other-peer\"\nuid = 4242\noperations = [\"Health\"]\n");
    let csr_path = pki.dir.path().join("other.csr");
    std::fs::write(
        &csr_path,
        openssl_csr(pki.dir.path(), "other", &ec_p256(), "/CN=n.lab.test", None),
    )
    .unwrap();
    std::fs::set_permissions(
        &csr_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    // Run a copy of this test binary from the (0755) test directory, so uid 4242 can
    // execute it whatever the permissions of the cargo target directory are.
    let helper = pki.dir.path().join("gate-helper");
    std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(&helper)
        .args([
            "--exact",
            "client_helper_as_other_uid",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STRONGROOM_TEST_CLIENT_SOCKET", &pki.socket)
        .env("STRONGROOM_TEST_CSR", &csr_path)
        .uid(4242)
        .gid(4242)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("HEALTH=ok"),
        "uid 4242 may call Health: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ISSUE=NotAllowed"),
        "uid 4242 must be refused IssueCertificate: {stdout}"
    );
}

#[test]
#[ignore = "needs root: the signer started as root drops to its user (make test runs it when root, as CI does)"]
fn a_signer_started_as_root_drops_to_its_user() {
    // The test itself runs as root: after the drop root is just another peer to the signer.
    let pki = TestPki::new(
        SIGNER,
        "[[peer]]\nname = \"test-root\"\nuid = 0\noperations = [\"Health\"]\n",
    );
    pki.standard_hierarchy();
    let cfg = std::fs::read_to_string(&pki.config)
        .unwrap()
        .replace("allow_root = true", "allow_root = false\nuser = \"nobody\"");
    std::fs::write(&pki.config, cfg).unwrap();
    let chown = run(Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(pki.dir.path()));
    assert!(
        chown.status.success(),
        "{}",
        String::from_utf8_lossy(&chown.stderr)
    );
    let signer = pki.start_signer();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_to_string(e.path().join("cmdline")).is_ok_and(|c| {
                c.contains("strongroom-signer") && c.contains(pki.config.to_str().unwrap())
            })
        })
        .map(|e| e.path())
        .expect("signer process");
    let status = std::fs::read_to_string(pid.join("status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["65534"; 4],
        "{uid_line}"
    );
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert_eq!(
        groups.trim(),
        "Groups:",
        "no supplementary groups: {groups}"
    );
    assert!(signer.client().call(&Request::Health).is_ok());
    assert!(signer.log_text().contains("dropped root privileges"));
}

#[test]
fn a_uid_missing_from_the_table_is_refused_everything() {
    // Not dev mode: the test's own uid is in no peer entry.
    let pki = TestPki::new(SIGNER, "");
    pki.standard_hierarchy();
    let cfg = std::fs::read_to_string(&pki.config)
        .unwrap()
        .replace("dev_mode = true", "dev_mode = false")
        .replace("socket_mode = \"0666\"", "socket_mode = \"0600\"");
    std::fs::write(&pki.config, cfg).unwrap();
    let mut child = pki
        .signer_command()
        .args(["run", "--config"])
        .arg(&pki.config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(mut c) = SignerClient::connect(&pki.socket) {
            answer = Some(c.call(&Request::Health));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    match answer {
        Some(Err(CallError::Refused { kind, detail })) => {
            assert_eq!(kind, ErrorKind::NotAllowed);
            assert!(detail.contains("may not call Health"), "{detail}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

fn closed_after(socket: &std::path::Path, bytes: &[u8]) -> bool {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        // Unread bytes in the signer's buffer turn its close into a reset.
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn malformed_frames_close_the_connection_and_others_are_served() {
    let (_pki, signer) = running_pki("");
    let mut bystander = signer.client();

    let oversize = ((MAX_FRAME + 1) as u32).to_be_bytes();
    assert!(closed_after(&signer.socket, &oversize), "oversize frame");

    let mut trailing = encode_frame(1, &Request::Health).unwrap();
    trailing.push(0);
    let len = (trailing.len() - 4) as u32;
    trailing[..4].copy_from_slice(&len.to_be_bytes());
    assert!(closed_after(&signer.socket, &trailing), "trailing bytes");

    let mut unknown = encode_frame(2, &Request::Health).unwrap();
    *unknown.last_mut().unwrap() = 0x7f;
    assert!(closed_after(&signer.socket, &unknown), "unknown tag");

    let mut version = encode_frame(3, &Request::Health).unwrap();
    version[4] = 2;
    assert!(closed_after(&signer.socket, &version), "wrong version");

    assert!(
        closed_after(&signer.socket, &[0, 0, 0, 3, 1, 0, 0]),
        "truncated header"
    );

    assert!(
        bystander.call(&Request::Health).is_ok(),
        "an open connection keeps working"
    );
    assert!(
        signer.client().call(&Request::Health).is_ok(),
        "new connections keep working"
    );
    let log = signer.log_text();
    assert!(log.contains("exceeds the 1048576-byte limit"), "{log}");
    assert!(log.contains("trailing bytes"), "{log}");
}
