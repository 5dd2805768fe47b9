//! `strongroom up` as a user runs it: first run creates everything, a certificate issued
//! through the CLI verifies with openssl, Ctrl-C stops every daemon, a second run reuses
//! the directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use strongroom_testkit::{run, tool};

mod common;

use common::{ensure_daemons_built, free_port, STRONGROOM};
use strongroom_testkit::step;

/// The CLI against the control API that `up` started.
fn cli(home: &Path, args: &[&str]) -> std::process::Output {
    run(Command::new(STRONGROOM)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("STRONGROOM_TOKEN")
        .args(args))
}

/// The three listeners of one `up` run, each a port the kernel handed out: a port next to
/// a free one may be some other socket's (an outgoing connection's local port, say), and
/// the front would then exit at start with "address in use".
#[derive(Clone, Copy)]
struct Ports {
    control: u16,
    front: u16,
    front_https: u16,
}

impl Ports {
    fn new() -> Ports {
        Ports {
            control: free_port(),
            front: free_port(),
            front_https: free_port(),
        }
    }
}

fn start_up(dir: &Path, ports: Ports) -> (Child, Vec<String>) {
    let mut child = Command::new(STRONGROOM)
        .args([
            "up",
            "--control-listen",
            &format!("127.0.0.1:{}", ports.control),
            "--front-listen",
            &format!("127.0.0.1:{}", ports.front),
            "--front-https-listen",
            &format!("127.0.0.1:{}", ports.front_https),
            "--data-dir",
        ])
        .arg(dir)
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
            return (child, lines);
        }
    }
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let _ = child.wait();
    panic!("up ended early:\n{}\n{err}", lines.join("\n"));
}

fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap()
}

#[test]
fn up_help_lists_only_what_up_takes() {
    let out = run(Command::new(STRONGROOM).args(["up", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && help.contains("--data-dir"),
        "{help}"
    );
    for api_only in ["--token", "--output", "--url", "--ca-file"] {
        assert!(
            !help.contains(api_only),
            "up --help lists {api_only}:\n{help}"
        );
    }
    // The API commands still take them, before or after the subcommand.
    let out = run(Command::new(STRONGROOM).args(["cert", "list", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--token") && help.contains("--output"),
        "{help}"
    );
    let out = run(Command::new(STRONGROOM).args(["signer", "--help"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("--token"));
}

#[test]
fn up_issue_stop_and_reuse() {
    let _step = step("set up");
    ensure_daemons_built();
    let tmp = tempfile::tempdir().unwrap();
    let data: PathBuf = tmp.path().join("data");
    let ports = Ports::new();
    let port = ports.control;
    let (mut up, lines) = start_up(&data, ports);
    let text = lines.join("\n");
    assert!(
        text.contains("first run") && text.contains("Strongroom is up (HSM ok)"),
        "{text}"
    );
    // The ACME directory clients are pointed at, and it answers there.
    let directory = format!("https://127.0.0.1:{}/acme/directory", ports.front_https);
    assert!(
        text.contains(&format!("ACME directory   {directory}")),
        "{text}"
    );
    let got = run(Command::new(tool("curl"))
        .args(["-sS", "--fail", "--cacert"])
        .arg(data.join("ca/root.pem"))
        .arg(&directory));
    assert!(
        String::from_utf8_lossy(&got.stdout).contains("newAccount"),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    // SCEP for the device profile: the URL printed, a 0400 static challenge, and Debian's
    // scepclient enrols with it (pinning the RA certificate, the first of GetCACert).
    let scep = format!("http://127.0.0.1:{}/scep", ports.front);
    assert!(text.contains(&format!("SCEP             {scep}")), "{text}");
    let challenge_path = data.join("secrets/scep-challenge");
    let challenge_mode = std::fs::metadata(&challenge_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(challenge_mode, 0o400);
    let challenge = std::fs::read_to_string(&challenge_path).unwrap();
    let p7 = tmp.path().join("getcacert.p7");
    let got = run(Command::new(tool("curl"))
        .args(["-sS", "--fail", "-o"])
        .arg(&p7)
        .arg(format!("{scep}?operation=GetCACert")));
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let ra_pem = run(Command::new("sh").arg("-c").arg(format!(
        "openssl pkcs7 -inform DER -in {} -print_certs | awk '/BEGIN/{{n++}} n==1' | openssl x509 -outform DER | sha256sum",
        p7.display()
    )));
    let fingerprint = String::from_utf8_lossy(&ra_pem.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let device = tmp.path().join("device");
    std::fs::create_dir_all(&device).unwrap();
    let enrolled = run(Command::new(tool("scepclient"))
        .args([
            "-server-url",
            &scep,
            "-cn",
            "router1.lab.test",
            "-challenge",
            challenge.trim(),
        ])
        .args(["-ca-fingerprint", &fingerprint])
        .arg("-private-key")
        .arg(device.join("key.pem"))
        .arg("-certificate")
        .arg(device.join("cert.pem")));
    assert!(
        enrolled.status.success(),
        "scepclient: {}{}",
        String::from_utf8_lossy(&enrolled.stdout),
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let verified = run(Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(data.join("ca/root.pem"))
        .arg("-untrusted")
        .arg(data.join("ca/issuing.pem"))
        .arg(device.join("cert.pem")));
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains(": OK"),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // EST for the device profile: the URL printed, the user and password in 0400/0644
    // files, and curl + openssl enrol with them (INTEROP.md's recipe).
    let est = format!("https://127.0.0.1:{}/.well-known/est/", ports.front_https);
    assert!(text.contains(&format!("EST              {est}")), "{text}");
    let est_password_mode = std::fs::metadata(data.join("secrets/est-password"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(est_password_mode, 0o400);
    let est_user = std::fs::read_to_string(data.join("secrets/est-user")).unwrap();
    let est_password = std::fs::read_to_string(data.join("secrets/est-password")).unwrap();
    let est_csr = tmp.path().join("est.csr.der");
    let out = run(Command::new(tool("openssl"))
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
        .arg(tmp.path().join("est.key"))
        .args([
            "-subj",
            "/CN=est-device.lab.test",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&est_csr));
    assert!(out.status.success());
    let est_b64 = tmp.path().join("est.csr.b64");
    std::fs::write(
        &est_b64,
        run(Command::new(tool("openssl"))
            .args(["base64", "-in"])
            .arg(&est_csr))
        .stdout,
    )
    .unwrap();
    let got = run(Command::new(tool("curl"))
        .args(["-sS", "--fail", "--cacert"])
        .arg(data.join("ca/root.pem"))
        .args([
            "-u",
            &format!("{}:{}", est_user.trim(), est_password.trim()),
        ])
        .args(["-H", "Content-Type: application/pkcs10", "--data-binary"])
        .arg(format!("@{}", est_b64.display()))
        .arg(format!("{est}simpleenroll")));
    assert!(
        got.status.success(),
        "EST simpleenroll: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    let p7 = tmp.path().join("est.p7.b64");
    std::fs::write(&p7, &got.stdout).unwrap();
    let printed = run(Command::new(tool("sh")).arg("-c").arg(format!(
        "openssl base64 -d -in {} | openssl pkcs7 -inform DER -print_certs -noout",
        p7.display()
    )));
    assert!(
        String::from_utf8_lossy(&printed.stdout).contains("est-device.lab.test"),
        "{}{}",
        String::from_utf8_lossy(&printed.stdout),
        String::from_utf8_lossy(&printed.stderr)
    );
    let pin_mode = std::fs::metadata(data.join("secrets/pin"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(pin_mode, 0o400);
    let root_before = std::fs::read(data.join("ca/root.pem")).unwrap();

    let key = tmp.path().join("web.key");
    let csr = tmp.path().join("web.csr");
    let out = run(Command::new(tool("openssl"))
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
        .args(["-subj", "/CN=web.lab.test", "-out"])
        .arg(&csr));
    assert!(out.status.success());
    let cert = tmp.path().join("web.pem");
    let chain = tmp.path().join("chain.pem");
    let out = run(Command::new(STRONGROOM)
        .args(["signer", "--data-dir"])
        .arg(&data)
        .args(["issue", "--profile", "tls-server", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(&cert)
        .arg("--chain-out")
        .arg(&chain));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(Command::new(tool("openssl"))
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(data.join("ca/root.pem"))
        .arg("-untrusted")
        .arg(&chain)
        .arg(&cert));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A profile the policy does not have: a one-line error and a non-zero exit.
    let _step = step("A profile the policy does not have: a one-line error and a non-zero exit");
    let out = run(Command::new(STRONGROOM)
        .args(["signer", "--data-dir"])
        .arg(&data)
        .args(["issue", "--profile", "nope", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(tmp.path().join("x.pem")));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PolicyDenied") && err.contains("unknown profile"),
        "{err}"
    );

    // The CLI against the control API: login, issue, list, exit codes, audit export and
    // offline verification (an edited event is named).
    let _step = step("The CLI against the control API: login, issue, list, exit codes, audit …");
    let home = tmp.path().join("home");
    let url = format!("https://127.0.0.1:{port}");
    let root = data.join("ca/root.pem");
    let out = cli(
        &home,
        &[
            "login",
            "--url",
            &url,
            "--ca-file",
            root.to_str().unwrap(),
            "--user",
            "admin",
            "--password-file",
            data.join("secrets/admin-password").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every login needs a second factor: until the admin enrols one, the session can do
    // nothing else, and both the login and the refusal say what to do.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("strongroom totp enrol"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&home, &["cert", "list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no second factor"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&home, &["totp", "enrol"]);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let secret = printed
        .lines()
        .find_map(|l| l.strip_prefix("secret "))
        .unwrap_or_else(|| panic!("totp enrol: {printed}"))
        .trim()
        .to_string();
    let out = cli(
        &home,
        &[
            "totp",
            "confirm",
            &strongroom_testkit::totp_code(&secret, 0),
        ],
    );
    assert!(
        out.status.success(),
        "totp confirm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api_pem = tmp.path().join("api.pem");
    let out = cli(
        &home,
        &[
            "cert",
            "issue",
            "--profile",
            "tls-server",
            "--csr",
            csr.to_str().unwrap(),
            "--tag",
            "cli",
            "--out",
            api_pem.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "cert issue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&api_pem)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let out = cli(&home, &["cert", "list", "--tag", "cli", "--output", "json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let id = listed["items"][0]["id"].to_string();
    let der = tmp.path().join("api.der");
    let out = cli(
        &home,
        &[
            "cert",
            "download",
            &id,
            "--format",
            "der",
            "--out",
            der.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&der).unwrap()[0], 0x30);
    let out = cli(&home, &["cert", "list", "--tag", "cli"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("ID"), "table header");
    // Times in tables read as RFC 3339, not Unix seconds; JSON keeps the number.
    let not_after = listed["items"][0]["not_after"].as_i64().unwrap();
    let year = 1970 + not_after / 31_556_952;
    assert!(
        table.contains(&format!("{year}-")) && table.contains('T') && table.contains("Z "),
        "{table}"
    );
    assert!(!table.contains(&not_after.to_string()), "{table}");
    let shown = cli(&home, &["cert", "get", &id]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("not_after") && l.ends_with('Z')),
        "{shown}"
    );
    assert_eq!(
        cli(&home, &["cert", "get", "999999"]).status.code(),
        Some(4)
    );

    // web.pem was issued straight through the signer, like a requester that stopped
    // before recording what it got: only the journal has it. Reconciliation records it,
    // once; the listener certificates (recorded by control and the front at start) and the
    // API-issued one are not recorded twice.
    let _step = step("web.pem was issued straight through the signer, like a requester that …");
    let reconcile = |home: &Path| -> serde_json::Value {
        let out = cli(
            home,
            &["cert", "reconcile", "--grace-secs", "0", "--output", "json"],
        );
        assert!(
            out.status.success(),
            "reconcile: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let report = reconcile(&home);
    assert_eq!(report["recorded"].as_array().unwrap().len(), 1, "{report}");
    let out = cli(
        &home,
        &["cert", "list", "--tag", "reconciled", "--output", "json"],
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &listed["items"][0];
    assert_eq!(item["id"], report["recorded"][0], "{listed}");
    assert_eq!(item["owner"], "journal:dev", "{item}");
    let serial = run(Command::new(tool("openssl"))
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(&cert));
    let serial = String::from_utf8_lossy(&serial.stdout).to_lowercase();
    assert!(
        serial.contains(
            &item["serial"]
                .as_str()
                .unwrap()
                .replace(':', "")
                .to_lowercase()
        ),
        "{serial} vs {item}"
    );
    let out = cli(
        &home,
        &["cert", "list", "--tag", "listener", "--output", "json"],
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let owners: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["owner"].as_str())
        .collect();
    assert!(
        owners.contains(&"listener:control") && owners.contains(&"listener:front"),
        "{owners:?}"
    );
    let again = reconcile(&home);
    assert_eq!(again["recorded"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["compared"], 0, "{again}");
    assert_eq!(cli(&home, &["--token", "sr_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000", "whoami"]).status.code(), Some(3));
    let out = cli(&home, &["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = tmp.path().join("audit.ndjson");
    assert!(cli(
        &home,
        &["audit", "export", "--out", export.to_str().unwrap()]
    )
    .status
    .success());
    let out = cli(
        &home,
        &[
            "audit",
            "verify",
            export.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 signed checkpoints verified"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&export).unwrap();
    let tampered = tmp.path().join("tampered.ndjson");
    std::fs::write(
        &tampered,
        text.replacen("\"actor\":\"admin\"", "\"actor\":\"mallory\"", 1),
    )
    .unwrap();
    let out = cli(&home, &["audit", "verify", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("edited"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let dropped: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&tampered, dropped).unwrap();
    let out = cli(&home, &["audit", "verify", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("event 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cli(&home, &["completions", "bash"]).stdout.len() > 1000);
    // The front answers OCSP for the certificate issued through the API.
    let issuing_path = tmp.path().join("api-issuing.pem");
    let api_text = std::fs::read_to_string(&api_pem).unwrap();
    let issuing_pem = api_text
        .split_inclusive("-----END CERTIFICATE-----\n")
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::write(&issuing_path, issuing_pem).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args([
            "ocsp",
            "-url",
            &format!("http://127.0.0.1:{}/ocsp", ports.front),
            "-issuer",
        ])
        .arg(&issuing_path)
        .arg("-cert")
        .arg(&api_pem)
        .arg("-CAfile")
        .arg(&root));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    // The same routes over HTTPS, with a certificate the signer issued at start.
    let out = run(Command::new("curl")
        .args([
            "-s",
            "-f",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{content_type}",
            "--cacert",
        ])
        .arg(&root)
        .arg(format!(
            "https://127.0.0.1:{}/crl/issuing.crl",
            ports.front_https
        )));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text == "200 application/pkix-crl",
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = interrupt(&mut up);
    assert!(status.success(), "up exited with {status}");
    assert!(
        std::os::unix::net::UnixStream::connect(data.join("run/signer.sock")).is_err(),
        "the signer must be gone after Ctrl-C"
    );

    let (mut up, lines) = start_up(&data, ports);
    let text = lines.join("\n");
    assert!(
        text.contains("reusing") && !text.contains("first run"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(data.join("ca/root.pem")).unwrap(),
        root_before,
        "second run keeps the same root"
    );
    assert!(interrupt(&mut up).success());

    let out = run(
        Command::new(Path::new(STRONGROOM).with_file_name("strongroom-signer"))
            .args(["journal", "verify", "--config"])
            .arg(data.join("config/signer.toml")),
    );
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("chain intact"));
}

/// `up` is development mode (the signer's dev_mode, the admin password in a file, ACME
/// validation allowed to reach loopback): it refuses to listen beyond loopback, before it
/// creates anything.
#[test]
fn up_refuses_a_listener_beyond_loopback() {
    ensure_daemons_built();
    let tmp = tempfile::tempdir().unwrap();
    let loopback = |_: &str| format!("127.0.0.1:{}", free_port());
    for (flag, addr) in [
        ("--control-listen", format!("0.0.0.0:{}", free_port())),
        ("--front-listen", format!("[::]:{}", free_port())),
        ("--front-https-listen", format!("192.0.2.1:{}", free_port())),
    ] {
        let data = tmp.path().join(flag.trim_start_matches('-'));
        let mut args = vec![];
        for other in ["--control-listen", "--front-listen", "--front-https-listen"] {
            let value = if other == flag {
                addr.clone()
            } else {
                loopback(other)
            };
            args.extend([other.to_owned(), value]);
        }
        let mut child = Command::new(STRONGROOM)
            .arg("up")
            .args(&args)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                // Ctrl-C, so that `up` stops the daemons it started.
                let status = interrupt(&mut child);
                panic!("up {flag} {addr} kept running ({status}) instead of refusing");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(&format!("{flag} {addr}")) && err.contains("loopback only"),
            "{err}"
        );
        assert!(!data.exists(), "nothing is created before the refusal");
    }
}
