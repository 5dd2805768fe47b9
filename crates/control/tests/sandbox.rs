#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Control's sandbox as in production (`run` applies the same one): the HSM token, the
//! PIN file and the signer's state are unreachable (Landlock, EACCES); its own database
//! directory is reachable; an IP socket is allowed (it listens); no core dumps.

use std::path::Path;
use strongroom_testkit::stack::{sandbox_check, Control, Db};

#[test]
fn control_cannot_reach_the_token_the_pin_or_the_signer_state() {
    let c = Control::start(Db::Sqlite);
    let probes = [
        (c.token_file(), false),
        (c.pki.token.pin_file.clone(), false),
        (c.pki.state.join("journal/issuance.log"), false),
        (c.pki.config.clone(), false),
        (c.dir().join("control/control.db"), true),
    ];
    let text = sandbox_check(
        Path::new(env!("CARGO_BIN_EXE_strongroom-control")),
        &c.config,
        &probes,
    );
    assert!(text.contains("socket(AF_INET): allowed"), "{text}");
    let log = c.log_text();
    assert!(log.contains("landlock: fully enforced"), "{log}");
    assert!(log.contains("seccomp: allow-list installed"), "{log}");
}
