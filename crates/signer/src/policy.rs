//! The issuance policy in force.
//!
//! In: `PutPolicy` documents from control (already decoded), checked against the CAs
//! this signer holds. Out: the current [`Policy`], persisted atomically so a restart
//! enforces exactly what was last accepted. Versions only go up: a replayed older policy
//! cannot undo a tightening.

use crate::state::write_atomic;
use crate::Error;
use std::path::{Path, PathBuf};
use strongroom_types::{CaId, Policy};

/// The persisted policy.
#[derive(Debug)]
pub struct PolicyStore {
    path: PathBuf,
    current: Policy,
}

impl PolicyStore {
    /// Loads the policy file, or an empty version-0 policy when none was pushed yet.
    pub fn load(path: &Path) -> Result<PolicyStore, Error> {
        let current = match std::fs::read(path) {
            Ok(bytes) => {
                let p: Policy = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::file(path, format_args!("not a valid policy: {e}")))?;
                p.validate().map_err(|e| Error::file(path, e))?;
                p
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Policy {
                version: 0,
                profiles: vec![],
            },
            Err(e) => return Err(Error::file(path, e)),
        };
        Ok(PolicyStore {
            path: path.to_path_buf(),
            current,
        })
    }

    /// The policy in force.
    pub fn current(&self) -> &Policy {
        &self.current
    }

    /// Validates and persists a new policy. `known_ca` says whether a CA id exists here.
    pub fn replace(
        &mut self,
        policy: Policy,
        known_ca: impl Fn(&CaId) -> bool,
    ) -> Result<(), Error> {
        policy
            .validate()
            .map_err(|e| Error::Policy(e.to_string()))?;
        if policy.version <= self.current.version {
            return Err(Error::Policy(format!(
                "policy version {} is not newer than the version in force ({})",
                policy.version, self.current.version
            )));
        }
        for p in &policy.profiles {
            if !known_ca(&p.issuer) {
                return Err(Error::Policy(format!(
                    "profile {} names issuer {} which this signer does not hold",
                    p.name, p.issuer
                )));
            }
        }
        let bytes = serde_json::to_vec_pretty(&policy).map_err(|e| Error::file(&self.path, e))?;
        write_atomic(&self.path, &bytes, 0o600)
            .map_err(|e| Error::file(&self.path, format_args!("cannot persist policy: {e}")))?;
        self.current = policy;
        Ok(())
    }
}
