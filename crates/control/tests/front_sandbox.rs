#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The front's sandbox as in production (`run` applies the same one): the HSM token, the
//! PIN file, the signer's state and configuration, and control's break-glass envelope are
//! unreachable (Landlock, EACCES); an IP socket is allowed (it listens); its only signer
//! operation is what the signer's allow-list grants its uid (tested in the signer's gate
//! tests).

mod common;

use common::{workspace_binary, Control, Db};
use std::process::Command;

#[test]
fn front_cannot_reach_keys_pin_signer_state_or_control_secrets() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let dir = c.dir().to_path_buf();
    let token_file = std::fs::read_dir(dir.join("hsm/tokens"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let probes = [
        (token_file, false),
        (c.pki.token.pin_file.clone(), false),
        (c.pki.state.join("journal/issuance.log"), false),
        (c.pki.config.clone(), false),
        (dir.join("admin-password"), false),
        (dir.join("control.toml"), false),
    ];
    let mut cmd = Command::new(workspace_binary("strongroom-front"));
    cmd.args(["sandbox-check", "--config"])
        .arg(dir.join("front.toml"));
    for (p, _) in &probes {
        assert!(p.exists(), "{} must exist", p.display());
        cmd.arg("--probe").arg(p);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (p, _) in &probes {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("open {}:", p.display())))
            .unwrap_or_else(|| panic!("no probe line for {}:\n{text}", p.display()));
        assert!(
            line.contains("denied") && line.contains("Permission denied"),
            "{line}"
        );
    }
    assert!(text.contains("socket(AF_INET): allowed"), "{text}");
    let log = c.front_log();
    assert!(
        log.contains("landlock: fully enforced") && log.contains("seccomp: allow-list installed"),
        "{log}"
    );
}
