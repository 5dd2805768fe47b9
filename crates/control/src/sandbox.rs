//! Control's sandbox, applied before the async runtime starts any thread.
//!
//! In: the configuration. Out: a process that dropped root (when started as root), cannot
//! dump core or gain privileges, can open only system files, its configuration directory,
//! its SQLite directory, the signer socket's directory and configured paths (Landlock), and
//! can make only the system calls on its allow-list (seccomp: the signer's base list plus
//! what an async network server needs; IP sockets allowed — control listens and may reach
//! PostgreSQL). The HSM token, the PIN and the signer's state are out of reach.

use crate::config::Config;
use std::path::{Path, PathBuf};
use strongroom_sandbox::landlock::{restrict_paths, Enforcement, PathPolicy};
use strongroom_sandbox::seccomp;

/// System files control reads after start: libraries, name resolution (a PostgreSQL host
/// name), time zone, CPU count. Not the rest of `/etc`: the signer's PIN credential and other
/// daemons' configuration may live there.
const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/localtime",
    "/etc/ssl",
    "/dev/null",
    "/dev/urandom",
    "/sys/devices/system/cpu",
    "/proc/self",
];

/// System calls control needs beyond [`seccomp::BASE`] (tokio's eventfd waker, newer
/// epoll and vectored I/O, SQLite's file preallocation and ownership fix-up as root).
const EXTRA_SYSCALLS: &[(&str, i64)] = &[
    ("eventfd2", libc::SYS_eventfd2),
    ("epoll_pwait2", libc::SYS_epoll_pwait2),
    ("preadv", libc::SYS_preadv),
    ("pwritev", libc::SYS_pwritev),
    ("fallocate", libc::SYS_fallocate),
    ("fchown", libc::SYS_fchown),
    ("sendmmsg", libc::SYS_sendmmsg),
    ("recvmmsg", libc::SYS_recvmmsg),
];

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The Landlock policy for this configuration.
pub fn path_policy(config_path: &Path, config: &Config) -> PathPolicy {
    // The configuration file itself was read before the sandbox; only the files named in it
    // are reachable afterwards, never their whole directories.
    let _ = config_path;
    let mut read_only: Vec<PathBuf> = SYSTEM_READ_ONLY
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    read_only.extend(config.sandbox.read_only.iter().cloned());
    read_only.extend(config.bootstrap.admin_password_file.iter().cloned());
    read_only.extend(config.bootstrap.policy_file.iter().cloned());
    let mut read_write = vec![parent(&config.signer_socket)];
    // The break-glass envelope is created once, in its directory: keep it in a directory of
    // its own (control's state directory), not next to other secrets.
    if let Some(f) = &config.bootstrap.break_glass_file {
        if !f.exists() {
            read_write.push(parent(f));
        }
    }
    if let Ok(url) = config.database_url() {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            read_write.push(parent(Path::new(path)));
        }
    }
    read_write.extend(config.sandbox.read_write.iter().cloned());
    PathPolicy {
        read_only,
        read_write,
        allow_tcp: true,
    }
}

/// Drops privileges, hardens, and applies Landlock then seccomp as configured; logs loudly
/// when the kernel cannot enforce everything.
pub fn apply(config_path: &Path, config: &Config) -> Result<(), String> {
    if let Some(user) = &config.user {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            strongroom_sandbox::drop_privileges(user).map_err(|e| e.to_string())?;
        }
    }
    strongroom_sandbox::harden(config.allow_root).map_err(|e| e.to_string())?;
    if config.sandbox.landlock {
        match restrict_paths(&path_policy(config_path, config)).map_err(|e| e.to_string())? {
            Enforcement::Full => tracing::info!("landlock: fully enforced"),
            Enforcement::Partial => {
                tracing::warn!("landlock: PARTIALLY enforced (older kernel ABI)")
            }
            Enforcement::None => {
                tracing::error!("landlock: NOT enforced (kernel without Landlock)")
            }
        }
    } else {
        tracing::warn!("landlock disabled by configuration");
    }
    if config.sandbox.seccomp {
        let allowed: Vec<(&str, i64)> = seccomp::BASE
            .iter()
            .chain(EXTRA_SYSCALLS)
            .copied()
            .collect();
        seccomp::apply(&allowed, true).map_err(|e| e.to_string())?;
        tracing::info!("seccomp: allow-list installed");
    } else {
        tracing::warn!("seccomp disabled by configuration");
    }
    Ok(())
}
