//! The signer's sandbox, proved from outside: no IP sockets, no paths beyond its own, no
//! core dumps, no PIN in any log or state file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;
use strongroom_testkit::{run, TestPki};

#[test]
fn sandbox_denies_ip_sockets_and_foreign_paths() {
    let pki = TestPki::new(SIGNER, "");
    let outside = pki.dir.path().join("outside-secret");
    std::fs::write(&outside, "x").unwrap();
    let token_conf = pki.token.conf.clone();
    let state_file = pki.state.join("probe");
    std::fs::create_dir_all(&pki.state).unwrap();
    std::fs::write(&state_file, "x").unwrap();
    let out = run(pki
        .signer_command()
        .args(["sandbox-check", "--config"])
        .arg(&pki.config)
        .arg("--probe")
        .arg(&outside)
        .arg("--probe")
        .arg("/root")
        .arg("--probe")
        .arg(&token_conf)
        .arg("--probe")
        .arg(&state_file));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("socket(AF_INET): denied (Operation not permitted"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "open {}: denied (Permission denied",
            outside.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("open /root: denied (Permission denied"),
        "{text}"
    );
    assert!(
        text.contains(&format!("open {}: allowed", token_conf.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("open {}: allowed", state_file.display())),
        "{text}"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("landlock: fully enforced") && log.contains("seccomp: allow-list installed"),
        "{log}"
    );
}

fn core_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect()
}

fn raise_core_limit() -> std::io::Result<()> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: valid pointer to an initialised rlimit; runs between fork and exec.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &unlimited) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn the_signer_never_dumps_core() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let (pki, _signer) = running_pki("");
    let cwd = pki.dir.path().join("crash");
    std::fs::create_dir(&cwd).unwrap();
    let file_cores = !pattern.starts_with('|') && !pattern.contains('/');

    // Control: an ordinary process with the same limit does leave a core here, so an empty
    // directory below means the signer's hardening worked, not that cores are impossible.
    if file_cores {
        let mut control = Command::new("sleep");
        control.arg("30").current_dir(&cwd);
        // SAFETY: raise_core_limit only calls setrlimit (async-signal-safe).
        unsafe { control.pre_exec(raise_core_limit) };
        let mut child = control.spawn().unwrap();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGSEGV) };
        let _ = child.wait();
        assert!(
            !core_files(&cwd).is_empty(),
            "control process left no core (core_pattern {pattern:?})"
        );
        for f in core_files(&cwd) {
            std::fs::remove_file(cwd.join(f)).unwrap();
        }
    }

    for signal in [libc::SIGSEGV, libc::SIGABRT] {
        // A second signer needs its own socket and state: reuse the config with other paths.
        let cfg = std::fs::read_to_string(&pki.config)
            .unwrap()
            .replace("run/signer.sock", "run/crash.sock")
            .replace("/state\"", "/state-crash\"");
        let cfg_path = pki.dir.path().join("crash.toml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let mut cmd = pki.signer_command();
        cmd.args(["run", "--config"])
            .arg(&cfg_path)
            .current_dir(&cwd)
            .stderr(Stdio::null());
        // SAFETY: raise_core_limit only calls setrlimit (async-signal-safe).
        unsafe { cmd.pre_exec(raise_core_limit) };
        let mut child = cmd.spawn().unwrap();
        let sock = pki.dir.path().join("run/crash.sock");
        for _ in 0..200 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
        let core_line = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap()
            .to_string();
        assert!(
            core_line.split_whitespace().nth(4) == Some("0"),
            "signer core limit: {core_line}"
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert!(!status.success());
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            core_files(&cwd).is_empty(),
            "signer left a core file after signal {signal}"
        );
        let _ = std::fs::remove_file(&sock);
    }
}

#[test]
fn no_pin_in_logs_journal_or_state() {
    let (pki, signer) = running_pki("");
    let pin = std::fs::read_to_string(&pki.token.pin_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(pin.len() >= 16);
    let mut c = signer.client();
    let dir = pki.dir.path();
    issue(
        &mut c,
        "tls-server",
        openssl_csr(dir, "s", &ec_p256(), "/CN=s.lab.test", None),
        &[],
        None,
    )
    .unwrap();
    assert!(issue(&mut c, "tls-server", b"junk".to_vec(), &[], None).is_err());
    drop(c);
    let mut files = vec![signer.log.clone()];
    let mut stack = vec![pki.state.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    assert!(files.len() > 5, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&pin),
            "the PIN appears in {}",
            f.display()
        );
    }
    // The test kit runs signers with debug logging, so the debug paths are covered too.
    assert!(
        std::fs::read_to_string(&signer.log)
            .unwrap()
            .contains("DEBUG"),
        "expected debug logs"
    );
}
