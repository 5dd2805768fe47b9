//! The whole stack for tests, for every test crate: a SoftHSM2 token, a signer with a root
//! and an issuing CA, a database (SQLite in the test directory, or a fresh PostgreSQL
//! database), `strongroom-control` on a free loopback port with an HTTPS client that
//! trusts the test root, and `strongroom-front` (plain HTTP, or HTTPS with ACME) beside it.
//!
//! In: what a test asks for ([`Control::start`], [`Control::start_with`],
//! [`Control::start_front`], [`Control::start_front_https`]). Out: running daemons that
//! stop when the [`Control`] is dropped, their logs, and clients for their APIs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use crate::{SignerProcess, TestPki, ROOT_CEREMONY, TEST_POLICY};
use serde_json::Value;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_wire::{Request, Response};

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// The issuing CA for control tests: its name constraints admit 127.0.0.1 (the listener's
/// certificate) and lab.test.
pub const ISSUING: &str = r#"
id = "issuing"
parent = "root"
subject = "CN=Strongroom Test Issuing CA,O=Strongroom Test"
algorithm = "ecdsa-p256"
validity_days = 1825
permitted = ["dns:lab.test", "ip:127.0.0.0/8", "email:lab.test"]

[issuance]
crl_url = "http://127.0.0.1:8080/crl/issuing.crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
ca_issuers_url = "http://127.0.0.1:8080/ca/issuing.der"
"#;

/// A workspace binary in the running test's target directory, brought up to date once per
/// test process (a focused `cargo test -p CRATE` does not build the other crates' binaries).
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // The test runs from TARGET/debug/deps/; binaries live in TARGET/debug/.
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-q", "--bin", name])
            .current_dir(crate::repo_root())
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --bin {name} failed");
        built.push(name.to_string());
    }
    dir.join(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
pub struct Control {
    pub pki: TestPki,
    pub signer: SignerProcess,
    child: Option<Child>,
    pub log: PathBuf,
    pub base: String,
    pub root_der: Vec<u8>,
    pub config: PathBuf,
    pub break_glass_file: PathBuf,
    pg_db: Option<String>,
    pub front_db_url: String,
    /// The database as its owner sees it (SQLite file or PostgreSQL as `postgres`).
    owner_db_url: String,
    front: Option<Child>,
    /// The ports the front listens on (plain first), for waiting on a restart.
    front_ports: Vec<u16>,
    /// The front's base URL once [`Control::start_front`] ran.
    pub front_base: String,
}

/// A free loopback TCP port (also free for UDP in practice on a test machine), never one
/// this test process has handed out before: the kernel may give a port it just released to
/// the next `bind(0)`, and two tests starting daemons in parallel would then share it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql (run `make test`, which installs PostgreSQL where none runs)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Control {
    pub fn start(db: Db) -> Control {
        Control::start_with(db, "")
    }

    /// Starts everything; `extra` is appended to the control configuration.
    pub fn start_with(db: Db, extra: &str) -> Control {
        Control::start_with_cas(db, extra, &[])
    }

    /// Starts everything with more CAs than the root and [`ISSUING`]: `cas` are (name,
    /// ceremony file) pairs run after those two, before the signer starts.
    pub fn start_with_cas(db: Db, extra: &str, cas: &[(&str, &str)]) -> Control {
        let extra = &Self::second_factor_optional(extra);
        let pki = TestPki::new(&workspace_binary("strongroom-signer").to_string_lossy(), "");
        pki.ceremony_ok("root", ROOT_CEREMONY);
        pki.ceremony_ok("issuing", ISSUING);
        for (name, ceremony) in cas {
            pki.ceremony_ok(name, ceremony);
        }
        let signer = pki.start_signer();
        let root_der = match signer
            .client()
            .call(&Request::GetCaChain {
                ca: "root".parse().unwrap(),
            })
            .unwrap()
        {
            Response::CaChain(c) => c[0].clone(),
            other => panic!("{other:?}"),
        };
        let dir = pki.dir.path().to_path_buf();
        let dir = dir.as_path();
        let policy = dir.join("policy.toml");
        std::fs::write(&policy, TEST_POLICY).unwrap();
        let admin_pw = dir.join("admin-password");
        std::fs::write(&admin_pw, ADMIN_PASSWORD).unwrap();
        std::fs::set_permissions(&admin_pw, std::fs::Permissions::from_mode(0o400)).unwrap();
        // Control's own directory (database, break-glass envelope), apart from the signer's
        // state, the token and the PIN, as in production.
        let control_dir = dir.join("control");
        std::fs::create_dir(&control_dir).unwrap();
        // PostgreSQL as in production: the schema owner migrates and grants, control runs
        // with its own narrow role and does not migrate.
        let (url, pg_db, migrate_on_start) = match db {
            Db::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    control_dir.join("control.db").display()
                ),
                None,
                true,
            ),
            Db::Postgres => {
                let name = format!("sr_control_{}_{}", std::process::id(), free_port());
                psql(&format!("CREATE DATABASE {name}"));
                (
                    format!("postgres://strongroom_control@127.0.0.1:5432/{name}"),
                    Some(name),
                    false,
                )
            }
        };
        let port = free_port();
        let break_glass_file = control_dir.join("break-glass.txt");
        let config = dir.join("control.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndatabase_url = {url:?}\nmigrate_on_start = {migrate_on_start}\nsigner_socket = {socket:?}\nallow_root = true\n{extra}\n\n\
                 [tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\nclient_auth_cas = [\"issuing\"]\n\n\
                 [bootstrap]\nadmin_password_file = {admin_pw:?}\nbreak_glass_file = {break_glass_file:?}\npolicy_file = {policy:?}\n",
                socket = pki.socket,
            ),
        )
        .unwrap();
        if let Some(name) = &pg_db {
            let out = Command::new(workspace_binary("strongroom-control"))
                .args(["migrate", "--roles", "--config"])
                .arg(&config)
                .args([
                    "--owner-url",
                    &format!("postgres://postgres@127.0.0.1:5432/{name}"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "migrate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let front_db_url = match &pg_db {
            Some(name) => format!("postgres://strongroom_front@127.0.0.1:5432/{name}"),
            None => url.clone(),
        };
        let owner_db_url = match &pg_db {
            Some(name) => format!("postgres://postgres@127.0.0.1:5432/{name}"),
            None => url.clone(),
        };
        let mut c = Control {
            front_db_url,
            owner_db_url,
            front: None,
            front_ports: Vec::new(),
            front_base: String::new(),
            pki,
            signer,
            child: None,
            log: dir.join("control.log"),
            base: format!("https://127.0.0.1:{port}"),
            root_der,
            config,
            break_glass_file,
            pg_db,
        };
        c.launch();
        c
    }

    /// (Re)starts the daemon and waits until it answers.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(workspace_binary("strongroom-control"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("STRONGROOM_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("control exited with {status}: {}", self.log_text());
            }
            if let Ok(r) = self.client().call("GET", "/api/v1/health", None, None) {
                if r.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "control not ready after 60 s: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts strongroom-front (plain HTTP) on a free port against the same database.
    pub fn start_front(&mut self) {
        self.launch_front(None, "[ocsp]\nvalidity_secs = 3600\n");
    }

    /// Starts strongroom-front on plain HTTP only, configured by `tables` (e.g. `[scep]`).
    pub fn start_front_with(&mut self, tables: &str) {
        self.launch_front(None, tables);
    }

    /// Starts strongroom-front with HTTPS too, configured by `tables` (a `[tls]` table and
    /// optionally `[acme]`; `{https}` in it stands for the HTTPS port); returns the HTTPS
    /// port. The plain port is in `front_base`.
    pub fn start_front_https(&mut self, tables: &str) -> u16 {
        let https = free_port();
        self.launch_front(Some(https), tables);
        https
    }

    fn launch_front(&mut self, https: Option<u16>, tables: &str) {
        let port = free_port();
        let config = self.dir().join("front.toml");
        let listen_https = https
            .map(|p| format!("listen_https = \"127.0.0.1:{p}\"\n"))
            .unwrap_or_default();
        let tables = tables.replace("{https}", &https.unwrap_or(0).to_string());
        std::fs::write(
            &config,
            format!(
                "listen_http = \"127.0.0.1:{port}\"\n{listen_https}database_url = {:?}\nsigner_socket = {:?}\nallow_root = true\n\n{tables}",
                self.front_db_url, self.pki.socket
            ),
        )
        .unwrap();
        self.front_ports = std::iter::once(port).chain(https).collect();
        self.front_base = format!("http://127.0.0.1:{port}");
        self.spawn_front();
    }

    /// Starts the front on the configuration `launch_front` wrote (its log is appended to)
    /// and waits until every port it listens on accepts.
    fn spawn_front(&mut self) {
        let config = self.dir().join("front.toml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("front.log"))
            .unwrap();
        let child = Command::new(workspace_binary("strongroom-front"))
            .args(["run", "--config"])
            .arg(&config)
            .env("STRONGROOM_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.front = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        for &p in &self.front_ports {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                if let Some(status) = self.front.as_mut().unwrap().try_wait().unwrap() {
                    panic!("front exited with {status}: {}", self.front_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "front not ready: {}",
                    self.front_log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Kills the front with SIGKILL, as a crash would; [`Control::restart_front`] starts it
    /// again on the same ports.
    pub fn kill_front_hard(&mut self) {
        if let Some(mut front) = self.front.take() {
            let _ = front.kill();
            let _ = front.wait();
        }
    }

    /// Starts the front again, with the configuration it last started with.
    pub fn restart_front(&mut self) {
        assert!(self.front.is_none(), "the front still runs");
        self.spawn_front();
    }

    /// The store, opened as the schema owner (tests that stand in for another daemon,
    /// e.g. the ACME front, write through it). Call from inside a tokio runtime.
    pub async fn owner_store(&self) -> strongroom_store::Store {
        strongroom_store::Store::connect_without_migrating(&self.owner_db_url)
            .await
            .unwrap()
    }

    /// Runs `strongroom ARGS` against this control with the API key `token` (the root in a
    /// file of the test's directory, the session directory there too): (exit code, stdout,
    /// stderr).
    pub fn cli(&self, token: &str, args: &[&str]) -> (i32, String, String) {
        let root = self.dir().join("root-for-cli.pem");
        std::fs::write(
            &root,
            strongroom_x509::to_pem("CERTIFICATE", &self.root_der),
        )
        .unwrap();
        let out = Command::new(workspace_binary("strongroom"))
            .args(args)
            .env("STRONGROOM_URL", &self.base)
            .env("STRONGROOM_CA", &root)
            .env("STRONGROOM_TOKEN", token)
            .env("XDG_CONFIG_HOME", self.dir())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn front_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("front.log")).unwrap_or_default()
    }

    /// The front's process id, once [`Control::start_front`] ran.
    pub fn front_pid(&self) -> Option<u32> {
        self.front.as_ref().map(Child::id)
    }

    /// Whether the front started by [`Control::start_front`] is still running.
    pub fn front_alive(&mut self) -> bool {
        self.front
            .as_mut()
            .is_some_and(|f| f.try_wait().unwrap().is_none())
    }

    pub fn stop(&mut self) {
        if let Some(mut front) = self.front.take() {
            // SAFETY: kill with the pid of a child we own and have not reaped.
            unsafe { libc::kill(front.id() as i32, libc::SIGTERM) };
            let _ = front.wait();
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with the pid of a child we own and have not reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Kills control with SIGKILL, as a crash would (the front keeps running); start it
    /// again with [`Control::launch`].
    pub fn kill_control_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn dir(&self) -> &Path {
        self.pki.dir.path()
    }

    /// A client trusting the test root.
    pub fn client(&self) -> Client {
        Client::new(&self.base, &self.root_der, None)
    }

    /// A client presenting a TLS client certificate (PEM chain and PKCS#8 PEM key).
    pub fn client_with_cert(&self, cert_pem: &[u8], key_pem: &[u8]) -> Client {
        Client::new(&self.base, &self.root_der, Some((cert_pem, key_pem)))
    }

    /// Logs in and returns a client carrying the session token.
    pub fn login(&self, user: &str, password: &str) -> Client {
        let mut c = self.client();
        let r = c.post(
            "/api/v1/auth/login",
            &serde_json::json!({"username": user, "password": password}),
        );
        assert_eq!(r.status, 201, "login {user}: {}", r.text);
        c.token = Some(r.json()["token"].as_str().unwrap().to_string());
        c
    }

    pub fn admin(&self) -> Client {
        self.login("admin", ADMIN_PASSWORD)
    }

    /// Creates a user with roles and logs them in.
    pub fn user(&self, admin: &Client, name: &str, roles: &[&str]) -> Client {
        let pw = format!("{name}-password-long-enough");
        let r = admin.post(
            "/api/v1/users",
            &serde_json::json!({"username": name, "password": pw, "roles": roles}),
        );
        assert_eq!(r.status, 201, "create {name}: {}", r.text);
        self.login(name, &pw)
    }

    /// Most tests log users in with a password alone: the second factor is not required unless
    /// `extra` says so (`require_second_factor = true` under `[login]`, as the totp and console
    /// tests do), kept in its `[login]` table when it has one.
    fn second_factor_optional(extra: &str) -> String {
        if extra.contains("require_second_factor") {
            extra.to_string()
        } else if extra.contains("[login]\n") {
            extra.replacen("[login]\n", "[login]\nrequire_second_factor = false\n", 1)
        } else {
            format!("{extra}\n[login]\nrequire_second_factor = false\n")
        }
    }

    /// A new EC P-256 key and CSR for `cn` with `names` as SANs (openssl).
    pub fn csr(&self, cn: &str, sans: &str) -> (String, PathBuf) {
        let key = self.dir().join(format!("{cn}-{}.key", free_port()));
        let csr = key.with_extension("csr");
        let out = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
            ])
            .arg(&key)
            .args([
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                &format!("subjectAltName={sans}"),
                "-out",
            ])
            .arg(&csr)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (std::fs::read_to_string(&csr).unwrap(), key)
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.stop();
        if let Some(name) = &self.pg_db {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    pub token: Option<String>,
}

// By hand: the token is a credential.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// Every response header, names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Client {
    fn new(base: &str, root_der: &[u8], cert: Option<(&[u8], &[u8])>) -> Client {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let root = Certificate::from_der(root_der).to_owned();
        let mut tls = TlsConfig::builder().root_certs(RootCerts::Specific(Arc::new(vec![root])));
        if let Some((cert_pem, key_pem)) = cert {
            let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(cert_pem)
                .filter_map(|i| match i.unwrap() {
                    ureq::tls::PemItem::Certificate(c) => Some(c),
                    _ => None,
                })
                .collect();
            let key = PrivateKey::from_pem(key_pem).unwrap();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            // A fresh connection per request: a pooled connection the server has just
            // closed (e.g. after a request whose body it did not read) would fail the next
            // request at random.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .new_agent();
        Client {
            agent,
            base: base.into(),
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client {
            agent: self.agent.clone(),
            base: self.base.clone(),
            token: Some(token.into()),
        }
    }

    pub fn anonymous(&self) -> Client {
        Client {
            agent: self.agent.clone(),
            base: self.base.clone(),
            token: None,
        }
    }

    /// Any request; `body` is sent as-is with `content_type`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: Option<&str>,
    ) -> Result<Reply, ureq::Error> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let req = req
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .unwrap();
        let mut resp = self.agent.run(req)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok(Reply {
            status,
            content_type,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, None).unwrap()
    }

    pub fn send(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.call(
            method,
            path,
            Some(body.to_string().as_bytes()),
            Some("application/json"),
        )
        .unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, body)
    }
}

/// Runs `BINARY sandbox-check --config CONFIG --probe …` (the production sandbox, then one
/// open per probe) and asserts each probe is allowed, or denied with EACCES, as listed.
/// Returns what the check printed.
pub fn sandbox_check(binary: &Path, config: &Path, probes: &[(PathBuf, bool)]) -> String {
    let mut cmd = Command::new(binary);
    cmd.args(["sandbox-check", "--config"]).arg(config);
    for (p, _) in probes {
        assert!(
            p.exists(),
            "{} must exist for the probe to mean anything",
            p.display()
        );
        cmd.arg("--probe").arg(p);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (p, allowed) in probes {
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
    text
}

impl Control {
    /// A file of the SoftHSM2 token (what no network daemon may open).
    pub fn token_file(&self) -> PathBuf {
        std::fs::read_dir(self.dir().join("hsm/tokens"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }
}
