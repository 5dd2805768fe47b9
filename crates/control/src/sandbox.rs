//! Control's sandbox, applied before the async runtime starts any thread.
//!
//! In: the configuration. Out: a [`Confinement`]: drop root (when started as root), no core
//! dumps or new privileges, Landlock — system files and the files named in the
//! configuration read-only; the SQLite directory, the signer socket's directory and, until
//! it exists, the break-glass envelope's directory read-write — and the network daemons'
//! seccomp allow-list. The HSM token, the PIN and the signer's state are out of reach.

use crate::config::Config;
use strongroom_sandbox::network_daemon::{parent, Confinement};

/// The confinement for this configuration. The configuration file was read before it
/// applies; only the files named in it stay reachable, never its directory.
pub fn confinement(config: &Config) -> Confinement {
    let mut read_only = config.sandbox.read_only.clone();
    read_only.extend(config.bootstrap.admin_password_file.iter().cloned());
    read_only.extend(config.bootstrap.policy_file.iter().cloned());
    read_only.extend(
        config
            .bootstrap
            .est_user
            .iter()
            .flat_map(|e| [e.username_file.clone(), e.password_file.clone()]),
    );
    // The operator's listener certificate and key (`[tls] key = "file"`): their directories,
    // so a renewed file that replaces the old one by rename stays readable.
    read_only.extend(config.tls.read_only_paths());
    let mut read_write = vec![parent(&config.signer_socket)];
    // The break-glass envelope is created once, in its directory: keep it in a directory of
    // its own (control's state directory), not next to other secrets.
    if let Some(f) = &config.bootstrap.break_glass_file {
        if !f.exists() {
            read_write.push(parent(f));
        }
    }
    if let Ok(database) = config.database() {
        let paths = database.sandbox_paths();
        read_write.extend(paths.read_write);
        read_only.extend(paths.read_only);
    }
    read_write.extend(config.sandbox.read_write.iter().cloned());
    Confinement {
        user: config.user.clone(),
        allow_root: config.allow_root,
        landlock: config.sandbox.landlock,
        seccomp: config.sandbox.seccomp,
        read_only,
        read_write,
    }
}
