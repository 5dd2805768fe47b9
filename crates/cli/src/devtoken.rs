//! A private software token for `strongroom up`.
//!
//! In: the data directory and the PKCS#11 module (SoftHSM2's by default, or kryoptic's).
//! Out: `DIR/hsm/` holding the module's configuration (softhsm2.conf or kryoptic.conf) and a
//! token labelled `strongroom`, and the user PIN in `DIR/secrets/pin` (0400). The set-up is
//! hsm-sim/token.sh, embedded in the binary, so tests and `up` make tokens the same way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("../../../hsm-sim/token.sh");
/// Label of the development token.
pub const LABEL: &str = "strongroom";
/// Where a software token module finds its configuration: SoftHSM2 reads the first,
/// kryoptic the second, each ignores the other.
const CONF_VARS: [&str; 2] = ["SOFTHSM2_CONF", "KRYOPTIC_CONF"];
/// The configuration file names token.sh writes, one per module it knows.
const CONF_FILES: [&str; 2] = ["softhsm2.conf", "kryoptic.conf"];

/// Paths of the development token.
#[derive(Debug, Clone)]
pub struct DevToken {
    /// The module's configuration file, for every process that opens the token.
    pub conf: PathBuf,
    /// The PIN file.
    pub pin_file: PathBuf,
}

impl DevToken {
    /// The environment a process that opens the token needs (`Command::envs`).
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        CONF_VARS.map(|var| (var, self.conf.as_path()))
    }
}

/// Paths of the token an earlier run made in `data_dir`.
pub fn paths(data_dir: &Path) -> DevToken {
    let hsm = data_dir.join("hsm");
    let conf = CONF_FILES
        .iter()
        .map(|name| hsm.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| hsm.join(CONF_FILES[0]));
    DevToken {
        conf,
        pin_file: data_dir.join("secrets/pin"),
    }
}

/// Creates the token for `module` (first run only).
pub fn create(data_dir: &Path, module: &Path) -> Result<DevToken, String> {
    let pin_file = data_dir.join("secrets/pin");
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
        .arg(&pin_file)
        .env("STRONGROOM_PKCS11_MODULE", module)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
        // The script's own first line says what is missing (softhsm2-util, pkcs11-tool) or
        // which modules it knows.
        let said = String::from_utf8_lossy(&out.stderr);
        let first = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "creating the token in {} failed: {first}; install softhsm2 (Debian: apt-get install softhsm2 opensc), or run `make run`",
            module.display()
        ));
    }
    Ok(DevToken {
        conf: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
        pin_file,
    })
}

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
