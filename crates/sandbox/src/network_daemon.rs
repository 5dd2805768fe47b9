//! The confinement shared by the two network daemons (control and front): privilege drop,
//! hardening, Landlock over a path list, and a seccomp allow-list that admits IP sockets.
//!
//! In: the daemon's user, root permission, the paths it needs and whether each layer is on.
//! Out: a confined process, with one log line per layer saying how far it is enforced.
//! Called before the async runtime starts any thread.

use crate::landlock::{restrict_paths, Enforcement, PathPolicy};
use crate::seccomp;
use std::path::{Path, PathBuf};

/// System files a network daemon reads after start: libraries, name resolution (a
/// PostgreSQL host name), time zone, CPU count. Not the rest of `/etc`: the signer's PIN
/// credential and other daemons' configuration may live there.
pub const SYSTEM_READ_ONLY: &[&str] = &[
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
    // The boot id: the store empties SQLite's nonce table after a reboot (store/nonces.rs).
    "/proc/sys/kernel/random/boot_id",
];

/// System calls an async network server needs beyond [`seccomp::BASE`] (tokio's eventfd
/// waker, newer epoll and vectored I/O, SQLite's preallocation and ownership fix-up).
pub const EXTRA_SYSCALLS: &[(&str, i64)] = &[
    ("eventfd2", libc::SYS_eventfd2),
    ("epoll_pwait2", libc::SYS_epoll_pwait2),
    ("preadv", libc::SYS_preadv),
    ("pwritev", libc::SYS_pwritev),
    ("fallocate", libc::SYS_fallocate),
    ("fchown", libc::SYS_fchown),
    ("sendmmsg", libc::SYS_sendmmsg),
    ("recvmmsg", libc::SYS_recvmmsg),
];

/// The `[sandbox]` table of a network daemon's configuration: both layers on by default,
/// plus extra paths.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Landlock.
    #[serde(default = "on")]
    pub landlock: bool,
    /// seccomp.
    #[serde(default = "on")]
    pub seccomp: bool,
    /// Extra read-only paths.
    #[serde(default)]
    pub read_only: Vec<PathBuf>,
    /// Extra read-write paths.
    #[serde(default)]
    pub read_write: Vec<PathBuf>,
}

fn on() -> bool {
    true
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            landlock: true,
            seccomp: true,
            read_only: Vec::new(),
            read_write: Vec::new(),
        }
    }
}

/// What a network daemon asks for.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Drop to this user when started as root.
    pub user: Option<String>,
    /// Allow running as root.
    pub allow_root: bool,
    /// Apply Landlock.
    pub landlock: bool,
    /// Apply seccomp.
    pub seccomp: bool,
    /// Read-only paths beyond [`SYSTEM_READ_ONLY`].
    pub read_only: Vec<PathBuf>,
    /// Read-write paths.
    pub read_write: Vec<PathBuf>,
}

/// The parent directory of a path (`.` for a bare name).
pub fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The directory of a `sqlite:` database URL, if it is one (SQLite writes its journal
/// and WAL files next to the database).
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    Some(parent(Path::new(path)))
}

impl Confinement {
    /// The Landlock policy.
    pub fn path_policy(&self) -> PathPolicy {
        let mut read_only: Vec<PathBuf> = SYSTEM_READ_ONLY
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        read_only.extend(self.read_only.iter().cloned());
        PathPolicy {
            read_only,
            read_write: self.read_write.clone(),
            allow_tcp: true,
        }
    }

    /// Applies every layer, in order.
    pub fn apply(&self) -> Result<(), String> {
        if let Some(user) = &self.user {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                crate::drop_privileges(user).map_err(|e| e.to_string())?;
            }
        }
        crate::harden(self.allow_root).map_err(|e| e.to_string())?;
        if self.landlock {
            match restrict_paths(&self.path_policy()).map_err(|e| e.to_string())? {
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
        if self.seccomp {
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
}
