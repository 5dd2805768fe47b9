//! A private SoftHSM2 token for `strongroom up`.
//!
//! In: the data directory. Out: `DIR/hsm/softhsm2.conf`, a token labelled `strongroom`,
//! and the user PIN in `DIR/secrets/pin` (0400). The set-up is hsm-sim/softhsm-token.sh,
//! embedded in the binary, so tests and `up` make tokens the same way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("../../../hsm-sim/softhsm-token.sh");
/// Label of the development token.
pub const LABEL: &str = "strongroom";

/// Paths of the development token.
#[derive(Debug, Clone)]
pub struct DevToken {
    /// softhsm2.conf (SOFTHSM2_CONF for every process that uses the token).
    pub conf: PathBuf,
    /// The PIN file.
    pub pin_file: PathBuf,
}

/// Paths for `data_dir`, whether or not the token exists yet.
pub fn paths(data_dir: &Path) -> DevToken {
    DevToken {
        conf: data_dir.join("hsm/softhsm2.conf"),
        pin_file: data_dir.join("secrets/pin"),
    }
}

/// Creates the token (first run only).
pub fn create(data_dir: &Path) -> Result<DevToken, String> {
    let token = paths(data_dir);
    if which("softhsm2-util").is_none() {
        return Err("softhsm2-util not found: install softhsm2 (Debian: apt-get install softhsm2), or run `make run`".into());
    }
    let secrets = data_dir.join("secrets");
    std::fs::create_dir_all(&secrets).map_err(|e| format!("{}: {e}", secrets.display()))?;
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| format!("{}: {e}", secrets.display()))?;
    let mut child = Command::new("bash")
        .args(["-s", "--"])
        .arg(data_dir.join("hsm"))
        .arg(LABEL)
        .arg(&token.pin_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin for bash")?
        .write_all(SCRIPT.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "creating the SoftHSM2 token failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(token)
}

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
