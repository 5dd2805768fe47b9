//! Dependency fences (docs/architecture.md, Crates and fences), read from `cargo metadata`
//! over the transitive closure of what ships (dev-dependencies aside): cryptoki only through
//! hsm; hsm only in the signer; sqlx only through store; front, control, httpd, acme and the
//! CLI never reach the HSM by any path; protocol crates never reach the store; SCEP logic
//! reaches no runtime, database driver or PKCS#11. Every crate a fence names must exist.

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

/// The dependency graph between package names, without dev-dependencies (what ships),
/// and the workspace members.
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    members: BTreeSet<String>,
}

impl Graph {
    fn of_workspace() -> Graph {
        let meta = cargo_metadata(&[]);
        let name_of: BTreeMap<&str, &str> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().unwrap() {
            let from = name_of[node["id"].as_str().unwrap()].to_string();
            let to = edges.entry(from).or_default();
            for dep in node["deps"].as_array().unwrap() {
                let shipped = dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].as_str() != Some("dev"));
                if shipped {
                    to.insert(name_of[dep["pkg"].as_str().unwrap()].to_string());
                }
            }
        }
        let members = meta["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| name_of[id.as_str().unwrap()].to_string())
            .collect();
        Graph { edges, members }
    }

    /// Every package `from` reaches, walking around `around` (its own dependencies are
    /// not followed, so what is reached only through it is not counted).
    fn reach(&self, from: &str, around: Option<&str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) || (Some(p.as_str()) == around && p != from) {
                continue;
            }
            stack.extend(self.edges.get(&p).into_iter().flatten().cloned());
        }
        seen.remove(from);
        seen
    }

    /// The members that reach `krate` other than through `gate`.
    fn reaching(&self, krate: &str, gate: Option<&str>) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|m| Some(m.as_str()) != gate && self.reach(m, gate).contains(krate))
            .cloned()
            .collect()
    }

    /// A crate named in a fence must exist, or the fence checks nothing.
    fn member<'k>(&self, krate: &'k str) -> &'k str {
        assert!(
            self.members.contains(krate),
            "{krate} is named in a fence but is not a workspace member: update the fence"
        );
        krate
    }
}

/// The fences (docs/architecture.md, Crates and fences), over the transitive closure of
/// what ships: a crate that reaches a fenced crate through any path breaks the fence.
fn check_fences(g: &Graph) {
    assert!(
        g.members.len() >= 12,
        "workspace members missing: {:?}",
        g.members
    );
    let hsm = g.member("strongroom-hsm");
    let store = g.member("strongroom-store");
    // cryptoki only through hsm; hsm only in the signer (and the signer's own tooling).
    let through = g.reaching("cryptoki", Some(hsm));
    assert!(
        through.is_empty(),
        "{through:?} reach cryptoki other than through {hsm}"
    );
    let reach_hsm = g.reaching(hsm, None);
    let signer = g.member("strongroom-signer");
    assert!(
        reach_hsm.iter().all(|m| m == signer),
        "{reach_hsm:?} reach {hsm}; only {signer} may"
    );
    // The signer runs no async runtime. The daemons' async signer client is a crate of its
    // own (strongroom-signer-client) rather than a feature of wire, which the signer depends
    // on: cargo unifies features across a workspace build, so the feature would bring tokio
    // into the signer. (`cargo metadata` resolves with the whole workspace's features.)
    assert!(
        !g.reach(signer, None).contains("tokio"),
        "{signer} reaches tokio"
    );
    // sqlx only through store.
    let through = g.reaching("sqlx", Some(store));
    assert!(
        through.is_empty(),
        "{through:?} reach sqlx other than through {store}"
    );
    // The network daemons and the CLI never reach the HSM, by any path.
    for krate in [
        "strongroom-front",
        "strongroom-control",
        "strongroom-httpd",
        "strongroom-acme",
        "strongroom-scep",
        "strongroom-cli",
    ] {
        let reached = g.reach(g.member(krate), None);
        assert!(
            !reached.contains(hsm) && !reached.contains("cryptoki"),
            "{krate} must not reach the HSM"
        );
    }
    // Protocol logic takes traits, not the store.
    for krate in [
        "strongroom-acme",
        "strongroom-scep",
        "strongroom-x509",
        "strongroom-wire",
    ] {
        assert!(
            !g.reach(g.member(krate), None).contains(store),
            "{krate} must take traits, not the store"
        );
    }
    // SCEP message logic parses Internet input and does no I/O: no runtime, no database
    // driver, no PKCS#11 (the RA key's uses are signer operations).
    let scep = g.reach(g.member("strongroom-scep"), None);
    for forbidden in ["tokio", "sqlx", "cryptoki"] {
        assert!(
            !scep.contains(forbidden),
            "strongroom-scep reaches {forbidden}"
        );
    }
}

#[test]
fn fences_hold() {
    check_fences(&Graph::of_workspace());
}

#[test]
fn the_fence_check_would_catch_a_violation() {
    // Through a path of two edges: cli → x509 → (planted) hsm.
    let mut g = Graph::of_workspace();
    g.edges
        .get_mut("strongroom-x509")
        .unwrap()
        .insert("strongroom-hsm".into());
    let caught = std::panic::catch_unwind(|| check_fences(&g));
    assert!(caught.is_err(), "a transitive path to the HSM must fail");
    // sqlx reached around the store: acme → (planted) sqlx.
    let mut g = Graph::of_workspace();
    g.edges
        .get_mut("strongroom-acme")
        .unwrap()
        .insert("sqlx".into());
    assert!(std::panic::catch_unwind(|| check_fences(&g)).is_err());
    // A fence naming a crate that does not exist fails instead of passing vacuously.
    let g = Graph::of_workspace();
    assert!(std::panic::catch_unwind(|| g.member("strongroom-revocation")).is_err());
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

/// Rust source files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `rsa` crate is in the graph for one public-key operation (a SCEP reply's content key
/// encrypted to the device's key); its private-key operations are subject to RUSTSEC-2023-0071
/// (Marvin), which deny.toml accepts on that condition. Every private RSA operation belongs
/// in the HSM: no shipped source may name rsa's private-key types.
#[test]
fn rsa_private_keys_only_in_tests() {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(strongroom_testkit::repo_root().join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            [
                "RsaPrivateKey",
                "Pkcs1v15Sign",
                "DecodeRsaPrivateKey",
                "DecodePrivateKey",
            ]
            .iter()
            .any(|t| text.contains(t))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "rsa private-key types in shipped code: {offenders:?}"
    );
}
