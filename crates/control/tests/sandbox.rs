#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Control's sandbox as in production (`run` applies the same one): the HSM token, the
//! PIN file and the signer's state are unreachable (Landlock, EACCES); its own database
//! directory is reachable; an IP socket is allowed (it listens); no core dumps.

mod common;

use common::{Control, Db};
use std::process::Command;

#[test]
fn control_cannot_reach_the_token_the_pin_or_the_signer_state() {
    let c = Control::start(Db::Sqlite);
    let dir = c.dir();
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
        (dir.join("control/control.db"), true),
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strongroom-control"));
    cmd.args(["sandbox-check", "--config"]).arg(&c.config);
    for (p, _) in &probes {
        assert!(
            p.exists(),
            "{} must exist for the probe to mean anything",
            p.display()
        );
        cmd.arg("--probe").arg(p);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (p, allowed) in &probes {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("open {}:", p.display())))
            .unwrap_or_else(|| panic!("no probe line for {}:\n{text}", p.display()));
        if *allowed {
            assert!(line.ends_with("allowed"), "{line}");
        } else {
            assert!(
                line.contains("denied") && line.contains("Permission denied"),
                "{line}"
            );
        }
    }
    assert!(text.contains("socket(AF_INET): allowed"), "{text}");
    let log = c.log_text();
    assert!(log.contains("landlock: fully enforced"), "{log}");
    assert!(log.contains("seccomp: allow-list installed"), "{log}");
}
