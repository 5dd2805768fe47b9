//! Landlock: the filesystem paths (and TCP ports) a daemon may touch.
//!
//! In: the paths a daemon needs, read-only or read-write. Out: a ruleset enforced on the
//! calling thread and every thread it starts later; everything else on the filesystem is
//! denied (EACCES), and with ABI v4+ so are TCP bind and connect. On an older kernel the
//! rules are applied as far as it supports and the result says so, for a loud log line.

use crate::SandboxError;
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, ABI,
};
use std::path::PathBuf;

/// What a daemon may reach on the filesystem.
#[derive(Debug, Clone, Default)]
pub struct PathPolicy {
    /// Readable (files and directories beneath).
    pub read_only: Vec<PathBuf>,
    /// Readable and writable, including creating and removing entries and sockets.
    pub read_write: Vec<PathBuf>,
    /// Whether TCP bind/connect is allowed at all (the signer: never).
    pub allow_tcp: bool,
}

/// How much of the ruleset the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Every requested restriction is in force.
    Full,
    /// The kernel supports an older ABI: some restrictions are missing.
    Partial,
    /// The kernel has no Landlock; nothing is restricted by this layer.
    None,
}

/// Newest ABI this build knows; the crate degrades to what the kernel has.
const ABI_TARGET: ABI = ABI::V4;

/// Restricts the calling thread (and its future threads and children).
pub fn restrict_paths(policy: &PathPolicy) -> Result<Enforcement, SandboxError> {
    let err = |e: landlock::RulesetError| {
        SandboxError::Sys("landlock", std::io::Error::other(e.to_string()))
    };
    // Paths that do not exist cannot be opened for a rule; they stay denied.
    let existing = |v: &[PathBuf]| v.iter().filter(|p| p.exists()).cloned().collect::<Vec<_>>();
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_TARGET))
        .map_err(err)?;
    if !policy.allow_tcp {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(err)?;
    }
    let status = ruleset
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(
            existing(&policy.read_only),
            AccessFs::from_read(ABI_TARGET),
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            existing(&policy.read_write),
            AccessFs::from_all(ABI_TARGET),
        ))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    })
}
