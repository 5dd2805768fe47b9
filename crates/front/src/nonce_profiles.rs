//! Which profiles ask for OCSP nonces, re-read from the store every few seconds.
//!
//! In: the store's profiles. Out: the names of those with `ocsp_nonce` (empty in the
//! common case, which keeps nonce-carrying OCSP requests off the database).

use crate::app::App;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the set of profiles asking for OCSP nonces is served before it is re-read.
const NONCE_PROFILES_FOR: Duration = Duration::from_secs(5);

impl App {
    /// Profiles with `ocsp_nonce`, re-read at most every few seconds (empty in the common
    /// case, which keeps nonce-carrying requests off the database).
    pub async fn nonce_profiles(&self) -> Arc<HashSet<String>> {
        {
            let guard = self
                .nonce_profiles
                .read()
                .unwrap_or_else(|p| p.into_inner());
            if guard.0.is_some_and(|t| t.elapsed() < NONCE_PROFILES_FOR) {
                return guard.1.clone();
            }
        }
        match self.store.profiles().await {
            Ok(list) => {
                let set: HashSet<String> = list
                    .into_iter()
                    .filter(|p| p.profile.ocsp_nonce)
                    .map(|p| p.profile.name.to_string())
                    .collect();
                let set = Arc::new(set);
                *self
                    .nonce_profiles
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = (Some(Instant::now()), set.clone());
                set
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read profiles; keeping the last list");
                self.nonce_profiles
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .1
                    .clone()
            }
        }
    }
}
