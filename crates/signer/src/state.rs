//! The signer's state directory and crash-safe file writes.
//!
//! In: the configured state directory. Out: the paths of everything the signer persists
//! (journal, policy, CA material, revocations, CRL numbers) and [`write_atomic`], which
//! never leaves a half-written file: write a temporary file, fsync, rename, fsync the
//! directory.
//!
//! Layout:
//! ```text
//! STATE/journal/issuance.log      hash-chained journal
//! STATE/policy.json               policy in force (PutPolicy)
//! STATE/cas/ID/ca.toml            CA record (key URI, URLs, parent)
//! STATE/cas/ID/cert.pem           CA certificate
//! STATE/cas/ID/transcript.txt     ceremony transcript
//! STATE/revocations/ID.log        recorded revocations, one per line
//! STATE/crl/ID.number             last CRL number used
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use strongroom_types::CaId;

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens the state directory, creating it and its subdirectories with mode 0700.
    pub fn open(root: &Path) -> io::Result<StateDir> {
        for sub in ["", "journal", "cas", "revocations", "crl", "audit"] {
            let dir = root.join(sub);
            if !dir.exists() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)?;
            }
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The journal file.
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal/issuance.log")
    }
    /// The persisted policy.
    pub fn policy(&self) -> PathBuf {
        self.root.join("policy.json")
    }
    /// The directory holding one subdirectory per CA.
    pub fn cas(&self) -> PathBuf {
        self.root.join("cas")
    }
    /// One CA's directory.
    pub fn ca(&self, id: &CaId) -> PathBuf {
        self.cas().join(id.as_str())
    }
    /// One CA's revocation log.
    pub fn revocations(&self, id: &CaId) -> PathBuf {
        self.root.join("revocations").join(format!("{id}.log"))
    }
    /// One CA's last CRL number.
    pub fn crl_number(&self, id: &CaId) -> PathBuf {
        self.root.join("crl").join(format!("{id}.number"))
    }
}

/// Replaces `path` with `bytes` atomically and durably; the file gets `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Appends one line to a file and fsyncs it (used for small, rare records).
pub fn append_line_durable(path: &Path, line: &str) -> io::Result<()> {
    let created = !path.exists();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_data()?;
    if created {
        sync_parent(path)?;
    }
    Ok(())
}

/// Makes a new file's name survive power loss: fsync of the directory that holds it
/// (fsync of the file alone makes its contents durable, not its directory entry).
pub fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}
