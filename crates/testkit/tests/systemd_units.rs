//! The shipped systemd units pass `systemd-analyze security --offline` at exposure ≤ 2.0,
//! and the directives that matter most for each daemon stay set (so a regression in one
//! cannot hide behind a good total).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::process::Command;
use strongroom_testkit::{repo_root, run, tool};

fn units() -> Vec<std::path::PathBuf> {
    let dir = repo_root().join("systemd");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_unit_scores_at_most_2_0() {
    let units = units();
    assert!(!units.is_empty());
    for unit in units {
        let out = run(Command::new(tool("systemd-analyze"))
            .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
            .arg(&unit));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{} exposure above 2.0:\n{}",
            unit.display(),
            text.lines().last().unwrap_or_default()
        );
        let level: f64 = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
        assert!(level <= 2.0, "{}: {level}", unit.display());
    }
}

#[test]
fn the_signer_unit_keeps_its_key_directives() {
    let text =
        std::fs::read_to_string(repo_root().join("systemd/strongroom-signer.service")).unwrap();
    for directive in [
        "PrivateNetwork=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "IPAddressDeny=any",
        "LoadCredential=pin:",
        "LimitCORE=0",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "ProtectSystem=strict",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
        "SystemCallFilter=@system-service",
    ] {
        assert!(
            text.contains(directive),
            "strongroom-signer.service lost {directive:?}"
        );
    }
}
