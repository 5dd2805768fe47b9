//! seccomp: the system calls a daemon may make.
//!
//! In: a daemon's allow-list (syscall names) and whether it may create IP sockets. Out: a
//! BPF filter installed on every thread of the process (TSYNC). A call outside the list
//! fails with EPERM instead of killing the process, so an unforeseen path in a PKCS#11
//! module surfaces as an error in the log rather than a crash that loses a request; a call
//! that must never happen (`socket(AF_INET*)` in the signer) fails the same way.
//!
//! Namespaces: a new user namespace hands the caller every capability inside it and with
//! them kernel code (mount, netfilter, …) that an unprivileged process cannot otherwise
//! reach. So, whatever a daemon's list says, `unshare` and `setns` fail with EPERM and
//! `clone` is allowed only when its flags hold none of `CLONE_NEWUSER`, `CLONE_NEWNS`,
//! `CLONE_NEWNET`, `CLONE_NEWPID`, `CLONE_NEWIPC`, `CLONE_NEWUTS`, `CLONE_NEWCGROUP`
//! (EPERM otherwise). `clone3` passes its flags in a struct in memory, which seccomp
//! cannot read, so it fails with ENOSYS, as on a kernel without it: glibc (2.34 and later,
//! for `pthread_create`, `posix_spawn` and `fork`) then falls back to `clone`, whose flags
//! the filter checks. A filter of its own does that, because one seccompiler filter has
//! one error action. It is installed first (the allow-list has no `seccomp`, so nothing
//! can follow it), and the allow-list then lets `clone3` through: the kernel applies the
//! stricter answer of the two filters, ENOSYS.
//!
//! Architecture: x86-64 only. [`BASE`] lists x86-64 calls, several of which (`access`,
//! `rename`, `poll`, `arch_prctl`, …) have no aarch64 number, so this crate does not build
//! for aarch64 today, and the filter checks for `AUDIT_ARCH_X86_64` (a call through another
//! ABI, e.g. 32-bit `int 0x80`, kills the process). An aarch64 port needs its own list
//! and `TargetArch::aarch64`; the `clone` rule carries over as it is: the flags are the
//! first argument on both (aarch64 selects `CLONE_BACKWARDS`, which swaps `tls` and
//! `child_tidptr`, not the flags; only s390's `CLONE_BACKWARDS2` moves them to the
//! second argument).

use crate::SandboxError;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// System calls every Strongroom daemon needs (Rust std, glibc, threads, files, Unix
/// sockets, dlopen of a PKCS#11 module), by name and x86-64 number. Gathered with
/// `strace -f -c` over the tests and the benchmark; see docs/security.md.
pub const BASE: &[(&str, i64)] = &[
    ("read", libc::SYS_read),
    ("write", libc::SYS_write),
    ("readv", libc::SYS_readv),
    ("writev", libc::SYS_writev),
    ("pread64", libc::SYS_pread64),
    ("pwrite64", libc::SYS_pwrite64),
    ("close", libc::SYS_close),
    ("fstat", libc::SYS_fstat),
    ("newfstatat", libc::SYS_newfstatat),
    ("statx", libc::SYS_statx),
    ("lseek", libc::SYS_lseek),
    ("mmap", libc::SYS_mmap),
    ("munmap", libc::SYS_munmap),
    ("mprotect", libc::SYS_mprotect),
    ("mremap", libc::SYS_mremap),
    ("madvise", libc::SYS_madvise),
    ("brk", libc::SYS_brk),
    ("rt_sigaction", libc::SYS_rt_sigaction),
    ("rt_sigprocmask", libc::SYS_rt_sigprocmask),
    ("rt_sigreturn", libc::SYS_rt_sigreturn),
    ("sigaltstack", libc::SYS_sigaltstack),
    ("ioctl", libc::SYS_ioctl),
    ("access", libc::SYS_access),
    ("faccessat", libc::SYS_faccessat),
    ("faccessat2", libc::SYS_faccessat2),
    ("openat", libc::SYS_openat),
    ("getdents64", libc::SYS_getdents64),
    ("fcntl", libc::SYS_fcntl),
    ("flock", libc::SYS_flock),
    ("fsync", libc::SYS_fsync),
    ("fdatasync", libc::SYS_fdatasync),
    ("ftruncate", libc::SYS_ftruncate),
    ("rename", libc::SYS_rename),
    ("renameat", libc::SYS_renameat),
    ("renameat2", libc::SYS_renameat2),
    ("unlink", libc::SYS_unlink),
    ("unlinkat", libc::SYS_unlinkat),
    ("mkdir", libc::SYS_mkdir),
    ("mkdirat", libc::SYS_mkdirat),
    ("readlink", libc::SYS_readlink),
    ("readlinkat", libc::SYS_readlinkat),
    ("getcwd", libc::SYS_getcwd),
    ("chmod", libc::SYS_chmod),
    ("fchmod", libc::SYS_fchmod),
    ("fchmodat", libc::SYS_fchmodat),
    ("umask", libc::SYS_umask),
    ("getpid", libc::SYS_getpid),
    ("gettid", libc::SYS_gettid),
    ("getuid", libc::SYS_getuid),
    ("geteuid", libc::SYS_geteuid),
    ("getgid", libc::SYS_getgid),
    ("getegid", libc::SYS_getegid),
    ("getrandom", libc::SYS_getrandom),
    ("clock_gettime", libc::SYS_clock_gettime),
    ("clock_nanosleep", libc::SYS_clock_nanosleep),
    ("nanosleep", libc::SYS_nanosleep),
    ("futex", libc::SYS_futex),
    ("set_robust_list", libc::SYS_set_robust_list),
    ("get_robust_list", libc::SYS_get_robust_list),
    ("rseq", libc::SYS_rseq),
    ("exit", libc::SYS_exit),
    ("exit_group", libc::SYS_exit_group),
    ("sched_getaffinity", libc::SYS_sched_getaffinity),
    ("sched_yield", libc::SYS_sched_yield),
    ("prlimit64", libc::SYS_prlimit64),
    ("getrlimit", libc::SYS_getrlimit),
    ("setrlimit", libc::SYS_setrlimit),
    ("prctl", libc::SYS_prctl),
    ("uname", libc::SYS_uname),
    ("sysinfo", libc::SYS_sysinfo),
    ("poll", libc::SYS_poll),
    ("ppoll", libc::SYS_ppoll),
    ("epoll_create1", libc::SYS_epoll_create1),
    ("epoll_ctl", libc::SYS_epoll_ctl),
    ("epoll_wait", libc::SYS_epoll_wait),
    ("epoll_pwait", libc::SYS_epoll_pwait),
    ("accept", libc::SYS_accept),
    ("accept4", libc::SYS_accept4),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("connect", libc::SYS_connect),
    ("getsockopt", libc::SYS_getsockopt),
    ("setsockopt", libc::SYS_setsockopt),
    ("getsockname", libc::SYS_getsockname),
    ("getpeername", libc::SYS_getpeername),
    ("sendto", libc::SYS_sendto),
    ("recvfrom", libc::SYS_recvfrom),
    ("sendmsg", libc::SYS_sendmsg),
    ("recvmsg", libc::SYS_recvmsg),
    ("shutdown", libc::SYS_shutdown),
    ("socketpair", libc::SYS_socketpair),
    ("set_tid_address", libc::SYS_set_tid_address),
    ("arch_prctl", libc::SYS_arch_prctl),
    ("tgkill", libc::SYS_tgkill),
    ("kill", libc::SYS_kill),
    ("membarrier", libc::SYS_membarrier),
    ("pipe2", libc::SYS_pipe2),
    ("dup", libc::SYS_dup),
    ("dup2", libc::SYS_dup2),
    ("dup3", libc::SYS_dup3),
    ("fstatfs", libc::SYS_fstatfs),
    ("statfs", libc::SYS_statfs),
    ("utimensat", libc::SYS_utimensat),
    ("getresuid", libc::SYS_getresuid),
    ("getresgid", libc::SYS_getresgid),
    ("wait4", libc::SYS_wait4),
];

/// The `clone` flags that make a new namespace (the seven that `clone` accepts;
/// `CLONE_NEWTIME` exists only for `clone3` and `unshare`, which are refused whole).
pub const NAMESPACE_FLAGS: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

/// Installs, on all threads of the process, a filter that answers `clone3` with ENOSYS and
/// then one allowing `allowed` (plus `socket` for `AF_UNIX`, and for IP families when
/// `allow_ip` is set, and `clone` without namespace flags); see the module header.
pub fn apply(allowed: &[(&str, i64)], allow_ip: bool) -> Result<(), SandboxError> {
    let err = |what: &'static str| {
        move |e: seccompiler::BackendError| {
            SandboxError::Sys(what, std::io::Error::other(e.to_string()))
        }
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in allowed {
        rules.insert(*nr, vec![]);
    }
    // Security: no new namespaces, whatever the list says (module header).
    for nr in [libc::SYS_unshare, libc::SYS_setns] {
        rules.remove(&nr);
    }
    // Passed here only so that this filter's answer (allow) is weaker than the clone3
    // filter's ENOSYS, which therefore wins; refused here, the later filter's EPERM would.
    rules.insert(libc::SYS_clone3, vec![]);
    let no_namespace = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(NAMESPACE_FLAGS as u64),
        0,
    )
    .and_then(|c| SeccompRule::new(vec![c]))
    .map_err(err("seccomp rule"))?;
    rules.insert(libc::SYS_clone, vec![no_namespace]);
    let mut families = vec![libc::AF_UNIX];
    if allow_ip {
        families.extend([libc::AF_INET, libc::AF_INET6]);
    }
    let socket_rules = families
        .into_iter()
        .map(|family| {
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, family as u64)
                .and_then(|c| SeccompRule::new(vec![c]))
                .map_err(err("seccomp rule"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_socket, socket_rules);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(err("seccomp filter"))?;
    let program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| {
        SandboxError::Sys("seccomp compile", std::io::Error::other(e.to_string()))
    })?;
    // clone3 → ENOSYS, everything else left to the allow-list. Installed first: the
    // allow-list does not contain `seccomp`, so nothing can be installed after it.
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, vec![])]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .map_err(err("seccomp filter"))?;
    let clone3: BpfProgram = clone3.try_into().map_err(|e: seccompiler::BackendError| {
        SandboxError::Sys("seccomp compile", std::io::Error::other(e.to_string()))
    })?;
    for program in [&clone3, &program] {
        seccompiler::apply_filter_all_threads(program).map_err(|e| {
            SandboxError::Sys("seccomp install", std::io::Error::other(e.to_string()))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_is_filtered_by_family_not_listed() {
        assert!(BASE.iter().all(|(n, _)| *n != "socket" && *n != "ptrace"));
        // apply() adds clone with its flag check itself; the rest are never allowed.
        for never in ["clone", "clone3", "unshare", "setns", "fork", "vfork"] {
            assert!(BASE.iter().all(|(n, _)| *n != never), "{never} in BASE");
        }
        let mut numbers: Vec<i64> = BASE.iter().map(|(_, nr)| *nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), BASE.len(), "a system call is listed twice");
    }
}
