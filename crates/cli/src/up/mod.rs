//! `strongroom up --data-dir DIR`: the whole appliance for one developer.
//!
//! In: a data directory (created on first run). Out: on first run a private SoftHSM2
//! token, a root and an issuing CA made by `strongroom-signer ceremony`, the signer
//! configuration and the default policy; on every run the daemons as child processes
//! (started by exec, never forked after PKCS#11 initialisation), a summary of where
//! everything is, and a clean stop of all of them on Ctrl-C or SIGTERM.
//!
//! One purpose a file: [`configs`] templates the files `up` writes (the three daemons'
//! configurations, the policy, the admin password); [`ceremonies`] makes the token and the
//! CAs on first run and publishes the policy and CA certificates at every start;
//! [`supervise`] starts, waits for and stops the daemons and waits for signals; [`summary`]
//! says where everything is. This file holds the arguments, the data directory's layout
//! and the order of it all.

/// Prints a line; a closed stdout (e.g. a pipe whose reader went away) must not stop `up`
/// from shutting its daemons down, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod ceremonies;
mod configs;
mod summary;
mod supervise;

use crate::devtoken;
use clap::Args;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use strongroom_wire::{Request, Response};
use supervise::{block_signals, daemon_binary, euid, wait_for_signer, Daemon, Daemons};

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
    fn scep_challenge(&self) -> PathBuf {
        self.dir.join("secrets/scep-challenge")
    }
    fn est_user(&self) -> PathBuf {
        self.dir.join("secrets/est-user")
    }
    fn est_password(&self) -> PathBuf {
        self.dir.join("secrets/est-password")
    }
    fn ca_pem(&self, name: &str) -> PathBuf {
        self.dir.join("ca").join(format!("{name}.pem"))
    }
    /// `BINARY` (next to `strongroom` or on PATH) with `DATA/config/NAME.toml` and
    /// `DATA/logs/NAME.log`.
    fn daemon(&self, binary: &'static str, name: &str) -> Result<Daemon, String> {
        Ok(Daemon {
            name: binary,
            bin: daemon_binary(binary)?,
            config: self.config(&format!("{name}.toml")),
            log: self.log(name),
        })
    }
    /// Writes `DATA/config/NAME`.
    fn write_config(&self, name: &str, text: &str) -> Result<(), String> {
        std::fs::write(self.config(name), text)
            .map_err(|e| format!("{}: {e}", self.config(name).display()))
    }
}

fn mkdir(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
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
    let signer = l.daemon("strongroom-signer", "signer")?;
    if !args.pkcs11_module.is_file() {
        return Err(format!(
            "PKCS#11 module {} not found: install softhsm2 (Debian: apt-get install softhsm2) or pass --pkcs11-module",
            args.pkcs11_module.display()
        ));
    }
    let fresh = !l.config("signer.toml").exists();
    if fresh {
        mkdir(&l.dir, 0o700)?;
        ceremonies::first_run(&l, &args.pkcs11_module, &signer.bin)?;
    } else {
        say!("reusing {}", l.dir.display());
    }
    let mut daemons = Daemons::new(devtoken::paths(&l.dir));
    let mut client = daemons.start(&signer, |child| {
        wait_for_signer(&l.socket(), child, &signer.log)
    })?;
    let health = match client.call(&Request::Health) {
        Ok(Response::Health(h)) => h,
        other => return Err(format!("unexpected health answer: {other:?}")),
    };
    if health.policy_version == 0 {
        ceremonies::push_default_policy(&mut client, &l)?;
    }
    ceremonies::write_ca_files(&mut client, &l)?;
    drop(client);
    let control = l.daemon("strongroom-control", "control")?;
    mkdir(&l.dir.join("control"), 0o700)?;
    for secret in [l.admin_password(), l.scep_challenge(), l.est_password()] {
        if !secret.exists() {
            configs::write_random_secret(&secret)?;
        }
    }
    if !l.est_user().exists() {
        std::fs::write(l.est_user(), "est-device\n")
            .map_err(|e| format!("{}: {e}", l.est_user().display()))?;
    }
    l.write_config(
        "control.toml",
        &configs::control_config(&l, args.control_listen, args.tls_key, euid() == 0),
    )?;
    daemons.start_listening(&control, &[args.control_listen])?;
    let front = l.daemon("strongroom-front", "front")?;
    l.write_config("front.toml", &configs::front_config(&l, &args, euid() == 0))?;
    // Both listeners: the HTTPS one (ACME) is up only once the signer certified its key.
    daemons.start_listening(&front, &[args.front_listen, args.front_https_listen])?;
    summary::print(&l, &args, &health);
    daemons.supervise(&signals, &l.dir.join("logs"))
}
