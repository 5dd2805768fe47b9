//! The token user PIN: how it is read from disk and kept out of logs.
//!
//! In: a PIN string, or the path of a PIN file. Out: [`Pin`], which zeroizes its memory on
//! drop, prints as `Pin(<redacted>)` and has no `Display`, so it cannot end up in a log line
//! or an error message by accident.

use crate::error::HsmError;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// A token user PIN. Never printed, zeroized when dropped.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Wrap a PIN held in memory (e.g. from a test fixture). Prefer [`Pin::read_file`].
    pub fn new(pin: String) -> Pin {
        Pin(Zeroizing::new(pin))
    }

    /// Read a PIN file: the whole file, minus one trailing newline (`\n` or `\r\n`).
    ///
    /// Refuses a file that group or other may read or write (mode & 0o077 != 0), because the
    /// PIN is the only thing standing between a local user and the CA keys. Also refuses an
    /// empty PIN. Does not check the owner of the file: the service manager decides who runs
    /// us, and root-owned 0400 files read by root are fine.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Pin, HsmError> {
        let path = path.as_ref();
        let fail = |problem: String| HsmError::PinFile {
            path: path.to_path_buf(),
            problem,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".to_owned()));
        }
        let mode = meta.permissions().mode();
        // Security: a PIN readable by anyone but the owner is as good as published.
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "mode {:04o} lets other users read it; run: chmod 0400 {}",
                mode & 0o7777,
                path.display()
            )));
        }
        let raw =
            Zeroizing::new(std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?);
        let text = std::str::from_utf8(&raw)
            .map_err(|_| fail("is not UTF-8 text; PKCS#11 PINs are UTF-8".to_owned()))?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        if text.is_empty() {
            return Err(fail(
                "is empty; write the token user PIN into it".to_owned(),
            ));
        }
        Ok(Pin(Zeroizing::new(text.to_owned())))
    }

    /// The PIN text, for the one place that hands it to `C_Login`.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Compare two PINs without an early exit on the first differing byte.
    pub(crate) fn same_as(&self, other: &Pin) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pin_file(contents: &[u8], mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn refuses_group_or_world_readable_files() {
        let f = pin_file(b"1234\n", 0o644);
        let err = Pin::read_file(f.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("chmod 0400 {}", f.path().display())),
            "{msg}"
        );
        assert!(!msg.contains("1234"), "{msg}");
        let f = pin_file(b"1234\n", 0o640);
        assert!(Pin::read_file(f.path()).is_err());
    }

    #[test]
    fn trims_exactly_one_newline() {
        let f = pin_file(b"s3cret\n", 0o400);
        assert_eq!(Pin::read_file(f.path()).unwrap().expose(), "s3cret");
        let f = pin_file(b"s3cret\r\n", 0o600);
        assert_eq!(Pin::read_file(f.path()).unwrap().expose(), "s3cret");
        let f = pin_file(b"s3cret\n\n", 0o400);
        assert_eq!(Pin::read_file(f.path()).unwrap().expose(), "s3cret\n");
    }

    #[test]
    fn rejects_empty_pin() {
        let f = pin_file(b"\n", 0o400);
        assert!(Pin::read_file(f.path())
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn debug_is_redacted_and_compare_works() {
        let p = Pin::new("hunter2".into());
        assert_eq!(format!("{p:?}"), "Pin(<redacted>)");
        assert!(p.same_as(&Pin::new("hunter2".into())));
        assert!(!p.same_as(&Pin::new("hunter3".into())));
        assert!(!p.same_as(&Pin::new("hunter".into())));
    }
}
