//! `strongroom up` for tests, for every test crate: the development appliance (signer,
//! control, front, a private token and SQLite) started as a new user starts it, here in ACME
//! test mode (validation ports and resolver on loopback, as Pebble's httpPort / tlsPort /
//! -dnsserver).
//!
//! In: a data directory, the resolver port, extra `up` arguments. Out: a running [`Up`]
//! (stopped with SIGINT when dropped), its URLs, logs and a logged-in CLI. The binaries are
//! rebuilt once per test process ([`crate::stack::workspace_binary`]), so a focused
//! `cargo test -p CRATE` never runs a stale daemon.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use crate::run;
use crate::stack::{free_port, workspace_binary};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `up` execs the daemons from its own directory: bring them (and the CLI) up to date.
pub fn ensure_daemons_built() {
    for binary in [
        "strongroom",
        "strongroom-signer",
        "strongroom-control",
        "strongroom-front",
    ] {
        workspace_binary(binary);
    }
}

/// The `strongroom` CLI binary, up to date.
pub fn strongroom() -> PathBuf {
    workspace_binary("strongroom")
}

/// A running `strongroom up`.
#[derive(Debug)]
pub struct Up {
    child: Child,
    /// Data directory.
    pub data: PathBuf,
    /// Control port.
    pub control: u16,
    /// Front plain HTTP port.
    pub front_http: u16,
    /// Front HTTPS port (ACME).
    pub front_https: u16,
    /// http-01 validation port.
    pub http01: u16,
    /// tls-alpn-01 validation port.
    pub tls_alpn01: u16,
}

impl Up {
    /// Starts `up` with ACME test mode pointing at `resolver`.
    pub fn start(dir: &Path, resolver: Option<u16>) -> Up {
        Up::start_with(dir, resolver, &[])
    }

    /// The same, with more `up` arguments.
    pub fn start_with(dir: &Path, resolver: Option<u16>, extra: &[&str]) -> Up {
        Up::start_with_env(dir, resolver, extra, &[])
    }

    /// Starts `up` once to make the data directory, stops it, puts its signer on the fault
    /// shim (hsm-sim/shim) reading `rules`, and starts it again: every daemon as in
    /// development mode, every token call through the shim. Write the first rules first.
    pub fn start_on_shim(dir: &Path, resolver: Option<u16>, rules: &Path) -> Up {
        let first = Up::start(dir, resolver);
        let config = first.data.join("config/signer.toml");
        drop(first);
        let env = crate::put_signer_on_shim(&config, rules);
        Up::start_with_env(dir, resolver, &[], &env)
    }

    fn start_with_env(
        dir: &Path,
        resolver: Option<u16>,
        extra: &[&str],
        env: &[(&str, PathBuf)],
    ) -> Up {
        ensure_daemons_built();
        let data = dir.join("data");
        let (control, front_http, front_https, http01, tls_alpn01) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let mut cmd = Command::new(strongroom());
        cmd.args(["up", "--data-dir"])
            .arg(&data)
            .args(["--control-listen", &format!("127.0.0.1:{control}")])
            .args(["--front-listen", &format!("127.0.0.1:{front_http}")])
            .args(["--front-https-listen", &format!("127.0.0.1:{front_https}")])
            .args(["--acme-http01-port", &http01.to_string()])
            .args(["--acme-tls-alpn01-port", &tls_alpn01.to_string()]);
        if let Some(r) = resolver {
            cmd.args(["--acme-resolver", &format!("127.0.0.1:{r}")]);
        }
        cmd.args(extra).envs(env.iter().map(|(k, v)| (*k, v)));
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Vec::new();
        let reader = BufReader::new(child.stdout.take().unwrap());
        for line in reader.lines() {
            let line = line.unwrap();
            let done = line.contains("Press Ctrl-C to stop.");
            lines.push(line);
            if done {
                return Up {
                    child,
                    data,
                    control,
                    front_http,
                    front_https,
                    http01,
                    tls_alpn01,
                };
            }
        }
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let _ = child.wait();
        panic!("up ended early:\n{}\n{err}", lines.join("\n"));
    }

    /// Whether `up` (which exits when a daemon it supervises does) is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The daemons `up` runs, by binary name, with their pids.
    pub fn daemon_pids(&self) -> Vec<(String, u32)> {
        let parent = self.child.id().to_string();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // Field 4 of stat is the parent pid; the name in field 2 may hold spaces, so
            // count from its closing parenthesis.
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            if after.split_whitespace().nth(1) != Some(parent.as_str()) {
                continue;
            }
            if let Ok(exe) = std::fs::read_link(entry.path().join("exe")) {
                // " (deleted)" when the binary was rebuilt under the running daemon.
                let name = exe.file_name().unwrap().to_string_lossy();
                let name = name.trim_end_matches(" (deleted)").to_string();
                found.push((name, pid));
            }
        }
        found.sort();
        found
    }

    /// The signer's log.
    pub fn signer_log(&self) -> String {
        std::fs::read_to_string(self.data.join("logs/signer.log")).unwrap_or_default()
    }

    /// The ACME directory URL of the default profile.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/acme/directory", self.front_https)
    }

    /// The root CA certificate (PEM file).
    pub fn root_pem(&self) -> PathBuf {
        self.data.join("ca/root.pem")
    }

    /// The front's log.
    pub fn front_log(&self) -> String {
        std::fs::read_to_string(self.data.join("logs/front.log")).unwrap_or_default()
    }

    /// The control log.
    pub fn control_log(&self) -> String {
        std::fs::read_to_string(self.data.join("logs/control.log")).unwrap_or_default()
    }

    /// The CLI logged in as admin (home directory `home`).
    pub fn cli(&self, home: &Path, args: &[&str]) -> std::process::Output {
        run(Command::new(strongroom())
            .env("XDG_CONFIG_HOME", home)
            .env_remove("STRONGROOM_TOKEN")
            .args(args))
    }

    /// Logs the CLI in as the bootstrap admin and enrols the admin's authenticator (every
    /// login needs a second factor); the TOTP secret, base32.
    pub fn login(&self, home: &Path) -> String {
        let password = self.data.join("secrets/admin-password");
        let url = format!("https://127.0.0.1:{}", self.control);
        let root = self.root_pem();
        let out = self.cli(
            home,
            &[
                "login",
                "--url",
                &url,
                "--ca-file",
                root.to_str().unwrap(),
                "--user",
                "admin",
                "--password-file",
                password.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self.cli(home, &["totp", "enrol"]);
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let secret = printed
            .lines()
            .find_map(|l| l.strip_prefix("secret "))
            .unwrap_or_else(|| {
                panic!(
                    "totp enrol: {printed}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .trim()
            .to_string();
        let out = self.cli(home, &["totp", "confirm", &crate::totp_code(&secret, 0)]);
        assert!(
            out.status.success(),
            "totp confirm: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        secret
    }
}

impl Up {
    /// A new EAB key for `profile` through the CLI: (kid, base64url HMAC key).
    pub fn eab_key(&self, home: &Path, profile: &str) -> (String, String) {
        let out = self.cli(
            home,
            &[
                "--output",
                "json",
                "acme",
                "eab",
                "create",
                "--profile",
                profile,
            ],
        );
        assert!(
            out.status.success(),
            "eab create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let eab: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            eab["kid"].as_str().unwrap().to_string(),
            eab["hmac_key"].as_str().unwrap().to_string(),
        )
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
    }
}
