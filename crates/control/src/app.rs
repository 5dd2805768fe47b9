//! The state every handler shares, and the audit helper every state change goes through.
//!
//! In: a connected store, the signer socket path, the configuration. Out: [`App`], cheap
//! to clone (everything behind `Arc`).

use crate::auth::Principal;
use crate::config::Config;
use crate::cursor::CursorKey;
use crate::metrics::Metrics;
use crate::problem::Problem;
use ring::rand::SystemRandom;
use std::sync::Arc;
use strongroom_signer_client::SignerLink;
use strongroom_store::{AuditOutcome, NewAuditEvent, Store};
use strongroom_types::clock::Clock;

/// Shared state.
#[derive(Clone)]
pub struct App {
    /// The database.
    pub store: Store,
    /// The signer.
    pub signer: SignerLink,
    /// Configuration.
    pub config: Arc<Config>,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness for API keys.
    pub rng: SystemRandom,
    /// Pagination cursor key.
    pub cursors: Arc<CursorKey>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Serialises policy pushes (read signer version, push version + 1, store).
    pub policy_lock: Arc<tokio::sync::Mutex<()>>,
    /// CAs whose CRL is due after a revocation.
    pub crl_queue: Arc<crate::revocation::CrlQueue>,
    /// Failed-login counts and locks (in memory: see the module).
    pub login: Arc<crate::login_throttle::LoginThrottle>,
    /// The argon2id checks of login passwords, a few at a time.
    pub passwords: Arc<crate::auth::PasswordChecks>,
    /// The dashboard's counts.
    pub stats: Arc<crate::stats_cache::StatsCache>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Appends an audit event. A failure to audit fails the request: an action that cannot
    /// be recorded must not be reported as done.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: AuditOutcome,
        detail: impl Into<String>,
    ) -> Result<i64, Problem> {
        let event = NewAuditEvent {
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            outcome,
            detail: detail.into(),
        };
        let stored = self.store.append_audit(&event, self.now()).await?;
        Ok(stored.seq)
    }

    /// Audits a successful action by a principal.
    pub async fn audit_ok(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        detail: impl Into<String>,
    ) -> Result<i64, Problem> {
        self.audit(&who.actor(), action, target, AuditOutcome::Ok, detail)
            .await
    }
}
