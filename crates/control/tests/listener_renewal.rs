//! Listener certificates stay valid while the daemons run (issue 15): a certificate the
//! signer issued is renewed before it expires and swapped into the running listener — with
//! 120 s certificates, `openssl s_client -verify_return_error` sees new serials on control
//! and on the front, past the first certificate's notAfter, and a curl loop against the
//! ACME directory never fails. The operator's own certificate (`key = "file"`) is served,
//! reloaded on SIGHUP, kept when a replacement fails a check, and warned of before it
//! expires.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, tool};

/// The serial (`openssl x509 -serial` form) of the certificate served on `port`, after a
/// handshake that verified it against `root`; or why the handshake failed.
fn served_serial(port: u16, root: &Path) -> Result<String, String> {
    let out = run(Command::new(tool("openssl"))
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile"])
        .arg(root)
        .stdin(Stdio::null()));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || !text.contains("Verify return code: 0 (ok)") {
        return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = text.find("-----END CERTIFICATE-----").unwrap() + 25;
    let mut x509 = Command::new(tool("openssl"))
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(x509.stdin.as_mut().unwrap(), &text.as_bytes()[begin..end]).unwrap();
    let serial = x509.wait_with_output().unwrap();
    Ok(String::from_utf8_lossy(&serial.stdout).trim().to_string())
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn signer_issued_listener_certificates_are_renewed_while_serving() {
    let mut c = Control::start(Db::Sqlite);
    // Control with 120 s listener certificates.
    c.stop();
    let config = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(
        &c.config,
        config.replace("[tls]\n", "[tls]\nvalidity_secs = 120\n"),
    )
    .unwrap();
    c.launch();
    let control_port = port_of(&c.base);
    let front_port = c.start_front_https(
        "[tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\nvalidity_secs = 120\n\n\
         [acme]\nbase_url = \"https://127.0.0.1:{https}\"\ndefault_profile = \"tls-server\"\n\n\
         [[acme.profile]]\nname = \"tls-server\"\n",
    );
    let root = c
        .pki
        .write_pem("root.pem", std::slice::from_ref(&c.root_der));
    let directory = format!("https://127.0.0.1:{front_port}/acme/directory");
    // `systemctl reload` (SIGHUP) does not stop a daemon whose certificate the signer issues.
    hang_up(&c);

    // Watch both listeners until each has served three certificates (two renewals) and the
    // first ones are past their notAfter, for at most 5 minutes.
    let started = Instant::now();
    let (mut on_control, mut on_front) = (BTreeSet::new(), BTreeSet::new());
    let mut directory_gets = 0;
    loop {
        let at = started.elapsed();
        on_control.insert(
            served_serial(control_port, &root)
                .unwrap_or_else(|e| panic!("control at {at:?}: {e}\n{}", c.log_text())),
        );
        on_front.insert(
            served_serial(front_port, &root)
                .unwrap_or_else(|e| panic!("front at {at:?}: {e}\n{}", c.front_log())),
        );
        let curl = run(Command::new(tool("curl"))
            .args(["-sS", "--fail", "--max-time", "10", "--cacert"])
            .arg(&root)
            .arg(&directory));
        assert!(
            curl.status.success() && String::from_utf8_lossy(&curl.stdout).contains("newNonce"),
            "the ACME directory at {at:?}: {}{}",
            String::from_utf8_lossy(&curl.stdout),
            String::from_utf8_lossy(&curl.stderr)
        );
        directory_gets += 1;
        if on_control.len() >= 3 && on_front.len() >= 3 && at > Duration::from_secs(130) {
            break;
        }
        assert!(
            at < Duration::from_secs(300),
            "after 5 minutes: control served {on_control:?}, the front {on_front:?}\n{}",
            c.front_log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!(
        "{:?}: control served {on_control:?}, the front {on_front:?}; {directory_gets} directory GETs, all 200",
        started.elapsed()
    );
    assert!(c.log_text().contains("listener certificate renewed"));
    assert!(c.front_log().contains("listener certificate renewed"));
    assert!(c.front_alive(), "SIGHUP must not end the front");

    // Every renewed certificate is in the inventory, like the first.
    let listed = c.admin().get("/api/v1/certificates?tag=listener").json();
    let items = listed["items"].as_array().unwrap();
    for daemon in ["listener:control", "listener:front"] {
        let n = items.iter().filter(|i| i["owner"] == daemon).count();
        assert!(n >= 3, "{daemon}: {n} in the inventory: {listed}");
    }
}

/// An outside CA (a stand-in for a public one) in `dir`, making leaf certificates for
/// 127.0.0.1.
struct OutsideCa<'a> {
    dir: &'a Path,
}

impl OutsideCa<'_> {
    fn openssl(&self, args: &[&str]) {
        let out = run(Command::new(tool("openssl"))
            .args(args)
            .current_dir(self.dir));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new(dir: &Path) -> OutsideCa<'_> {
        let ca = OutsideCa { dir };
        ca.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Outside Test CA",
            "-days",
            "30",
        ]);
        ca
    }

    /// Leaf `n` (serial n, valid `days`): `leafN.pem` and `leafN.key`.
    fn leaf(&self, n: u32, days: u32) {
        let (key, csr, pem) = (
            format!("leaf{n}.key"),
            format!("leaf{n}.csr"),
            format!("leaf{n}.pem"),
        );
        std::fs::write(self.dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=127.0.0.1",
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &n.to_string(),
            "-days",
            &days.to_string(),
            "-extfile",
            "san.ext",
            "-out",
            &pem,
        ]);
    }

    /// Puts `cert` and `key` (file names in this directory) in place as the front's files,
    /// each by rename (as certbot and most tools replace them), the key with `mode`.
    fn install(&self, live: &Path, cert: &str, key: &str, mode: u32) {
        for (from, to) in [(cert, "chain.pem"), (key, "key.pem")] {
            let staged = live.join(format!(".{to}.new"));
            std::fs::copy(self.dir.join(from), &staged).unwrap();
            let m = if to == "key.pem" { mode } else { 0o644 };
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(m)).unwrap();
            std::fs::rename(&staged, live.join(to)).unwrap();
        }
    }
}

/// Polls the front's log for `text` (at most 30 s).
fn wait_for_log(c: &Control, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.front_log().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in: {}",
            c.front_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn hang_up(c: &Control) {
    // SAFETY: kill with the pid of the test's own front.
    unsafe { libc::kill(c.front_pid().unwrap() as i32, libc::SIGHUP) };
}

#[test]
fn the_operators_listener_certificate_is_served_reloaded_and_watched() {
    let mut c = Control::start(Db::Sqlite);
    let work = c.dir().join("outside-ca");
    let live = c.dir().join("front-tls");
    std::fs::create_dir(&work).unwrap();
    std::fs::create_dir(&live).unwrap();
    let ca = OutsideCa::new(&work);
    ca.leaf(1, 10); // inside the 21-day warning window
    ca.leaf(2, 365);
    ca.install(&live, "leaf1.pem", "leaf1.key", 0o600);
    let port = c.start_front_https(&format!(
        "[tls]\nkey = \"file\"\ncertificate_file = {:?}\nkey_file = {:?}\n",
        live.join("chain.pem"),
        live.join("key.pem"),
    ));
    let outside_root = work.join("ca.pem");
    assert_eq!(served_serial(port, &outside_root).unwrap(), "serial=01");
    assert!(
        c.front_log().contains("the operator's certificate"),
        "{}",
        c.front_log()
    );
    wait_for_log(&c, "expires soon");

    // Renewed files, then SIGHUP: served from the next handshake, without a restart (and
    // under the front's Landlock sandbox, which must let it read the new files).
    let pid = c.front_pid();
    ca.install(&live, "leaf2.pem", "leaf2.key", 0o600);
    hang_up(&c);
    let deadline = Instant::now() + Duration::from_secs(30);
    while served_serial(port, &outside_root).unwrap() != "serial=02" {
        assert!(Instant::now() < deadline, "{}", c.front_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for_log(&c, "was reloaded");
    assert_eq!(c.front_pid(), pid);
    assert!(c.front_alive(), "SIGHUP must not end the front");

    // A certificate with somebody else's key fails the check: certificate 2 stays.
    ca.install(&live, "leaf1.pem", "leaf2.key", 0o600);
    hang_up(&c);
    wait_for_log(&c, "is not the key of the first certificate");
    assert_eq!(served_serial(port, &outside_root).unwrap(), "serial=02");

    // A key file others may read is refused: certificate 2 stays.
    ca.install(&live, "leaf1.pem", "leaf1.key", 0o644);
    hang_up(&c);
    wait_for_log(&c, "readable by group or others");
    assert_eq!(served_serial(port, &outside_root).unwrap(), "serial=02");
    assert!(c.front_alive());
}
