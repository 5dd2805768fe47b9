//! ACME garbage collection: every minute, expired nonces are deleted and orders and
//! authorizations past their expiry are closed (`invalid` / `expired`), so stale state
//! neither piles up nor stays usable.
//!
//! In: the store and the clock. Out: updated rows; a log line when anything changed.

use super::Shared;
use crate::app::now;
use std::time::Duration;

/// Starts the collector (once per router).
pub fn spawn(acme: Shared) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match acme.app.store.expire_acme(now()).await {
                Ok((0, 0, 0)) => {}
                Ok((nonces, orders, authz)) => {
                    tracing::info!(nonces, orders, authz, "ACME state expired")
                }
                Err(e) => tracing::warn!(error = %e, "ACME garbage collection failed"),
            }
        }
    });
}
