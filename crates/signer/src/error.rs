//! The signer's one error type for its own work: start-up, configuration, the state
//! directory, the journal, the policy in force, ceremonies.
//!
//! In: failures of configuration, preflight checks, the sandbox, state files, the journal,
//! the HSM and the X.509 layer. Out: [`Error`], whose `Display` is one line saying what to
//! fix. `main` prints it and exits; a peer never sees it as such: the operations answer with
//! the wire's `SignerError` (a stable kind and a detail), and the few that call into this
//! layer (`PutPolicy`, `CreateCa`, `RecordRevocation`, journal writes) choose the kind where
//! they call it.

use std::fmt;
use std::path::PathBuf;
use strongroom_hsm::HsmError;
use strongroom_wire::{ErrorKind, SignerError};
use strongroom_x509::X509Error;

/// Everything the signer's own code can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file is unreadable or refused; the text says what to fix.
    Config(String),
    /// Where the signer runs cannot keep its peers apart, or refuses its mode (the
    /// overflow uid in `[[peer]]`, an unmapped uid, `dev_mode` under systemd).
    Preflight(String),
    /// `socket_group` names no group on this system.
    UnknownGroup {
        /// The configured group name.
        name: String,
    },
    /// `socket_group` cannot be a group name (it contains NUL).
    InvalidGroupName {
        /// The configured group name.
        name: String,
    },
    /// The sandbox (privilege drop, Landlock, seccomp) could not be applied.
    Sandbox(strongroom_sandbox::SandboxError),
    /// The socket could not be bound or served.
    Socket {
        /// What failed: "bind" or "serve".
        action: &'static str,
        /// The socket path.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// A file is unreadable, unwritable or not what it should be: one in the state
    /// directory (a damaged record is looked at, never skipped), a ceremony file, a
    /// journal to verify.
    File {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The CAs do not form chains (a parent is missing, a chain loops) or a CA id is
    /// taken.
    CaRegistry(String),
    /// A policy was refused (invalid, not newer than the one in force, naming a CA this
    /// signer does not hold) or could not be persisted.
    Policy(String),
    /// A ceremony file or `CreateCa` request breaks a rule (RFC 5280 path length, name
    /// constraints, validity inside the parent's), or the token made the key wrongly.
    Ceremony(String),
    /// The system's random number generator failed.
    Entropy,
    /// The command line lacks something; the text says what to give.
    Usage(&'static str),
    /// Reading or writing the journal failed; the journal refuses further writes.
    JournalIo(String),
    /// The journal's chain does not verify: the file was edited, truncated in the middle
    /// or reordered.
    JournalBroken {
        /// 1-based line number of the first bad record.
        line: u64,
        /// What is wrong.
        why: String,
    },
    /// The HSM failed or refused.
    Hsm(HsmError),
    /// Building, linting or signing a certificate failed.
    X509(X509Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why)
            | Error::Preflight(why)
            | Error::CaRegistry(why)
            | Error::Policy(why)
            | Error::Ceremony(why) => f.write_str(why),
            Error::UnknownGroup { name } => write!(
                f,
                "socket_group {name:?}: no such group (systemd-sysusers creates \
                 strongroom-signer-clients from strongroom.sysusers.conf)"
            ),
            Error::InvalidGroupName { name } => {
                write!(f, "socket_group {name:?} contains NUL")
            }
            Error::Sandbox(e) => e.fmt(f),
            Error::Socket {
                action,
                path,
                detail,
            } => write!(f, "cannot {action} {}: {detail}", path.display()),
            Error::File { path, detail } => write!(f, "{}: {detail}", path.display()),
            Error::Entropy => f.write_str("the system random number generator failed"),
            Error::Usage(what) => f.write_str(what),
            Error::JournalIo(e) => write!(f, "journal I/O: {e}"),
            Error::JournalBroken { line, why } => {
                write!(f, "journal chain broken at line {line}: {why}")
            }
            Error::Hsm(e) => e.fmt(f),
            Error::X509(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<HsmError> for Error {
    fn from(e: HsmError) -> Self {
        Error::Hsm(e)
    }
}

impl From<X509Error> for Error {
    fn from(e: X509Error) -> Self {
        Error::X509(e)
    }
}

impl From<strongroom_sandbox::SandboxError> for Error {
    fn from(e: strongroom_sandbox::SandboxError) -> Self {
        Error::Sandbox(e)
    }
}

impl Error {
    /// What a peer is told when the operation it asked for ends in this error: `refused`
    /// (the operation's kind for a request its rules turn down) when the rules said no, the
    /// HSM's temporary or permanent kind when the token failed, and `Internal` for the
    /// signer's own trouble (its files, its journal, its randomness). The text is the
    /// `Display` line.
    pub fn to_wire(self, refused: ErrorKind) -> SignerError {
        let kind = match self {
            Error::Hsm(e) => return crate::hsm_signer::hsm_error(&e),
            Error::X509(e @ (X509Error::SignerUnavailable(_) | X509Error::SignerRefused(_))) => {
                return crate::hsm_signer::signing_failure(e)
            }
            Error::CaRegistry(_) | Error::Policy(_) | Error::Ceremony(_) | Error::X509(_) => {
                refused
            }
            _ => ErrorKind::Internal,
        };
        wire_error(kind, self.to_string())
    }

    /// A failure on the file or directory at `path`.
    pub fn file(path: impl Into<PathBuf>, detail: impl fmt::Display) -> Error {
        Error::File {
            path: path.into(),
            detail: detail.to_string(),
        }
    }
}

/// A peer's answer of `kind` with `detail`: every operation words its wire error through
/// this or the three below.
pub(crate) fn wire_error(kind: ErrorKind, detail: impl Into<String>) -> SignerError {
    SignerError {
        kind,
        detail: detail.into(),
    }
}

/// `PolicyDenied`: the request is well-formed but policy forbids it.
pub(crate) fn denied(detail: impl Into<String>) -> SignerError {
    wire_error(ErrorKind::PolicyDenied, detail)
}

/// `BadRequest`: the request itself is wrong.
pub(crate) fn bad_request(detail: impl Into<String>) -> SignerError {
    wire_error(ErrorKind::BadRequest, detail)
}

/// `Internal`: the signer's own trouble.
pub(crate) fn internal(detail: impl Into<String>) -> SignerError {
    wire_error(ErrorKind::Internal, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_peer_is_told_refused_hsm_or_internal() {
        let refused = Error::Ceremony("path_length 1 must be below the parent's 1".into())
            .to_wire(ErrorKind::BadRequest);
        assert_eq!(refused.kind, ErrorKind::BadRequest);
        assert_eq!(refused.detail, "path_length 1 must be below the parent's 1");
        let busy = Error::Hsm(HsmError::Busy {
            waited: Duration::from_secs(30),
        })
        .to_wire(ErrorKind::BadRequest);
        assert_eq!(busy.kind, ErrorKind::HsmUnavailable);
        let no_key =
            Error::X509(X509Error::SignerRefused("no key".into())).to_wire(ErrorKind::BadRequest);
        assert_eq!(no_key.kind, ErrorKind::HsmFailed);
        let disk = Error::file("/state/policy.json", "cannot persist policy: disk full")
            .to_wire(ErrorKind::BadRequest);
        assert_eq!(disk.kind, ErrorKind::Internal);
        assert_eq!(
            disk.detail,
            "/state/policy.json: cannot persist policy: disk full"
        );
    }
}
