//! The signer's sandbox: which paths it may reach and which system calls it may make.
//!
//! In: the validated configuration. Out: a process confined by Landlock (system
//! libraries, the PKCS#11 module, the PIN file and configured files read-only; the state
//! directory, the socket directory and configured token directories read-write; no TCP at
//! all) and by a seccomp allow-list in which `socket()` accepts only `AF_UNIX` (plus
//! `fchownat` when `socket_group` is set). Called before any thread starts.

use crate::config::SignerConfig;
use std::path::{Path, PathBuf};
use strongroom_sandbox::landlock::{restrict_paths, Enforcement, PathPolicy};
use strongroom_sandbox::seccomp;

/// System directories a dynamically linked signer and its PKCS#11 module read.
const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc",
    "/dev/null",
    "/dev/urandom",
    "/sys/devices/system/cpu",
];

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The Landlock policy for this configuration.
pub fn path_policy(config: &SignerConfig) -> PathPolicy {
    let mut read_only: Vec<PathBuf> = SYSTEM_READ_ONLY.iter().map(PathBuf::from).collect();
    read_only.push(config.hsm.module.clone());
    // The PIN is read again when a degraded start reconnects.
    read_only.push(config.hsm.pin_file.clone());
    read_only.extend(config.sandbox.read_only.iter().cloned());
    let mut read_write = vec![config.state_dir.clone(), parent(&config.socket)];
    read_write.extend(config.sandbox.read_write.iter().cloned());
    PathPolicy {
        read_only,
        read_write,
        allow_tcp: false,
    }
}

/// The seccomp allow-list: the base list, plus `fchownat` when the socket is to be
/// given to `socket_group` after bind (without CAP_CHOWN the kernel allows that call only
/// on the signer's own files and towards its own groups).
pub fn syscalls(config: &SignerConfig) -> Vec<(&'static str, i64)> {
    let mut list = seccomp::BASE.to_vec();
    if config.socket_group.is_some() {
        list.push(("fchownat", libc::SYS_fchownat));
    }
    list
}

/// Applies Landlock then seccomp, as configured. Logs loudly when the kernel cannot
/// enforce everything.
pub fn apply(config: &SignerConfig) -> Result<(), crate::Error> {
    if config.sandbox.landlock {
        match restrict_paths(&path_policy(config))? {
            Enforcement::Full => tracing::info!("landlock: fully enforced"),
            Enforcement::Partial => tracing::warn!("landlock: PARTIALLY enforced (older kernel ABI); some paths or TCP remain reachable"),
            Enforcement::None => tracing::error!("landlock: NOT enforced (kernel without Landlock); the filesystem is not confined"),
        }
    } else {
        tracing::warn!("landlock disabled by configuration");
    }
    if config.sandbox.seccomp {
        seccomp::apply(&syscalls(config), false)?;
        tracing::info!("seccomp: allow-list installed; socket() limited to AF_UNIX");
    } else {
        tracing::warn!("seccomp disabled by configuration");
    }
    Ok(())
}
