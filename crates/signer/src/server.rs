//! The Unix socket server: one thread per connection, peer credentials read once per
//! connection from the kernel.
//!
//! In: connections on the signer socket. Out: one response frame per request frame. A
//! frame that fails strict decoding (oversize, unknown tag, trailing bytes, bad version)
//! is logged and the connection is closed; other connections carry on.

use crate::dispatch::Signer;
use crate::peer::peer_credentials;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use strongroom_wire::{
    decode_payload, encode_frame_limited, read_frame, Request, WireError, MAX_RESPONSE_FRAME,
};

/// Binds the socket, gives it to `group` (when set) and then sets `mode`, so it is never
/// more open than configured. A stale socket file from a previous run is replaced only
/// when nothing answers on it (two signers on one socket would be a bug to surface, not
/// hide).
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> io::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by a running signer", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    if let Some(gid) = group {
        chgrp(path, gid)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// The gid of group `name`, for `socket_group`. Called at start-up, before any thread
/// exists and before the sandbox (NSS may need files or sockets the sandbox denies).
pub fn group_id(name: &str) -> Result<u32, crate::Error> {
    let c_name = std::ffi::CString::new(name).map_err(|_| crate::Error::InvalidGroupName {
        name: name.to_owned(),
    })?;
    // SAFETY: getgrnam returns NULL or a pointer into static storage, which is read at once;
    // no other thread exists yet to overwrite it.
    let gr = unsafe { libc::getgrnam(c_name.as_ptr()) };
    if gr.is_null() {
        return Err(crate::Error::UnknownGroup {
            name: name.to_owned(),
        });
    }
    // SAFETY: gr is non-null and points to a valid group record (see above).
    Ok(unsafe { (*gr).gr_gid })
}

/// Changes the group of `path` (not following a symlink) with `fchownat`, the one call of
/// that family the signer's seccomp list allows. Without CAP_CHOWN this works only for a
/// group the signer belongs to.
fn chgrp(path: &Path, gid: u32) -> io::Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "socket path contains NUL"))?;
    // SAFETY: c_path is a valid NUL-terminated string for the duration of the call; uid
    // u32::MAX (-1) leaves the owner unchanged.
    let rc = unsafe {
        libc::fchownat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            u32::MAX,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "cannot give the socket to gid {gid} ({e}); the signer must be a member of \
                 socket_group (SupplementaryGroups= in its unit)"
            ),
        ));
    }
    Ok(())
}

/// Serves connections until the listener fails.
pub fn serve(listener: UnixListener, signer: Arc<Signer>) -> io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        if open.load(Ordering::SeqCst) >= signer.config.max_connections {
            tracing::warn!("connection limit reached; refusing a connection");
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let signer = signer.clone();
        let open = open.clone();
        std::thread::spawn(move || {
            serve_connection(stream, &signer);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn serve_connection(mut stream: UnixStream, signer: &Signer) {
    let creds = match peer_credentials(&stream) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no peer credentials; closing");
            return;
        }
    };
    // An idle peer must not pin a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    loop {
        let body = match read_frame(&mut stream) {
            Ok(b) => b,
            Err(WireError::Closed) => return,
            Err(e) => {
                tracing::warn!(uid = creds.uid, pid = creds.pid, error = %e, "bad frame; closing connection");
                return;
            }
        };
        let frame = match decode_payload::<Request>(&body) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(uid = creds.uid, pid = creds.pid, error = %e, "undecodable request; closing connection");
                return;
            }
        };
        let response = signer.handle(creds, frame.message);
        let bytes = match encode_frame_limited(frame.request_id, &response, MAX_RESPONSE_FRAME) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "response does not fit in a frame");
                return;
            }
        };
        if let Err(e) = io::Write::write_all(&mut stream, &bytes) {
            tracing::debug!(error = %e, "peer went away before the response");
            return;
        }
    }
}
