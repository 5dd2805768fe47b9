#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The front's sandbox as in production (`run` applies the same one): the HSM token, the
//! PIN file, the signer's state and configuration, and control's configuration and admin
//! password are unreachable (Landlock, EACCES); an IP socket is allowed (it listens). Its
//! only signer operations are what the signer's allow-list grants its uid (the signer's
//! gate tests).

use strongroom_testkit::stack::{sandbox_check, workspace_binary, Control, Db};

#[test]
fn front_cannot_reach_keys_pin_signer_state_or_control_secrets() {
    let mut c = Control::start(Db::Sqlite);
    c.start_front();
    let dir = c.dir().to_path_buf();
    let probes = [
        (c.token_file(), false),
        (c.pki.token.pin_file.clone(), false),
        (c.pki.state.join("journal/issuance.log"), false),
        (c.pki.config.clone(), false),
        (dir.join("admin-password"), false),
        (dir.join("control.toml"), false),
    ];
    let text = sandbox_check(
        &workspace_binary("strongroom-front"),
        &dir.join("front.toml"),
        &probes,
    );
    assert!(text.contains("socket(AF_INET): allowed"), "{text}");
    let log = c.front_log();
    assert!(
        log.contains("landlock: fully enforced") && log.contains("seccomp: allow-list installed"),
        "{log}"
    );
}
