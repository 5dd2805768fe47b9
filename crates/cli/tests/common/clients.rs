//! Clients for the fault and soak tests, each as an operator runs it: lego over ACME
//! (http-01 through one shared webroot, so several can run at once), the CLI issuing through
//! the control API, openssl asking the front for OCSP, curl asking control whether it is
//! ready.
//!
//! In: a running [`Up`] and a directory. Out: each client's output, for the test to judge.

use super::{ok, webroot_server, Up};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use strongroom_testkit::run;

/// The clients, sharing one webroot (served on the http-01 port) and one logged-in CLI home.
pub struct Clients<'a> {
    pub up: &'a Up,
    pub dir: &'a Path,
    pub webroot: PathBuf,
    pub home: PathBuf,
}

impl Clients<'_> {
    /// Serves a new webroot under `dir` on `up`'s http-01 port; the CLI's home is `dir/home`
    /// (log in with `up.login(&clients.home)`).
    pub fn new<'a>(up: &'a Up, dir: &'a Path) -> Clients<'a> {
        let webroot = dir.join("webroot");
        webroot_server("127.0.0.1", up.http01, &webroot);
        Clients {
            up,
            dir,
            webroot,
            home: dir.join("home"),
        }
    }

    /// lego issuing `name` over http-01, its answers written into the shared webroot.
    pub fn lego(&self, name: &str) -> Command {
        lego_webroot(
            &self.up.directory(),
            &self.up.root_pem(),
            &self.dir.join("lego").join(name),
            &self.webroot,
            name,
        )
    }

    pub fn lego_cert(&self, name: &str) -> PathBuf {
        self.dir
            .join("lego")
            .join(name)
            .join(format!("certificates/{name}.crt"))
    }

    /// Issuance through the control API with the logged-in CLI.
    pub fn api_issue(&self, name: &str) -> Output {
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        ok(
            Command::new("openssl")
                .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes", "-keyout"])
                .arg(&key)
                .args(["-subj", &format!("/CN={name}"), "-addext"])
                .arg(format!("subjectAltName=DNS:{name}"))
                .arg("-out")
                .arg(&csr),
            "openssl req",
        );
        let out = self.dir.join(format!("{name}.pem"));
        self.up.cli(
            &self.home,
            &[
                "cert",
                "issue",
                "--profile",
                "tls-server",
                "--csr",
                csr.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        )
    }

    /// `/api/v1/ready` on control: (HTTP status, body).
    pub fn ready(&self) -> (String, String) {
        let out = run(Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.up.root_pem())
            .arg(format!(
                "https://127.0.0.1:{}/api/v1/ready",
                self.up.control
            )));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.to_string(), body.to_string())
    }

    /// An OCSP question the front has no stored answer for: a SHA-256 CertID.
    pub fn ocsp_miss(&self, issuer: &Path, cert: &Path) -> String {
        let out = run(Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(issuer)
            .arg("-sha256")
            .arg("-cert")
            .arg(cert)
            .args([
                "-url",
                &format!("http://127.0.0.1:{}/ocsp", self.up.front_http),
            ])
            .arg("-CAfile")
            .arg(self.up.root_pem()));
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    }

    /// One throwaway HTTPS connection to each listener: the one handshake that meets a new
    /// failure before the standby certificate takes over is lost (docs/operations.md).
    pub fn touch_listeners(&self) {
        for port in [self.up.control, self.up.front_https] {
            let _ = run(Command::new("curl")
                .args(["-s", "-o", "/dev/null", "--cacert"])
                .arg(self.up.root_pem())
                .arg(format!("https://127.0.0.1:{port}/")));
        }
    }
}

/// lego issuing `name` from the ACME server at `directory` (trusting only `root`), its
/// account and certificate under `path`, http-01 answered by writing into `webroot` (which a
/// web server on the validation port serves, as [`webroot_server`] does).
pub fn lego_webroot(
    directory: &str,
    root: &Path,
    path: &Path,
    webroot: &Path,
    name: &str,
) -> Command {
    let mut c = Command::new("lego");
    c.env("LEGO_CA_CERTIFICATES", root)
        .args(["--server", directory])
        .arg("--path")
        .arg(path)
        .args(["--accept-tos", "--email", "ops@lab.test", "-d", name])
        .arg("--http")
        .arg("--http.webroot")
        .arg(webroot)
        .arg("run");
    c
}

/// A command's stdout and stderr, for a message.
pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}
