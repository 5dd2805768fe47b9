//! Dependency fences (ARCHITECTURE.md §2), read from `cargo metadata`: cryptoki only in
//! hsm; hsm only in signer; sqlx only in store; front and control never reach hsm;
//! protocol crates never depend on store or hsm.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// `cargo metadata --format-version 1 EXTRA…` for this workspace.
fn cargo_metadata(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .args(extra)
        .current_dir(strongroom_testkit::repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn direct_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let meta = cargo_metadata(&["--no-deps"]);
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
        "strongroom-httpd",
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

/// One version line of each crypto crate in what our code reaches: two generations of
/// `der` or `sha2` would mean two implementations to audit and types that do not
/// interoperate. The graph walk stops at sqlx: sqlx 0.9 itself mixes sha2/digest 0.10
/// (sqlx-core, migration checksums) and 0.11 (sqlx-postgres, SCRAM), which is the
/// database driver's business and never on a signing path. Dev-dependencies are skipped.
#[test]
fn no_duplicate_crypto_crate_versions() {
    let meta = cargo_metadata(&[]);
    let line_of = |version: &str| {
        let mut parts = version.split('.');
        let major = parts.next().unwrap_or("0").to_string();
        if major == "0" {
            format!("0.{}", parts.next().unwrap_or("0"))
        } else {
            major
        }
    };
    let mut packages: BTreeMap<String, (String, String)> = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        packages.insert(
            p["id"].as_str().unwrap().to_string(),
            (
                p["name"].as_str().unwrap().to_string(),
                line_of(p["version"].as_str().unwrap()),
            ),
        );
    }
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        for dep in node["deps"].as_array().unwrap() {
            let not_dev = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].as_str() != Some("dev"));
            if not_dev {
                edges
                    .entry(node["id"].as_str().unwrap().to_string())
                    .or_default()
                    .push(dep["pkg"].as_str().unwrap().to_string());
            }
        }
    }
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = packages
        .iter()
        .filter(|(_, (n, _))| n.starts_with("strongroom-"))
        .map(|(id, _)| id.clone())
        .collect();
    while let Some(id) = stack.pop() {
        if packages[&id].0.starts_with("sqlx") || !reached.insert(id.clone()) {
            continue;
        }
        stack.extend(edges.get(&id).cloned().unwrap_or_default());
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
        let lines: BTreeSet<&String> = reached
            .iter()
            .filter(|id| packages[*id].0 == krate)
            .map(|id| &packages[id].1)
            .collect();
        assert!(
            lines.len() <= 1,
            "{krate} appears in several versions: {lines:?}"
        );
    }
    assert!(
        reached.iter().any(|id| packages[id].0 == "sha2"),
        "the walk must reach sha2 (sanity)"
    );
}
