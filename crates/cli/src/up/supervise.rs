//! Running the daemons of `strongroom up`: each started by exec in its own process group
//! with its output in a log file, waited for until it answers, and stopped in reverse order
//! — on Ctrl-C or SIGTERM, when one of them exits on its own, or when a later one fails to
//! start.
//!
//! In: the daemon binaries (next to `strongroom` or on PATH), their configuration and log
//! paths, the signals `up` blocked. Out: a [`Daemons`] set, a connected [`SignerClient`],
//! `stopped NAME` lines, and an error naming a daemon that exited or did not answer.

use crate::devtoken::{self, DevToken};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_wire::{Request, SignerClient};

/// One daemon as `up` runs it: `BIN run --config CONFIG`, its output appended to LOG.
#[derive(Debug)]
pub(super) struct Daemon {
    /// `strongroom-signer`, `strongroom-control`, `strongroom-front`.
    pub(super) name: &'static str,
    /// The binary ([`daemon_binary`]).
    pub(super) bin: PathBuf,
    /// Its configuration file.
    pub(super) config: PathBuf,
    /// Its log file.
    pub(super) log: PathBuf,
}

/// The daemons `up` started, in start order; stopped in reverse (front, control, then the
/// signer).
#[derive(Debug)]
pub(super) struct Daemons {
    running: Vec<(&'static str, Child)>,
    /// The token's configuration, in the environment of every daemon (only the signer
    /// opens the token).
    token: DevToken,
}

impl Daemons {
    /// None yet.
    pub(super) fn new(token: DevToken) -> Daemons {
        Daemons {
            running: Vec::new(),
            token,
        }
    }

    /// Starts one and waits until `ready` says it answers; when either fails, stops every
    /// daemon started so far, this one too.
    pub(super) fn start<T>(
        &mut self,
        d: &Daemon,
        ready: impl FnOnce(&mut Child) -> Result<T, String>,
    ) -> Result<T, String> {
        let spawned = spawn(&d.bin, &["run", "--config"], &d.config, &d.log, &self.token);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                stop(&mut self.running);
                return Err(e);
            }
        };
        let answer = ready(&mut child);
        self.running.push((d.name, child));
        if answer.is_err() {
            stop(&mut self.running);
        }
        answer
    }

    /// [`Daemons::start`] for a daemon that is ready once it accepts TCP connections on
    /// each of `listens`, in order.
    pub(super) fn start_listening(
        &mut self,
        d: &Daemon,
        listens: &[std::net::SocketAddr],
    ) -> Result<(), String> {
        self.start(d, |child| {
            listens
                .iter()
                .try_for_each(|listen| wait_for_listener(d.name, *listen, child, &d.log))
        })
    }

    /// Waits for Ctrl-C or SIGTERM, then stops every daemon. A daemon that exits on its own
    /// stops the others too, and `up` fails naming it (its log is in `logs`).
    pub(super) fn supervise(mut self, signals: &libc::sigset_t, logs: &Path) -> Result<(), String> {
        loop {
            let sig = wait_signal(signals);
            if sig == libc::SIGCHLD {
                let died: Vec<&str> = self
                    .running
                    .iter_mut()
                    .filter_map(|(n, c)| matches!(c.try_wait(), Ok(Some(_))).then_some(*n))
                    .collect();
                if !died.is_empty() {
                    let names = died.join(", ");
                    stop(&mut self.running);
                    return Err(format!(
                        "{names} exited unexpectedly; see {}",
                        logs.display()
                    ));
                }
                continue;
            }
            say!("stopping…");
            stop(&mut self.running);
            return Ok(());
        }
    }
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
                "{name} exited with {status}; last lines of {}:\n{}",
                log.display(),
                log_tail(log)
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

/// The daemon binaries live next to `strongroom` (cargo, packages) or on PATH.
pub(super) fn daemon_binary(name: &str) -> Result<PathBuf, String> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)));
    sibling
        .filter(|p| p.is_file())
        .or_else(|| devtoken::which(name))
        .ok_or_else(|| format!("{name} not found next to strongroom or on PATH (build it with `cargo build --workspace`)"))
}

pub(super) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn spawn(
    bin: &Path,
    args: &[&str],
    config: &Path,
    log: &Path,
    token: &DevToken,
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
        .envs(token.env())
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

/// The last lines of a daemon's log: why it exited, said where the user is looking.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

pub(super) fn wait_for_signer(
    socket: &Path,
    child: &mut Child,
    log: &Path,
) -> Result<SignerClient, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "strongroom-signer exited ({status}); last log lines:\n{}",
                log_tail(log)
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

pub(super) fn block_signals() -> libc::sigset_t {
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
