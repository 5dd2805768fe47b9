//! `strongroom up --data-dir DIR`: the whole appliance for one developer.
//!
//! In: a data directory (created on first run). Out: on first run a private SoftHSM2
//! token, a root and an issuing CA made by `strongroom-signer ceremony`, the signer
//! configuration and the default policy; on every run the daemons as child processes
//! (started by exec, never forked after PKCS#11 initialisation), a summary of where
//! everything is, and a clean stop of all of them on Ctrl-C or SIGTERM.

/// Prints a line; a closed stdout (e.g. a pipe whose reader went away) must not stop `up`
/// from shutting its daemons down, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use crate::devtoken;
use crate::signer_cmd::read_policy;
use clap::Args;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_wire::{Request, Response, SignerClient};

/// Arguments of `strongroom up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Data directory: token, configuration, state, sockets, logs.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// PKCS#11 module (SoftHSM2 by default).
    #[arg(long, default_value = "/usr/lib/softhsm/libsofthsm2.so")]
    pkcs11_module: PathBuf,
    /// Where the control API listens.
    #[arg(long, default_value = "127.0.0.1:9443")]
    control_listen: std::net::SocketAddr,
    /// Where the front serves OCSP and CRLs (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    front_listen: std::net::SocketAddr,
    /// Where the front serves the same over HTTPS.
    #[arg(long, default_value = "127.0.0.1:8443")]
    front_https_listen: std::net::SocketAddr,
    /// ACME test mode: the port http-01 validation connects to (as Pebble's httpPort).
    #[arg(long, default_value_t = 80)]
    acme_http01_port: u16,
    /// ACME test mode: the port tls-alpn-01 validation connects to (Pebble's tlsPort).
    #[arg(long, default_value_t = 443)]
    acme_tls_alpn01_port: u16,
    /// ACME: the DNS resolver validation asks (default: /etc/resolv.conf's first).
    #[arg(long)]
    acme_resolver: Option<std::net::SocketAddr>,
    /// ACME: check CAA (RFC 8659) for DNS names, accepting `issue` records for this
    /// issuer domain name (repeat for several). Off when not given.
    #[arg(long = "acme-caa-identity", value_name = "DOMAIN")]
    acme_caa_identities: Vec<String>,
    /// Where control's and the front's HTTPS keys live: `hsm` (each daemon's listener key in
    /// the token; the signer signs every handshake) or `memory` (made in memory at start).
    #[arg(long, value_enum, default_value_t = TlsKey::Hsm)]
    tls_key: TlsKey,
}

/// `[tls] key` of the control and front configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TlsKey {
    /// The listener key in the HSM.
    Hsm,
    /// A key made in memory at every start.
    Memory,
}

impl TlsKey {
    fn as_str(self) -> &'static str {
        match self {
            TlsKey::Hsm => "hsm",
            TlsKey::Memory => "memory",
        }
    }
}

struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn config(&self, name: &str) -> PathBuf {
        self.dir.join("config").join(name)
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("run/signer.sock")
    }
    fn log(&self, daemon: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{daemon}.log"))
    }
    fn admin_password(&self) -> PathBuf {
        self.dir.join("secrets/admin-password")
    }
    fn ca_pem(&self, name: &str) -> PathBuf {
        self.dir.join("ca").join(format!("{name}.pem"))
    }
}

const ROOT_CEREMONY: &str = r#"# Root CA ceremony used by `strongroom up` (development defaults).
id = "root"
subject = "CN=Strongroom Development Root CA,O=Strongroom"
algorithm = "ecdsa-p384"
validity_days = 3650
path_length = 1

[issuance]
crl_url = "http://127.0.0.1:8080/crl/root.crl"
ca_issuers_url = "http://127.0.0.1:8080/ca/root.der"
"#;

const ISSUING_CEREMONY: &str = r#"# Issuing CA ceremony used by `strongroom up` (development defaults).
id = "issuing"
parent = "root"
subject = "CN=Strongroom Development Issuing CA,O=Strongroom"
algorithm = "ecdsa-p256"
validity_days = 1825

[issuance]
crl_url = "http://127.0.0.1:8080/crl/issuing.crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
ca_issuers_url = "http://127.0.0.1:8080/ca/issuing.der"
"#;

const DEFAULT_POLICY: &str = r#"# Issuance policy pushed to the signer on first run (edit, raise `version`, then
# `strongroom signer push-policy --file THIS`).
version = 1

[[profile]]
name = "tls-server"
description = "TLS server certificates, 90 days"
issuer = "issuing"
max_validity_secs = 7776000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096", "ed25519"]
key_usage = ["digital-signature", "key-encipherment"]
extended_key_usage = ["server-auth"]
allowed_name_kinds = ["dns", "ip"]
allow_wildcards = true

[[profile]]
name = "tls-client"
description = "TLS client certificates, 30 days"
issuer = "issuing"
max_validity_secs = 2592000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "ed25519"]
key_usage = ["digital-signature"]
extended_key_usage = ["client-auth"]
allowed_name_kinds = ["dns", "email", "uri"]
# Client certificates are issued by control only (peer `dev` is every daemon in development
# mode), so a compromised front cannot mint them; a login still needs control's binding.
allowed_peers = ["control", "dev"]
"#;

fn signer_config(
    l: &Layout,
    module: &Path,
    token: &devtoken::DevToken,
    allow_root: bool,
) -> String {
    format!(
        "# strongroom-signer configuration written by `strongroom up` (development mode).\n\
         # See docs/signer.example.toml for every setting.\n\
         socket = {socket:?}\nsocket_mode = \"0600\"\nstate_dir = {state:?}\n\
         # dev_mode: the user running `strongroom up` may call every signer operation.\n\
         dev_mode = true\nallow_root = {allow_root}\ncrl_validity_secs = 86400\n\n\
         [hsm]\nmodule = {module:?}\ntoken_label = {label:?}\npin_file = {pin:?}\nsessions = 2\n\n\
         # Landlock: the SoftHSM2 configuration (read) and token store (read-write).\n\
         [sandbox]\nread_only = [{conf:?}]\nread_write = [{tokens:?}]\n",
        socket = l.socket(),
        state = l.dir.join("signer"),
        label = devtoken::LABEL,
        pin = token.pin_file,
        conf = token.conf,
        tokens = l.dir.join("hsm/tokens"),
    )
}

/// The control daemon's configuration (rewritten at every start: it only holds paths).
fn control_config(
    l: &Layout,
    listen: std::net::SocketAddr,
    tls_key: TlsKey,
    allow_root: bool,
) -> String {
    format!(
        "# strongroom-control configuration written by `strongroom up` (development mode).\n\
         listen = \"{listen}\"\ndatabase_url = \"sqlite://{db}?mode=rwc\"\nsigner_socket = {socket:?}\nallow_root = {allow_root}\n\n\
         # The listener key: in the token (hsm; the signer signs each handshake) or made in\n\
         # memory at every start (memory); the signer certifies it at every start.\n\
         [tls]\nkey = \"{tls_key}\"\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\", \"dns:localhost\"]\nclient_auth_cas = [\"issuing\"]\n\n\
         # First start only: the admin password, the sealed break-glass envelope, the profiles.\n\
         [bootstrap]\nadmin_password_file = {admin:?}\nbreak_glass_file = {glass:?}\npolicy_file = {policy:?}\n\n\
         # Every 5 minutes, when the audit chain grew, the signer signs its head.\n\
         [audit]\ncheckpoint_ca = \"issuing\"\n",
        db = l.dir.join("control/control.db").display(),
        socket = l.socket(),
        admin = l.admin_password(),
        glass = l.dir.join("control/break-glass.txt"),
        policy = l.config("policy.toml"),
        tls_key = tls_key.as_str(),
    )
}

/// The front's configuration (rewritten at every start).
fn front_config(l: &Layout, args: &UpArgs, allow_root: bool) -> String {
    let resolver = args
        .acme_resolver
        .map(|r| format!("resolver = \"{r}\"\n"))
        .unwrap_or_default();
    let caa = if args.acme_caa_identities.is_empty() {
        String::new()
    } else {
        format!("caa_identities = {:?}\n", args.acme_caa_identities)
    };
    format!(
        "# strongroom-front configuration written by `strongroom up` (development mode).\n\
         listen_http = \"{listen}\"\nlisten_https = \"{https}\"\ndatabase_url = \"sqlite://{db}?mode=rwc\"\nsigner_socket = {socket:?}\nallow_root = {allow_root}\n\n\
         [tls]\nkey = \"{tls_key}\"\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\", \"dns:localhost\"]\n\n\
         # ACME at https://{https}/acme/directory. Development mode lets validation reach\n\
         # loopback (a production front refuses private and loopback addresses by default).\n\
         [acme]\nbase_url = \"https://{https}\"\ndefault_profile = \"tls-server\"\n\n\
         [[acme.profile]]\nname = \"tls-server\"\n\n\
         # Client certificates only for accounts bound with `strongroom acme eab create`.\n\
         [[acme.profile]]\nname = \"tls-client\"\nexternal_account_required = true\n\n\
         [acme.validation]\nhttp01_port = {http01}\ntls_alpn01_port = {alpn}\n{resolver}{caa}\
         allowed_networks = [\"127.0.0.0/8\", \"::1/128\"]\n",
        listen = args.front_listen,
        https = args.front_https_listen,
        db = l.dir.join("control/control.db").display(),
        socket = l.socket(),
        http01 = args.acme_http01_port,
        alpn = args.acme_tls_alpn01_port,
        tls_key = args.tls_key.as_str(),
    )
}

/// A random password in a 0400 file (first run only).
fn write_admin_password(path: &Path) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut raw = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(password.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Waits until a daemon accepts TCP connections (control has then issued its certificate).
fn wait_for_listener(
    name: &str,
    listen: std::net::SocketAddr,
    child: &mut Child,
    log: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{name} exited with {status}; see {}",
                log.display()
            ));
        }
        if std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not listen on {listen} within 60 s; see {}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mkdir(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The daemon binaries live next to `strongroom` (cargo, packages) or on PATH.
fn daemon_binary(name: &str) -> Result<PathBuf, String> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)));
    sibling
        .filter(|p| p.is_file())
        .or_else(|| devtoken::which(name))
        .ok_or_else(|| format!("{name} not found next to strongroom or on PATH (build it with `cargo build --workspace`)"))
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn first_run(l: &Layout, module: &Path, signer_bin: &Path) -> Result<(), String> {
    say!("first run: creating {}", l.dir.display());
    for (sub, mode) in [
        ("config", 0o755),
        ("run", 0o700),
        ("logs", 0o700),
        ("ca", 0o755),
    ] {
        mkdir(&l.dir.join(sub), mode)?;
    }
    let token = devtoken::create(&l.dir)?;
    say!(
        "  SoftHSM2 token '{}' in {} (PIN in {}, mode 0400)",
        devtoken::LABEL,
        l.dir.join("hsm").display(),
        token.pin_file.display()
    );
    let allow_root = euid() == 0;
    if allow_root {
        say!("  note: running as root; the development signer is allowed to (production refuses)");
    }
    let write = |name: &str, text: &str| {
        std::fs::write(l.config(name), text)
            .map_err(|e| format!("{}: {e}", l.config(name).display()))
    };
    write("signer.toml", &signer_config(l, module, &token, allow_root))?;
    write("root.ceremony.toml", ROOT_CEREMONY)?;
    write("issuing.ceremony.toml", ISSUING_CEREMONY)?;
    write("policy.toml", DEFAULT_POLICY)?;
    for ceremony in ["root", "issuing"] {
        let out = Command::new(signer_bin)
            .env("SOFTHSM2_CONF", &token.conf)
            .args(["ceremony", "--config"])
            .arg(l.config("signer.toml"))
            .arg("--file")
            .arg(l.config(&format!("{ceremony}.ceremony.toml")))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", signer_bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{ceremony} ceremony failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::fs::write(
            l.dir
                .join("logs")
                .join(format!("{ceremony}.transcript.txt")),
            &out.stdout,
        )
        .map_err(|e| e.to_string())?;
        say!("  {ceremony} CA created in the token (transcript: logs/{ceremony}.transcript.txt)");
    }
    Ok(())
}

fn spawn(
    bin: &Path,
    args: &[&str],
    config: &Path,
    log: &Path,
    softhsm_conf: &Path,
) -> Result<Child, String> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut command = Command::new(bin);
    command
        .args(args)
        .arg(config)
        .env("SOFTHSM2_CONF", softhsm_conf)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        // Own process group: Ctrl-C reaches `up`, which then stops the daemons in order.
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (sigemptyset, pthread_sigmask) on a local sigset. `up` blocks SIGINT,
    // SIGTERM and SIGCHLD to sigwait for them; the daemon must start with them unblocked.
    unsafe {
        command.pre_exec(|| {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))
}

fn wait_for_signer(socket: &Path, child: &mut Child, log: &Path) -> Result<SignerClient, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(format!(
                "strongroom-signer exited ({status}); last log lines:\n{last}"
            ));
        }
        if let Ok(mut c) = SignerClient::connect(socket) {
            if c.call(&Request::Health).is_ok() {
                return Ok(c);
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "strongroom-signer did not answer on {} within 30 s; see {}",
                socket.display(),
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it; pthread_sigmask
    // only changes this thread's mask (called before any other thread exists). Children
    // start with an empty mask: std's spawn resets it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGCHLD] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` is an initialised sigset and `sig` a valid out-pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn stop(children: &mut [(&str, Child)]) {
    for (name, child) in children.iter_mut().rev() {
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill on the pid of a child we own and have not reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
            say!("stopped {name}");
        }
    }
}

/// Refuses a listener outside loopback. `up` is development mode through and through (the
/// signer's dev_mode, an admin password in a file, ACME validation allowed to reach
/// loopback), so none of it may face a network.
fn require_loopback(args: &UpArgs) -> Result<(), String> {
    for (flag, addr) in [
        ("--control-listen", args.control_listen),
        ("--front-listen", args.front_listen),
        ("--front-https-listen", args.front_https_listen),
    ] {
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{flag} {addr}: `strongroom up` is development mode and listens on loopback only \
                 (127.0.0.0/8 or ::1); a reachable appliance is the systemd units in systemd/"
            ));
        }
    }
    Ok(())
}

/// Runs `strongroom up`.
pub fn run(args: UpArgs) -> Result<(), String> {
    require_loopback(&args)?;
    let signals = block_signals();
    let l = Layout {
        dir: args.data_dir.clone(),
    };
    let signer_bin = daemon_binary("strongroom-signer")?;
    if !args.pkcs11_module.is_file() {
        return Err(format!(
            "PKCS#11 module {} not found: install softhsm2 (Debian: apt-get install softhsm2) or pass --pkcs11-module",
            args.pkcs11_module.display()
        ));
    }
    let fresh = !l.config("signer.toml").exists();
    if fresh {
        mkdir(&l.dir, 0o700)?;
        first_run(&l, &args.pkcs11_module, &signer_bin)?;
    } else {
        say!("reusing {}", l.dir.display());
    }
    let token = devtoken::paths(&l.dir);
    let mut signer = spawn(
        &signer_bin,
        &["run", "--config"],
        &l.config("signer.toml"),
        &l.log("signer"),
        &token.conf,
    )?;
    let mut client = match wait_for_signer(&l.socket(), &mut signer, &l.log("signer")) {
        Ok(c) => c,
        Err(e) => {
            stop(&mut [("strongroom-signer", signer)]);
            return Err(e);
        }
    };
    let health = match client.call(&Request::Health) {
        Ok(Response::Health(h)) => h,
        other => return Err(format!("unexpected health answer: {other:?}")),
    };
    if health.policy_version == 0 {
        let policy = read_policy(&l.config("policy.toml"))?;
        client
            .call(&Request::PutPolicy { policy })
            .map_err(|e| format!("pushing the default policy: {e}"))?;
    }
    for (name, ca) in [
        ("root", "root"),
        ("issuing", "issuing"),
        ("chain", "issuing"),
    ] {
        if let Ok(Response::CaChain(chain)) = client.call(&Request::GetCaChain {
            ca: ca.parse().map_err(|e| format!("{e}"))?,
        }) {
            let certs: Vec<&Vec<u8>> = if name == "chain" {
                chain.iter().collect()
            } else {
                chain.iter().take(1).collect()
            };
            let text: String = certs
                .iter()
                .map(|d| crate::pem::encode("CERTIFICATE", d))
                .collect();
            std::fs::write(l.ca_pem(name), text).map_err(|e| e.to_string())?;
        }
    }
    drop(client);
    let control_bin = daemon_binary("strongroom-control")?;
    mkdir(&l.dir.join("control"), 0o700)?;
    if !l.admin_password().exists() {
        write_admin_password(&l.admin_password())?;
    }
    std::fs::write(
        l.config("control.toml"),
        control_config(&l, args.control_listen, args.tls_key, euid() == 0),
    )
    .map_err(|e| format!("{}: {e}", l.config("control.toml").display()))?;
    let mut control = match spawn(
        &control_bin,
        &["run", "--config"],
        &l.config("control.toml"),
        &l.log("control"),
        &token.conf,
    ) {
        Ok(c) => c,
        Err(e) => {
            stop(&mut [("strongroom-signer", signer)]);
            return Err(e);
        }
    };
    if let Err(e) = wait_for_listener(
        "strongroom-control",
        args.control_listen,
        &mut control,
        &l.log("control"),
    ) {
        stop(&mut [
            ("strongroom-signer", signer),
            ("strongroom-control", control),
        ]);
        return Err(e);
    }
    let front_bin = daemon_binary("strongroom-front")?;
    std::fs::write(l.config("front.toml"), front_config(&l, &args, euid() == 0))
        .map_err(|e| format!("{}: {e}", l.config("front.toml").display()))?;
    let mut front = match spawn(
        &front_bin,
        &["run", "--config"],
        &l.config("front.toml"),
        &l.log("front"),
        &token.conf,
    ) {
        Ok(c) => c,
        Err(e) => {
            stop(&mut [
                ("strongroom-signer", signer),
                ("strongroom-control", control),
            ]);
            return Err(e);
        }
    };
    // Both listeners: the HTTPS one (ACME) is up only once the signer certified its key.
    let front_ready = wait_for_listener(
        "strongroom-front",
        args.front_listen,
        &mut front,
        &l.log("front"),
    )
    .and_then(|()| {
        wait_for_listener(
            "strongroom-front",
            args.front_https_listen,
            &mut front,
            &l.log("front"),
        )
    });
    if let Err(e) = front_ready {
        stop(&mut [
            ("strongroom-signer", signer),
            ("strongroom-control", control),
            ("strongroom-front", front),
        ]);
        return Err(e);
    }
    // Stopped in reverse: front, control, then the signer.
    let mut children = vec![
        ("strongroom-signer", signer),
        ("strongroom-control", control),
        ("strongroom-front", front),
    ];
    say!();
    say!(
        "Strongroom is up ({})",
        if health.hsm_degraded.is_none() {
            "HSM ok"
        } else {
            "HSM DEGRADED"
        }
    );
    say!("  data directory   {}", l.dir.display());
    say!("  signer socket    {}", l.socket().display());
    say!("  root CA          {}", l.ca_pem("root").display());
    say!("  issuing CA       {}", l.ca_pem("issuing").display());
    say!("  chain            {}", l.ca_pem("chain").display());
    say!("  signer log       {}", l.log("signer").display());
    say!(
        "  journal          {}",
        l.dir.join("signer/journal/issuance.log").display()
    );
    say!("  profiles         tls-server, tls-client (config/policy.toml)");
    say!(
        "  control API      https://{}/api/v1 (OpenAPI: /api/v1/openapi.json)",
        args.control_listen
    );
    say!(
        "  admin password   {} (user admin)",
        l.admin_password().display()
    );
    say!("  control log      {}", l.log("control").display());
    say!(
        "  OCSP             http://{}/ocsp (and https://{}/ocsp)",
        args.front_listen,
        args.front_https_listen
    );
    say!(
        "  CRLs             http://{}/crl/issuing.crl, /crl/root.crl",
        args.front_listen
    );
    say!(
        "  ACME directory   https://{}/acme/directory (tls-server; tls-client needs an EAB key)",
        args.front_https_listen
    );
    say!("  front log        {}", l.log("front").display());
    say!();
    say!("Log in and issue through the control API:");
    say!(
        "  strongroom login --url https://{} --ca-file {} --user admin --password-file {}",
        args.control_listen,
        l.ca_pem("root").display(),
        l.admin_password().display()
    );
    say!("  strongroom cert issue --profile tls-server --csr web.csr --out web.pem");
    say!("Or straight at the signer socket:");
    say!("  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key -subj /CN=web.lab.test -out web.csr");
    say!(
        "  strongroom signer --data-dir {} issue --profile tls-server --csr web.csr --out web.pem",
        l.dir.display()
    );
    say!("Press Ctrl-C to stop.");

    loop {
        let sig = wait_signal(&signals);
        if sig == libc::SIGCHLD {
            let died: Vec<&str> = children
                .iter_mut()
                .filter_map(|(n, c)| matches!(c.try_wait(), Ok(Some(_))).then_some(*n))
                .collect();
            if !died.is_empty() {
                let names = died.join(", ");
                stop(&mut children);
                return Err(format!(
                    "{names} exited unexpectedly; see {}",
                    l.dir.join("logs").display()
                ));
            }
            continue;
        }
        say!("stopping…");
        stop(&mut children);
        return Ok(());
    }
}
