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

/// `Key=value` lines of a unit or `type path …` lines of a sysusers/tmpfiles file, without
/// comments and section headers.
fn lines_of(path: &str) -> Vec<String> {
    std::fs::read_to_string(repo_root().join(path))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(str::to_owned)
        .collect()
}

/// The values of `key=` in a unit, in order.
fn directive(unit: &[String], key: &str) -> Vec<String> {
    unit.iter()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

/// The signer tells its peers apart by SO_PEERCRED uid, which the kernel gives in the
/// signer's own user namespace: under `PrivateUsers=` front and control would both read
/// as 65534 (`crates/signer/tests/peer_namespace.rs` shows it). And they can reach the
/// socket only through a group they are in: the shipped signer configuration gives the
/// socket to a group that sysusers puts front and control in, that the signer unit joins
/// (so it may give the socket to it), and that owns the socket directory tmpfiles makes.
#[test]
fn the_signer_sees_real_peer_uids_and_its_socket_group_holds_front_and_control() {
    let signer = lines_of("systemd/strongroom-signer.service");
    for value in directive(&signer, "PrivateUsers") {
        assert!(
            ["no", "false", "off", "0"].contains(&value.as_str()),
            "strongroom-signer.service sets PrivateUsers={value}: peers would read as 65534"
        );
    }
    // The signer configuration as shipped (the reference file the image installs).
    let example: toml::Table =
        std::fs::read_to_string(repo_root().join("docs/signer.example.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let group = example
        .get("socket_group")
        .and_then(|v| v.as_str())
        .expect("docs/signer.example.toml sets socket_group");
    assert_eq!(
        example.get("socket_mode").and_then(|v| v.as_str()),
        Some("0660")
    );
    let socket = example.get("socket").and_then(|v| v.as_str()).unwrap();
    let socket_dir = std::path::Path::new(socket)
        .parent()
        .unwrap()
        .to_str()
        .unwrap();

    let supplementary: Vec<String> = directive(&signer, "SupplementaryGroups")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(
        supplementary.iter().any(|g| g == group),
        "the signer must be in {group} to give its socket to it: {supplementary:?}"
    );

    let sysusers = lines_of("systemd/strongroom.sysusers.conf");
    assert!(
        sysusers
            .iter()
            .any(|l| l.split_whitespace().take(2).eq(["g", group])),
        "sysusers creates {group}"
    );
    for daemon in ["front", "control"] {
        let unit = lines_of(&format!("systemd/strongroom-{daemon}.service"));
        let user = directive(&unit, "User").pop().expect("User=");
        let member = sysusers
            .iter()
            .any(|l| l.split_whitespace().eq(["m", user.as_str(), group]));
        assert!(member, "sysusers must put {user} in {group}");
    }

    // The socket directory: made by tmpfiles for the signer, entered by the group.
    let tmpfiles = lines_of("systemd/strongroom.tmpfiles.conf");
    let dir = tmpfiles
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 5 && f[0] == "d" && f[1] == socket_dir)
        .unwrap_or_else(|| panic!("tmpfiles makes {socket_dir}"));
    let mode = u32::from_str_radix(dir[2], 8).unwrap();
    assert!(
        mode & 0o010 != 0 && mode & 0o007 == 0,
        "{socket_dir} mode {:o}",
        mode
    );
    assert_eq!(dir[3], directive(&signer, "User").pop().unwrap(), "owner");
    assert_eq!(dir[4], group, "{socket_dir} group");
    // RuntimeDirectory= would give the directory back to the signer's own group at start.
    assert!(
        directive(&signer, "RuntimeDirectory").is_empty(),
        "strongroom-signer.service must not take {socket_dir} with RuntimeDirectory="
    );
    assert!(
        directive(&signer, "ReadWritePaths")
            .iter()
            .any(|v| v.split_whitespace().any(|p| p == socket_dir)),
        "ProtectSystem=strict: the signer needs ReadWritePaths={socket_dir}"
    );
}
