//! Who is calling: kernel peer credentials and the per-operation allow-list.
//!
//! In: a connected Unix stream. Out: the peer's uid/gid/pid as the kernel reports them
//! (SO_PEERCRED, not anything the peer says), and a yes/no per operation. Check the peer
//! first, then the operation (STYLE.md 3).

use crate::config::{PeerRule, SignerConfig};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use strongroom_wire::Operation;

/// Credentials of the process at the other end of a socket, as the kernel saw them at
/// connect time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Reads SO_PEERCRED.
pub fn peer_credentials(stream: &UnixStream) -> std::io::Result<PeerCredentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a properly sized, writable ucred and `len` holds its size; the fd
    // is a live socket owned by `stream` for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The allow-list: uid → named peer with its operations.
#[derive(Debug, Clone)]
pub struct PeerGate {
    peers: BTreeMap<u32, PeerRule>,
}

impl PeerGate {
    /// Builds the gate from the configuration. In dev mode the uid running the signer is
    /// added as peer `dev` with every operation (unless the table already names it).
    pub fn new(config: &SignerConfig, own_uid: u32) -> PeerGate {
        let mut peers = config.peers.clone();
        if config.dev_mode {
            peers.entry(own_uid).or_insert_with(|| PeerRule {
                name: "dev".into(),
                uid: own_uid,
                operations: Operation::ALL.into_iter().collect(),
            });
        }
        PeerGate { peers }
    }

    /// The named peer for a uid, if any.
    pub fn identify(&self, uid: u32) -> Option<&PeerRule> {
        self.peers.get(&uid)
    }

    /// Whether `uid` may call `op`.
    pub fn allows(&self, uid: u32, op: Operation) -> bool {
        self.identify(uid)
            .is_some_and(|p| p.operations.contains(&op))
    }
}

/// The uid of this process.
pub fn own_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
