//! A throwaway PostgreSQL cluster that speaks TLS only, for the store's TLS tests.
//!
//! In: Debian's PostgreSQL server binaries (/usr/lib/postgresql/N/bin, installed by
//! `scripts/install-deps.sh test`) and the `openssl` command. Out: a running cluster on a
//! free 127.0.0.1/::1 port with `ssl = on` and a pg_hba.conf of `hostssl` lines only (a TCP
//! connection without TLS is rejected), its server certificate issued by a throwaway CA
//! for `DNS:localhost` only, a second unrelated CA, and the cluster stopped and deleted on
//! drop. Run as root, the cluster belongs to `postgres` (initdb refuses root); otherwise
//! to the current user.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The running cluster; stopped (immediate mode) and removed on drop.
#[derive(Debug)]
pub struct TlsServer {
    /// The TCP port on 127.0.0.1 and ::1.
    pub port: u16,
    /// The CA that issued the server's certificate (PEM).
    pub ca: PathBuf,
    /// A CA that issued nothing the server holds (PEM).
    pub other_ca: PathBuf,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl TlsServer {
    /// Makes the CAs and the server certificate, initialises the cluster and starts it.
    pub fn start() -> TlsServer {
        let bin = server_bin();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("strongroom-pg-tls-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        let root = root.as_path();
        let ca = root.join("ca.pem");
        let other_ca = root.join("other-ca.pem");
        make_ca(root, "ca", "Strongroom test database CA");
        make_ca(root, "other-ca", "Strongroom unrelated CA");
        make_server_cert(root);
        let data = root.join("data");
        let server = TlsServer {
            port: free_port(),
            ca,
            other_ca,
            bin,
            data,
            as_postgres,
            dir,
        };
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root));
        }
        server.pg(
            "initdb",
            &[
                "-D",
                path(&server.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        std::fs::write(
            server.data.join("pg_hba.conf"),
            "# TLS only: no `host` lines; a TCP connection without TLS matches nothing.\n\
             local     all all               trust\n\
             hostssl   all all 127.0.0.1/32  trust\n\
             hostssl   all all ::1/128       trust\n\
             hostnossl all all all           reject\n",
        )
        .unwrap();
        let conf = format!(
            "\nlisten_addresses = 'localhost'\nport = {port}\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{dir}/server.pem'\nssl_key_file = '{dir}/server.key'\n\
             fsync = off\nmax_connections = 60\n",
            port = server.port,
            dir = root.display()
        );
        let conf_path = server.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap();
        text.push_str(&conf);
        std::fs::write(&conf_path, text).unwrap();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root));
        }
        let log = root.join("server.log");
        let started = server.pg_output(
            "pg_ctl",
            &[
                "-D",
                path(&server.data),
                "-l",
                path(&log),
                "-w",
                "-t",
                "120",
                "start",
            ],
        );
        if !started.status.success() {
            panic!(
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&started.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        server
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn pg(&self, tool: &str, args: &[&str]) {
        let out = self.pg_output(tool, args);
        if !out.status.success() {
            panic!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn pg_output(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The cluster's own files only: no PG* variable of the caller's reaches the tools.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PG") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let data = self.data.clone();
        let _ = self.pg_output("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"]);
    }
}

/// The newest installed server's bin directory.
fn server_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: run \
             `scripts/install-deps.sh test` (Debian's postgresql package)"
        ),
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    if !out.status.success() {
        panic!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A self-signed P-256 CA: `{name}.pem` and `{name}.key` in `dir`.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    run(Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={cn}"))
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ]));
}

/// `server.pem`/`server.key`, issued by `ca` for `DNS:localhost` only (no IP address), so
/// a client that dials 127.0.0.1 under verify-full must refuse it.
fn make_server_cert(dir: &Path) {
    run(Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]));
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .current_dir(dir)
        .args([
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
        ])
        .args([
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]));
    // PostgreSQL refuses a key file others can read.
    run(Command::new("chmod")
        .args(["0600", "server.key"])
        .current_dir(dir));
}
