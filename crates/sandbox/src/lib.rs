//! Process hardening shared by the three daemons.
//!
//! In: the daemon's wishes (may it run as root?). Out: a process that cannot dump core
//! (a core file of the signer could hold session state or a PIN), cannot gain privileges
//! through exec (no_new_privs), and refuses to run as root unless told to.
//!
//! Then [`landlock::restrict_paths`] confines the filesystem (and TCP) to what the daemon
//! names, and [`seccomp::apply`] installs the daemon's system-call allow-list. Both must
//! run before the daemon starts any thread: Landlock and seccomp bind the calling thread
//! and its future children, not threads that already exist. systemd units add their own
//! layer on top (systemd/).

pub mod landlock;
pub mod network_daemon;
pub mod seccomp;

use std::fmt;
use std::io;

/// Why hardening failed.
#[derive(Debug)]
pub enum SandboxError {
    /// Running as root without permission to.
    Root,
    /// A system call failed.
    Sys(&'static str, io::Error),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Root => f.write_str(
                "refusing to run as root: start the daemon as its own user (or set allow_root = true for development)",
            ),
            SandboxError::Sys(what, e) => write!(f, "{what} failed: {e}"),
        }
    }
}

impl std::error::Error for SandboxError {}

/// What was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    /// Whether the process runs as root (allowed by configuration).
    pub running_as_root: bool,
}

/// Switches the process to `user` (its uid, its primary gid, no supplementary groups),
/// irreversibly. Only meaningful when running as root; call before [`harden`], Landlock and
/// seccomp (the allow-list does not contain setuid and friends).
pub fn drop_privileges(user: &str) -> Result<(u32, u32), SandboxError> {
    let name = std::ffi::CString::new(user)
        .map_err(|_| SandboxError::Sys("user name", io::Error::other("contains NUL")))?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy the two ids
    // out immediately and no other thread exists yet.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(SandboxError::Sys(
            "getpwnam",
            io::Error::other(format!(
                "no such user {user:?}: create it (systemd-sysusers) or fix `user`"
            )),
        ));
    }
    // SAFETY: pw is non-null and points to a valid passwd record (see above).
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    // SAFETY: plain system calls with integer arguments / a null list of length 0.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(SandboxError::Sys("setgroups", io::Error::last_os_error()));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(SandboxError::Sys("setresgid", io::Error::last_os_error()));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(SandboxError::Sys("setresuid", io::Error::last_os_error()));
        }
        // Prove it cannot be undone (a failure here means saved ids survived).
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(SandboxError::Sys(
                "privilege drop",
                io::Error::other("could regain root after dropping"),
            ));
        }
    }
    Ok((uid, gid))
}

/// Applies the process-wide hardening. Call before spawning threads.
pub fn harden(allow_root: bool) -> Result<Hardening, SandboxError> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && !allow_root {
        return Err(SandboxError::Root);
    }
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an initialised rlimit for the duration of the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) } != 0 {
        return Err(SandboxError::Sys(
            "setrlimit(RLIMIT_CORE, 0)",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(SandboxError::Sys(
            "prctl(PR_SET_DUMPABLE, 0)",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SandboxError::Sys(
            "prctl(PR_SET_NO_NEW_PRIVS, 1)",
            io::Error::last_os_error(),
        ));
    }
    Ok(Hardening {
        running_as_root: root,
    })
}

/// Probes the sandbox from inside (for the daemons' `sandbox-check` commands and their tests):
/// an IPv4 socket, and opening each of `paths` for reading. Returns one line per probe.
pub fn probe(paths: &[std::path::PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: socket() with constant arguments; the fd is closed right away if created.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd >= 0 {
        // SAFETY: closing the fd we just created.
        unsafe { libc::close(fd) };
        out.push("socket(AF_INET): allowed".to_string());
    } else {
        out.push(format!(
            "socket(AF_INET): denied ({})",
            std::io::Error::last_os_error()
        ));
    }
    for p in paths {
        match std::fs::File::open(p) {
            Ok(_) => out.push(format!("open {}: allowed", p.display())),
            Err(e) => out.push(format!("open {}: denied ({e})", p.display())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_sticks() {
        // This test binary runs only this test, so hardening it in place is harmless.
        let h = harden(true).unwrap();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(h.running_as_root, unsafe { libc::geteuid() } == 0);
        // SAFETY: prctl query with integer arguments.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
        let mut lim = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: valid pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut lim) };
        assert_eq!(lim.rlim_cur, 0);
    }
}
