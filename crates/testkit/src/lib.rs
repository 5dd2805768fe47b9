//! Test kit: a real software token (SoftHSM2, or kryoptic: docs/hsm.md) and a real `strongroom-signer` process per test; in
//! [`stack`], the whole stack — signer, control and front — and in [`up`], `strongroom up`,
//! for any test crate.
//!
//! In: the path of the signer binary (tests pass `env!("CARGO_BIN_EXE_strongroom-signer")`,
//! or [`stack::workspace_binary`]) and ceremony/policy text. Out: a private directory with a
//! token, a signer configuration, CAs made by the real ceremony code, and a running signer
//! that is killed when the [`SignerProcess`] is dropped. Nothing here is mocked.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test support: failing loudly is the point

pub mod curl_browser;
pub mod ledger;
pub mod stack;
mod step;
pub mod up;
pub mod webdriver;
pub use step::{step, Step};

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use strongroom_wire::{Request, Response, SignerClient};

/// The PKCS#11 module tests load.
pub fn pkcs11_module() -> PathBuf {
    std::env::var_os("STRONGROOM_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
}

/// The kryoptic module (the second PKCS#11 implementation), built by hsm-sim/kryoptic.sh
/// on first use (a few minutes once; a no-op afterwards) unless STRONGROOM_KRYOPTIC_MODULE
/// names it already.
pub fn kryoptic_module() -> PathBuf {
    if let Some(path) = std::env::var_os("STRONGROOM_KRYOPTIC_MODULE") {
        return PathBuf::from(path);
    }
    let out = run(Command::new("bash").arg(repo_root().join("hsm-sim/kryoptic.sh")));
    assert!(
        out.status.success(),
        "hsm-sim/kryoptic.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The fault-injecting PKCS#11 module (hsm-sim/shim), brought up to date once per test
/// process (a focused `cargo test -p CRATE` does not build it).
pub fn fault_shim() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let out = run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "-q", "-p", "strongroom-hsm-shim"])
                .current_dir(repo_root()),
        );
        assert!(
            out.status.success(),
            "building the fault shim: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    stack::workspace_binary("strongroom-signer").with_file_name("libstrongroom_hsm_shim.so")
}

/// Rewrites the signer configuration `config` so that its module becomes the fault shim over
/// the real module: the sandbox may then also read the rule file `rules` and the real module
/// (the shim loads it itself). Returns the environment the signer needs to find both.
pub fn put_signer_on_shim(config: &Path, rules: &Path) -> [(&'static str, PathBuf); 2] {
    let real = pkcs11_module();
    let text = std::fs::read_to_string(config).unwrap();
    let rewritten = text
        .replace(&format!("{real:?}"), &format!("{:?}", fault_shim()))
        .replace(
            "read_only = [",
            &format!("read_only = [{rules:?}, {real:?}, "),
        );
    assert_ne!(text, rewritten, "{} names no module", config.display());
    std::fs::write(config, rewritten).unwrap();
    [
        ("STRONGROOM_SHIM_CONTROL", rules.to_path_buf()),
        ("STRONGROOM_SHIM_MODULE", real),
    ]
}

/// Where crash tests kill a daemon: xorshift64*, enough to spread kill points, and
/// replayable — the seed comes from `STRONGROOM_CRASH_SEED` or the clock, and is printed.
#[derive(Debug)]
pub struct CrashRng {
    /// The seed this run started from.
    pub seed: u64,
    state: u64,
}

impl CrashRng {
    /// Seeded from `STRONGROOM_CRASH_SEED`, else from the clock; prints the seed.
    pub fn from_env() -> CrashRng {
        let seed = match std::env::var("STRONGROOM_CRASH_SEED") {
            Ok(s) => s.parse().expect("STRONGROOM_CRASH_SEED is a number"),
            Err(_) => {
                let nanos = std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos();
                u64::from(nanos) | 1
            }
        };
        eprintln!("crash test seed {seed} (replay: STRONGROOM_CRASH_SEED={seed})");
        CrashRng { seed, state: seed }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Finds a program on PATH or fails the test with how to install it.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not on PATH: run `make test-deps` (see README) to install the test tools");
}

/// The TOTP code of the base32 `secret` for the step `offset` steps from now, as an
/// authenticator app computes it (`oathtool`).
pub fn totp_code(secret: &str, offset: i64) -> String {
    let at = format!("now {offset:+} seconds", offset = offset * 30);
    let out =
        run(std::process::Command::new(tool("oathtool")).args(["--totp", "-b", "-N", &at, secret]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The environment variables through which a software token module finds its
/// configuration: SoftHSM2 reads the first, kryoptic the second, each ignores the other.
pub const TOKEN_CONF_VARS: [&str; 2] = ["SOFTHSM2_CONF", "KRYOPTIC_CONF"];

/// A private software token of the module tests load ([`pkcs11_module`]): SoftHSM2, or
/// kryoptic as the second implementation.
#[derive(Debug, Clone)]
pub struct SoftToken {
    /// The module's configuration file (softhsm2.conf or kryoptic.conf).
    pub conf: PathBuf,
    /// File with the user PIN (0400).
    pub pin_file: PathBuf,
    /// Token label.
    pub label: String,
}

impl SoftToken {
    /// Creates a token under `dir` with hsm-sim/token.sh.
    pub fn create(dir: &Path, label: &str) -> SoftToken {
        let pin_file = dir.join("pin");
        let out = Command::new("bash")
            .arg(repo_root().join("hsm-sim/token.sh"))
            .arg(dir.join("hsm"))
            .arg(label)
            .arg(&pin_file)
            .env("STRONGROOM_PKCS11_MODULE", pkcs11_module())
            .output()
            .expect("run token.sh");
        assert!(
            out.status.success(),
            "token.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SoftToken {
            conf: PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()),
            pin_file,
            label: label.into(),
        }
    }

    /// The environment a process that opens this token needs (`Command::envs`).
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        TOKEN_CONF_VARS.map(|var| (var, self.conf.as_path()))
    }
}

/// A test PKI: a directory, a token and a signer configuration.
#[derive(Debug)]
pub struct TestPki {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The token.
    pub token: SoftToken,
    /// The signer binary.
    pub signer_bin: PathBuf,
    /// The signer configuration file.
    pub config: PathBuf,
    /// The socket path.
    pub socket: PathBuf,
    /// The state directory.
    pub state: PathBuf,
}

impl TestPki {
    /// A new directory with a token and a dev-mode signer configuration (`extra` is
    /// appended verbatim, e.g. `[[peer]]` tables).
    pub fn new(signer_bin: &str, extra: &str) -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let token = SoftToken::create(dir.path(), "strongroom-test");
        // Production layout: the socket in its own directory, so the sandbox grants the
        // signer that directory and not the whole test directory.
        let run_dir = dir.path().join("run");
        std::fs::create_dir(&run_dir).unwrap();
        std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = run_dir.join("signer.sock");
        let state = dir.path().join("state");
        let config = dir.path().join("signer.toml");
        let text = format!(
            "socket = {socket:?}\nsocket_mode = \"0666\"\nstate_dir = {state:?}\ndev_mode = true\nallow_root = true\ncrl_validity_secs = 86400\n\n[hsm]\nmodule = {module:?}\ntoken_label = {label:?}\npin_file = {pin:?}\nsessions = 2\n\n[sandbox]\nread_only = [{conf:?}]\nread_write = [{tokens:?}]\n{extra}\n",
            module = pkcs11_module(),
            label = token.label,
            pin = token.pin_file,
            conf = token.conf,
            tokens = dir.path().join("hsm/tokens"),
        );
        std::fs::write(&config, text).unwrap();
        TestPki {
            dir,
            token,
            signer_bin: PathBuf::from(signer_bin),
            config,
            socket,
            state,
        }
    }

    /// A `strongroom-signer` command with the token's environment.
    pub fn signer_command(&self) -> Command {
        self.signer_command_under(&[])
    }

    /// The same, run through a wrapper program (none when empty), e.g. `["unshare",
    /// "--user", "--map-root-user"]` for a user namespace of its own.
    pub fn signer_command_under(&self, wrapper: &[&str]) -> Command {
        let mut c = match wrapper.split_first() {
            None => Command::new(&self.signer_bin),
            Some((program, args)) => {
                let mut c = Command::new(tool(program));
                c.args(args).arg(&self.signer_bin);
                c
            }
        };
        c.envs(self.token.env());
        // These configurations use dev_mode, which the signer refuses under systemd; a
        // test run started by a service manager must not pass its marks on.
        c.env_remove("INVOCATION_ID").env_remove("NOTIFY_SOCKET");
        // Debug logging in tests: the secret-leak tests read these logs.
        c.env("STRONGROOM_LOG", "debug");
        c
    }

    /// Runs a ceremony from TOML text; returns the process output (success not asserted).
    pub fn ceremony(&self, name: &str, text: &str) -> Output {
        let file = self.dir.path().join(format!("{name}.ceremony.toml"));
        std::fs::write(&file, text).unwrap();
        self.signer_command()
            .args(["ceremony", "--config"])
            .arg(&self.config)
            .arg("--file")
            .arg(&file)
            .output()
            .expect("run ceremony")
    }

    /// Runs a ceremony and fails the test if it fails.
    pub fn ceremony_ok(&self, name: &str, text: &str) -> String {
        let out = self.ceremony(name, text);
        assert!(
            out.status.success(),
            "ceremony {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A root (P-256) and an issuing intermediate constrained to `lab.test` and
    /// 192.0.2.0/24, with CRL/OCSP URLs.
    pub fn standard_hierarchy(&self) {
        self.ceremony_ok("root", ROOT_CEREMONY);
        self.ceremony_ok("issuing", ISSUING_CEREMONY);
    }

    /// Starts the signer and waits until its socket answers Health.
    pub fn start_signer(&self) -> SignerProcess {
        self.start_signer_with_env(&[])
    }

    /// Starts the signer with extra environment variables (e.g. for the fault shim).
    pub fn start_signer_with_env(&self, env: &[(&str, &std::ffi::OsStr)]) -> SignerProcess {
        let mut command = self.signer_command();
        for (k, v) in env {
            command.env(k, v);
        }
        self.start(command)
    }

    /// Starts the signer on the fault shim (hsm-sim/shim) over the real module, from now on
    /// (see [`put_signer_on_shim`]). Write the first rules before calling this.
    pub fn start_signer_on_shim(&self, rules: &Path) -> SignerProcess {
        let env = put_signer_on_shim(&self.config, rules);
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        self.start_signer_with_env(&env)
    }

    /// Starts the signer through a wrapper program (see [`TestPki::signer_command_under`]).
    pub fn start_signer_under(&self, wrapper: &[&str]) -> SignerProcess {
        self.start(self.signer_command_under(wrapper))
    }

    fn start(&self, mut command: Command) -> SignerProcess {
        let log = self.dir.path().join(format!(
            "signer-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = command
            .args(["run", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn signer");
        let mut p = SignerProcess {
            child,
            socket: self.socket.clone(),
            log,
        };
        p.wait_ready();
        p
    }

    /// Writes a PEM file of a DER certificate into the test directory.
    pub fn write_pem(&self, name: &str, ders: &[Vec<u8>]) -> PathBuf {
        let path = self.dir.path().join(name);
        let text: String = ders.iter().map(|d| pem("CERTIFICATE", d)).collect();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A running signer; killed on drop.
#[derive(Debug)]
pub struct SignerProcess {
    child: Child,
    /// Its socket.
    pub socket: PathBuf,
    /// Its stderr log.
    pub log: PathBuf,
}

impl SignerProcess {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("signer exited with {status}: {}", self.log_text());
            }
            if let Ok(mut c) = SignerClient::connect(&self.socket) {
                if matches!(c.call(&Request::Health), Ok(Response::Health(_))) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "signer not ready after 30 s: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A client connection.
    pub fn client(&self) -> SignerClient {
        SignerClient::connect(&self.socket).expect("connect to signer")
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills it with SIGKILL, as a crash or the OOM killer would, and reaps it.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it (SIGTERM, then waits).
    pub fn stop(&mut self) {
        // SAFETY: kill with the pid of a child we own and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for SignerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PEM-encodes DER.
pub fn pem(label: &str, der: &[u8]) -> String {
    strongroom_x509::to_pem(label, der)
}

/// Runs a command and returns its output (status not asserted).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Root ceremony used by [`TestPki::standard_hierarchy`].
pub const ROOT_CEREMONY: &str = r#"
id = "root"
subject = "CN=Strongroom Test Root CA,O=Strongroom Test"
algorithm = "ecdsa-p384"
validity_days = 3650
path_length = 1

[issuance]
crl_url = "http://127.0.0.1:8080/crl/root.crl"
ca_issuers_url = "http://127.0.0.1:8080/ca/root.der"
"#;

/// Intermediate ceremony used by [`TestPki::standard_hierarchy`].
pub const ISSUING_CEREMONY: &str = r#"
id = "issuing"
parent = "root"
subject = "CN=Strongroom Test Issuing CA,O=Strongroom Test"
algorithm = "ecdsa-p256"
validity_days = 1825
permitted = ["dns:lab.test", "ip:192.0.2.0/24"]

[issuance]
crl_url = "http://127.0.0.1:8080/crl/issuing.crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
ca_issuers_url = "http://127.0.0.1:8080/ca/issuing.der"
"#;

/// A policy with a TLS server profile (90 days, EC and RSA keys, dns/ip names) and a
/// client profile, both issued by `issuing`.
pub const TEST_POLICY: &str = r#"
version = 1

[[profile]]
name = "tls-server"
issuer = "issuing"
max_validity_secs = 7776000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "ed25519"]
key_usage = ["digital-signature", "key-encipherment"]
extended_key_usage = ["server-auth"]
allowed_name_kinds = ["dns", "ip"]
allow_wildcards = true

[[profile]]
name = "tls-client"
issuer = "issuing"
max_validity_secs = 2592000
key_algorithms = ["ecdsa-p256"]
key_usage = ["digital-signature"]
extended_key_usage = ["client-auth"]
allowed_name_kinds = ["dns", "email"]
# Client certificates are issued by control only (peer `dev` is every daemon in development
# mode), so a compromised front cannot mint them; a login still needs control's binding.
allowed_peers = ["control", "dev"]
"#;

/// [`TEST_POLICY`] parsed.
pub fn test_policy() -> strongroom_types::Policy {
    toml::from_str(TEST_POLICY).expect("test policy parses")
}

/// Calls Health.
pub fn health(client: &mut SignerClient) -> strongroom_wire::HealthReport {
    match client.call(&Request::Health).expect("health") {
        Response::Health(h) => h,
        other => panic!("unexpected {other:?}"),
    }
}
