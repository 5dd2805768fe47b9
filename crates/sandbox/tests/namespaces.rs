//! Under the seccomp filter the daemons use, no new namespace can be made: `clone` with any
//! namespace flag, `unshare` and `setns` fail with EPERM, `clone3` with ENOSYS (so glibc
//! falls back to `clone`), and threads still start.
//!
//! A test binary of its own without the libtest harness: the filter binds the whole
//! process for good, and the process must be single-threaded until the last probe
//! (`unshare(CLONE_NEWUSER)` refuses a threaded caller with EINVAL, which would hide the
//! filter's answer). Before the filter, every `clone` probe must succeed, so an EPERM
//! afterwards is the filter's and not the kernel's; when not run as root, the probes run in
//! a user namespace of their own, where the process holds the capabilities they need.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::Error;
use strongroom_sandbox::{harden, seccomp};

const NAME: &str = "namespaces_are_refused_and_threads_still_start";

const NAMESPACES: [(&str, libc::c_int); 7] = [
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER),
    ("CLONE_NEWNS", libc::CLONE_NEWNS),
    ("CLONE_NEWNET", libc::CLONE_NEWNET),
    ("CLONE_NEWPID", libc::CLONE_NEWPID),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP),
];

fn errno() -> i32 {
    Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Waits for a child the probe made; it exits at once with 0.
fn reap(pid: libc::c_long) {
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid pointer.
    let got = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    assert_eq!(
        got as libc::c_long,
        pid,
        "waitpid: {}",
        Error::last_os_error()
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
}

/// `clone(flags | SIGCHLD)` as a fork; Err(errno) when refused.
fn clone_probe(flags: libc::c_int) -> Result<(), i32> {
    // SAFETY: clone without CLONE_VM is a fork: the child runs on a copy of this
    // single-threaded process and only calls _exit. Arguments: flags, stack (0: the
    // parent's, copied), parent_tid, child_tid, tls (x86-64 order, unused here).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_long,
            0,
            0,
            0,
            0,
        )
    };
    match pid {
        -1 => Err(errno()),
        // SAFETY: the child leaves at once without running destructors or atexit handlers.
        0 => unsafe { libc::_exit(0) },
        pid => {
            reap(pid);
            Ok(())
        }
    }
}

/// `struct clone_args` up to `tls` (CLONE_ARGS_SIZE_VER0, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// `clone3` as a fork with `flags`; Err(errno) when refused.
fn clone3_probe(flags: libc::c_int) -> Result<(), i32> {
    let args = CloneArgs {
        flags: flags as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: as clone_probe; `args` outlives the call and its size is passed with it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match pid {
        -1 => Err(errno()),
        // SAFETY: as in clone_probe.
        0 => unsafe { libc::_exit(0) },
        pid => {
            reap(pid);
            Ok(())
        }
    }
}

fn main() {
    // Behave enough like a libtest binary for `cargo test FILTER` and `--list`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");

    // SAFETY: getters without preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid != 0 {
        // SAFETY: unshare with a constant flag; this process has one thread.
        let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
        assert_eq!(
            r,
            0,
            "cannot make a user namespace without the sandbox ({}): run as root or enable unprivileged user namespaces, else this test cannot tell the filter's refusal from the kernel's",
            Error::last_os_error()
        );
        // Root inside it, mapped to ourselves outside (a nested user namespace needs the
        // caller's ids mapped).
        std::fs::write("/proc/self/setgroups", "deny").unwrap();
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).unwrap();
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).unwrap();
    }
    for (name, flag) in NAMESPACES {
        assert_eq!(
            clone_probe(flag),
            Ok(()),
            "clone({name}) without the sandbox"
        );
    }
    assert_eq!(
        clone3_probe(libc::CLONE_NEWUSER),
        Ok(()),
        "clone3(CLONE_NEWUSER) without the sandbox (a kernel before 5.3 has no clone3)"
    );
    // A namespace file to try setns with, opened before the filter.
    let uts = std::fs::File::open("/proc/self/ns/uts").unwrap();

    harden(true).unwrap();
    seccomp::apply(seccomp::BASE, false).unwrap();

    for (name, flag) in NAMESPACES {
        assert_eq!(clone_probe(flag), Err(libc::EPERM), "clone({name})");
        // SAFETY: unshare with a constant flag.
        let r = unsafe { libc::unshare(flag) };
        assert_eq!((r, errno()), (-1, libc::EPERM), "unshare({name})");
    }
    assert_eq!(
        clone_probe(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET),
        Err(libc::EPERM),
        "clone with several namespace flags"
    );
    assert_eq!(
        clone3_probe(libc::CLONE_NEWUSER),
        Err(libc::ENOSYS),
        "clone3"
    );
    assert_eq!(clone3_probe(0), Err(libc::ENOSYS), "clone3 without flags");
    // SAFETY: setns on a namespace fd we own.
    let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&uts), 0) };
    assert_eq!((r, errno()), (-1, libc::EPERM), "setns");

    // Threads: glibc's pthread_create meets ENOSYS from clone3 and falls back to clone.
    let answers: Vec<u32> = (0..4)
        .map(|i| std::thread::spawn(move || i * 2))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(answers, vec![0, 2, 4, 6]);

    println!("test {NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}
