//! Dependency fences (ARCHITECTURE.md §2), read from `cargo metadata`: cryptoki only in
//! hsm; hsm only in signer; sqlx only in store; front and control never reach hsm;
//! protocol crates never depend on store or hsm.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn direct_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(strongroom_testkit::repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

fn users_of(deps: &BTreeMap<String, BTreeSet<String>>, krate: &str) -> BTreeSet<String> {
    deps.iter()
        .filter(|(_, d)| d.contains(krate))
        .map(|(p, _)| p.clone())
        .collect()
}

#[test]
fn fences_hold() {
    let deps = direct_dependencies();
    assert!(
        deps.len() >= 8,
        "workspace members missing: {:?}",
        deps.keys()
    );
    let only = |krate: &str, allowed: &[&str]| {
        let users = users_of(&deps, krate);
        let extra: Vec<&String> = users
            .iter()
            .filter(|u| !allowed.contains(&u.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{krate} is used by {extra:?}; only {allowed:?} may"
        );
    };
    only("cryptoki", &["strongroom-hsm"]);
    only("strongroom-hsm", &["strongroom-signer"]);
    only("sqlx", &["strongroom-store"]);
    for protocol in [
        "strongroom-front",
        "strongroom-control",
        "strongroom-acme",
        "strongroom-scep",
        "strongroom-est",
        "strongroom-revocation",
        "strongroom-cli",
    ] {
        if let Some(d) = deps.get(protocol) {
            assert!(
                !d.contains("strongroom-hsm") && !d.contains("cryptoki"),
                "{protocol} must not reach the HSM"
            );
        }
    }
    for protocol in [
        "strongroom-acme",
        "strongroom-scep",
        "strongroom-est",
        "strongroom-revocation",
    ] {
        if let Some(d) = deps.get(protocol) {
            assert!(
                !d.contains("strongroom-store"),
                "{protocol} must take traits, not the store"
            );
        }
    }
}

#[test]
fn the_fence_check_would_catch_a_violation() {
    let mut deps = direct_dependencies();
    deps.get_mut("strongroom-cli")
        .unwrap()
        .insert("cryptoki".into());
    assert!(users_of(&deps, "cryptoki").contains("strongroom-cli"));
}

/// One version line of each crypto crate in the resolved graph: two generations of `der`
/// or `sha2` would mean two implementations to audit and types that do not interoperate.
#[test]
fn no_duplicate_crypto_crate_versions() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(strongroom_testkit::repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut lines: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let version = p["version"].as_str().unwrap();
        // Semver-compatible line: major, or 0.minor below 1.0.
        let mut parts = version.split('.');
        let major = parts.next().unwrap_or("0");
        let line = if major == "0" {
            format!("0.{}", parts.next().unwrap_or("0"))
        } else {
            major.to_string()
        };
        lines.entry(name.to_string()).or_default().insert(line);
    }
    for krate in [
        "ring",
        "sha2",
        "sha1",
        "digest",
        "der",
        "spki",
        "x509-cert",
        "const-oid",
        "signature",
        "cryptoki",
        "aws-lc-rs",
        "rsa",
        "p256",
        "p384",
        "cms",
    ] {
        if let Some(v) = lines.get(krate) {
            assert_eq!(v.len(), 1, "{krate} appears in several versions: {v:?}");
        }
    }
}
